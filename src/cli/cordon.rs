//! `orcactl cordon NODE` and `orcactl uncordon NODE`: mark a node (un)schedulable.

use anyhow::Result;
use serde_json::json;

use super::client::Client;

pub fn run(client: &Client, node: &str, cordon: bool) -> Result<i32> {
    let patch = json!({"spec": {"unschedulable": if cordon { json!(true) } else { serde_json::Value::Null }}});
    let path = format!("/api/v1/nodes/{node}");
    let before = client.expect(client.send("GET", &path, None)?)?;
    let was = before
        .pointer("/spec/unschedulable")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    client.expect(client.send_typed("PATCH", &path, Some(&patch), "application/merge-patch+json")?)?;
    let verb = if cordon { "cordoned" } else { "uncordoned" };
    if was == cordon {
        println!("node/{node} already {verb}");
    } else {
        println!("node/{node} {verb}");
    }
    Ok(0)
}
