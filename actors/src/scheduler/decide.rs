//! The pure scheduling decision: filter every node, score the feasible ones, pick the best, or explain
//! why none fits in kube-scheduler's words.

use std::collections::BTreeMap;

use super::cache::Cache;
use super::plugins::{FILTERS, SCORES};
use super::pod_info::PodInfo;

/// Why a pod fits no node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    /// Number of nodes considered.
    pub nodes: usize,
    /// How many nodes failed for each reason.
    pub reasons: BTreeMap<String, usize>,
}

impl FitError {
    /// `0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {k: v}.`
    pub fn message(&self) -> String {
        if self.nodes == 0 {
            return "0/0 nodes are available: no nodes registered.".into();
        }
        let parts: Vec<String> = self.reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        format!("0/{} nodes are available: {}.", self.nodes, parts.join(", "))
    }
}

/// How many feasible nodes to find before choosing, as kube-scheduler's adaptive
/// percentageOfNodesToScore: every node below 100, else 50% minus 1% per 125 nodes, at least 5% and
/// at least 100 nodes.
pub fn nodes_to_find(total: usize) -> usize {
    if total < 100 {
        return total;
    }
    let pct = 50usize.saturating_sub(total / 125).max(5);
    (total * pct / 100).max(100)
}

/// Chooses a node for the pod. Nodes are visited from a rotating start (`tie`), and the search stops
/// once enough feasible nodes were found; a pod that fits nowhere has every node examined, so the
/// reasons cover the whole cluster.
pub fn schedule(pod: &PodInfo, cache: &Cache, tie: usize) -> Result<String, FitError> {
    let n = cache.nodes.len();
    let want = nodes_to_find(n);
    let mut best: Vec<usize> = Vec::new();
    let mut best_score = i64::MIN;
    let mut feasible = 0usize;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let start = if n == 0 { 0 } else { tie % n };
    for step in 0..n {
        let i = (start + step) % n;
        let node = &cache.nodes[i];
        if let Some(reason) = FILTERS.iter().find_map(|f| f(pod, node).err()) {
            *reasons.entry(reason).or_default() += 1;
            continue;
        }
        feasible += 1;
        let score: i64 = SCORES.iter().map(|(s, w)| s(pod, node) * w).sum();
        if score > best_score {
            best_score = score;
            best.clear();
        }
        if score == best_score {
            best.push(i);
        }
        if feasible >= want {
            break;
        }
    }
    if best.is_empty() {
        return Err(FitError { nodes: n, reasons });
    }
    Ok(cache.nodes[best[tie % best.len()]].name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::plugins::testing::{node, pod};
    use orca_schemas::kinds::cluster::Taint;

    #[test]
    fn explains_like_kube_scheduler() {
        let mut cache = Cache::default();
        cache.upsert_node(node("a", 500, 1 << 30));
        cache.upsert_node(node("b", 500, 1 << 30));
        let mut tainted = node("c", 8000, 1 << 30);
        tainted.taints.push(Taint {
            time_added: None,
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
        });
        cache.upsert_node(tainted);
        let err = schedule(&pod(1000, 0), &cache, 0).unwrap_err();
        assert_eq!(
            err.message(),
            "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}."
        );
        assert!(schedule(&pod(100, 0), &cache, 0).is_ok());
    }

    #[test]
    fn samples_large_clusters_like_kube_scheduler() {
        assert_eq!(nodes_to_find(50), 50);
        assert_eq!(nodes_to_find(1000), 420);
        assert_eq!(nodes_to_find(5000), 500);
        assert_eq!(nodes_to_find(100_000), 5000);
    }

    #[test]
    fn spreads_by_free_capacity() {
        let mut cache = Cache::default();
        cache.upsert_node(node("a", 4000, 4 << 30));
        cache.upsert_node(node("b", 4000, 4 << 30));
        let mut counts = BTreeMap::new();
        for i in 0..10 {
            let mut p = pod(200, 0);
            p.key = format!("default/p{i}");
            let n = schedule(&p, &cache, i).unwrap();
            cache.place(p, &n);
            *counts.entry(n).or_insert(0) += 1;
        }
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![5, 5]);
    }
}
