//! Spread: prefer nodes with fewer pods of the same owner (SelectorSpread's default behaviour).

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// 100 for a node without siblings, lower the more siblings it has.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(owner) = &pod.owner else { return 100 };
    let siblings = node.owners.get(owner).copied().unwrap_or(0);
    100 / (1 + siblings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};

    #[test]
    fn siblings_lower_the_score() {
        let mut p = pod(0, 0);
        p.owner = Some("rs-1".into());
        let mut crowded = node("a", 1, 1);
        crowded.owners.insert("rs-1".into(), 2);
        assert!(score(&p, &node("b", 1, 1)) > score(&p, &crowded));
    }
}
