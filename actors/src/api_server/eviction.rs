//! The `pods/eviction` subresource (policy/v1 Eviction): deletes a pod unless that would take a
//! PodDisruptionBudget below what it allows. The check and the delete run in one staging step of
//! the log, so two evictions can never both spend the last allowed disruption.

use std::sync::Arc;

use serde_json::Value;

use orca_schemas::meta::IntOrString;
use orca_schemas::selector::Selector;

use super::status::{ApiError, ApiResult};
use super::write::{self, Propagation};
use crate::eventlog::{Event, Staging};

/// What a budget allows, counted over the pods it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Selected pods that are not being deleted.
    pub expected: i64,
    /// Of those, Ready.
    pub healthy: i64,
    /// Healthy pods the budget wants kept.
    pub desired: i64,
}

impl Budget {
    /// Disruptions allowed now.
    pub fn allowed(&self) -> i64 {
        (self.healthy - self.desired).max(0)
    }
}

fn scaled(v: &IntOrString, total: i64, round_up: bool) -> i64 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::Str(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let x = pct * total;
            if round_up {
                (x + 99) / 100
            } else {
                x / 100
            }
        }
    }
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// The budget of `pdb` over the pods of its namespace.
pub fn budget(pdb: &Value, pods: &[Value]) -> Budget {
    let sel = serde_json::from_value(pdb["spec"]["selector"].clone())
        .ok()
        .and_then(|s| Selector::from_label_selector(&s).ok())
        .unwrap_or_default();
    let selected: Vec<&Value> = pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| {
            let labels = serde_json::from_value(p["metadata"]["labels"].clone()).unwrap_or_default();
            !sel.is_empty() && sel.matches(&labels)
        })
        .collect();
    let expected = selected.len() as i64;
    let healthy = selected.iter().filter(|p| ready(p)).count() as i64;
    let min: Option<IntOrString> = serde_json::from_value(pdb["spec"]["minAvailable"].clone()).ok();
    let max: Option<IntOrString> = serde_json::from_value(pdb["spec"]["maxUnavailable"].clone()).ok();
    let desired = match (min, max) {
        (Some(m), _) => scaled(&m, expected, true),
        (None, Some(m)) => (expected - scaled(&m, expected, true)).max(0),
        (None, None) => 0,
    };
    Budget {
        expected,
        healthy,
        desired,
    }
}

/// Evicts a pod: 429 when a budget covering it allows no disruption now.
pub fn evict(st: &mut Staging, ns: &str, name: &str, grace: Option<u64>, actor: String) -> ApiResult<Arc<Event>> {
    let pod = st
        .get("Pod", ns, name)
        .ok_or_else(|| ApiError::not_found("pods", name))?
        .object();
    let rt = orca_schemas::registry::by_kind("Pod").ok_or_else(|| ApiError::internal("no Pod kind"))?;
    if pod["metadata"]["deletionTimestamp"].is_null() && ready(&pod) {
        let pods: Vec<Value> = st.list("Pod", Some(ns)).iter().map(|e| e.object()).collect();
        let labels = serde_json::from_value(pod["metadata"]["labels"].clone()).unwrap_or_default();
        for pdb in st.list("PodDisruptionBudget", Some(ns)).iter().map(|e| e.object()) {
            let covers = serde_json::from_value(pdb["spec"]["selector"].clone())
                .ok()
                .and_then(|s| Selector::from_label_selector(&s).ok())
                .is_some_and(|s| !s.is_empty() && s.matches(&labels));
            if covers && budget(&pdb, &pods).allowed() < 1 {
                let pdb_name = pdb["metadata"]["name"].as_str().unwrap_or("");
                return Err(ApiError::too_many_requests(format!(
                    "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                    budget(&pdb, &pods).desired,
                    budget(&pdb, &pods).healthy
                )));
            }
        }
    }
    write::delete(st, rt, ns, name, grace, Propagation::Background, actor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ready: bool) -> Value {
        json!({"metadata": {"labels": {"app": "a"}}, "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    #[test]
    fn min_available_and_max_unavailable() {
        let pods = [pod(true), pod(true), pod(true), pod(false)];
        let min = json!({"spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "a"}}}});
        assert_eq!(budget(&min, &pods).allowed(), 1);
        let pct = json!({"spec": {"minAvailable": "75%", "selector": {"matchLabels": {"app": "a"}}}});
        assert_eq!(
            budget(&pct, &pods).allowed(),
            0,
            "75% of 4 rounds up to 3 healthy, 3 are"
        );
        let max = json!({"spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "a"}}}});
        assert_eq!(budget(&max, &pods).allowed(), 0, "one is already unavailable");
    }
}
