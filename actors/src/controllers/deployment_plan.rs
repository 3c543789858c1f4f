//! The Deployment controller's decisions (pure): the template hash, surge and unavailability
//! bounds with Kubernetes' rounding, and how many replicas each ReplicaSet gets in one step of a
//! RollingUpdate or a Recreate.

use orca_schemas::meta::IntOrString;

/// One ReplicaSet of a Deployment as the plan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SetFacts {
    /// Name.
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i64,
    /// `status.replicas` (pods that exist).
    pub existing: i64,
    /// `status.availableReplicas`.
    pub available: i64,
    /// Revision (`deployment.kubernetes.io/revision`).
    pub revision: i64,
}

/// FNV-1a of the template's JSON (empty fields left out), as the `pod-template-hash` label (10 hex digits).
pub fn template_hash(template: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(&without_empty(template)).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}

/// A template without `null`, `{}` and `[]` fields, which say nothing: a client that decodes a
/// template into typed structures and sends it back (`kubectl rollout undo`) adds `resources: {}`
/// and the like, and must still find the same hash.
fn without_empty(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), without_empty(x)))
                .filter(|(_, x)| {
                    !(x.is_null()
                        || x.as_object().is_some_and(|o| o.is_empty())
                        || x.as_array().is_some_and(|a| a.is_empty()))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_empty).collect()),
        other => other.clone(),
    }
}

/// A bound given as a number or a percentage of `replicas`; percentages round up for surge and
/// down for unavailability, as Kubernetes does.
pub fn resolve(v: Option<&IntOrString>, replicas: i64, round_up: bool) -> i64 {
    match v {
        None => {
            let q = replicas * 25;
            if round_up {
                (q + 99) / 100
            } else {
                q / 100
            }
        }
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::Str(s)) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(25);
            let q = replicas * pct;
            if round_up {
                (q + 99) / 100
            } else {
                q / 100
            }
        }
    }
}

/// maxSurge and maxUnavailable for `replicas`; both zero would never progress, so unavailability
/// becomes 1 then.
pub fn bounds(surge: Option<&IntOrString>, unavailable: Option<&IntOrString>, replicas: i64) -> (i64, i64) {
    let s = resolve(surge, replicas, true).max(0);
    let mut u = resolve(unavailable, replicas, false).max(0);
    if s == 0 && u == 0 {
        u = 1;
    }
    (s, u)
}

/// One RollingUpdate step, as Kubernetes computes it: the new set grows within the surge; old sets
/// shrink by what the spec totals allow (all pods counted from `spec.replicas`, so an old set's
/// stale status cannot free more than is safe), unhealthy old pods first, then the oldest sets.
/// Returns the new set's replicas and the old sets' replicas (same order).
pub fn rolling_step(replicas: i64, surge: i64, unavailable: i64, new: &SetFacts, old: &[SetFacts]) -> (i64, Vec<i64>) {
    let old_total: i64 = old.iter().map(|o| o.replicas).sum();
    // Room to surge counts the pods that still exist too: an old set told to shrink may not have
    // deleted its pods yet, and the surge bound is on pods, not on specs.
    let in_use: i64 = new.replicas.max(new.existing) + old.iter().map(|o| o.replicas.max(o.existing)).sum::<i64>();
    let room = (replicas + surge - in_use).max(0);
    let new_target = if new.replicas >= replicas {
        replicas
    } else {
        (new.replicas + room).min(replicas)
    };
    let all = new_target + old_total;
    let min_available = replicas - unavailable;
    let new_unavailable = (new_target - new.available).max(0);
    let mut budget = (all - min_available - new_unavailable).max(0);
    let mut targets: Vec<i64> = old.iter().map(|o| o.replicas).collect();
    let mut order: Vec<usize> = (0..old.len()).collect();
    order.sort_by_key(|i| old[*i].revision);
    for &i in &order {
        let unhealthy = (old[i].replicas - old[i].available).max(0).min(budget);
        targets[i] -= unhealthy;
        budget -= unhealthy;
    }
    for &i in &order {
        let take = targets[i].min(budget);
        targets[i] -= take;
        budget -= take;
    }
    (new_target, targets)
}

