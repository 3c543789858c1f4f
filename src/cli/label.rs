//! `orcactl label|annotate KIND NAME k=v k2- [--overwrite]` (or `KIND/NAME`, or `-l SELECTOR`),
//! as kubectl does them: a merge patch of `metadata.labels` or `metadata.annotations`.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Map, Value};

use super::client::Client;
use super::get::{encode, resolve};

#[derive(Args, Debug)]
pub struct LabelArgs {
    /// KIND NAME... or KIND/NAME..., then KEY=VALUE to set and KEY- to remove
    #[arg(required = true, num_args = 1..)]
    args: Vec<String>,
    /// Replace values that are already set
    #[arg(long)]
    overwrite: bool,
    /// Every object of the kind matching this label selector
    #[arg(short = 'l', long)]
    selector: Option<String>,
}

/// Which metadata map the verb edits.
#[derive(Clone, Copy)]
pub enum Which {
    Labels,
    Annotations,
}

/// Objects named by `args` (KIND NAME..., KIND/NAME...) and the changes after them.
pub fn split_targets(args: &[String]) -> (Vec<(String, String)>, Vec<String>) {
    let (mut targets, mut changes) = (Vec::new(), Vec::new());
    let mut kind: Option<String> = None;
    for a in args {
        let named = !targets.is_empty() || kind.is_some();
        if !changes.is_empty() || a.contains('=') || (named && a.ends_with('-') && !a.contains('/')) {
            changes.push(a.clone());
        } else if let Some((k, n)) = a.split_once('/') {
            targets.push((k.to_string(), n.to_string()));
        } else if kind.is_none() {
            kind = Some(a.clone());
        } else {
            targets.push((kind.clone().unwrap_or_default(), a.clone()));
        }
    }
    if targets.is_empty() {
        if let Some(k) = kind {
            targets.push((k, String::new()));
        }
    }
    (targets, changes)
}

pub fn run(client: &Client, ns: Option<&str>, a: LabelArgs, which: Which) -> Result<i32> {
    let (field, done) = match which {
        Which::Labels => ("labels", "labeled"),
        Which::Annotations => ("annotations", "annotated"),
    };
    let (mut targets, changes) = split_targets(&a.args);
    if changes.is_empty() {
        bail!("give at least one KEY=VALUE to set or KEY- to remove");
    }
    let ns = ns.unwrap_or("default");
    if let Some(sel) = &a.selector {
        let kind = targets.first().map(|t| t.0.clone()).unwrap_or_default();
        let rt = resolve(&kind)?;
        let list = client.expect(client.send(
            "GET",
            &format!("{}?labelSelector={}", rt.collection_path(Some(ns)), encode(sel)),
            None,
        )?)?;
        targets = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| (kind.clone(), i["metadata"]["name"].as_str().unwrap_or("").to_string()))
            .collect();
    }
    for (kind, name) in targets.iter().filter(|t| !t.1.is_empty()) {
        let rt = resolve(kind)?;
        let path = rt.object_path(Some(ns), name);
        let current = client.expect(client.send("GET", &path, None)?)?;
        let mut patch = Map::new();
        for c in &changes {
            match c.split_once('=') {
                Some((k, v)) => {
                    let old = &current["metadata"][field][k];
                    if !a.overwrite && old.is_string() && old != v {
                        bail!(
                            "'{k}' already has a value ({}), and --overwrite is false",
                            old.as_str().unwrap_or("")
                        );
                    }
                    patch.insert(k.to_string(), json!(v));
                }
                None => {
                    patch.insert(c.trim_end_matches('-').to_string(), Value::Null);
                }
            }
        }
        let body = json!({"metadata": {field: patch}});
        client.expect(client.send_typed("PATCH", &path, Some(&body), "application/merge-patch+json")?)?;
        println!("{}/{name} {done}", super::get::qualified(rt));
    }
    Ok(0)
}
