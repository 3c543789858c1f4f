//! What the node lifecycle does beside the Ready condition: the `unreachable` taints of a node
//! whose agent went silent (removed when it returns), and its pods marked not Ready with phase
//! Unknown, since nothing vouches for them any more.

use serde_json::{json, Value};

use crate::bus::client::ApiClient;
use crate::runtime::write;

/// The taint key of a node whose agent stopped reporting.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint key of a node that is not ready.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";

/// Adds (`unreachable`) or removes the unreachable NoSchedule and NoExecute taints.
pub async fn set_unreachable(api: &ApiClient, node: &str, unreachable: bool) -> Result<(), String> {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    write::update(api, &format!("/api/v1/nodes/{node}"), "", |n| {
        let mut taints = n["spec"]["taints"].as_array().cloned().unwrap_or_default();
        let had = taints.iter().any(|t| t["key"] == UNREACHABLE);
        if had == unreachable {
            return false;
        }
        taints.retain(|t| t["key"] != UNREACHABLE);
        if unreachable {
            taints.push(json!({"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": now}));
            taints.push(json!({"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": now}));
        }
        n["spec"]["taints"] = Value::Array(taints);
        true
    })
    .await
    .map(|_| ())
    .map_err(|e| format!("node {node} taints: {e}"))
}

/// Marks the pods bound to `node` not Ready, phase Unknown (finished pods keep their phase).
pub async fn mark_pods_unknown(api: &ApiClient, node: &str) -> Result<(), String> {
    let list = api
        .list_raw("/api/v1/pods", &format!("fieldSelector=spec.nodeName%3D{node}"))
        .await
        .map_err(|e| e.to_string())?;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    for item in &list.items {
        let (id, _) = orca_schemas::stored::read_header(item)?;
        let path = format!("/api/v1/namespaces/{}/pods/{}", id.namespace, id.name);
        write::update(api, &path, "/status", |p| {
            if matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed" | "Unknown")) {
                return false;
            }
            p["status"]["phase"] = json!("Unknown");
            p["status"]["reason"] = json!("NodeLost");
            p["status"]["message"] = json!(format!("Node {node} which was running pod {} is unresponsive", id.name));
            for c in p["status"]["conditions"].as_array_mut().into_iter().flatten() {
                if (c["type"] == "Ready" || c["type"] == "ContainersReady") && c["status"] != "False" {
                    c["status"] = json!("False");
                    c["reason"] = json!("NodeNotReady");
                    c["lastTransitionTime"] = json!(now);
                }
            }
            for s in p["status"]["containerStatuses"].as_array_mut().into_iter().flatten() {
                s["ready"] = json!(false);
            }
            true
        })
        .await
        .map_err(|e| format!("pod {}/{}: {e}", id.namespace, id.name))?;
    }
    Ok(())
}
