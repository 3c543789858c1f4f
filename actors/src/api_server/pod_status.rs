//! The status a new Pod starts with, as Kubernetes sets it at creation: phase `Pending` and its
//! QoS class (Guaranteed, Burstable or BestEffort, from the containers' requests and limits).

use serde_json::{json, Value};

/// The QoS class of a pod spec.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten())
        .collect();
    let has = |c: &Value, what: &str| c["resources"][what].as_object().is_some_and(|m| !m.is_empty());
    if containers.iter().all(|c| !has(c, "requests") && !has(c, "limits")) {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = &c["resources"]["limits"][*r];
            let request = &c["resources"]["requests"][*r];
            !limit.is_null() && (request.is_null() || request == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Gives a new pod without a status its first one.
pub fn initial(pod: &mut Value) {
    if pod
        .get("status")
        .is_some_and(|s| s.as_object().is_some_and(|m| !m.is_empty()))
    {
        return;
    }
    let qos = qos_class(&pod["spec"]);
    pod["status"] = json!({"phase": "Pending", "qosClass": qos});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_classes_follow_requests_and_limits() {
        let c = |res: Value| json!({"containers": [{"name": "c", "resources": res}]});
        assert_eq!(qos_class(&c(json!({}))), "BestEffort");
        assert_eq!(qos_class(&c(json!({"requests": {"cpu": "1"}}))), "Burstable");
        assert_eq!(
            qos_class(&c(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        let mut pod = json!({"spec": c(json!({}))});
        initial(&mut pod);
        assert_eq!(pod["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}));
    }
}
