//! The DaemonSet controller's decisions (pure): a pod for each node that should run one, none
//! where it should not (or whose node is gone), extra and failed pods deleted, and a rolling
//! update that keeps at most `maxUnavailable` nodes without a ready pod.

use std::collections::BTreeMap;

/// Where the DaemonSet's pod belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    /// Node name.
    pub name: String,
    /// Selector, affinity and taints let a new pod start here.
    pub should_run: bool,
    /// A pod already here may stay (no untolerated NoExecute taint, selector still matches).
    pub should_continue: bool,
}

/// One pod of the DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsPod {
    /// Name.
    pub name: String,
    /// The node it is bound to or meant for.
    pub node: String,
    /// Its template hash.
    pub hash: String,
    /// Ready condition True.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Phase Failed.
    pub failed: bool,
    /// creationTimestamp (sorts as text).
    pub created: String,
}

/// What to do, and the status to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DsPlan {
    /// Nodes that get a new pod.
    pub create: Vec<String>,
    /// Pods to delete.
    pub delete: Vec<String>,
    /// Pods whose node is gone: deleted at once (nothing is there to stop them).
    pub force_delete: Vec<String>,
    /// Nodes that should run the pod.
    pub desired: i64,
    /// Of those, nodes running one.
    pub current: i64,
    /// Nodes running one that should not.
    pub misscheduled: i64,
    /// Nodes with a ready pod.
    pub ready: i64,
    /// Nodes whose pod has the current template.
    pub updated: i64,
    /// Desired nodes without a ready pod.
    pub unavailable: i64,
}

