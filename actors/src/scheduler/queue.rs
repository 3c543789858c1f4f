//! The scheduling queue and loop: keeps its cache from watches of nodes and pods, places pending pods,
//! and binds them in bulk through the API (one request and one log batch for many pods). Pods that fit
//! nowhere get PodScheduled=False and wait, parked, for a change in the cluster.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::cache::{Cache, NodeInfo};
use super::decide::schedule;
use super::pod_info::PodInfo;
use crate::api_server::bindings;
use crate::bus::client::{ApiClient, WatchEvent};

/// Most pods in one bulk binding request.
pub const BATCH: usize = 512;
/// Most bulk binding requests in flight.
pub const MAX_IN_FLIGHT: usize = 4;
/// Pause before retrying pods whose binding failed.
pub const BIND_RETRY: Duration = Duration::from_millis(500);

/// Scheduler state: the cache, what waits, what is parked, what is being bound.
#[derive(Default)]
struct State {
    cache: Cache,
    pending: HashMap<String, PodInfo>,
    queue: VecDeque<String>,
    queued: HashSet<String>,
    parked: HashMap<String, String>,
    binding: HashSet<String>,
    tie: usize,
}

impl State {
    fn enqueue(&mut self, key: String) {
        if !self.binding.contains(&key) && self.queued.insert(key.clone()) {
            self.queue.push_back(key);
        }
    }

    /// Something changed in the cluster: parked pods get another try.
    fn unpark(&mut self) {
        let keys: Vec<String> = self.parked.keys().cloned().collect();
        for k in keys {
            self.enqueue(k);
        }
    }

    fn on_node(&mut self, ev: &WatchEvent) {
        let name = ev
            .object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if ev.event_type == "DELETED" {
            self.cache.remove_node(name);
        } else {
            match NodeInfo::from_node(&ev.object) {
                Ok(info) => self.cache.upsert_node(info),
                Err(e) => {
                    // A node whose taints cannot be read is not offered to any pod.
                    tracing::warn!("scheduler: node {name} left out: {e}");
                    self.cache.remove_node(name);
                }
            }
        }
        self.unpark();
    }

