//! `orcactl scale KIND/NAME --replicas N`: set the replicas of a Deployment, ReplicaSet or
//! StatefulSet.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use super::client::Client;
use super::rollout::target;

#[derive(Args, Debug)]
pub struct ScaleArgs {
    /// KIND/NAME, or KIND NAME
    target: String,
    /// Name when KIND is given alone
    name: Option<String>,
    /// The new number of replicas
    #[arg(long)]
    replicas: i64,
    /// Only scale when the current replicas are this many
    #[arg(long)]
    current_replicas: Option<i64>,
}

pub fn run(client: &Client, ns: Option<&str>, a: ScaleArgs) -> Result<i32> {
    let (rt, name) = target(&a.target, a.name.as_deref())?;
    if !matches!(rt.kind, "Deployment" | "ReplicaSet" | "StatefulSet") {
        bail!(
            "cannot scale a {}: scale deployments, replicasets or statefulsets",
            rt.kind
        );
    }
    if a.replicas < 0 {
        bail!("--replicas must be 0 or more");
    }
    let path = rt.object_path(Some(ns.unwrap_or("default")), &name);
    if let Some(want) = a.current_replicas {
        let cur = client.expect(client.send("GET", &path, None)?)?;
        let have = cur["spec"]["replicas"].as_i64().unwrap_or(1);
        if have != want {
            bail!("expected replicas to be {want}, was {have}");
        }
    }
    let patch = json!({"spec": {"replicas": a.replicas}});
    client.expect(client.send_typed("PATCH", &path, Some(&patch), "application/merge-patch+json")?)?;
    println!("{}/{name} scaled", super::rollout::qualified(rt));
    Ok(0)
}
