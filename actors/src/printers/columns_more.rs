//! Table rows of Job, CronJob, PodDisruptionBudget, StorageClass and EndpointSlice, as kubectl
//! prints them.

use serde_json::Value;

use super::{age, n, s};

fn condition(v: &Value, kind: &str) -> bool {
    v.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == kind && c["status"] == "True"))
}

/// `2m3s`-style elapsed time between two timestamps (to now when the second is missing).
fn duration(from: &str, to: &str) -> String {
    let Ok(a) = humantime::parse_rfc3339_weak(from) else {
        return String::new();
    };
    let b = humantime::parse_rfc3339_weak(to).unwrap_or_else(|_| std::time::SystemTime::now());
    let secs = b.duration_since(a).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        0..=119 => format!("{secs}s"),
        120..=3599 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
    }
}

/// NAME STATUS COMPLETIONS DURATION AGE.
pub fn job(v: &Value) -> Vec<String> {
    let status = if condition(v, "Complete") {
        "Complete"
    } else if condition(v, "Failed") {
        "Failed"
    } else if condition(v, "Suspended") {
        "Suspended"
    } else {
        "Running"
    };
    let done = n(v, "/status/succeeded");
    let completions = match v.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{done}/{c}"),
        None => format!("{done}/1 of {}", n(v, "/spec/parallelism")),
    };
    vec![
        s(v, "/metadata/name"),
        status.into(),
        completions,
        duration(&s(v, "/status/startTime"), &s(v, "/status/completionTime")),
        age(&s(v, "/metadata/creationTimestamp")),
    ]
}

/// NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE.
pub fn cronjob(v: &Value) -> Vec<String> {
    let last = s(v, "/status/lastScheduleTime");
    vec![
        s(v, "/metadata/name"),
        s(v, "/spec/schedule"),
        v.pointer("/spec/timeZone")
            .and_then(Value::as_str)
            .unwrap_or("<none>")
            .to_string(),
        (v.pointer("/spec/suspend") == Some(&Value::Bool(true))).to_string(),
        v.pointer("/status/active")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
            .to_string(),
        if last.is_empty() { "<none>".into() } else { age(&last) },
        age(&s(v, "/metadata/creationTimestamp")),
    ]
}

fn text(v: &Value, p: &str) -> String {
    match v.pointer(p) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => "N/A".into(),
    }
}

/// NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE.
pub fn pdb(v: &Value) -> Vec<String> {
    vec![
        s(v, "/metadata/name"),
        text(v, "/spec/minAvailable"),
        text(v, "/spec/maxUnavailable"),
        n(v, "/status/disruptionsAllowed").to_string(),
        age(&s(v, "/metadata/creationTimestamp")),
    ]
}

/// NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE (the default class
/// marked as kubectl marks it).
pub fn storageclass(v: &Value) -> Vec<String> {
    let default = v.pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
        == Some(&Value::String("true".into()));
    let name = s(v, "/metadata/name");
    vec![
        if default { format!("{name} (default)") } else { name },
        s(v, "/provisioner"),
        s(v, "/reclaimPolicy"),
        s(v, "/volumeBindingMode"),
        v.pointer("/allowVolumeExpansion")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string(),
        age(&s(v, "/metadata/creationTimestamp")),
    ]
}

/// NAME ADDRESSTYPE PORTS ENDPOINTS AGE (at most three addresses, then `+ N more...`).
pub fn endpointslice(v: &Value) -> Vec<String> {
    let list = |p: &str| v.pointer(p).and_then(Value::as_array).cloned().unwrap_or_default();
    let ports: Vec<String> = list("/ports").iter().map(|p| p["port"].to_string()).collect();
    let addrs: Vec<String> = list("/endpoints")
        .iter()
        .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let shown = match addrs.len() {
        0 => "<unset>".to_string(),
        n if n > 3 => format!("{} + {} more...", addrs[..3].join(","), n - 3),
        _ => addrs.join(","),
    };
    vec![
        s(v, "/metadata/name"),
        s(v, "/addressType"),
        if ports.is_empty() {
            "<unset>".into()
        } else {
            ports.join(",")
        },
        shown,
        age(&s(v, "/metadata/creationTimestamp")),
    ]
}

/// Access modes as kubectl abbreviates them (RWO, ROX, RWX, RWOP).
pub fn access(v: &Value) -> String {
    v.pointer("/spec/accessModes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    x => x,
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}
