//! Pure status computation: pod phase and conditions from the containers' states.

use serde_json::{json, Value};

/// What the pod actor knows of one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerView {
    /// Container name.
    pub name: String,
    /// `{"running": {...}}`, `{"waiting": {...}}` or `{"terminated": {...}}`.
    pub state: Value,
    /// The previous state, when it restarted.
    pub last_state: Value,
    /// Restarts so far.
    pub restart_count: u32,
    /// Readiness (probes, or running when there is no readiness probe).
    pub ready: bool,
    /// The image recorded from the spec.
    pub image: String,
    /// Whether it will not run again.
    pub done: bool,
    /// An init container (runs to completion before the app containers).
    pub init: bool,
}

impl ContainerView {
    fn exit_code(&self) -> Option<i64> {
        self.state.pointer("/terminated/exitCode").and_then(Value::as_i64)
    }
    fn running(&self) -> bool {
        self.state.get("running").is_some()
    }
}

/// The pod phase Kubernetes would report.
pub fn phase(all: &[ContainerView], restart_policy: &str) -> &'static str {
    let (inits, containers): (Vec<&ContainerView>, Vec<&ContainerView>) = all.iter().partition(|c| c.init);
    // An init container that failed for good fails the pod; one still to succeed keeps it Pending.
    if inits.iter().any(|c| c.done && c.exit_code() != Some(0)) {
        return "Failed";
    }
    if inits.iter().any(|c| !(c.done && c.exit_code() == Some(0))) {
        return "Pending";
    }
    let containers: Vec<ContainerView> = containers.into_iter().cloned().collect();
    if containers.is_empty() {
        return "Pending";
    }
    let all_done = containers.iter().all(|c| c.done);
    if all_done {
        let all_ok = containers.iter().all(|c| c.exit_code() == Some(0));
        return if all_ok { "Succeeded" } else { "Failed" };
    }
    // A container that ran before (it exited, restarted or is done) keeps the pod Running: a
    // crash never takes a pod back to Pending.
    let ran = |c: &ContainerView| {
        c.running() || c.restart_count > 0 || c.done || c.state.get("terminated").is_some() || !c.last_state.is_null()
    };
    if containers.iter().any(ran) {
        return "Running";
    }
    let _ = restart_policy;
    "Pending"
}

/// Carries each condition's `lastTransitionTime` over from `before` when its status is unchanged.
pub fn keep_transition_times(status: &mut Value, before: &Value) {
    let old = before["conditions"].as_array().cloned().unwrap_or_default();
    for c in status["conditions"].as_array_mut().into_iter().flatten() {
        if let Some(prev) = old
            .iter()
            .find(|p| p["type"] == c["type"] && p["status"] == c["status"])
        {
            if prev["lastTransitionTime"].is_string() {
                c["lastTransitionTime"] = prev["lastTransitionTime"].clone();
            }
        }
    }
}

/// The `status` object: phase, conditions, IPs, start time and container statuses.
pub fn pod_status(
    containers: &[ContainerView],
    restart_policy: &str,
    host_ip: &str,
    pod_ip: &str,
    start_time: &str,
    now: &str,
) -> Value {
    let phase = phase(containers, restart_policy);
    let (inits, containers): (Vec<&ContainerView>, Vec<&ContainerView>) = containers.iter().partition(|c| c.init);
    let ready = !containers.is_empty() && containers.iter().all(|c| c.ready);
    let initialized = inits.iter().all(|c| c.done && c.exit_code() == Some(0));
    let cond =
        |t: &str, ok: bool| json!({"type": t, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now});
    let status_of = |c: &&ContainerView| {
        let mut s = json!({"name": c.name, "state": c.state, "ready": c.ready, "restartCount": c.restart_count, "image": c.image, "imageID": "", "started": c.running()});
        if !c.last_state.is_null() {
            s["lastState"] = c.last_state.clone();
        }
        s
    };
    let statuses: Vec<Value> = containers.iter().map(status_of).collect();
    let init_statuses: Vec<Value> = inits.iter().map(status_of).collect();
    let mut out = json!({
        "phase": phase,
        "conditions": [cond("PodScheduled", true), cond("Initialized", initialized), cond("ContainersReady", ready), cond("Ready", ready)],
        "hostIP": host_ip,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "containerStatuses": statuses,
    });
    if !init_statuses.is_empty() {
        out["initContainerStatuses"] = Value::Array(init_statuses);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(state: Value, restarts: u32, done: bool) -> ContainerView {
        ContainerView {
            name: "c".into(),
            state,
            restart_count: restarts,
            done,
            ..Default::default()
        }
    }

    #[test]
    fn transition_times_move_only_with_the_status() {
        let before = json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "t1"},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": "t1"}]});
        let mut now = json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "t2"},
            {"type": "ContainersReady", "status": "False", "lastTransitionTime": "t2"}]});
        keep_transition_times(&mut now, &before);
        assert_eq!(now["conditions"][0]["lastTransitionTime"], "t1");
        assert_eq!(now["conditions"][1]["lastTransitionTime"], "t2");
    }

    #[test]
    fn phases() {
        let running = json!({"running": {"startedAt": "t"}});
        let ok = json!({"terminated": {"exitCode": 0}});
        let bad = json!({"terminated": {"exitCode": 3}});
        let waiting = json!({"waiting": {"reason": "ContainerCreating"}});
        assert_eq!(phase(&[c(waiting.clone(), 0, false)], "Always"), "Pending");
        assert_eq!(phase(&[c(running, 0, false)], "Always"), "Running");
        assert_eq!(phase(&[c(ok.clone(), 0, true)], "Never"), "Succeeded");
        assert_eq!(phase(&[c(bad.clone(), 0, true)], "Never"), "Failed");
        assert_eq!(phase(&[c(ok, 0, true), c(bad, 0, true)], "Never"), "Failed");
        assert_eq!(
            phase(&[c(waiting, 2, false)], "Always"),
            "Running",
            "crash-looping pods are Running"
        );
        assert_eq!(
            phase(&[c(json!({"terminated": {"exitCode": 1}}), 0, false)], "Always"),
            "Running",
            "a crash before the restart keeps the pod Running"
        );
    }
}
