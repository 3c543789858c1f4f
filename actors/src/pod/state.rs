//! The pod's decisions (pure): what to report and do when a container changes, a delete is asked
//! for, the object goes away, or the containers have stopped. The actor carries the effects out.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::status::{keep_transition_times, pod_status, ContainerView};

/// What happened to the pod.
#[derive(Debug, Clone, PartialEq)]
pub enum PodEvent {
    /// A container's state changed.
    ContainerChanged(ContainerView),
    /// The pod is being deleted: terminate with this grace period, then confirm.
    DeleteRequested(u64),
    /// The pod object is gone: stop at once.
    Killed,
    /// Every container supervisor has ended (or none was started).
    ContainersStopped,
    /// A status write failed; the next change writes the whole status again.
    StatusWriteFailed,
    /// `activeDeadlineSeconds` passed: stop with this grace period; the pod fails.
    DeadlineExceeded(u64),
    /// The stored pod has this phase: another writer (the node lifecycle marking a lost node's pods
    /// Unknown) may have changed what this node last wrote.
    Observed(String),
}

/// What the actor should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Record a Kubernetes Event on the pod.
    Event {
        /// `Normal` or `Warning`.
        kind: &'static str,
        /// Reason (`Started`, `BackOff`, ...).
        reason: &'static str,
        /// Message.
        message: String,
    },
    /// Write `status` (writes go out one at a time, the newest last).
    WriteStatus(Value),
    /// Stop every container with this grace period.
    StopContainers(u64),
    /// Keep the output tails with the final status, delete the object, then release.
    ConfirmDelete,
    /// Remove the pod's files and network and stop the actor.
    Release,
}

/// What the pod actor knows.
#[derive(Debug, Clone)]
pub struct PodState {
    containers: Vec<String>,
    views: BTreeMap<String, ContainerView>,
    policy: String,
    host_ip: String,
    pod_ip: String,
    start_time: String,
    last_sent: Value,
    delete_requested: bool,
    killed: bool,
    stopped: bool,
    ending: bool,
    deadline: bool,
}

impl PodState {
    /// A pod with these containers (each ContainerCreating until heard from).
    pub fn new(
        containers: Vec<ContainerView>,
        policy: &str,
        host_ip: &str,
        pod_ip: &str,
        start_time: &str,
    ) -> PodState {
        PodState {
            containers: containers.iter().map(|c| c.name.clone()).collect(),
            views: containers.into_iter().map(|c| (c.name.clone(), c)).collect(),
            policy: policy.to_string(),
            host_ip: host_ip.to_string(),
            pod_ip: pod_ip.to_string(),
            start_time: start_time.to_string(),
            last_sent: Value::Null,
            delete_requested: false,
            killed: false,
            stopped: false,
            ending: false,
            deadline: false,
        }
    }

    /// Whether a delete or kill has been asked for.
    pub fn stopping(&self) -> bool {
        self.delete_requested || self.killed
    }

