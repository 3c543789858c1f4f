//! NodeName: a pod that names its node runs only there.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// Filters out every node but the one the pod names.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), String> {
    match &pod.node_name {
        Some(n) if *n != node.name => Err("node(s) didn't match the requested node name".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};

    #[test]
    fn only_the_named_node() {
        let mut p = pod(0, 0);
        p.node_name = Some("b".into());
        assert!(filter(&p, &node("a", 1, 1)).is_err());
        assert!(filter(&p, &node("b", 1, 1)).is_ok());
    }
}
