//! BalancedAllocation: prefer nodes where CPU and memory use stay in proportion.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

use super::least_allocated::{DEFAULT_CPU_MILLI, DEFAULT_MEMORY};

/// 100 minus the gap between CPU and memory utilisation after placing the pod.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    if node.alloc_cpu <= 0 || node.alloc_mem <= 0 {
        return 0;
    }
    let cpu = if pod.cpu_milli > 0 {
        pod.cpu_milli
    } else {
        DEFAULT_CPU_MILLI
    };
    let mem = if pod.memory > 0 { pod.memory } else { DEFAULT_MEMORY };
    let cpu_frac = ((node.req_cpu + cpu) * 100 / node.alloc_cpu).min(100);
    let mem_frac = ((node.req_mem + mem) * 100 / node.alloc_mem).min(100);
    100 - (cpu_frac - mem_frac).abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};

    #[test]
    fn proportional_use_scores_higher() {
        let mut skewed = node("a", 1000, 1000);
        skewed.req_cpu = 800;
        let even = node("b", 1000, 1000);
        assert!(score(&pod(100, 100), &even) > score(&pod(100, 100), &skewed));
    }
}
