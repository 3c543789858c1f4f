//! NodeResourcesFit: requested CPU, memory and pod count must fit what is allocatable.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// Filters out nodes without room; the reason names the first resource that does not fit.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), String> {
    if node.alloc_pods > 0 && node.pods + 1 > node.alloc_pods {
        return Err("Too many pods".into());
    }
    if pod.cpu_milli > 0 && node.req_cpu + pod.cpu_milli > node.alloc_cpu {
        return Err("Insufficient cpu".into());
    }
    if pod.memory > 0 && node.req_mem + pod.memory > node.alloc_mem {
        return Err("Insufficient memory".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};

    #[test]
    fn requests_must_fit() {
        let mut n = node("n", 1000, 1000);
        assert!(filter(&pod(1000, 1000), &n).is_ok());
        n.req_cpu = 500;
        assert_eq!(filter(&pod(600, 0), &n).unwrap_err(), "Insufficient cpu");
        assert_eq!(filter(&pod(100, 2000), &n).unwrap_err(), "Insufficient memory");
        n.alloc_pods = 1;
        n.pods = 1;
        assert_eq!(filter(&pod(0, 0), &n).unwrap_err(), "Too many pods");
    }
}
