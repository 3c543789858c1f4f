//! Process metrics in the Prometheus text format: counters and histograms kept in atomics,
//! labelled series in a map, written out on `/metrics`.

pub mod api;
pub mod node;
pub mod process;
pub mod scheduler;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket bounds (seconds) of latency histograms, as Kubernetes' request histograms use.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A histogram of non-negative values.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// A histogram with `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one value.
    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add((v * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the histogram's series for `name{labels}`.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            out.push_str(&format!("{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}\n"));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!("{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}\n"));
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        out.push_str(&format!("{name}_sum{braces} {sum}\n{name}_count{braces} {count}\n"));
    }
}

/// Series of one counter or histogram family, by label set.
pub struct Family<T> {
    series: parking_lot::RwLock<BTreeMap<String, std::sync::Arc<T>>>,
    make: fn() -> T,
}

impl<T> Family<T> {
    /// An empty family whose new series `make` builds.
    pub const fn new(make: fn() -> T) -> Family<T> {
        Family {
            series: parking_lot::RwLock::new(BTreeMap::new()),
            make,
        }
    }

    /// The series of `labels` (made on first use).
    pub fn get(&self, labels: &str) -> std::sync::Arc<T> {
        if let Some(s) = self.series.read().get(labels) {
            return s.clone();
        }
        self.series
            .write()
            .entry(labels.to_string())
            .or_insert_with(|| std::sync::Arc::new((self.make)()))
            .clone()
    }

    /// Every series, by its labels.
    pub fn all(&self) -> Vec<(String, std::sync::Arc<T>)> {
        self.series.read().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// A label value as Prometheus quotes it.
pub fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes a family's `# HELP` and `# TYPE` lines.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
}

/// Writes a family of one unlabelled series (a counter or a gauge) with its value.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    out.push_str(&format!("{name} {value}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets() {
        static B: [f64; 2] = [0.1, 1.0];
        let h = Histogram::new(&B);
        for v in [0.05, 0.5, 0.7, 3.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"1\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 4\n"), "{out}");
    }
}
