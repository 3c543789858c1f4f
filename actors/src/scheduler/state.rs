//! The scheduler's state (pure): its cache, the queue of pending pods, parked pods that fit nowhere,
//! and the placing of a batch. The actor feeds it changes and carries out its decisions.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

use super::cache::{Cache, NodeInfo};
use super::decide::schedule;
use super::pod_info::PodInfo;
use orca_schemas::kinds::pod::Pod;

/// Scheduler state: the cache, what waits, what is parked, what is being bound.
#[derive(Default)]
pub struct State {
    /// Nodes and the pods placed on them.
    pub cache: Cache,
    pending: HashMap<String, PodInfo>,
    /// Pod keys waiting to be placed.
    pub queue: VecDeque<String>,
    queued: HashSet<String>,
    parked: HashMap<String, String>,
    binding: HashSet<String>,
    tie: usize,
    /// `namespace/claim` -> the node its local volume lives on.
    pub claim_nodes: HashMap<String, String>,
    /// When each waiting pod first entered the queue.
    since: HashMap<String, std::time::Instant>,
}

impl State {
    /// Queues a pod key once.
    pub fn enqueue(&mut self, key: String) {
        if !self.binding.contains(&key) && self.queued.insert(key.clone()) {
            self.since.entry(key.clone()).or_insert_with(std::time::Instant::now);
            self.queue.push_back(key);
        }
    }

    /// How long a pod that was just bound waited since it first entered the queue.
    pub fn waited(&mut self, key: &str) -> Option<std::time::Duration> {
        self.since.remove(key).map(|t| t.elapsed())
    }

    /// Pods parked as fitting nowhere.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Something changed in the cluster: parked pods get another try.
    pub fn unpark(&mut self) {
        let keys: Vec<String> = self.parked.keys().cloned().collect();
        for k in keys {
            self.enqueue(k);
        }
    }

    /// A node was added, changed (`node` is Some) or deleted.
    pub fn on_node(&mut self, name: &str, node: Option<&Value>) {
        let Some(node) = node else {
            self.cache.remove_node(name);
            self.unpark();
            return;
        };
        match NodeInfo::from_node(node) {
            Ok(info) => self.cache.upsert_node(info),
            Err(e) => {
                // A node whose taints cannot be read is not offered to any pod.
                tracing::warn!("scheduler: node {name} left out: {e}");
                self.cache.remove_node(name);
            }
        }
        self.unpark();
    }

    /// A pod the cache already holds on its node is seen bound there: it waits no more.
    pub fn confirm_bound(&mut self, key: &str) {
        // `since` stays until the binding's answer is taken (`waited`) or the pod goes.
        self.pending.remove(key);
        self.parked.remove(key);
        self.binding.remove(key);
    }

    /// A pod is gone (or finished): it waits no more and frees its node.
    pub fn on_pod_deleted(&mut self, key: &str) {
        self.since.remove(key);
        self.pending.remove(key);
        self.parked.remove(key);
        if self.cache.is_placed(key) {
            self.cache.unplace(key);
            self.unpark();
        }
    }

