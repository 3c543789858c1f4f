//! The JSON Schema of each kind, generated from the Rust types (written to `schemas/json/`).

use std::sync::OnceLock;

use schemars::schema_for;
use serde_json::Value;

use crate::kinds::cluster::{Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim};
use crate::kinds::config::{ConfigMap, Secret};
use crate::kinds::network::{Endpoints, Ingress, Service};
use crate::kinds::pod::Pod;
use crate::kinds::workloads::{DaemonSet, Deployment, Job, ReplicaSet, StatefulSet};

fn generate(kind: &str) -> Option<Value> {
    let schema = match kind {
        "Namespace" => schema_for!(Namespace),
        "Node" => schema_for!(Node),
        "Pod" => schema_for!(Pod),
        "ConfigMap" => schema_for!(ConfigMap),
        "Secret" => schema_for!(Secret),
        "Service" => schema_for!(Service),
        "Endpoints" => schema_for!(Endpoints),
        "EndpointSlice" => schema_for!(crate::kinds::discovery::EndpointSlice),
        "Event" => schema_for!(Event),
        "PersistentVolume" => schema_for!(PersistentVolume),
        "PersistentVolumeClaim" => schema_for!(PersistentVolumeClaim),
        "ReplicaSet" => schema_for!(ReplicaSet),
        "Deployment" => schema_for!(Deployment),
        "StatefulSet" => schema_for!(StatefulSet),
        "DaemonSet" => schema_for!(DaemonSet),
        "Job" => schema_for!(Job),
        "CronJob" => schema_for!(crate::kinds::batch::CronJob),
        "PodDisruptionBudget" => schema_for!(crate::kinds::policy::PodDisruptionBudget),
        "StorageClass" => schema_for!(crate::kinds::policy::StorageClass),
        "Ingress" => schema_for!(Ingress),
        "IngressClass" => schema_for!(crate::kinds::network::IngressClass),
        "ServiceAccount" => schema_for!(crate::kinds::rbac::ServiceAccount),
        "Role" => schema_for!(crate::kinds::rbac::Role),
        "ClusterRole" => schema_for!(crate::kinds::rbac::ClusterRole),
        "RoleBinding" => schema_for!(crate::kinds::rbac::RoleBinding),
        "ClusterRoleBinding" => schema_for!(crate::kinds::rbac::ClusterRoleBinding),
        _ => return None,
    };
    Some(schema.to_value())
}

/// The JSON Schema of a kind (cached after the first call).
pub fn schema(kind: &str) -> Option<&'static Value> {
    static CACHE: OnceLock<Vec<(&'static str, Value)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        crate::registry::RESOURCES
            .iter()
            .filter_map(|r| generate(r.kind).map(|s| (r.kind, s)))
            .collect()
    });
    all.iter().find(|(k, _)| *k == kind).map(|(_, s)| s)
}

/// The file name a kind's schema is written to (`deployment.json`).
pub fn file_name(kind: &str) -> String {
    format!("{}.json", kind.to_ascii_lowercase())
}

/// The schema as the pretty JSON text stored in `schemas/json/`.
pub fn render(kind: &str) -> Option<String> {
    schema(kind)
        .and_then(|s| serde_json::to_string_pretty(s).ok())
        .map(|s| s + "\n")
}
