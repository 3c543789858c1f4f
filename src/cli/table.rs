//! kubectl-style tables: per-kind columns, `-o wide` extras, a NAMESPACE column with `-A`, AGE.

use serde_json::Value;

use orca_schemas::ResourceType;

use super::columns::{columns, row};

pub(super) fn s(v: &Value, p: &str) -> String {
    match v.pointer(p) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn n(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

pub(super) fn or_none(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

/// Kubernetes' short age: `45s`, `3m`, `2h`, `5d`.
pub fn age(ts: &str) -> String {
    let Ok(t) = humantime::parse_rfc3339_weak(ts) else {
        return "<unknown>".into();
    };
    let secs = std::time::SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// Renders rows (with a header when asked) aligned like kubectl's tables.
pub fn render(rt: &ResourceType, items: &[Value], wide: bool, show_ns: bool, header: bool) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut head: Vec<String> = columns(rt.kind, wide).into_iter().map(str::to_string).collect();
    if show_ns {
        head.insert(0, "NAMESPACE".into());
    }
    if header {
        rows.push(head.clone());
    }
    for it in items {
        let mut r = row(rt.kind, it, wide);
        if show_ns {
            r.insert(0, s(it, "/metadata/namespace"));
        }
        rows.push(r);
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
                .max(head[i].len())
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == r.len() {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}
