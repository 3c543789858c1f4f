//! API paths that components call beyond Kubernetes' own, shared by the API server and its clients.

/// Bulk binding: `POST {"items": [{"namespace", "name", "node"}]}`, one log batch for many pods.
pub const BINDINGS: &str = "/apis/orca.dev/v1/bindings";
