//! The scheduler's metrics: attempts by result, placement and binding time, how long pods wait
//! from entering the queue to being bound, and the queues' depth.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::LazyLock;

use super::{header, Histogram, LATENCY_BUCKETS};

/// Seconds a pod waits from the queue to its binding (wider than request latencies).
static WAIT_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

static SCHEDULED: AtomicU64 = AtomicU64::new(0);
static UNSCHEDULABLE: AtomicU64 = AtomicU64::new(0);
static ERRORS: AtomicU64 = AtomicU64::new(0);
static PLACEMENT: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(&LATENCY_BUCKETS));
static BINDING: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(&LATENCY_BUCKETS));
static WAIT: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(&WAIT_BUCKETS));
static ACTIVE: AtomicI64 = AtomicI64::new(0);
static PARKED: AtomicI64 = AtomicI64::new(0);

/// One batch was placed: `placed` pods found a node, `unfit` fit nowhere, in `seconds`.
pub fn placed(placed: usize, unfit: usize, seconds: f64) {
    UNSCHEDULABLE.fetch_add(unfit as u64, Ordering::Relaxed);
    if placed + unfit > 0 {
        PLACEMENT.observe(seconds);
    }
}

/// One binding call ended: `ok` pods bound, `failed` not, in `seconds`.
pub fn bound(ok: usize, failed: usize, seconds: f64) {
    SCHEDULED.fetch_add(ok as u64, Ordering::Relaxed);
    ERRORS.fetch_add(failed as u64, Ordering::Relaxed);
    BINDING.observe(seconds);
}

/// A pod was bound `seconds` after it entered the queue.
pub fn waited(seconds: f64) {
    WAIT.observe(seconds);
}

/// The queues' depth now: pods waiting to be placed, and pods parked as fitting nowhere.
pub fn queues(active: usize, parked: usize) {
    ACTIVE.store(active as i64, Ordering::Relaxed);
    PARKED.store(parked as i64, Ordering::Relaxed);
}

/// Appends the scheduler's series.
pub fn render(out: &mut String) {
    header(
        out,
        "scheduler_schedule_attempts_total",
        "counter",
        "Scheduling attempts by result.",
    );
    for (result, c) in [
        ("scheduled", &SCHEDULED),
        ("unschedulable", &UNSCHEDULABLE),
        ("error", &ERRORS),
    ] {
        out.push_str(&format!(
            "scheduler_schedule_attempts_total{{result=\"{result}\"}} {}\n",
            c.load(Ordering::Relaxed)
        ));
    }
    header(
        out,
        "orca_scheduler_placement_seconds",
        "histogram",
        "Time to place one batch of queued pods.",
    );
    PLACEMENT.render(out, "orca_scheduler_placement_seconds", "");
    header(
        out,
        "scheduler_binding_duration_seconds",
        "histogram",
        "Time of one binding call (a batch of pods).",
    );
    BINDING.render(out, "scheduler_binding_duration_seconds", "");
    header(
        out,
        "scheduler_pod_scheduling_duration_seconds",
        "histogram",
        "Time from a pod entering the queue to its binding.",
    );
    WAIT.render(out, "scheduler_pod_scheduling_duration_seconds", "");
    header(out, "scheduler_pending_pods", "gauge", "Pods waiting, by queue.");
    out.push_str(&format!(
        "scheduler_pending_pods{{queue=\"active\"}} {}\nscheduler_pending_pods{{queue=\"unschedulable\"}} {}\n",
        ACTIVE.load(Ordering::Relaxed),
        PARKED.load(Ordering::Relaxed)
    ));
}
