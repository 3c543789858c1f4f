//! The resource kinds as Rust types, with Kubernetes' JSON field names.

pub mod batch;
pub mod cluster;
pub mod config;
pub mod discovery;
pub mod network;
pub mod pod;
pub mod policy;
pub mod rbac;
pub mod status;
pub mod volume;
pub mod workloads;

/// Declares a top-level kind with `apiVersion`, `kind`, `metadata`, `spec`, `status`.
macro_rules! spec_status_kind {
    ($(#[$doc:meta])* $name:ident, $spec:ty, $status:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            #[serde(default)]
            pub api_version: String,
            #[serde(default)]
            pub kind: String,
            #[serde(default)]
            pub metadata: $crate::meta::ObjectMeta,
            #[serde(default)]
            pub spec: $spec,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<$status>,
            #[serde(flatten)]
            pub extra: $crate::meta::Extra,
        }
    };
}
pub(crate) use spec_status_kind;
