//! `orcactl describe KIND [NAME]`: the object's (or every object's) identity, spec and status, and
//! its events, repeated ones grouped as kubectl shows them ("2s (x4 over 1m)").

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::get::resolve;
use super::table::age;

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// Kind, or KIND/NAME
    kind: String,
    /// Name
    name: Option<String>,
}

fn map_lines(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or(&x.to_string())))
            .collect::<Vec<_>>()
            .join("\n             "),
        _ => "<none>".into(),
    }
}

fn section(title: &str, v: &Value) -> Result<String> {
    if v.is_null() {
        return Ok(String::new());
    }
    let yaml = serde_yaml_ng::to_string(v)?;
    let body: Vec<String> = yaml.lines().map(|l| format!("  {l}")).collect();
    Ok(format!("{title}:\n{}\n", body.join("\n")))
}

pub fn run(client: &Client, ns_flag: Option<&str>, a: DescribeArgs) -> Result<i32> {
    let ns = ns_flag.unwrap_or("default");
    let (kind, name) = match (a.kind.split_once('/'), a.name) {
        (Some((k, n)), _) => (k.to_string(), n.to_string()),
        (None, Some(n)) => (a.kind.clone(), n),
        (None, None) => {
            // Every object of the kind, one after the other.
            let rt = resolve(&a.kind)?;
            let list = client.expect(client.send("GET", &rt.collection_path(Some(ns)), None)?)?;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("No resources found in {ns} namespace.");
            }
            for (i, obj) in items.iter().enumerate() {
                if i > 0 {
                    println!("\n");
                }
                describe(client, rt, ns, obj)?;
            }
            return Ok(0);
        }
    };
    let rt = resolve(&kind)?;
    let obj = client.expect(client.send("GET", &rt.object_path(Some(ns), &name), None)?)?;
    describe(client, rt, ns, &obj)?;
    Ok(0)
}

fn describe(client: &Client, rt: &orca_schemas::ResourceType, ns: &str, obj: &Value) -> Result<()> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let m = &obj["metadata"];
    println!("Name:         {}", m["name"].as_str().unwrap_or(""));
    if rt.namespaced {
        println!("Namespace:    {}", m["namespace"].as_str().unwrap_or(""));
    }
    println!("Labels:       {}", map_lines(&m["labels"]));
    println!("Annotations:  {}", map_lines(&m["annotations"]));
    println!(
        "Created:      {} ({} ago)",
        m["creationTimestamp"].as_str().unwrap_or(""),
        age(m["creationTimestamp"].as_str().unwrap_or(""))
    );
    println!("UID:          {}", m["uid"].as_str().unwrap_or(""));
    println!("Revision:     {}", m["resourceVersion"].as_str().unwrap_or(""));
    if let Some(ts) = m["deletionTimestamp"].as_str() {
        println!("Deleting:     since {ts}");
    }
    let mut rest = obj.clone();
    if let Some(o) = rest.as_object_mut() {
        for k in ["apiVersion", "kind", "metadata", "spec", "status"] {
            o.remove(k);
        }
    }
    print!("{}", section("Spec", &obj["spec"])?);
    if rest.as_object().is_some_and(|o| !o.is_empty()) {
        print!("{}", section("Data", &rest)?);
    }
    print!("{}", section("Status", &obj["status"])?);
    let sel = format!("involvedObject.name={name},involvedObject.kind={}", rt.kind);
    let events = client.send(
        "GET",
        &format!(
            "/api/v1/namespaces/{ns}/events?fieldSelector={}",
            sel.replace('=', "%3D").replace(',', "%2C")
        ),
        None,
    )?;
    let mut items = events.body["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(|e| {
        e.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0)
    });
    if items.is_empty() {
        println!("Events:       <none>");
        return Ok(());
    }
    println!("Events:");
    let mut rows = vec![
        ["Type", "Reason", "Age", "From", "Message"]
            .map(str::to_string)
            .to_vec(),
        ["----", "------", "----", "----", "-------"]
            .map(str::to_string)
            .to_vec(),
    ];
    for g in group_events(&items) {
        rows.push(g);
    }
    for line in super::table::aligned(rows).lines() {
        println!("  {line}");
    }
    Ok(())
}

/// Events of one object as kubectl lists them: repeats of one type, reason, source and message
/// on one row, aged by the latest with the count and the span ("5s (x3 over 2m)").
fn group_events(items: &[Value]) -> Vec<Vec<String>> {
    let mut groups: Vec<(Vec<String>, i64, String, String)> = Vec::new();
    for e in items {
        let s = |p: &str| e.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let key = vec![s("/type"), s("/reason"), s("/source/component"), s("/message")];
        let count = e["count"].as_i64().unwrap_or(1).max(1);
        let first = s("/firstTimestamp");
        let last = s("/lastTimestamp");
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => {
                g.1 += count;
                g.3 = last;
            }
            None => groups.push((key, count, first, last)),
        }
    }
    groups
        .into_iter()
        .map(|(k, count, first, last)| {
            let when = if count > 1 {
                format!("{} (x{count} over {})", age(&last), age(&first))
            } else {
                age(&last)
            };
            vec![k[0].clone(), k[1].clone(), when, k[2].clone(), k[3].clone()]
        })
        .collect()
}
