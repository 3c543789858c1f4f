//! `orcactl history KIND/NAME [-n NS] [-o json|yaml]`: every change to an object, deleted ones and
//! earlier lives under the same name included, with what changed between revisions.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::get::resolve;

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// KIND/NAME, or KIND NAME
    target: String,
    /// Name when KIND is given alone
    name: Option<String>,
    /// Output format: json or yaml
    #[arg(short = 'o', long)]
    output: Option<String>,
}

/// Leaf values of a JSON document by dotted path (`spec.containers[0].image`).
pub fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten(
                    x,
                    &if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    },
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(x, &format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path.to_string(), other.to_string());
        }
    }
}

/// The lines of a readable diff between two versions of an object (its resourceVersion left out).
pub fn diff(before: &Value, after: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(before, "", &mut a);
    flatten(after, "", &mut b);
    let mut out = Vec::new();
    for (k, v) in &b {
        if k == "metadata.resourceVersion" {
            continue;
        }
        match a.get(k) {
            Some(old) if old != v => out.push(format!("~ {k}: {old} -> {v}")),
            None => out.push(format!("+ {k}: {v}")),
            _ => {}
        }
    }
    for (k, v) in &a {
        if !b.contains_key(k) && k != "metadata.resourceVersion" {
            out.push(format!("- {k}: {v}"));
        }
    }
    out
}

pub fn run(client: &Client, ns: Option<&str>, a: HistoryArgs) -> Result<i32> {
    let (kind, name) = match (a.target.split_once('/'), &a.name) {
        (Some((k, n)), _) => (k.to_string(), n.to_string()),
        (None, Some(n)) => (a.target.clone(), n.clone()),
        (None, None) => bail!("history needs KIND/NAME, for example `orcactl history deploy/web`"),
    };
    let rt = resolve(&kind)?;
    let ns = ns.unwrap_or("default");
    let q = format!("kind={}&namespace={ns}&name={name}", rt.kind);
    let body = client.expect(client.send("GET", &format!("/apis/orca.dev/v1/history?{q}"), None)?)?;
    match a.output.as_deref() {
        Some("json") => {
            println!("{}", serde_json::to_string_pretty(&body)?);
            return Ok(0);
        }
        Some("yaml") => {
            print!("{}", serde_yaml_ng::to_string(&body)?);
            return Ok(0);
        }
        Some(other) => bail!("unknown output format {other:?}: use json or yaml"),
        None => {}
    }
    if let Some(n) = body["compactedEvents"].as_u64().filter(|n| *n > 0) {
        eprintln!(
            "note: {n} older events were compacted; the oldest revision held is {}",
            body["oldestRevisionHeld"]
        );
    }
    println!("{:<10} {:<21} {:<24} {:<9} UID", "REVISION", "TIME", "ACTOR", "TYPE");
    let mut previous: Option<(String, Value)> = None;
    for item in body["items"].as_array().into_iter().flatten() {
        let uid = item["uid"].as_str().unwrap_or("").to_string();
        let kind = item["type"].as_str().unwrap_or("");
        println!(
            "{:<10} {:<21} {:<24} {:<9} {}",
            item["revision"].as_u64().unwrap_or(0),
            item["time"].as_str().unwrap_or(""),
            item["actor"].as_str().unwrap_or(""),
            kind,
            &uid[..uid.len().min(8)]
        );
        match (&previous, kind) {
            (_, "DELETED") => println!("    (deleted)"),
            (Some((prev_uid, prev)), _) if *prev_uid == uid => {
                for line in diff(prev, &item["object"]) {
                    println!("    {line}");
                }
            }
            (Some(_), _) => println!("    (created again under the same name: a new object)"),
            (None, _) => println!("    (created)"),
        }
        previous = Some((uid, item["object"].clone()));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::diff;
    use serde_json::json;

    #[test]
    fn diffs_name_each_changed_leaf() {
        let a =
            json!({"metadata": {"resourceVersion": "1", "labels": {"a": "1"}}, "spec": {"replicas": 1, "x": [1, 2]}});
        let b = json!({"metadata": {"resourceVersion": "2", "labels": {"b": "2"}}, "spec": {"replicas": 3, "x": [1]}});
        assert_eq!(
            diff(&a, &b),
            vec![
                "+ metadata.labels.b: \"2\"",
                "~ spec.replicas: 1 -> 3",
                "- metadata.labels.a: \"1\"",
                "- spec.x[1]: 2"
            ]
        );
    }
}
