//! `orcactl diff --from REV --to REV [KIND[/NAME]]`: what changed in the cluster between two points.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value;

use orca_schemas::{ResourceType, RESOURCES};

use super::client::Client;
use super::history::diff;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The earlier revision
    #[arg(long)]
    from: u64,
    /// The later revision
    #[arg(long)]
    to: u64,
    /// Only this kind, or KIND/NAME
    target: Option<String>,
}

fn objects_at(client: &Client, rt: &ResourceType, ns: Option<&str>, rev: u64) -> Result<BTreeMap<String, Value>> {
    let path = format!(
        "{}?resourceVersion={rev}&resourceVersionMatch=Exact",
        rt.collection_path(ns)
    );
    let list = client.expect(client.send("GET", &path, None)?)?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
            let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            (
                if ns.is_empty() {
                    name.to_string()
                } else {
                    format!("{ns}/{name}")
                },
                o.clone(),
            )
        })
        .collect())
}

pub fn run(client: &Client, ns: Option<&str>, a: DiffArgs) -> Result<i32> {
    if a.from > a.to {
        bail!("--from {} is after --to {}", a.from, a.to);
    }
    let (kinds, only): (Vec<&'static ResourceType>, Option<String>) = match a.target.as_deref() {
        None => (RESOURCES.iter().collect(), None),
        Some(t) => match t.split_once('/') {
            Some((k, n)) => (vec![super::get::resolve(k)?], Some(n.to_string())),
            None => (vec![super::get::resolve(t)?], None),
        },
    };
    let mut changes = 0;
    for rt in kinds {
        let scope = if rt.namespaced { ns } else { None };
        let (before, after) = (
            objects_at(client, rt, scope, a.from)?,
            objects_at(client, rt, scope, a.to)?,
        );
        let keep = |k: &String| only.as_ref().is_none_or(|n| k == n || k.ends_with(&format!("/{n}")));
        for (key, obj) in after.iter().filter(|(k, _)| keep(k)) {
            match before.get(key) {
                None => {
                    println!("+ {}/{key}", rt.singular);
                    changes += 1;
                }
                Some(old) if old.pointer("/metadata/uid") != obj.pointer("/metadata/uid") => {
                    println!("± {}/{key} (deleted and created again)", rt.singular);
                    changes += 1;
                }
                Some(old) => {
                    let lines = diff(old, obj);
                    if !lines.is_empty() {
                        println!("~ {}/{key}", rt.singular);
                        lines.iter().for_each(|l| println!("    {l}"));
                        changes += 1;
                    }
                }
            }
        }
        for key in before.keys().filter(|k| keep(k) && !after.contains_key(*k)) {
            println!("- {}/{key}", rt.singular);
            changes += 1;
        }
    }
    if changes == 0 {
        println!("no changes between revisions {} and {}", a.from, a.to);
    }
    Ok(0)
}
