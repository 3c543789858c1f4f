//! NodeUnschedulable: a cordoned node takes no new pods unless they tolerate the unschedulable taint.

use orca_schemas::kinds::cluster::Taint;

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// Filters out cordoned nodes.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), String> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        time_added: None,
        key: "node.kubernetes.io/unschedulable".into(),
        value: None,
        effect: "NoSchedule".into(),
    };
    if node.unschedulable && !pod.tolerates(&taint) {
        return Err("node(s) were unschedulable".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};

    #[test]
    fn cordoned_nodes_are_skipped() {
        let mut n = node("n", 1000, 1 << 30);
        assert!(filter(&pod(0, 0), &n).is_ok());
        n.unschedulable = true;
        assert_eq!(filter(&pod(0, 0), &n).unwrap_err(), "node(s) were unschedulable");
    }
}
