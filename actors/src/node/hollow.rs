//! Hollow nodes (kubemark-style): many real Node objects in one process that heartbeat over NATS and
//! report their bound pods Running without running anything, through the same API and NATS paths as a
//! real agent.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use futures::StreamExt;

use super::agent::HEARTBEAT_INTERVAL;
use super::register::{self, Capacity};
use crate::bus::client::ApiClient;
use crate::bus::subjects;
use crate::runtime::informer::{self, InformerSpec};
use crate::runtime::Store;

/// Registrations in flight at once.
pub const REGISTER_CONCURRENCY: usize = 64;
/// Status reports in flight at once.
pub const REPORT_CONCURRENCY: usize = 256;

/// How hollow nodes are made.
#[derive(Debug, Clone)]
pub struct HollowOptions {
    /// Node names are `PREFIX-FIRST` .. `PREFIX-(FIRST+count-1)`.
    pub prefix: String,
    /// The index of the first node.
    pub first: usize,
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
    let mut pending: Vec<usize> = (opts.first..opts.first + opts.count).collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        for chunk in pending.chunks(REGISTER_CONCURRENCY) {
            let calls = chunk.iter().map(|&i| {
                let (api, status) = (api.clone(), status.clone());
                let mut labels = opts.labels.clone();
                labels.insert("zone".into(), format!("zone-{}", i % 3));
                labels.insert("orca.dev/hollow".into(), "true".into());
                let name = node_name(&opts.prefix, i);
                async move { (i, register::register(&api, &name, &labels, &status).await) }
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
        (opts.first..opts.first + opts.count)
            .map(|i| node_name(&opts.prefix, i))
            .collect(),
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
    // Agents may share a prefix (each with its own range of indexes): a pod is ours by its node.
    let mine: HashSet<String> = (opts.first..opts.first + opts.count)
        .map(|i| node_name(&opts.prefix, i))
        .collect();
    let mut reported: HashSet<String> = HashSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(REPORT_CONCURRENCY));
    // Only bound pods concern a node: the server filters the rest out.
    let spec = InformerSpec::new("/api/v1/pods", "fieldSelector=spec.nodeName%21%3D").keys_only();
    let mut changes = informer::start(api.clone(), spec, Store::default());
    while let Some(ev) = changes.next().await {
        let deltas = ev.into_deltas();
        for d in deltas {
            let key = format!("{}/{}", d.key.0, d.key.1);
            let Some(pod) = d.new else {
                reported.remove(&key);
                continue;
            };
            // The header says whether the pod is ours and what it needs; the JSON is read only
            // to report it Running, once.
            if !mine.contains(pod.node()) {
                continue;
            }
            let (ns, name) = d.key.clone();
            let (api, sem) = (api.clone(), sem.clone());
            if pod.header.deleting {
                reported.remove(&key);
                tokio::spawn(async move {
                    let _permit = sem.acquire().await;
                    let path = format!("/api/v1/namespaces/{ns}/pods/{name}");
                    let _ = api.call("DELETE", &path, "gracePeriodSeconds=0", None).await;
                });
            } else if pod.header.field("status.phase") != "Running" && reported.insert(key) {
                let full: Value = match serde_json::from_slice(&pod.json) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!("hollow: pod {ns}/{name} does not decode: {e}");
                        continue;
                    }
                };
                let status = running_status(&full);
                tokio::spawn(async move {
                    let _permit = sem.acquire().await;
                    let path = format!("/api/v1/namespaces/{ns}/pods/{name}/status");
                    let _ = api.call("PATCH", &path, "", Some(&status)).await;
                });
            }
        }
    }
    Ok(())
}

/// The status a hollow node reports for a pod: Running and Ready, every container started.
fn running_status(pod: &Value) -> Value {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| json!({"name": c["name"], "ready": true, "restartCount": 0, "image": c["image"], "imageID": "", "started": true, "state": {"running": {"startedAt": now}}}))
        .collect();
    json!({"status": {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "startTime": now,
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"}, {"type": "ContainersReady", "status": "True"}, {"type": "Ready", "status": "True"}],
        "containerStatuses": containers}})
}
