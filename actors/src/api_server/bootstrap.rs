//! What every cluster starts with: the system namespaces, the default StorageClass and the default
//! IngressClass, created when missing.

use serde_json::json;

use super::{write, ApiCore};
use crate::eventlog::Result as LogResult;

/// Namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];
/// The built-in StorageClass (provisioner `orca.dev/local-path`), the default.
pub const DEFAULT_STORAGE_CLASS: &str = "local-path";
/// The built-in IngressClass (served by every node agent), the default.
pub const DEFAULT_INGRESS_CLASS: &str = "orca";
/// The controller of the built-in IngressClass.
pub const INGRESS_CONTROLLER: &str = "orca.dev/ingress";

impl ApiCore {
    /// Creates the system namespaces and the default StorageClass when missing.
    pub async fn bootstrap(&self) -> LogResult<()> {
        let missing: Vec<&str> = SYSTEM_NAMESPACES
            .iter()
            .copied()
            .filter(|n| self.log.projection().get("Namespace", "", n).is_none())
            .collect();
        let class_missing = self
            .log
            .projection()
            .get("StorageClass", "", DEFAULT_STORAGE_CLASS)
            .is_none();
        let ingress_class_missing = self
            .log
            .projection()
            .get("IngressClass", "", DEFAULT_INGRESS_CLASS)
            .is_none();
        if missing.is_empty() && !class_missing && !ingress_class_missing {
            return Ok(());
        }
        let ic = orca_schemas::registry::by_kind("IngressClass").expect("IngressClass is registered");
        let rt = orca_schemas::registry::by_kind("Namespace").expect("Namespace is registered");
        let sc = orca_schemas::registry::by_kind("StorageClass").expect("StorageClass is registered");
        self.log
            .write(move |st| {
                for name in missing {
                    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": uuid::Uuid::new_v4().to_string()}, "spec": {}, "status": {"phase": "Active"}});
                    if let Err(e) = write::create(st, rt, obj, "orca-bootstrap".into(), None) {
                        tracing::warn!("bootstrap namespace {name}: {}", e.message);
                    }
                }
                if class_missing {
                    // The built-in class: a directory on the node of the claim's first pod.
                    let obj = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                        "metadata": {"name": DEFAULT_STORAGE_CLASS, "uid": uuid::Uuid::new_v4().to_string(),
                            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "orca.dev/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"});
                    if let Err(e) = write::create(st, sc, obj, "orca-bootstrap".into(), None) {
                        tracing::warn!("bootstrap storage class: {}", e.message);
                    }
                }
                if ingress_class_missing {
                    let obj = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                        "metadata": {"name": DEFAULT_INGRESS_CLASS, "uid": uuid::Uuid::new_v4().to_string(),
                            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
                        "spec": {"controller": INGRESS_CONTROLLER}});
                    if let Err(e) = write::create(st, ic, obj, "orca-bootstrap".into(), None) {
                        tracing::warn!("bootstrap ingress class: {}", e.message);
                    }
                }
            })
            .await
    }
}
