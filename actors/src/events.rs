//! Kubernetes-style Event records (Scheduled, Started, BackOff, Killing, ...) written through the API.

use serde_json::{json, Value};

use crate::bus::client::ApiClient;

/// Records an event about `obj` (a pod, usually); failures are logged, never fatal.
pub async fn record(
    api: &ApiClient,
    obj: &Value,
    kind: &str,
    event_type: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": format!("{name}."), "namespace": ns},
        "involvedObject": {"apiVersion": obj.get("apiVersion").and_then(Value::as_str).unwrap_or("v1"), "kind": kind, "namespace": ns, "name": name, "uid": obj.pointer("/metadata/uid")},
        "reason": reason,
        "message": message,
        "type": event_type,
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": component},
        "reportingComponent": component,
    });
    match api
        .call("POST", &format!("/api/v1/namespaces/{ns}/events"), "", Some(&event))
        .await
    {
        Ok(a) if a.status == 201 => {}
        Ok(a) => tracing::debug!("event {reason} for {ns}/{name}: status {}", a.status),
        Err(e) => tracing::debug!("event {reason} for {ns}/{name}: {e}"),
    }
}
