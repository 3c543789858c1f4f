//! `orcactl describe KIND NAME`: the object's identity, spec and status, and its events.

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
    let (kind, name) = match (a.kind.split_once('/'), a.name) {
        (Some((k, n)), _) => (k.to_string(), n.to_string()),
        (None, Some(n)) => (a.kind.clone(), n),
        (None, None) => anyhow::bail!("describe needs a name: orcactl describe {} NAME", a.kind),
    };
    let rt = resolve(&kind)?;
    let ns = ns_flag.unwrap_or("default");
    let obj = client.expect(client.send("GET", &rt.object_path(Some(ns), &name), None)?)?;
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
    } else {
        println!("Events:\n  Type    Reason    Age    From    Message");
        for e in items {
            println!(
                "  {}  {}  {}  {}  {}",
                e["type"].as_str().unwrap_or(""),
                e["reason"].as_str().unwrap_or(""),
                age(e["lastTimestamp"].as_str().unwrap_or("")),
                e.pointer("/source/component").and_then(Value::as_str).unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            );
        }
    }
    Ok(0)
}
