//! What every cluster starts with: the system namespaces, the default StorageClass, the default
//! IngressClass and the default roles and bindings, created when missing.

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
    /// Publishes the cluster CA as the ConfigMap `kube-system/kube-root-ca.crt` (for the token
    /// Secrets pods mount), written again when it differs.
    pub async fn publish_root_ca(&self, ca_pem: &str) -> Result<(), String> {
        let (ns, name) = crate::controllers::service_accounts::ROOT_CA;
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": {"ca.crt": ca_pem}});
        let call = |method: &str, path: String| super::ApiRequest {
            method: method.into(),
            path,
            content_type: "application/json".into(),
            actor: "orca-bootstrap".into(),
            body: serde_json::to_vec(&cm).unwrap_or_default().into(),
            ..Default::default()
        };
        let status = |r: super::Reply| match r {
            super::Reply::Done(resp) => resp.status,
            super::Reply::Watch(_) => 500,
        };
        match status(
            self.handle(call("POST", format!("/api/v1/namespaces/{ns}/configmaps")))
                .await,
        ) {
            201 => Ok(()),
            409 => match status(
                self.handle(call("PUT", format!("/api/v1/namespaces/{ns}/configmaps/{name}")))
                    .await,
            ) {
                200 => Ok(()),
                s => Err(format!("updating {ns}/{name}: status {s}")),
            },
            s => Err(format!("creating {ns}/{name}: status {s}")),
        }
    }

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
        let roles: Vec<serde_json::Value> = crate::auth::roles::defaults()
            .into_iter()
            .filter(|r| {
                let (kind, name) = (
                    r["kind"].as_str().unwrap_or(""),
                    r["metadata"]["name"].as_str().unwrap_or(""),
                );
                self.log.projection().get(kind, "", name).is_none()
            })
            .collect();
        if missing.is_empty() && !class_missing && !ingress_class_missing && roles.is_empty() {
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
                for mut role in roles {
                    let kind = role["kind"].as_str().unwrap_or("").to_string();
                    let Some(rt) = orca_schemas::registry::by_kind(&kind) else { continue };
                    role["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
                    let name = role["metadata"]["name"].as_str().unwrap_or("").to_string();
                    if let Err(e) = write::create(st, rt, role, "orca-bootstrap".into(), None) {
                        tracing::warn!("bootstrap {kind} {name}: {}", e.message);
                    }
                }
            })
            .await
    }
}
