//! The scheduler's node cache: compact per-node records with what is allocatable and what is requested.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use orca_schemas::kinds::cluster::Taint;
use orca_schemas::quantity::parse_milli;

use super::pod_info::PodInfo;

/// One node as the scheduler sees it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Taints, including `node.kubernetes.io/not-ready` when the node is not Ready.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Allocatable CPU in millicores.
    pub alloc_cpu: i64,
    /// Allocatable memory in bytes.
    pub alloc_mem: i64,
    /// Allocatable pod count.
    pub alloc_pods: i64,
    /// Requested CPU of the pods on it.
    pub req_cpu: i64,
    /// Requested memory of the pods on it.
    pub req_mem: i64,
    /// Pods on it.
    pub pods: i64,
    /// Host ports in use.
    pub host_ports: Vec<(String, i64)>,
    /// Pods per owner uid, for spreading.
    pub owners: HashMap<String, i64>,
}

impl NodeInfo {
    /// Reads a node object; taints that do not decode are an error, never dropped.
    pub fn from_node(obj: &Value) -> Result<NodeInfo, String> {
        let q = |field: &str, res: &str| {
            obj.pointer(&format!("/status/allocatable/{res}"))
                .or_else(|| obj.pointer(&format!("/status/capacity/{}", res)))
                .and_then(Value::as_str)
                .and_then(parse_milli)
                .map(|m| if field == "cpu" { m as i64 } else { (m / 1000) as i64 })
                .unwrap_or(0)
        };
        let mut taints: Vec<Taint> = match obj.pointer("/spec/taints") {
            None | Some(Value::Null) => Vec::new(),
            Some(t) => serde_json::from_value(t.clone()).map_err(|e| format!("spec.taints does not decode: {e}"))?,
        };
        let ready = obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .is_some_and(|c| c["status"] == "True");
        if !ready {
            taints.push(Taint {
                time_added: None,
                key: "node.kubernetes.io/not-ready".into(),
                value: None,
                effect: "NoSchedule".into(),
            });
        }
        Ok(NodeInfo {
            name: obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            labels: obj
                .pointer("/metadata/labels")
                .cloned()
                .and_then(|l| serde_json::from_value(l).ok())
                .unwrap_or_default(),
            taints,
            unschedulable: obj
                .pointer("/spec/unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            alloc_cpu: q("cpu", "cpu"),
            alloc_mem: q("memory", "memory"),
            alloc_pods: q("pods", "pods"),
            ..Default::default()
        })
    }

    fn add(&mut self, p: &Usage, sign: i64) {
        self.req_cpu += sign * p.cpu_milli;
        self.req_mem += sign * p.memory;
        self.pods += sign;
        if sign > 0 {
            self.host_ports.extend(p.host_ports.iter().cloned());
        } else {
            for hp in &p.host_ports {
                if let Some(i) = self.host_ports.iter().position(|x| x == hp) {
                    self.host_ports.remove(i);
                }
            }
        }
        if let Some(o) = &p.owner {
            *self.owners.entry(o.clone()).or_default() += sign;
        }
    }
}

/// What a placed pod takes from its node: all the cache keeps of it.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Requested CPU in millicores.
    pub cpu_milli: i64,
    /// Requested memory in bytes.
    pub memory: i64,
    /// Host ports as (protocol, port).
    pub host_ports: Vec<(String, i64)>,
    /// uid of the controlling owner.
    pub owner: Option<String>,
}

impl From<&PodInfo> for Usage {
    fn from(p: &PodInfo) -> Usage {
        Usage {
            cpu_milli: p.cpu_milli,
            memory: p.memory,
            host_ports: p.host_ports.clone(),
            owner: p.owner.clone(),
        }
    }
}

/// Every node, plus which pod sits where.
#[derive(Debug, Default)]
pub struct Cache {
    /// Nodes in a stable order.
    pub nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    placed: HashMap<String, (String, Usage)>,
}

impl Cache {
    /// Adds or refreshes a node, keeping what is placed on it.
    pub fn upsert_node(&mut self, mut node: NodeInfo) {
        let name = node.name.clone();
        for (_, p) in self.placed.values().filter(|(n, _)| *n == name) {
            node.add(p, 1);
        }
        match self.index.get(&node.name) {
            Some(&i) => self.nodes[i] = node,
            None => {
                self.index.insert(node.name.clone(), self.nodes.len());
                self.nodes.push(node);
            }
        }
    }

    /// Removes a node.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(i) = self.index.remove(name) {
            self.nodes.remove(i);
            self.index = self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), i))
                .collect();
        }
    }

    /// Records a pod on a node (bound, or assumed while its binding is in flight).
    pub fn place(&mut self, pod: PodInfo, node: &str) {
        if let Some((old, _)) = self.placed.get(&pod.key) {
            if old == node {
                return;
            }
            self.unplace(&pod.key.clone());
        }
        let usage = Usage::from(&pod);
        if let Some(&i) = self.index.get(node) {
            self.nodes[i].add(&usage, 1);
        }
        self.placed.insert(pod.key, (node.to_string(), usage));
    }

    /// Forgets a pod (deleted, or its binding failed).
    pub fn unplace(&mut self, key: &str) {
        if let Some((node, pod)) = self.placed.remove(key) {
            if let Some(&i) = self.index.get(&node) {
                self.nodes[i].add(&pod, -1);
            }
        }
    }

    /// The node a pod is placed on.
    pub fn placed_on(&self, key: &str) -> Option<&str> {
        self.placed.get(key).map(|(n, _)| n.as_str())
    }

    /// Whether a pod is placed.
    pub fn is_placed(&self, key: &str) -> bool {
        self.placed.contains_key(key)
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;

    #[test]
    fn taints_that_do_not_decode_are_an_error_not_dropped() {
        let bad =
            serde_json::json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": 5, "effect": "NoSchedule"}]}});
        let err = NodeInfo::from_node(&bad).unwrap_err();
        assert!(err.contains("spec.taints"), "{err}");
        let ok = serde_json::json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}});
        assert!(NodeInfo::from_node(&ok).unwrap().taints.iter().any(|t| t.key == "gpu"));
    }

    #[test]
    fn a_pod_that_does_not_decode_or_has_no_containers_is_an_error() {
        use orca_schemas::kinds::pod::Pod;
        let bad = serde_json::json!({"metadata": {"name": "p"}, "spec": {"containers": "not a list"}});
        assert!(serde_json::from_value::<Pod>(bad).is_err());
        let empty: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}})).unwrap();
        assert!(crate::scheduler::pod_info::PodInfo::from_pod(&empty).is_err());
    }
}
