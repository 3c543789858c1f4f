//! LeastAllocated: prefer nodes with more free CPU and memory (requests without a value count as
//! kube-scheduler's defaults, 100m CPU and 200 MiB).

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// CPU counted for a pod that requests none.
pub const DEFAULT_CPU_MILLI: i64 = 100;
/// Memory counted for a pod that requests none.
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Fraction free after placing the pod, 0..=100, averaged over CPU and memory.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let free = |alloc: i64, used: i64, want: i64| {
        if alloc <= 0 {
            0
        } else {
            ((alloc - used - want).max(0) * 100) / alloc
        }
    };
    let cpu = if pod.cpu_milli > 0 {
        pod.cpu_milli
    } else {
        DEFAULT_CPU_MILLI
    };
    let mem = if pod.memory > 0 { pod.memory } else { DEFAULT_MEMORY };
    (free(node.alloc_cpu, node.req_cpu, cpu) + free(node.alloc_mem, node.req_mem, mem)) / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};

    #[test]
    fn emptier_nodes_score_higher() {
        let empty = node("a", 4000, 8 << 30);
        let mut busy = node("b", 4000, 8 << 30);
        busy.req_cpu = 3000;
        busy.req_mem = 6 << 30;
        assert!(score(&pod(500, 1 << 30), &empty) > score(&pod(500, 1 << 30), &busy));
    }
}