/// Decides for one DaemonSet whose template hashes to `hash`; `rolling` replaces pods of older
/// templates (OnDelete leaves them): with `max_surge` > 0 a new pod starts beside the old one on up
/// to that many nodes at once and the old one goes when the new is ready; otherwise old pods go
/// first, with at most `max_unavailable` nodes short of a ready pod.
pub fn plan(
    nodes: &[NodeFacts],
    pods: &[DsPod],
    hash: &str,
    rolling: bool,
    max_unavailable: i64,
    max_surge: i64,
) -> DsPlan {
    let mut out = DsPlan::default();
    let mut by_node: BTreeMap<&str, Vec<&DsPod>> = BTreeMap::new();
    for p in pods {
        by_node.entry(p.node.as_str()).or_default().push(p);
    }
    let known: std::collections::BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    for (node, ps) in &by_node {
        if !known.contains(node) {
            out.force_delete.extend(ps.iter().map(|p| p.name.clone()));
        }
    }
    let mut old_ready = Vec::new();
    let mut surging = 0i64;
    let mut surge_wanted = Vec::new();
    for n in nodes {
        let here = by_node.get(n.name.as_str()).cloned().unwrap_or_default();
        let mut live: Vec<&DsPod> = here.iter().filter(|p| !p.terminating && !p.failed).copied().collect();
        live.sort_by(|a, b| (a.hash != hash, &a.created).cmp(&(b.hash != hash, &b.created)));
        out.delete.extend(
            here.iter()
                .filter(|p| p.failed && !p.terminating)
                .map(|p| p.name.clone()),
        );
        let going = here.iter().any(|p| p.terminating);
        if n.should_run {
            out.desired += 1;
        }
        if !live.is_empty() && !n.should_run {
            out.misscheduled += 1;
        }
        if !n.should_continue || (!n.should_run && live.is_empty()) {
            out.delete.extend(live.iter().map(|p| p.name.clone()));
            continue;
        }
        if !n.should_run {
            continue;
        }
        match live.split_first() {
            None => {
                if !going {
                    out.create.push(n.name.clone());
                }
                out.unavailable += 1;
            }
            Some((keep, extra)) => {
                let old_serving = extra.iter().any(|p| p.hash != hash && p.ready);
                if max_surge > 0 && keep.hash == hash && !keep.ready && old_serving {
                    // Surging: the old pod serves until the new one is ready.
                    surging += 1;
                    out.current += 1;
                    out.ready += 1;
                    out.updated += 1;
                    continue;
                }
                out.delete.extend(extra.iter().map(|p| p.name.clone()));
                out.current += 1;
                if keep.ready {
                    out.ready += 1;
                } else {
                    out.unavailable += 1;
                }
                if keep.hash == hash {
                    out.updated += 1;
                } else if rolling && max_surge > 0 && keep.ready {
                    surge_wanted.push(n.name.clone());
                } else if rolling && !keep.ready {
                    // Not ready anyway: replacing it costs no availability.
                    out.delete.push(keep.name.clone());
                } else if rolling {
                    old_ready.push(keep.name.clone());
                }
            }
        }
    }
    surge_wanted.sort();
    out.create
        .extend(surge_wanted.into_iter().take((max_surge - surging).max(0) as usize));
    let budget = (max_unavailable.max(1) - out.unavailable).max(0) as usize;
    old_ready.sort();
    out.delete.extend(old_ready.into_iter().take(budget));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, run: bool, stay: bool) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            should_run: run,
            should_continue: stay,
        }
    }

    fn pod(name: &str, node: &str, hash: &str, ready: bool) -> DsPod {
        DsPod {
            name: name.into(),
            node: node.into(),
            hash: hash.into(),
            ready,
            terminating: false,
            failed: false,
            created: name.into(),
        }
    }

    #[test]
    fn one_pod_per_eligible_node() {
        let nodes = [node("a", true, true), node("b", true, true), node("c", false, false)];
        let pods = [
            pod("p1", "a", "h", true),
            pod("p2", "a", "h", true),
            pod("p3", "c", "h", true),
            pod("p4", "gone", "h", true),
        ];
        let p = plan(&nodes, &pods, "h", true, 1, 0);
        assert_eq!(p.create, vec!["b".to_string()]);
        assert_eq!(p.delete, vec!["p2".to_string(), "p3".to_string()]);
        assert_eq!(p.force_delete, vec!["p4".to_string()]);
        assert_eq!(
            (p.desired, p.current, p.misscheduled, p.ready, p.unavailable),
            (2, 1, 1, 1, 1)
        );
    }

    #[test]
    fn a_new_node_that_should_not_run_keeps_a_pod_that_may_continue() {
        // NoSchedule tainted after the pod started: it stays.
        let p = plan(&[node("a", false, true)], &[pod("p", "a", "h", true)], "h", true, 1, 0);
        assert!(p.delete.is_empty() && p.create.is_empty());
    }

    #[test]
    fn rolling_update_respects_max_unavailable() {
        let nodes = [node("a", true, true), node("b", true, true), node("c", true, true)];
        let pods = [
            pod("pa", "a", "old", true),
            pod("pb", "b", "old", true),
            pod("pc", "c", "old", true),
        ];
        let p = plan(&nodes, &pods, "new", true, 1, 0);
        assert_eq!(p.delete.len(), 1);
        let p = plan(&nodes, &pods, "new", false, 1, 0);
        assert!(p.delete.is_empty(), "OnDelete leaves old pods");
        // One node is already without a ready pod: nothing more goes.
        let pods = [
            pod("pa", "a", "new", false),
            pod("pb", "b", "old", true),
            pod("pc", "c", "old", true),
        ];
        assert!(plan(&nodes, &pods, "new", true, 1, 0).delete.is_empty());
        // A terminating pod holds its node's replacement back.
        let mut going = pod("pa", "a", "old", true);
        going.terminating = true;
        let p = plan(&nodes[..1], &[going], "new", true, 1, 0);
        assert!(p.create.is_empty());
    }

    #[test]
    fn surge_starts_new_pods_beside_old_ones_and_removes_old_ones_when_ready() {
        let nodes = [node("a", true, true), node("b", true, true), node("c", true, true)];
        let old = [
            pod("pa", "a", "old", true),
            pod("pb", "b", "old", true),
            pod("pc", "c", "old", true),
        ];
        let p = plan(&nodes, &old, "new", true, 0, 1);
        assert_eq!(p.create, vec!["a".to_string()], "one node at a time");
        assert!(p.delete.is_empty(), "nothing goes before its replacement is ready");
        let mut both = old.to_vec();
        both.push(pod("na", "a", "new", false));
        let p = plan(&nodes, &both, "new", true, 0, 1);
        assert!(
            p.create.is_empty() && p.delete.is_empty(),
            "a's new pod is not ready yet"
        );
        assert_eq!(p.ready, 3, "the old pod still serves");
        both[3].ready = true;
        let p = plan(&nodes, &both, "new", true, 0, 1);
        assert_eq!(p.delete, vec!["pa".to_string()]);
    }
}
