//! NodePorts: a host port can be used by one pod per node.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// Filters out nodes where a host port the pod wants is taken.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), String> {
    if pod.host_ports.iter().any(|hp| node.host_ports.contains(hp)) {
        return Err("node(s) didn't have free ports for the requested pod ports".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};

    #[test]
    fn host_ports_conflict() {
        let mut n = node("n", 1, 1);
        n.host_ports.push(("TCP".into(), 8080));
        let mut p = pod(0, 0);
        p.host_ports.push(("UDP".into(), 8080));
        assert!(filter(&p, &n).is_ok());
        p.host_ports.push(("TCP".into(), 8080));
        assert!(filter(&p, &n).is_err());
    }
}
