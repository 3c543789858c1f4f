//! PreferNoSchedule taints: avoid nodes with untolerated PreferNoSchedule taints when others fit.

use crate::scheduler::cache::NodeInfo;
use crate::scheduler::pod_info::PodInfo;

/// 100 without such taints, less for each one.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let n = node
        .taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !pod.tolerates(t))
        .count() as i64;
    100 / (1 + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use orca_schemas::kinds::cluster::Taint;

    #[test]
    fn prefer_untainted() {
        let mut t = node("t", 1, 1);
        t.taints.push(Taint {
            time_added: None,
            key: "k".into(),
            value: None,
            effect: "PreferNoSchedule".into(),
        });
        assert!(score(&pod(0, 0), &node("a", 1, 1)) > score(&pod(0, 0), &t));
    }
}
