//! The scheduling queue and loop: keeps its cache from watches of nodes and pods, places pending pods, binds them
//! through the API (many in flight at once, so the log's group commit batches them), and reports
//! unschedulable pods with PodScheduled=False until a change in the cluster lets them fit.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::cache::{Cache, NodeInfo};
use super::decide::schedule;
use super::pod_info::PodInfo;
use crate::bus::client::{ApiClient, WatchEvent};

/// Most bindings in flight at once.
pub const MAX_IN_FLIGHT: usize = 256;
/// Pause before retrying a failed binding.
pub const BIND_RETRY: Duration = Duration::from_millis(500);

struct Pending {
    info: PodInfo,
    /// Message last reported as PodScheduled=False, if any.
    reported: Option<String>,
    /// Whether it waits for a change in the cluster.
    parked: bool,
}

enum Outcome {
    Bound(String),
    Failed(String, String),
}

async fn list(api: &ApiClient, path: &str) -> (Vec<Value>, u64) {
    loop {
        match api.call("GET", path, "", None).await {
            Ok(a) if a.status == 200 => {
                let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
                let rv = v
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return (v["items"].as_array().cloned().unwrap_or_default(), rv);
            }
            other => {
                tracing::debug!(
                    "scheduler: listing {path} failed: {:?}; retrying",
                    other.map(|a| a.status)
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn schedulable(pod: &Value) -> bool {
    let unbound = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    let ours = pod
        .pointer("/spec/schedulerName")
        .and_then(Value::as_str)
        .is_none_or(|s| s == "default-scheduler");
    let live = pod.pointer("/metadata/deletionTimestamp").is_none();
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    unbound && ours && live && phase != "Succeeded" && phase != "Failed"
}

/// Runs the scheduler until the API client's watches end.
pub async fn run(api: ApiClient) {
    let mut cache = Cache::default();
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    let (nodes, nodes_rv) = list(&api, "/api/v1/nodes").await;
    for n in &nodes {
        cache.upsert_node(NodeInfo::from_node(n));
    }
    let (pods, pods_rv) = list(&api, "/api/v1/pods").await;
    for p in &pods {
        on_pod(&mut cache, &mut pending, "ADDED", p);
    }
    let mut node_events = api.watch("/api/v1/nodes", "", nodes_rv);
    let mut pod_events = api.watch("/api/v1/pods", "", pods_rv);
    let (done_tx, mut done_rx) = mpsc::channel::<Outcome>(MAX_IN_FLIGHT);
    let mut in_flight: HashMap<String, ()> = HashMap::new();
    let mut tie = 0usize;
    loop {
        let mut changed = false;
        tokio::select! {
            ev = node_events.recv() => match ev {
                Some(ev) => { on_node(&mut cache, &ev); changed = true; }
                None => return,
            },
            ev = pod_events.recv() => match ev {
                Some(WatchEvent { event_type, object, .. }) => {
                    changed |= on_pod(&mut cache, &mut pending, &event_type, &object);
                }
                None => return,
            },
            Some(outcome) = done_rx.recv() => match outcome {
                Outcome::Bound(key) => { in_flight.remove(&key); }
                Outcome::Failed(key, reason) => {
                    in_flight.remove(&key);
                    cache.unplace(&key);
                    tracing::debug!("binding {key} failed: {reason}");
                    if let Some(p) = pending.get_mut(&key) { p.parked = false; }
                    tokio::time::sleep(BIND_RETRY).await;
                }
            },
        }
        if changed {
            for p in pending.values_mut() {
                p.parked = false;
            }
        }
        // Place every pending pod that is not parked or already being bound.
        let keys: Vec<String> = pending
            .iter()
            .filter(|(k, p)| !p.parked && !in_flight.contains_key(*k))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if in_flight.len() >= MAX_IN_FLIGHT {
                break;
            }
            let Some(p) = pending.get_mut(&key) else { continue };
            tie += 1;
            match schedule(&p.info, &cache, tie) {
                Ok(node) => {
                    cache.place(p.info.clone(), &node);
                    in_flight.insert(key.clone(), ());
                    let (api, tx, info) = (api.clone(), done_tx.clone(), p.info.clone());
                    tokio::spawn(async move {
                        let path = format!("/api/v1/namespaces/{}/pods/{}/binding", info.namespace, info.name);
                        let body = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": info.name}, "target": {"kind": "Node", "name": node}});
                        let outcome = match api.call("POST", &path, "", Some(&body)).await {
                            Ok(a) if a.status == 201 => {
                                let pod: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
                                let msg = format!("Successfully assigned {} to {node}", info.key);
                                crate::events::record(
                                    &api,
                                    &pod,
                                    "Pod",
                                    "Normal",
                                    "Scheduled",
                                    &msg,
                                    "default-scheduler",
                                )
                                .await;
                                Outcome::Bound(info.key)
                            }
                            Ok(a) => Outcome::Failed(info.key, String::from_utf8_lossy(&a.body).into_owned()),
                            Err(e) => Outcome::Failed(info.key, e.to_string()),
                        };
                        let _ = tx.send(outcome).await;
                    });
                }
                Err(fit) => {
                    p.parked = true;
                    let message = fit.message();
                    if p.reported.as_deref() != Some(message.as_str()) {
                        p.reported = Some(message.clone());
                        let (api, info) = (api.clone(), p.info.clone());
                        tokio::spawn(async move { report_unschedulable(&api, &info, &message).await });
                    }
                }
            }
        }
    }
}

async fn report_unschedulable(api: &ApiClient, pod: &PodInfo, message: &str) {
    let path = format!("/api/v1/namespaces/{}/pods/{}/status", pod.namespace, pod.name);
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let patch = json!({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message, "lastTransitionTime": now}]}});
    match api.call("PATCH", &path, "", Some(&patch)).await {
        Ok(a) if a.status == 200 => {
            let obj: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
            crate::events::record(
                api,
                &obj,
                "Pod",
                "Warning",
                "FailedScheduling",
                message,
                "default-scheduler",
            )
            .await;
        }
        Ok(a) => tracing::debug!("reporting {} unschedulable: status {}", pod.key, a.status),
        Err(e) => tracing::debug!("reporting {} unschedulable failed: {e}", pod.key),
    }
}

fn on_node(cache: &mut Cache, ev: &WatchEvent) {
    let name = ev
        .object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if ev.event_type == "DELETED" {
        cache.remove_node(name);
    } else {
        cache.upsert_node(NodeInfo::from_node(&ev.object));
    }
}

/// Applies a pod event; returns whether capacity was freed (a reason to retry parked pods).
fn on_pod(cache: &mut Cache, pending: &mut BTreeMap<String, Pending>, event_type: &str, pod: &Value) -> bool {
    let info = PodInfo::from_pod(pod);
    let key = info.key.clone();
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let finished = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if event_type == "DELETED" || finished {
        pending.remove(&key);
        let was = cache.is_placed(&key);
        cache.unplace(&key);
        return was;
    }
    match node {
        Some(n) => {
            pending.remove(&key);
            cache.place(info, &n);
        }
        None if schedulable(pod) => {
            let reported = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled" && c["status"] == "False"))
                .and_then(|c| c["message"].as_str())
                .map(str::to_string);
            let entry = pending.entry(key).or_insert(Pending {
                info: info.clone(),
                reported,
                parked: false,
            });
            entry.info = info;
        }
        None => {
            pending.remove(&key);
        }
    }
    false
}
