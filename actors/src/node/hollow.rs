//! Hollow nodes (kubemark-style): many real Node objects in one process that heartbeat over NATS and
//! report their bound pods Running without running anything, through the same API and NATS paths as a
//! real agent.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use super::agent::HEARTBEAT_INTERVAL;
use super::register::{self, Capacity};
use crate::bus::client::ApiClient;
use crate::bus::subjects;

/// Registrations in flight at once.
pub const REGISTER_CONCURRENCY: usize = 64;
/// Status reports in flight at once.
pub const REPORT_CONCURRENCY: usize = 256;

/// How hollow nodes are made.
#[derive(Debug, Clone)]
pub struct HollowOptions {
    /// Node names are `PREFIX-0` .. `PREFIX-(count-1)`.
    pub prefix: String,
    /// Number of nodes.
    pub count: usize,
    /// What each node offers.
    pub capacity: Capacity,
    /// Labels for every node; `zone` is added as `zone-(i % 3)` so that profiles can use it.
    pub labels: BTreeMap<String, String>,
}

/// The name of hollow node `i`.
pub fn node_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i}")
}

/// Registers the nodes, then heartbeats and reports bound pods Running until the watch ends.
pub async fn run(nats: async_nats::Client, opts: HollowOptions) -> Result<(), String> {
    let api = ApiClient::new(nats.clone(), &format!("hollow/{}", opts.prefix));
    let status = register::node_status(&opts.capacity, &opts.prefix, "127.0.0.1", "hollow");
    let mut pending: Vec<usize> = (0..opts.count).collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        for chunk in pending.chunks(REGISTER_CONCURRENCY) {
            let calls = chunk.iter().map(|&i| {
                let (api, status) = (api.clone(), status.clone());
                let mut labels = opts.labels.clone();
                labels.insert("zone".into(), format!("zone-{}", i % 3));
                labels.insert("orca.dev/hollow".into(), "true".into());
                let name = node_name(&opts.prefix, i);
                async move { (i, register::register(&api, &name, &labels, &status, None).await) }
            });
            for (i, r) in futures::future::join_all(calls).await {
                if r.is_err() {
                    failed.push(i);
                }
            }
        }
        if !failed.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        pending = failed;
    }
    let (hb_nats, names): (async_nats::Client, Vec<String>) = (
        nats.clone(),
        (0..opts.count).map(|i| node_name(&opts.prefix, i)).collect(),
    );
    tokio::spawn(async move {
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                .to_string();
            for n in &names {
                let _ = hb_nats.publish(subjects::node_heartbeat(n), now.clone().into()).await;
            }
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
        }
    });
    let prefix = format!("{}-", opts.prefix);
    let (list, rv) = api.list("/api/v1/pods", "").await;
    let mut reported: HashSet<String> = HashSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(REPORT_CONCURRENCY));
    let handle = |pod: &Value, reported: &mut HashSet<String>| {
        let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
        if !node.starts_with(&prefix) {
            return;
        }
        let ns = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let key = format!("{ns}/{name}");
        let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
        let running = pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
        let (api, sem) = (api.clone(), sem.clone());
        if deleting {
            reported.remove(&key);
            tokio::spawn(async move {
                let _permit = sem.acquire().await;
                let _ = api
                    .call(
                        "DELETE",
                        &format!("/api/v1/namespaces/{ns}/pods/{name}"),
                        "gracePeriodSeconds=0",
                        None,
                    )
                    .await;
            });
        } else if !running && reported.insert(key) {
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            let containers: Vec<Value> = pod.pointer("/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default().iter().map(|c| json!({"name": c["name"], "ready": true, "restartCount": 0, "image": c["image"], "started": true, "state": {"running": {"startedAt": now}}})).collect();
            let status = json!({"status": {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "startTime": now,
                "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"}, {"type": "ContainersReady", "status": "True"}, {"type": "Ready", "status": "True"}],
                "containerStatuses": containers}});
            tokio::spawn(async move {
                let _permit = sem.acquire().await;
                let _ = api
                    .call(
                        "PATCH",
                        &format!("/api/v1/namespaces/{ns}/pods/{name}/status"),
                        "",
                        Some(&status),
                    )
                    .await;
            });
        }
    };
    for p in &list {
        handle(p, &mut reported);
    }
    let mut events = api.watch("/api/v1/pods", "", rv);
    while let Some(ev) = events.recv().await {
        if ev.event_type == "DELETED" {
            let key = format!(
                "{}/{}",
                ev.object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                ev.object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            );
            reported.remove(&key);
            continue;
        }
        handle(&ev.object, &mut reported);
    }
    Ok(())
}
