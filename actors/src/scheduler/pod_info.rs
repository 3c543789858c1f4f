//! What the scheduler needs of a pod, extracted once from its JSON.

use std::collections::BTreeMap;

use orca_schemas::kinds::cluster::Taint;
use orca_schemas::kinds::pod::{NodeSelectorTerm, Pod, PodSpec, PreferredSchedulingTerm, Toleration};
use orca_schemas::quantity::parse_milli;

/// A pod's scheduling requirements.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Requested CPU in millicores.
    pub cpu_milli: i64,
    /// Requested memory in bytes.
    pub memory: i64,
    /// Host ports as (protocol, port).
    pub host_ports: Vec<(String, i64)>,
    /// `spec.nodeName` asked for by the user, if any.
    pub node_name: Option<String>,
    /// `spec.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Required node affinity terms (ORed).
    pub required_terms: Vec<NodeSelectorTerm>,
    /// Preferred node affinity terms.
    pub preferred_terms: Vec<PreferredSchedulingTerm>,
    /// uid of the controlling owner, for spreading.
    pub owner: Option<String>,
    /// PersistentVolumeClaims the pod mounts (names in its namespace).
    pub claims: Vec<String>,
}

fn sum(spec: &PodSpec, resource: &str, per_unit: i128) -> i64 {
    let main: i128 = spec
        .containers
        .iter()
        .filter_map(|c| {
            c.resources
                .as_ref()?
                .requests
                .as_ref()?
                .get(resource)
                .and_then(|q| parse_milli(q))
        })
        .sum();
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .filter_map(|c| {
            c.resources
                .as_ref()?
                .requests
                .as_ref()?
                .get(resource)
                .and_then(|q| parse_milli(q))
        })
        .max()
        .unwrap_or(0);
    (main.max(init) / per_unit) as i64
}

impl PodInfo {
    /// Reads a typed pod; a pod without containers is an error, never an empty request.
    pub fn from_pod(pod: &Pod) -> Result<PodInfo, String> {
        let spec = &pod.spec;
        if spec.containers.is_empty() {
            return Err("the pod has no containers".into());
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let host_ports = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                p.host_port
                    .filter(|h| *h > 0)
                    .map(|h| (p.protocol.clone().unwrap_or_else(|| "TCP".into()), h))
            })
            .collect();
        let na = spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref());
        let refs = pod.metadata.owner_references.as_deref().unwrap_or_default();
        let owner = refs
            .iter()
            .find(|r| r.controller == Some(true))
            .or_else(|| refs.first())
            .map(|r| r.uid.clone());
        Ok(PodInfo {
            key: format!("{namespace}/{name}"),
            namespace,
            name,
            cpu_milli: sum(spec, "cpu", 1),
            memory: sum(spec, "memory", 1000),
            host_ports,
            node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            required_terms: na
                .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
                .map(|r| r.node_selector_terms.clone())
                .unwrap_or_default(),
            preferred_terms: na
                .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.clone())
                .unwrap_or_default(),
            owner,
            claims: spec
                .volumes
                .iter()
                .flatten()
                .filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.clone()))
                .collect(),
        })
    }

    /// Whether some toleration of the pod tolerates the taint.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        self.tolerations.iter().any(|t| {
            let op = t.operator.as_deref().unwrap_or("Equal");
            let key = t.key.as_deref().unwrap_or("");
            let effect_ok = t.effect.as_deref().is_none_or(|e| e.is_empty() || e == taint.effect);
            let key_ok = (key.is_empty() && op == "Exists") || key == taint.key;
            let value_ok = op == "Exists" || t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("");
            effect_ok && key_ok && value_ok
        })
    }
}
