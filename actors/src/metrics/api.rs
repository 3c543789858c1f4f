//! The control plane's metrics: requests by verb, resource and code with their latency, the log's
//! batches, fsync latency, head and horizon, and open watches; with the scheduler's and the
//! process's series.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::LazyLock;

use super::{header, quote, single, Family, Histogram, LATENCY_BUCKETS};

/// Events per committed batch.
static BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 256.0, 1024.0, 4096.0];

static REQUESTS: Family<AtomicU64> = Family::new(|| AtomicU64::new(0));
static DURATIONS: Family<Histogram> = Family::new(|| Histogram::new(&LATENCY_BUCKETS));
static BATCHES: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(&BATCH_BUCKETS));
static FSYNC: LazyLock<Histogram> = LazyLock::new(|| Histogram::new(&LATENCY_BUCKETS));
static WATCHERS: AtomicI64 = AtomicI64::new(0);
static WATCHES_ENDED_410: AtomicU64 = AtomicU64::new(0);

/// Records one answered request.
pub fn request(verb: &str, resource: &str, code: u16, seconds: f64) {
    let (verb, resource) = (quote(verb), quote(resource));
    REQUESTS
        .get(&format!("verb=\"{verb}\",resource=\"{resource}\",code=\"{code}\""))
        .fetch_add(1, Ordering::Relaxed);
    DURATIONS
        .get(&format!("verb=\"{verb}\",resource=\"{resource}\""))
        .observe(seconds);
}

/// Records one committed batch of the log and the fsync that made it durable.
pub fn batch(events: usize, fsync_seconds: f64) {
    BATCHES.observe(events as f64);
    FSYNC.observe(fsync_seconds);
}

/// A watch opened (+1) or ended (-1).
pub fn watchers(delta: i64) {
    WATCHERS.fetch_add(delta, Ordering::Relaxed);
}

/// A watch ended because its client fell below the compaction horizon.
pub fn watch_expired() {
    WATCHES_ENDED_410.fetch_add(1, Ordering::Relaxed);
}

/// The text of `/metrics`, with the log's head and horizon.
pub fn render(head: u64, oldest: u64) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "apiserver_request_total",
        "counter",
        "Requests by verb, resource and HTTP code.",
    );
    for (labels, c) in REQUESTS.all() {
        out.push_str(&format!(
            "apiserver_request_total{{{labels}}} {}\n",
            c.load(Ordering::Relaxed)
        ));
    }
    header(
        &mut out,
        "apiserver_request_duration_seconds",
        "histogram",
        "Request latency by verb and resource.",
    );
    for (labels, h) in DURATIONS.all() {
        h.render(&mut out, "apiserver_request_duration_seconds", &labels);
    }
    header(
        &mut out,
        "orca_log_batch_events",
        "histogram",
        "Events per committed log batch.",
    );
    BATCHES.render(&mut out, "orca_log_batch_events", "");
    header(
        &mut out,
        "orca_log_fsync_seconds",
        "histogram",
        "Time to make a batch durable.",
    );
    FSYNC.render(&mut out, "orca_log_fsync_seconds", "");
    single(
        &mut out,
        "orca_log_head_revision",
        "gauge",
        "Newest revision of the log.",
        head,
    );
    single(
        &mut out,
        "orca_log_oldest_revision",
        "gauge",
        "Oldest revision held (the compaction horizon).",
        oldest,
    );
    single(
        &mut out,
        "apiserver_registered_watchers",
        "gauge",
        "Open watches.",
        WATCHERS.load(Ordering::Relaxed),
    );
    single(
        &mut out,
        "orca_watches_expired_total",
        "counter",
        "Watches ended with 410 below the horizon.",
        WATCHES_ENDED_410.load(Ordering::Relaxed),
    );
    // The scheduler and the controllers run in the API server's process.
    super::scheduler::render(&mut out);
    super::process::render(&mut out);
    out
}
