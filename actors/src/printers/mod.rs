//! What kubectl prints for each kind: the columns of its tables (`-o wide` extras included), a
//! pod's STATUS as kubectl computes it, and short ages. orcactl's tables and the API server's
//! `meta.k8s.io/v1` Table answers both come from here.

pub mod columns;
pub mod columns_more;
pub mod pod_status;
pub mod table;

use serde_json::Value;

/// The text at JSON pointer `p` (empty when absent).
pub fn s(v: &Value, p: &str) -> String {
    match v.pointer(p) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The integer at JSON pointer `p` (0 when absent).
pub fn n(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

/// `<none>` for an empty cell, as kubectl prints it.
pub fn or_none(x: String) -> String {
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

/// A label map as kubectl writes it: `k=v,k2=v2` (empty when there is none).
pub fn labels_text(map: &Value) -> String {
    map.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}