    /// Decides what an event leads to; `now` is the RFC 3339 time for conditions.
    pub fn on(&mut self, ev: PodEvent, now: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        match ev {
            PodEvent::ContainerChanged(v) => {
                out.extend(announce(self.views.get(&v.name), &v));
                self.views.insert(v.name.clone(), v);
                if !self.stopping() {
                    let list: Vec<ContainerView> = self.views.values().cloned().collect();
                    let mut status =
                        pod_status(&list, &self.policy, &self.host_ip, &self.pod_ip, &self.start_time, now);
                    keep_transition_times(&mut status, &self.last_sent);
                    if self.deadline {
                        deadline_status(&mut status);
                    }
                    if strip_times(&status) != strip_times(&self.last_sent) {
                        self.last_sent = status.clone();
                        out.push(Effect::WriteStatus(status));
                    }
                }
            }
            PodEvent::StatusWriteFailed => self.last_sent = Value::Null,
            PodEvent::Observed(phase) => {
                let ours = self.last_sent["phase"].as_str().unwrap_or("");
                if phase == "Unknown" && !ours.is_empty() && ours != "Unknown" && !self.stopping() {
                    out.push(Effect::WriteStatus(self.last_sent.clone()));
                }
            }
            PodEvent::DeadlineExceeded(grace) => {
                if self.deadline || self.stopping() {
                    return out;
                }
                self.deadline = true;
                out.push(Effect::Event {
                    kind: "Warning",
                    reason: "DeadlineExceeded",
                    message: "Pod was active on the node longer than the specified deadline".into(),
                });
                out.push(Effect::StopContainers(grace));
                let mut status = self.last_sent.clone();
                if status.is_object() {
                    deadline_status(&mut status);
                    self.last_sent = status.clone();
                    out.push(Effect::WriteStatus(status));
                }
            }
            PodEvent::DeleteRequested(grace) => {
                if self.delete_requested || self.killed {
                    return out;
                }
                self.delete_requested = true;
                for c in &self.containers {
                    out.push(Effect::Event {
                        kind: "Normal",
                        reason: "Killing",
                        message: format!("Stopping container {c}"),
                    });
                }
                out.push(Effect::StopContainers(grace));
                out.extend(self.end_if_stopped());
            }
            PodEvent::Killed => {
                if self.killed {
                    return out;
                }
                self.killed = true;
                out.push(Effect::StopContainers(0));
                out.extend(self.end_if_stopped());
            }
            PodEvent::ContainersStopped => {
                self.stopped = true;
                out.extend(self.end_if_stopped());
            }
        }
        out
    }

    fn end_if_stopped(&mut self) -> Vec<Effect> {
        if !self.stopped || self.ending {
            return Vec::new();
        }
        if self.killed {
            self.ending = true;
            vec![Effect::Release]
        } else if self.delete_requested {
            self.ending = true;
            vec![Effect::ConfirmDelete]
        } else {
            Vec::new()
        }
    }
}

/// A pod stopped at its deadline: Failed, with Kubernetes' reason and message.
fn deadline_status(status: &mut Value) {
    status["phase"] = Value::String("Failed".into());
    status["reason"] = Value::String("DeadlineExceeded".into());
    status["message"] = Value::String("Pod was active on the node longer than the specified deadline".into());
}

/// The status without condition times, for deciding whether anything changed.
fn strip_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(conds) = v.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conds {
            if let Some(o) = c.as_object_mut() {
                o.remove("lastTransitionTime");
            }
        }
    }
    v
}

