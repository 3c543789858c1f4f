//! PodDisruptionBudget (policy/v1) and StorageClass (storage.k8s.io/v1).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spec_status_kind;
use crate::meta::{Extra, IntOrString, LabelSelector, ObjectMeta};

spec_status_kind!(
    /// How many of a set of pods voluntary disruptions (evictions, drains) may take down.
    PodDisruptionBudget, PdbSpec, PdbStatus);

/// A disruption budget: minAvailable or maxUnavailable of the selected pods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What the budget allows now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdbStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_healthy: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_healthy: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruptions_allowed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_pods: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A class of storage: who provisions its volumes and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageClass {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub provisioner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_binding_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_volume_expansion: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}
