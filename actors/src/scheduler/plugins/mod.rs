//! Filter and score plugins: pure functions of a pod and a node, one per file.

pub mod balanced;
pub mod least_allocated;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_unschedulable;
pub mod prefer_no_schedule;
pub mod preferred_affinity;
pub mod resources_fit;
pub mod spread;
pub mod taint_toleration;

use super::cache::NodeInfo;
use super::pod_info::PodInfo;

/// A filter: `Err(reason)` when the node cannot take the pod (reason as kube-scheduler words it).
pub type Filter = fn(&PodInfo, &NodeInfo) -> Result<(), String>;
/// A score from 0 to 100; higher is better.
pub type Score = fn(&PodInfo, &NodeInfo) -> i64;

/// Filters in the order they run.
pub const FILTERS: &[Filter] = &[
    node_unschedulable::filter,
    node_name::filter,
    taint_toleration::filter,
    node_affinity::filter,
    node_ports::filter,
    resources_fit::filter,
];

/// Scores with their weights.
pub const SCORES: &[(Score, i64)] = &[
    (least_allocated::score, 1),
    (balanced::score, 1),
    (spread::score, 2),
    (preferred_affinity::score, 2),
    (prefer_no_schedule::score, 1),
];

/// Whether a node-selector requirement holds for the labels.
pub fn requirement_holds(
    req: &orca_schemas::kinds::pod::NodeSelectorRequirement,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let values = req.values.as_deref().unwrap_or(&[]);
    let v = labels.get(&req.key);
    match req.operator.as_str() {
        "In" => v.is_some_and(|v| values.contains(v)),
        "NotIn" => v.is_none_or(|v| !values.contains(v)),
        "Exists" => v.is_some(),
        "DoesNotExist" => v.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(want)) = (
                v.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|w| w.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn node(name: &str, cpu: i64, mem: i64) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            alloc_cpu: cpu,
            alloc_mem: mem,
            alloc_pods: 110,
            ..Default::default()
        }
    }

    pub fn pod(cpu: i64, mem: i64) -> PodInfo {
        PodInfo {
            key: "default/p".into(),
            name: "p".into(),
            namespace: "default".into(),
            cpu_milli: cpu,
            memory: mem,
            ..Default::default()
        }
    }
}
