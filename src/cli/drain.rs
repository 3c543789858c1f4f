//! `orcactl drain NODE`: cordon the node, then evict its pods through the eviction API (which
//! honours PodDisruptionBudgets), retrying refused evictions until they pass or time runs out.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde_json::{json, Value};

use super::client::Client;

#[derive(Args, Debug)]
pub struct DrainArgs {
    /// The node to drain
    node: String,
    /// Leave DaemonSet pods (they would come back at once)
    #[arg(long)]
    ignore_daemonsets: bool,
    /// Also evict pods no controller manages (they are not recreated)
    #[arg(long)]
    force: bool,
    /// Also evict pods with emptyDir volumes (their data is lost)
    #[arg(long)]
    delete_emptydir_data: bool,
    /// Seconds each pod gets to stop (default: its own)
    #[arg(long)]
    grace_period: Option<u64>,
    /// Give up after this long (`0s` waits forever)
    #[arg(long, default_value = "0s")]
    timeout: String,
}

fn key(p: &Value) -> (String, String) {
    let s = |k: &str| p["metadata"][k].as_str().unwrap_or("").to_string();
    (s("namespace"), s("name"))
}

fn controller_kind(p: &Value) -> Option<String> {
    p["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["kind"].as_str().map(str::to_string))
}

pub fn run(client: &Client, a: DrainArgs) -> Result<i32> {
    let timeout = humantime::parse_duration(&a.timeout).map_err(|e| anyhow!("--timeout {:?}: {e}", a.timeout))?;
    super::cordon::run(client, &a.node, true)?;
    let list = client.expect(client.send(
        "GET",
        &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{}", a.node),
        None,
    )?)?;
    let pods: Vec<Value> = list["items"].as_array().cloned().unwrap_or_default();
    let mut blockers = Vec::new();
    let mut ignored = Vec::new();
    let mut evict = Vec::new();
    for p in &pods {
        let (ns, name) = key(p);
        let id = format!("{ns}/{name}");
        let finished = matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
        match controller_kind(p).as_deref() {
            Some("DaemonSet") if a.ignore_daemonsets => ignored.push(id),
            Some("DaemonSet") => blockers.push(format!(
                "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {id}"
            )),
            None if !a.force && !finished => blockers.push(format!(
                "cannot delete Pods that declare no controller (use --force to override): {id}"
            )),
            _ => {
                let empty_dir = p["spec"]["volumes"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|v| v.get("emptyDir").is_some()));
                if empty_dir && !a.delete_emptydir_data {
                    blockers.push(format!(
                        "cannot delete Pods with local storage (use --delete-emptydir-data to override): {id}"
                    ));
                } else {
                    evict.push(p.clone());
                }
            }
        }
    }
    if !blockers.is_empty() {
        bail!("unable to drain node {:?} due to error: {}, continuing command...\nThere are pending nodes to be drained:\n {}", a.node, blockers.join(", "), a.node);
    }
    if !ignored.is_empty() {
        eprintln!("Warning: ignoring DaemonSet-managed Pods: {}", ignored.join(", "));
    }
    let started = Instant::now();
    let mut pending: Vec<Value> = evict;
    for p in &pending {
        let (ns, name) = key(p);
        println!("evicting pod {ns}/{name}");
    }
    let mut waiting: Vec<(String, String, String)> = Vec::new();
    while !pending.is_empty() {
        let mut again = Vec::new();
        for p in pending {
            let (ns, name) = key(&p);
            let mut body =
                json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}});
            if let Some(g) = a.grace_period {
                body["deleteOptions"] = json!({"gracePeriodSeconds": g});
            }
            let r = client.send(
                "POST",
                &format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"),
                Some(&body),
            )?;
            match r.status {
                200 | 201 => waiting.push((ns, name, p["metadata"]["uid"].as_str().unwrap_or("").to_string())),
                404 => println!("pod/{name} evicted"),
                429 => {
                    let why = r.body["message"].as_str().unwrap_or("").to_string();
                    eprintln!("error when evicting pods/{name:?} -n {ns:?} (will retry after 1s): {why}");
                    again.push(p);
                }
                s => bail!("evicting pod {ns}/{name}: {}", super::client::error_message(s, &r.body)),
            }
        }
        pending = again;
        if !pending.is_empty() {
            if !timeout.is_zero() && started.elapsed() >= timeout {
                bail!("drain did not complete within {}", a.timeout);
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    // Wait for the evicted pods to be gone (their node stops them, then deletes them).
    for (ns, name, uid) in waiting {
        loop {
            let r = client.send("GET", &format!("/api/v1/namespaces/{ns}/pods/{name}"), None)?;
            if r.status == 404 || r.body["metadata"]["uid"] != uid.as_str() {
                println!("pod/{name} evicted");
                break;
            }
            if !timeout.is_zero() && started.elapsed() >= timeout {
                bail!(
                    "drain did not complete within {}: pod {ns}/{name} is still terminating",
                    a.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    println!("node/{} drained", a.node);
    Ok(0)
}