/// One Recreate step: old sets go to zero first; the new set is scaled up only when no old pod is
/// left.
pub fn recreate_step(replicas: i64, old: &[SetFacts]) -> (i64, Vec<i64>) {
    let old_left: i64 = old.iter().map(|o| o.existing.max(o.replicas)).sum();
    let new_target = if old_left == 0 { replicas } else { 0 };
    (new_target, vec![0; old.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, replicas: i64, available: i64, revision: i64) -> SetFacts {
        SetFacts {
            name: name.into(),
            replicas,
            existing: replicas,
            available,
            revision,
        }
    }

    #[test]
    fn bounds_round_like_kubernetes() {
        assert_eq!(bounds(None, None, 10), (3, 2));
        assert_eq!(bounds(None, None, 1), (1, 0));
        assert_eq!(
            bounds(Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0)), 3),
            (0, 1)
        );
        assert_eq!(
            bounds(
                Some(&IntOrString::Str("50%".into())),
                Some(&IntOrString::Str("50%".into())),
                3
            ),
            (2, 1)
        );
    }

    #[test]
    fn a_rolling_update_keeps_within_surge_and_availability() {
        // 4 replicas, surge 1, unavailable 1: the new set grows by one, one old pod goes.
        let (new, old) = rolling_step(4, 1, 1, &set("new", 0, 0, 2), &[set("old", 4, 4, 1)]);
        assert_eq!((new, old.clone()), (1, vec![3]));
        // The new pod is not available yet: total is 4, no room; nothing more can go.
        let (new, old) = rolling_step(4, 1, 1, &set("new", 1, 0, 2), &old_sets(&old));
        assert_eq!((new, old), (2, vec![3]));
        // Everything available: the old set finishes.
        let (new, old) = rolling_step(4, 1, 1, &set("new", 4, 4, 2), &[set("old", 1, 1, 1)]);
        assert_eq!((new, old), (4, vec![0]));
    }

    fn old_sets(t: &[i64]) -> Vec<SetFacts> {
        t.iter().map(|r| set("old", *r, *r, 1)).collect()
    }

    #[test]
    fn with_no_unavailability_old_pods_go_only_as_new_ones_become_available() {
        // 3 replicas, surge 1, unavailable 0.
        let (new, old) = rolling_step(3, 1, 0, &set("new", 0, 0, 2), &[set("old", 3, 3, 1)]);
        assert_eq!((new, old), (1, vec![3]));
        // An old set that claims more available pods than it has cannot free more.
        let (new, old) = rolling_step(3, 1, 0, &set("new", 1, 1, 2), &[set("old", 3, 9, 1)]);
        assert_eq!((new, old), (1, vec![2]));
        let (new, old) = rolling_step(3, 1, 0, &set("new", 2, 1, 2), &[set("old", 2, 2, 1)]);
        assert_eq!((new, old), (2, vec![2]));
    }

    #[test]
    fn recreate_waits_for_old_pods_to_go() {
        let (new, old) = recreate_step(3, &[set("old", 3, 3, 1)]);
        assert_eq!((new, old), (0, vec![0]));
        let mut gone = set("old", 0, 0, 1);
        gone.existing = 0;
        assert_eq!(recreate_step(3, &[gone]), (3, vec![0]));
    }

    #[test]
    fn the_template_hash_is_stable_and_short() {
        let a = template_hash(&serde_json::json!({"spec": {"containers": [{"name": "c"}]}}));
        assert_eq!(
            a,
            template_hash(&serde_json::json!({"spec": {"containers": [{"name": "c", "resources": {}, "env": []}]}}))
        );
        assert_ne!(
            a,
            template_hash(&serde_json::json!({"spec": {"containers": [{"name": "d"}]}}))
        );
        assert_eq!(a.len(), 10);
    }

    #[test]
    fn pods_an_old_set_has_not_deleted_yet_hold_the_surge() {
        // The old set was told 750 but still has 1000 pods: the new one may not grow past 250.
        let mut old = set("old", 750, 1000, 1);
        old.existing = 1000;
        let new = set("new", 250, 0, 2);
        let (target, _) = rolling_step(1000, 250, 250, &new, &[old]);
        assert_eq!(target, 250);
    }
}
