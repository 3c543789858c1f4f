//! The `scale` subresource of Deployments, ReplicaSets and StatefulSets (autoscaling/v1 Scale):
//! what `kubectl scale` and autoscalers read and write instead of the whole object.

use serde_json::{json, Value};

use super::status::{ApiError, ApiResult};

/// Whether a kind has a `scale` subresource.
pub fn scalable(kind: &str) -> bool {
    matches!(kind, "Deployment" | "ReplicaSet" | "StatefulSet")
}

/// The Scale of an object.
pub fn of(obj: &Value) -> Value {
    let selector = crate::printers::labels_text(&obj["spec"]["selector"]["matchLabels"]);
    let m = &obj["metadata"];
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector}})
}

/// The replicas a written Scale asks for.
pub fn replicas(scale: &Value) -> ApiResult<i64> {
    match scale["spec"]["replicas"].as_i64() {
        Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "spec.replicas: Invalid value: {n}: must be between 0 and 2147483647"
        ))),
        None => Err(ApiError::bad_request("a Scale needs spec.replicas")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_mirrors_replicas_and_selector() {
        let d = json!({"metadata": {"name": "web", "namespace": "d", "resourceVersion": "5"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}, "status": {"replicas": 2}});
        let s = of(&d);
        assert_eq!(
            (s["spec"]["replicas"].as_i64(), s["status"]["selector"].as_str()),
            (Some(3), Some("app=web"))
        );
        assert_eq!(replicas(&json!({"spec": {"replicas": 4}})).unwrap(), 4);
        assert!(replicas(&json!({"spec": {"replicas": -1}})).is_err());
    }
}
