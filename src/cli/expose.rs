//! `orcactl expose KIND NAME --port P [--target-port T] [--type T] [--name N] [--protocol P]`: a
//! Service selecting the pods of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Service or pod.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

use super::client::Client;
use super::rollout::target;

#[derive(Args, Debug)]
pub struct ExposeArgs {
    /// KIND/NAME, or KIND NAME
    target: String,
    /// Name when KIND is given alone
    name: Option<String>,
    /// The Service's port
    #[arg(long)]
    port: i64,
    /// The pods' port, a number or a name (default: --port)
    #[arg(long)]
    target_port: Option<String>,
    /// ClusterIP, NodePort or LoadBalancer
    #[arg(long = "type", default_value = "ClusterIP")]
    type_: String,
    /// The Service's name (default: the exposed object's)
    #[arg(long = "name")]
    service_name: Option<String>,
    /// TCP or UDP
    #[arg(long, default_value = "TCP")]
    protocol: String,
}

/// The labels that select the object's pods.
fn selector_of(kind: &str, obj: &Value) -> Option<Value> {
    let sel = match kind {
        "Pod" => obj["metadata"]["labels"].clone(),
        "Service" => obj["spec"]["selector"].clone(),
        _ => obj["spec"]["selector"]["matchLabels"].clone(),
    };
    let selects = sel.as_object().is_some_and(|m| !m.is_empty());
    selects.then_some(sel)
}

pub fn run(client: &Client, ns: Option<&str>, a: ExposeArgs) -> Result<i32> {
    let (rt, name) = target(&a.target, a.name.as_deref())?;
    if !matches!(
        rt.kind,
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Service" | "Pod"
    ) {
        bail!(
            "cannot expose a {}: expose deployments, replicasets, statefulsets, daemonsets, services or pods",
            rt.kind
        );
    }
    let ns = ns.unwrap_or("default");
    let obj = client.expect(client.send("GET", &rt.object_path(Some(ns), &name), None)?)?;
    let Some(selector) = selector_of(rt.kind, &obj) else {
        bail!("couldn't retrieve selectors via --selector flag or introspection: the {} {name} has no labels to select its pods", rt.singular);
    };
    let target_port = match a.target_port.as_deref() {
        None => json!(a.port),
        Some(t) => t.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(t)),
    };
    let svc_name = a.service_name.unwrap_or(name);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc_name, "namespace": ns},
        "spec": {"type": a.type_, "selector": selector,
            "ports": [{"port": a.port, "targetPort": target_port, "protocol": a.protocol.to_uppercase()}]}});
    client.expect(client.send("POST", &format!("/api/v1/namespaces/{ns}/services"), Some(&svc))?)?;
    println!("service/{svc_name} exposed");
    Ok(0)
}
