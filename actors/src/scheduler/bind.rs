//! What the scheduler sends: bulk bindings, and PodScheduled=False with a FailedScheduling event for
//! pods that fit nowhere.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::pod_info::PodInfo;
use super::state::Placed;
use crate::bus::client::ApiClient;
use crate::bus::paths;

/// Pause before retrying pods whose binding failed.
pub const BIND_RETRY: Duration = Duration::from_millis(500);

/// Sends one bulk binding; returns each pod's key and whether it was bound.
pub async fn bind(api: &ApiClient, batch: &[Placed]) -> Vec<(String, bool)> {
    let items: Vec<Value> = batch
        .iter()
        .map(|(_, ns, name, node)| json!({"namespace": ns, "name": name, "node": node}))
        .collect();
    let outcome = api
        .call("POST", paths::BINDINGS, "", Some(&json!({"items": items})))
        .await;
    let statuses: HashMap<String, u64> = match &outcome {
        Ok(a) if a.status == 200 => serde_json::from_slice::<Value>(&a.body)
            .ok()
            .and_then(|v| v["results"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    format!(
                        "{}/{}",
                        r["namespace"].as_str().unwrap_or(""),
                        r["name"].as_str().unwrap_or("")
                    ),
                    r["status"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
        other => {
            tracing::warn!(
                "bulk binding of {} pods failed: {:?}; retrying",
                batch.len(),
                other.as_ref().map(|a| a.status)
            );
            tokio::time::sleep(BIND_RETRY).await;
            HashMap::new()
        }
    };
    batch
        .iter()
        .map(|(key, ..)| (key.clone(), statuses.get(key) == Some(&201)))
        .collect()
}

pub async fn report_unschedulable(api: &ApiClient, pod: &PodInfo, message: &str) {
    let path = format!("/api/v1/namespaces/{}/pods/{}/status", pod.namespace, pod.name);
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let patch = json!({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message, "lastTransitionTime": now}]}});
    match api.call("PATCH", &path, "", Some(&patch)).await {
        Ok(a) if a.status == 200 => {
            let obj: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
            crate::events::record(
                api,
                &obj,
                "Pod",
                "Warning",
                "FailedScheduling",
                message,
                "default-scheduler",
            )
            .await;
        }
        Ok(a) => tracing::debug!("reporting {} unschedulable: status {}", pod.key, a.status),
        Err(e) => tracing::debug!("reporting {} unschedulable failed: {e}", pod.key),
    }
}
