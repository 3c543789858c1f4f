//! Metrics every orca process keeps: its NATS connection's losses and recoveries.

use std::sync::atomic::{AtomicU64, Ordering};

use super::single;

static DISCONNECTS: AtomicU64 = AtomicU64::new(0);
static RECONNECTS: AtomicU64 = AtomicU64::new(0);

/// The NATS connection was lost.
pub fn nats_disconnected() {
    DISCONNECTS.fetch_add(1, Ordering::Relaxed);
}

/// The NATS connection came back after a loss.
pub fn nats_reconnected() {
    RECONNECTS.fetch_add(1, Ordering::Relaxed);
}

/// Appends the process's series.
pub fn render(out: &mut String) {
    single(
        out,
        "orca_nats_disconnects_total",
        "counter",
        "Times this process lost its NATS connection.",
        DISCONNECTS.load(Ordering::Relaxed),
    );
    single(
        out,
        "orca_nats_reconnects_total",
        "counter",
        "Times this process got its NATS connection back after a loss.",
        RECONNECTS.load(Ordering::Relaxed),
    );
}
