//! Preferred node affinity: the sum of the weights of the preferred terms a node satisfies.

use super::requirement_holds;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// Matched weight as a share of the total weight, 0..=100.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let total: i64 = pod.preferred_terms.iter().map(|t| t.weight as i64).sum();
    if total == 0 {
        return 0;
    }
    let matched: i64 = pod
        .preferred_terms
        .iter()
        .filter(|t| {
            let exprs = t.preference.match_expressions.as_deref().unwrap_or(&[]);
            !exprs.is_empty() && exprs.iter().all(|e| requirement_holds(e, &node.labels))
        })
        .map(|t| t.weight as i64)
        .sum();
    matched * 100 / total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use orca_schemas::kinds::pod::{NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm};

    #[test]
    fn matched_weights() {
        let mut p = pod(0, 0);
        p.preferred_terms.push(PreferredSchedulingTerm {
            weight: 80,
            preference: NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: "zone".into(),
                    operator: "In".into(),
                    values: Some(vec!["a".into()]),
                }]),
                match_fields: None,
            },
        });
        let mut a = node("a", 1, 1);
        a.labels.insert("zone".into(), "a".into());
        assert_eq!(score(&p, &a), 100);
        assert_eq!(score(&p, &node("b", 1, 1)), 0);
    }
}
