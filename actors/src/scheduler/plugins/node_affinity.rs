//! NodeAffinity: `nodeSelector` and required node affinity terms.

use super::requirement_holds;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// Filters out nodes whose labels do not satisfy the pod's nodeSelector and required affinity.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), String> {
    let selector_ok = pod.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v));
    let affinity_ok = pod.required_terms.is_empty()
        || pod.required_terms.iter().any(|t| {
            let exprs = t.match_expressions.as_deref().unwrap_or(&[]);
            let fields_ok = t.match_fields.as_deref().unwrap_or(&[]).iter().all(|f| {
                let mut by_name = std::collections::BTreeMap::new();
                by_name.insert("metadata.name".to_string(), node.name.clone());
                requirement_holds(f, &by_name)
            });
            (!exprs.is_empty() || t.match_fields.is_some())
                && exprs.iter().all(|e| requirement_holds(e, &node.labels))
                && fields_ok
        });
    if selector_ok && affinity_ok {
        Ok(())
    } else {
        Err("node(s) didn't match Pod's node affinity/selector".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use orca_schemas::kinds::pod::{NodeSelectorRequirement, NodeSelectorTerm};

    #[test]
    fn selector_and_required_terms() {
        let mut n = node("n", 1, 1);
        n.labels.insert("disk".into(), "ssd".into());
        n.labels.insert("zone".into(), "a".into());
        let mut p = pod(0, 0);
        p.node_selector.insert("disk".into(), "ssd".into());
        assert!(filter(&p, &n).is_ok());
        p.node_selector.insert("gpu".into(), "yes".into());
        assert!(filter(&p, &n).is_err());
        let mut q = pod(0, 0);
        let term = |op: &str, vals: &[&str]| NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: "zone".into(),
                operator: op.into(),
                values: Some(vals.iter().map(|v| v.to_string()).collect()),
            }]),
            match_fields: None,
        };
        q.required_terms = vec![term("In", &["b"]), term("NotIn", &["b"])];
        assert!(filter(&q, &n).is_ok(), "terms are ORed");
        q.required_terms = vec![term("In", &["b", "c"])];
        assert!(filter(&q, &n).is_err());
    }
}
