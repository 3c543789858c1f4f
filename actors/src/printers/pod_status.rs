//! The READY, STATUS and RESTARTS of `get pods`, as kubectl derives them: Init:N/M while init
//! containers run, a container's waiting or terminated reason (CrashLoopBackOff, Completed, Error),
//! Terminating, and Unknown for a pod on a lost node.

use serde_json::Value;

fn reason_of(state: &Value) -> Option<String> {
    if let Some(r) = state
        .pointer("/waiting/reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        return Some(r.to_string());
    }
    let t = state.get("terminated")?;
    if let Some(r) = t["reason"].as_str().filter(|r| !r.is_empty()) {
        return Some(r.to_string());
    }
    Some(match t["signal"].as_i64().filter(|s| *s != 0) {
        Some(sig) => format!("Signal:{sig}"),
        None => format!("ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
    })
}

/// READY, STATUS, RESTARTS of a pod.
pub fn pod_status(p: &Value) -> (String, String, String) {
    let list = |k: &str| p["status"][k].as_array().cloned().unwrap_or_default();
    let (inits, statuses) = (list("initContainerStatuses"), list("containerStatuses"));
    let total = p["spec"]["containers"].as_array().map_or(0, Vec::len);
    let init_total = p["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    let mut restarts: i64 = inits
        .iter()
        .chain(&statuses)
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum();
    let mut reason = p["status"]["reason"]
        .as_str()
        .or(p["status"]["phase"].as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("Pending")
        .to_string();
    let mut initializing = false;
    for (i, c) in inits.iter().enumerate() {
        let st = &c["state"];
        if st.pointer("/terminated/exitCode").and_then(Value::as_i64) == Some(0) {
            continue;
        }
        initializing = true;
        reason = match (
            st.get("terminated"),
            st.pointer("/waiting/reason").and_then(Value::as_str),
        ) {
            (Some(_), _) => format!("Init:{}", reason_of(st).unwrap_or_default()),
            (None, Some(r)) if !r.is_empty() && r != "PodInitializing" => format!("Init:{r}"),
            _ => format!("Init:{i}/{init_total}"),
        };
        break;
    }
    let mut ready = 0;
    if !initializing {
        restarts = statuses
            .iter()
            .map(|c| c["restartCount"].as_i64().unwrap_or(0))
            .sum::<i64>()
            + inits
                .iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum::<i64>();
        let mut running = false;
        for c in statuses.iter().rev() {
            if let Some(r) = reason_of(&c["state"]) {
                reason = r;
            } else if c["state"].get("running").is_some() {
                running = true;
            }
            if c["ready"] == true {
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            reason = "Running".into();
        }
    }
    if !p["metadata"]["deletionTimestamp"].is_null() {
        reason = if p["status"]["reason"] == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    (format!("{ready}/{total}"), reason, restarts.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({"spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]}, "status": status})
    }

    #[test]
    fn statuses_read_as_kubectl_prints_them() {
        let init = pod(
            json!({"phase": "Pending", "initContainerStatuses": [{"state": {"running": {}}}], "containerStatuses": [{"state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        assert_eq!(pod_status(&init).1, "Init:0/1");
        let init_crash = pod(
            json!({"phase": "Pending", "initContainerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 2}]}),
        );
        assert_eq!(
            pod_status(&init_crash),
            ("0/1".into(), "Init:CrashLoopBackOff".into(), "2".into())
        );
        let done = pod(
            json!({"phase": "Succeeded", "initContainerStatuses": [{"state": {"terminated": {"exitCode": 0}}}],
            "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        assert_eq!(pod_status(&done).1, "Completed");
        let failed = pod(
            json!({"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}),
        );
        assert_eq!(pod_status(&failed).1, "Error");
        let crash = pod(
            json!({"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 4}]}),
        );
        assert_eq!(
            pod_status(&crash),
            ("0/1".into(), "CrashLoopBackOff".into(), "4".into())
        );
        let mut going =
            pod(json!({"phase": "Running", "containerStatuses": [{"state": {"running": {}}, "ready": true}]}));
        assert_eq!(pod_status(&going), ("1/1".into(), "Running".into(), "0".into()));
        going["metadata"]["deletionTimestamp"] = json!("t");
        assert_eq!(pod_status(&going).1, "Terminating");
    }
}