    fn on_pod(&mut self, event_type: &str, pod: &Value) {
        let info = match PodInfo::from_pod(pod) {
            Ok(info) => info,
            Err(e) => {
                let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
                tracing::warn!("scheduler: pod {name} left unscheduled: {e}");
                return;
            }
        };
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
            self.pending.remove(&key);
            self.parked.remove(&key);
            if self.cache.is_placed(&key) {
                self.cache.unplace(&key);
                self.unpark();
            }
            return;
        }
        match node {
            Some(n) => {
                self.pending.remove(&key);
                self.parked.remove(&key);
                self.binding.remove(&key);
                self.cache.place(info, &n);
            }
            None if schedulable(pod) => {
                let reported = pod
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled" && c["status"] == "False"))
                    .and_then(|c| c["message"].as_str())
                    .map(str::to_string);
                let known = self.pending.insert(key.clone(), info).is_some();
                if let Some(msg) = reported {
                    self.parked.entry(key.clone()).or_insert(msg);
                }
                if !known && !self.parked.contains_key(&key) {
                    self.enqueue(key);
                }
            }
            None => {
                self.pending.remove(&key);
                self.parked.remove(&key);
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
    let mut st = State::default();
    let (nodes, nodes_rv) = api.list("/api/v1/nodes", "").await;
    for n in &nodes {
        match NodeInfo::from_node(n) {
            Ok(info) => st.cache.upsert_node(info),
            Err(e) => tracing::warn!("scheduler: a node is left out: {e}"),
        }
    }
    let (pods, pods_rv) = api.list("/api/v1/pods", "").await;
    for p in &pods {
        st.on_pod("ADDED", p);
    }
    let mut node_events = api.watch("/api/v1/nodes", "", nodes_rv);
    let mut pod_events = api.watch("/api/v1/pods", "", pods_rv);
    let (done_tx, mut done_rx) = mpsc::channel::<Vec<(String, bool)>>(MAX_IN_FLIGHT * 2);
    let mut in_flight = 0usize;
    loop {
        tokio::select! {
            ev = node_events.recv() => match ev {
                Some(ev) => st.on_node(&ev),
                None => return,
            },
            ev = pod_events.recv() => match ev {
                Some(ev) => st.on_pod(&ev.event_type, &ev.object),
                None => return,
            },
            Some(results) = done_rx.recv() => {
                in_flight -= 1;
                retry_failed(&mut st, results);
            },
        }
        // Take everything else that is already waiting before deciding.
        while let Ok(ev) = node_events.try_recv() {
            st.on_node(&ev);
        }
        while let Ok(ev) = pod_events.try_recv() {
            st.on_pod(&ev.event_type, &ev.object);
        }
        while let Ok(results) = done_rx.try_recv() {
            in_flight -= 1;
            retry_failed(&mut st, results);
        }
        while in_flight < MAX_IN_FLIGHT && !st.queue.is_empty() {
            let batch = place_batch(&mut st, &api);
            if batch.is_empty() {
                break;
            }
            in_flight += 1;
            let (api, tx) = (api.clone(), done_tx.clone());
            tokio::spawn(async move {
                let results = bind(&api, &batch).await;
                let _ = tx.send(results).await;
            });
        }
    }
}

/// Places up to BATCH queued pods; returns (key, namespace, name, node) of those placed.
fn place_batch(st: &mut State, api: &ApiClient) -> Vec<(String, String, String, String)> {
    let mut batch = Vec::new();
    while batch.len() < BATCH {
        let Some(key) = st.queue.pop_front() else { break };
        st.queued.remove(&key);
        let Some(info) = st.pending.get(&key).cloned() else {
            continue;
        };
        st.tie += 1;
        match schedule(&info, &st.cache, st.tie) {
            Ok(node) => {
                st.parked.remove(&key);
                st.cache.place(info.clone(), &node);
                st.binding.insert(key.clone());
                batch.push((key, info.namespace, info.name, node));
            }
            Err(fit) => {
                let message = fit.message();
                if st.parked.get(&key) != Some(&message) {
                    let (api, info, m) = (api.clone(), info.clone(), message.clone());
                    tokio::spawn(async move { report_unschedulable(&api, &info, &m).await });
                }
                st.parked.insert(key, message);
            }
        }
    }
    batch
}

fn retry_failed(st: &mut State, results: Vec<(String, bool)>) {
    for (key, ok) in results {
        if !ok {
            st.binding.remove(&key);
            st.cache.unplace(&key);
            if st.pending.contains_key(&key) {
                st.enqueue(key);
            }
        }
    }
}

/// Sends one bulk binding; returns each pod's key and whether it was bound.
async fn bind(api: &ApiClient, batch: &[(String, String, String, String)]) -> Vec<(String, bool)> {
    let items: Vec<Value> = batch
        .iter()
        .map(|(_, ns, name, node)| json!({"namespace": ns, "name": name, "node": node}))
        .collect();
    let outcome = api
        .call("POST", bindings::PATH, "", Some(&json!({"items": items})))
        .await;
    let statuses: HashMap<String, u64> = match &outcome {
        Ok(a) if a.status == 200 => serde_json::from_slice::<Value>(&a.body)
            .ok()
            .and_then(|v| v["results"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    format!(
                        "{}/{}",
                        r["namespace"].as_str().unwrap_or(""),
                        r["name"].as_str().unwrap_or("")
                    ),
                    r["status"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
        other => {
            tracing::debug!("bulk binding failed: {:?}", other.as_ref().map(|a| a.status));
            tokio::time::sleep(BIND_RETRY).await;
            HashMap::new()
        }
    };
    batch
        .iter()
        .map(|(key, ..)| (key.clone(), statuses.get(key) == Some(&201)))
        .collect()
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