/// Started, BackOff and failure events when a container's state changes kind.
fn announce(before: Option<&ContainerView>, after: &ContainerView) -> Option<Effect> {
    let kind = |v: &ContainerView| {
        v.state
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default()
    };
    let reason = |v: &ContainerView| {
        v.state
            .pointer("/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let changed = before
        .is_none_or(|b| kind(b) != kind(after) || reason(b) != reason(after) || b.restart_count != after.restart_count);
    if !changed {
        return None;
    }
    let (kind, reason, message) = match (kind(after).as_str(), reason(after).as_str()) {
        ("running", _) => ("Normal", "Started", format!("Started container {}", after.name)),
        ("waiting", "CrashLoopBackOff") => (
            "Warning",
            "BackOff",
            format!("Back-off restarting failed container {}", after.name),
        ),
        ("waiting", r @ ("CreateContainerConfigError" | "CreateContainerError")) => {
            let reason = if r == "CreateContainerConfigError" {
                "CreateContainerConfigError"
            } else {
                "CreateContainerError"
            };
            let m = after
                .state
                .pointer("/waiting/message")
                .and_then(Value::as_str)
                .unwrap_or("");
            ("Warning", "Failed", format!("Error: {reason}: {m}"))
        }
        _ => return None,
    };
    Some(Effect::Event { kind, reason, message })
}

/// The first view of a container: waiting in ContainerCreating.
pub fn creating(name: &str, image: &str) -> ContainerView {
    ContainerView {
        name: name.to_string(),
        state: json!({"waiting": {"reason": "ContainerCreating"}}),
        image: image.to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn running(name: &str) -> ContainerView {
        ContainerView {
            name: name.into(),
            state: json!({"running": {"startedAt": NOW}}),
            ready: true,
            ..Default::default()
        }
    }

    fn pod() -> PodState {
        PodState::new(
            vec![creating("a", "busybox"), creating("b", "busybox")],
            "Always",
            "10.0.0.1",
            "10.244.0.2",
            NOW,
        )
    }

    #[test]
    fn a_change_writes_status_once_and_announces_the_start() {
        let mut p = pod();
        let fx = p.on(PodEvent::ContainerChanged(running("a")), NOW);
        assert!(fx.contains(&Effect::Event {
            kind: "Normal",
            reason: "Started",
            message: "Started container a".into()
        }));
        let status = fx.iter().find_map(|e| match e {
            Effect::WriteStatus(s) => Some(s.clone()),
            _ => None,
        });
        assert_eq!(status.expect("a status write")["phase"], "Running");
        // The same state again: nothing to write or announce.
        assert!(p
            .on(PodEvent::ContainerChanged(running("a")), "2026-01-01T00:00:09Z")
            .is_empty());
        // After a failed write, the next change writes again.
        p.on(PodEvent::StatusWriteFailed, NOW);
        let fx = p.on(PodEvent::ContainerChanged(running("a")), NOW);
        assert!(matches!(fx.as_slice(), [Effect::WriteStatus(_)]), "{fx:?}");
    }

    #[test]
    fn a_delete_stops_containers_then_confirms_once() {
        let mut p = pod();
        let fx = p.on(PodEvent::DeleteRequested(5), NOW);
        assert_eq!(
            fx.iter()
                .filter(|e| matches!(e, Effect::Event { reason: "Killing", .. }))
                .count(),
            2
        );
        assert!(fx.contains(&Effect::StopContainers(5)));
        assert!(!fx.contains(&Effect::ConfirmDelete), "not before the containers stop");
        assert!(p.on(PodEvent::DeleteRequested(5), NOW).is_empty(), "asked twice: once");
        // Status is no longer written while terminating.
        let fx = p.on(PodEvent::ContainerChanged(running("a")), NOW);
        assert!(!fx.iter().any(|e| matches!(e, Effect::WriteStatus(_))));
        assert_eq!(p.on(PodEvent::ContainersStopped, NOW), vec![Effect::ConfirmDelete]);
        assert!(p.on(PodEvent::ContainersStopped, NOW).is_empty());
    }

    #[test]
    fn a_kill_stops_at_once_and_releases() {
        let mut p = pod();
        assert_eq!(p.on(PodEvent::Killed, NOW), vec![Effect::StopContainers(0)]);
        assert_eq!(p.on(PodEvent::ContainersStopped, NOW), vec![Effect::Release]);
        // With no containers running, a delete confirms at once.
        let mut q = pod();
        q.on(PodEvent::ContainersStopped, NOW);
        let fx = q.on(PodEvent::DeleteRequested(30), NOW);
        assert_eq!(fx.last(), Some(&Effect::ConfirmDelete));
    }

    #[test]
    fn failures_are_announced_as_warnings() {
        let mut p = pod();
        let v = ContainerView {
            name: "a".into(),
            state: json!({"waiting": {"reason": "CreateContainerConfigError", "message": "configmap \"x\" not found"}}),
            ..Default::default()
        };
        let fx = p.on(PodEvent::ContainerChanged(v), NOW);
        assert!(fx.contains(&Effect::Event {
            kind: "Warning",
            reason: "Failed",
            message: "Error: CreateContainerConfigError: configmap \"x\" not found".into()
        }));
    }
}