    /// A pod was added, changed or deleted.
    pub fn on_pod(&mut self, event_type: &str, pod: &Pod) {
        let info = match PodInfo::from_pod(pod) {
            Ok(info) => info,
            Err(e) => {
                let name = pod.metadata.name.as_deref().unwrap_or("");
                tracing::warn!("scheduler: pod {name} left unscheduled: {e}");
                return;
            }
        };
        let key = info.key.clone();
        let node = pod.spec.node_name.clone().filter(|n| !n.is_empty());
        let status = pod.status.as_ref();
        let finished = matches!(status.and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
        if event_type == "DELETED" || finished {
            self.on_pod_deleted(&key);
            return;
        }
        match node {
            Some(n) => {
                self.confirm_bound(&key);
                self.cache.place(info, &n);
            }
            None if schedulable(pod) => {
                let reported = status
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False"))
                    .and_then(|c| c.message.clone());
                let known = self.pending.insert(key.clone(), info).is_some();
                if let Some(msg) = reported {
                    self.parked.entry(key.clone()).or_insert(msg);
                }
                if !known && !self.parked.contains_key(&key) {
                    self.enqueue(key);
                }
            }
            None => {
                self.since.remove(&key);
                self.pending.remove(&key);
                self.parked.remove(&key);
            }
        }
    }
}

/// Whether the default scheduler should place the pod.
fn schedulable(pod: &Pod) -> bool {
    let unbound = pod.spec.node_name.as_deref().is_none_or(str::is_empty);
    let ours = pod
        .spec
        .scheduler_name
        .as_deref()
        .is_none_or(|s| s == "default-scheduler");
    let live = pod.metadata.deletion_timestamp.is_none();
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending");
    unbound && ours && live && phase != "Succeeded" && phase != "Failed"
}

/// One pod placed on a node, waiting to be bound.
pub type Placed = (String, String, String, String);

/// Places up to `max` queued pods (pure): those placed as (key, namespace, name, node), and the pods
/// that fit nowhere with the message to report (only when it changed).
pub fn place_batch(st: &mut State, max: usize) -> (Vec<Placed>, Vec<(PodInfo, String)>) {
    let mut batch = Vec::new();
    let mut unschedulable = Vec::new();
    while batch.len() < max {
        let Some(key) = st.queue.pop_front() else { break };
        st.queued.remove(&key);
        let Some(mut info) = st.pending.get(&key).cloned() else {
            continue;
        };
        // A claim whose volume lives on a node keeps the pod there.
        if let Some(n) = info
            .claims
            .iter()
            .find_map(|c| st.claim_nodes.get(&format!("{}/{c}", info.namespace)))
        {
            info.node_name = Some(n.clone());
        }
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
                    unschedulable.push((info.clone(), message.clone()));
                }
                st.parked.insert(key, message);
            }
        }
    }
    (batch, unschedulable)
}

/// Bindings finished: pods whose binding failed go back to the queue.
pub fn retry_failed(st: &mut State, results: Vec<(String, bool)>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str) -> Value {
        json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "10"},
            "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    fn pod(name: &str, cpu: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "x",
            "resources": {"requests": {"cpu": cpu}}}]}}))
        .unwrap()
    }

    #[test]
    fn pending_pods_are_placed_parked_and_retried() {
        let mut st = State::default();
        st.on_node("n1", Some(&node("n1", "1")));
        st.on_pod("ADDED", &pod("a", "600m"));
        st.on_pod("ADDED", &pod("b", "600m"));
        st.on_pod("MODIFIED", &pod("a", "600m"));
        let (placed, unschedulable) = place_batch(&mut st, 10);
        assert_eq!(placed.len(), 1, "one fits");
        assert_eq!(placed[0].3, "n1");
        assert_eq!(unschedulable.len(), 1);
        assert!(
            unschedulable[0].1.contains("Insufficient cpu"),
            "{}",
            unschedulable[0].1
        );
        // Parked with the same message: not reported again.
        st.enqueue(unschedulable[0].0.key.clone());
        let (_, again) = place_batch(&mut st, 10);
        assert!(again.is_empty());
        // The binding failed: the pod goes back to the queue and is placed again.
        retry_failed(&mut st, vec![(placed[0].0.clone(), false)]);
        let (placed2, _) = place_batch(&mut st, 10);
        assert_eq!(placed2.len(), 1);
        // A new node unparks the other pod.
        st.on_node("n2", Some(&node("n2", "1")));
        let (placed3, _) = place_batch(&mut st, 10);
        assert_eq!(placed3.len(), 1);
        assert_eq!(placed3[0].3, "n2");
        // A deleted node leaves the cache.
        st.on_node("n2", None);
        assert!(!st.cache.nodes.iter().any(|n| n.name == "n2"));
    }
}
