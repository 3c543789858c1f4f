//! The ReplicaSet controller's decisions (pure): which pods to adopt, release, create or delete,
//! and the status to report.

use orca_schemas::kinds::pod::Pod;
use orca_schemas::selector::Selector;

/// What the controller needs to know of one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodFacts {
    /// Pod name.
    pub name: String,
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Uid of the controlling owner.
    pub controller: Option<String>,
    /// Being deleted.
    pub terminating: bool,
    /// Succeeded or Failed.
    pub finished: bool,
    /// Bound to a node.
    pub scheduled: bool,
    /// Ready condition is True.
    pub ready: bool,
    /// `creationTimestamp` (RFC 3339 sorts as text).
    pub created: String,
    /// When the Ready condition last turned True.
    pub ready_since: Option<std::time::SystemTime>,
}

impl PodFacts {
    /// Reads the facts from a typed pod.
    pub fn of(p: &Pod) -> PodFacts {
        let status = p.status.as_ref();
        PodFacts {
            name: p.metadata.name.clone().unwrap_or_default(),
            labels: p.metadata.labels.clone().unwrap_or_default(),
            controller: p
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|r| r.controller == Some(true))
                .map(|r| r.uid.clone()),
            terminating: p.metadata.deletion_timestamp.is_some(),
            finished: matches!(status.and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")),
            scheduled: p.spec.node_name.as_deref().is_some_and(|n| !n.is_empty()),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            created: p.metadata.creation_timestamp.clone().unwrap_or_default(),
            ready_since: status
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready" && c.status == "True"))
                .and_then(|c| c.last_transition_time.as_deref())
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok()),
        }
    }
}

/// What to do for one ReplicaSet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Orphans that match the selector: take them.
    pub adopt: Vec<String>,
    /// Owned pods that no longer match: let them go.
    pub release: Vec<String>,
    /// Pods to create.
    pub create: usize,
    /// Pods to delete, in this order.
    pub delete: Vec<String>,
    /// Owned, matching, not terminating, not finished.
    pub active: usize,
    /// Of those that stay, Ready.
    pub ready: usize,
    /// Of those that stay, with every label of the template.
    pub fully_labeled: usize,
}

/// Decides for a ReplicaSet with uid `uid` that wants `replicas` pods matching `selector`.
pub fn plan(
    uid: &str,
    replicas: usize,
    selector: &Selector,
    template_labels: &std::collections::BTreeMap<String, String>,
    pods: &[PodFacts],
) -> Plan {
    let mut out = Plan::default();
    let mut active: Vec<&PodFacts> = Vec::new();
    for p in pods {
        let matches = !selector.is_empty() && selector.matches(&p.labels);
        let ours = p.controller.as_deref() == Some(uid);
        match (ours, matches) {
            (true, false) => out.release.push(p.name.clone()),
            (false, true) if p.controller.is_none() && !p.terminating && !p.finished => {
                out.adopt.push(p.name.clone());
                active.push(p);
            }
            (true, true) if !p.terminating && !p.finished => active.push(p),
            _ => {}
        }
    }
    out.active = active.len();
    out.ready = active.iter().filter(|p| p.ready).count();
    out.fully_labeled = active
        .iter()
        .filter(|p| template_labels.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
        .count();
    if active.len() < replicas {
        out.create = replicas - active.len();
    } else if active.len() > replicas {
        // Not ready first, then unscheduled, then the newest.
        active.sort_by(|a, b| {
            (a.ready, a.scheduled, std::cmp::Reverse(&a.created)).cmp(&(
                b.ready,
                b.scheduled,
                std::cmp::Reverse(&b.created),
            ))
        });
        let gone = &active[..active.len() - replicas];
        out.ready -= gone.iter().filter(|p| p.ready).count();
        out.fully_labeled -= gone
            .iter()
            .filter(|p| template_labels.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
            .count();
        out.delete = gone.iter().map(|p| p.name.clone()).collect();
    }
    out
}

/// How many of `pods` are available (Ready for at least `min_ready`), and when the next one will
/// be.
pub fn availability(
    pods: &[&PodFacts],
    min_ready: std::time::Duration,
    now: std::time::SystemTime,
) -> (usize, Option<std::time::Duration>) {
    let mut available = 0;
    let mut next: Option<std::time::Duration> = None;
    for p in pods.iter().filter(|p| p.ready) {
        let since = p.ready_since.unwrap_or(std::time::UNIX_EPOCH);
        match (since + min_ready).duration_since(now) {
            Ok(left) if !left.is_zero() => next = Some(next.map_or(left, |n| n.min(left))),
            _ => available += 1,
        }
    }
    (available, next)
}

/// Sizes of the batches in which `n` pods are created: 1, 2, 4, ... (Kubernetes' slow start), so a
/// template that fails costs one failed create, not `n`.
pub fn slow_start(n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut left, mut size) = (n, 1);
    while left > 0 {
        let b = size.min(left);
        out.push(b);
        left -= b;
        size *= 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn pod(name: &str, owner: Option<&str>, ready: bool, scheduled: bool, created: &str) -> PodFacts {
        PodFacts {
            name: name.into(),
            labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
            controller: owner.map(str::to_string),
            terminating: false,
            finished: false,
            scheduled,
            ready,
            created: created.into(),
            ready_since: None,
        }
    }

    #[test]
    fn creates_adopts_releases_and_deletes_in_kubernetes_order() {
        let sel = Selector::parse("app=web").unwrap();
        let tl = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let mut stranger = pod("other", Some("rs1"), true, true, "1");
        stranger.labels.clear();
        let pods = vec![
            pod("orphan", None, true, true, "1"),
            stranger,
            pod("mine", Some("rs1"), true, true, "1"),
        ];
        let p = plan("rs1", 3, &sel, &tl, &pods);
        assert_eq!(p.adopt, vec!["orphan"]);
        assert_eq!(p.release, vec!["other"]);
        assert_eq!((p.create, p.active, p.ready, p.fully_labeled), (1, 2, 2, 2));

        let pods = vec![
            pod("old-ready", Some("rs1"), true, true, "2026-01-01T00:00:01Z"),
            pod("new-ready", Some("rs1"), true, true, "2026-01-01T00:00:05Z"),
            pod("unscheduled", Some("rs1"), true, false, "2026-01-01T00:00:02Z"),
            pod("not-ready", Some("rs1"), false, true, "2026-01-01T00:00:03Z"),
            pod("someone-elses", Some("rs2"), true, true, "2026-01-01T00:00:00Z"),
        ];
        let p = plan("rs1", 1, &sel, &tl, &pods);
        assert_eq!(p.delete, vec!["not-ready", "unscheduled", "new-ready"]);
        assert_eq!(p.ready, 1, "the ready count leaves out the pods being deleted");
        assert_eq!(p.create, 0);
    }

    #[test]
    fn terminating_and_finished_pods_do_not_count() {
        let sel = Selector::parse("app=web").unwrap();
        let mut gone = pod("gone", Some("rs1"), true, true, "1");
        gone.terminating = true;
        let mut done = pod("done", Some("rs1"), false, true, "1");
        done.finished = true;
        let p = plan("rs1", 2, &sel, &BTreeMap::new(), &[gone, done]);
        assert_eq!((p.active, p.create), (0, 2));
    }

    #[test]
    fn slow_start_doubles() {
        assert_eq!(slow_start(10), vec![1, 2, 4, 3]);
        assert_eq!(slow_start(1), vec![1]);
        assert!(slow_start(0).is_empty());
    }
}
