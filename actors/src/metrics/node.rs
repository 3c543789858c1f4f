//! A node agent's metrics (served through `GET /api/v1/nodes/NAME/proxy/metrics`): pod start
//! latency and running pods, with the process's NATS series.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::LazyLock;

use super::{header, single, Histogram};

/// Seconds from a pod reaching the agent to its containers running.
static START_BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

static POD_START: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(&START_BUCKETS));
static RUNNING_PODS: AtomicI64 = AtomicI64::new(0);

/// A pod's containers all run, `seconds` after the agent took the pod.
pub fn pod_started(seconds: f64) {
    POD_START.observe(seconds);
}

/// A pod's worker started (+1) or ended (-1).
pub fn pods(delta: i64) {
    RUNNING_PODS.fetch_add(delta, Ordering::Relaxed);
}

/// The text of the agent's metrics.
pub fn render() -> String {
    let mut out = String::new();
    header(
        &mut out,
        "kubelet_pod_start_duration_seconds",
        "histogram",
        "Time from the agent taking a pod to its containers running.",
    );
    POD_START.render(&mut out, "kubelet_pod_start_duration_seconds", "");
    single(
        &mut out,
        "kubelet_running_pods",
        "gauge",
        "Pods the agent is running.",
        RUNNING_PODS.load(Ordering::Relaxed),
    );
    super::process::render(&mut out);
    out
}
