//! Node lifecycle: follows agent heartbeats on NATS (never written to the log) and writes only changes
//! of the Ready condition: Unknown when a node stops heartbeating, True when it comes back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::bus::client::ApiClient;

/// How often node readiness is reconciled.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The Ready condition a node should have, given when it last heartbeated (pure decision).
pub fn desired_ready(last_seen: Option<Instant>, now: Instant, grace: Duration) -> &'static str {
    match last_seen {
        Some(t) if now.duration_since(t) <= grace => "True",
        _ => "Unknown",
    }
}

fn ready_of(node: &Value) -> &str {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("Unknown")
}

/// Runs the controller: `grace` without a heartbeat makes a node's Ready condition Unknown.
pub async fn run(api: ApiClient, nats: async_nats::Client, grace: Duration) {
    let mut beats = match nats.subscribe("orca.node.*.heartbeat").await {
        Ok(s) => s,
        Err(e) => return tracing::warn!("node lifecycle: cannot subscribe to heartbeats: {e}"),
    };
    let started = Instant::now();
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(CHECK_INTERVAL);
    loop {
        tokio::select! {
            msg = beats.next() => match msg {
                Some(m) => {
                    if let Some(node) = m.subject.as_str().strip_prefix("orca.node.").and_then(|s| s.strip_suffix(".heartbeat")) {
                        seen.insert(node.to_string(), Instant::now());
                    }
                }
                None => return,
            },
            _ = tick.tick() => {
                // Right after start, give every node one grace period to be heard from.
                if started.elapsed() < grace {
                    continue;
                }
                let Ok(list) = api.call("GET", "/api/v1/nodes", "", None).await else { continue };
                let nodes: Value = serde_json::from_slice(&list.body).unwrap_or(Value::Null);
                for node in nodes["items"].as_array().into_iter().flatten() {
                    let name = node.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
                    let want = desired_ready(seen.get(name).copied(), Instant::now(), grace);
                    if ready_of(node) == want {
                        continue;
                    }
                    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
                    let (reason, message) = if want == "True" {
                        ("KubeletReady", "orca agent is posting ready status")
                    } else {
                        ("NodeStatusUnknown", "orca agent stopped posting node status")
                    };
                    let mut conds: Vec<Value> = node.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
                    conds.retain(|c| c["type"] != "Ready");
                    conds.push(json!({"type": "Ready", "status": want, "reason": reason, "message": message, "lastTransitionTime": now, "lastHeartbeatTime": now}));
                    let patch = json!({"status": {"conditions": conds}});
                    if let Err(e) = api.call("PATCH", &format!("/api/v1/nodes/{name}/status"), "", Some(&patch)).await {
                        tracing::debug!("node lifecycle: {name}: {e}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_follows_heartbeats() {
        let now = Instant::now();
        let grace = Duration::from_secs(20);
        assert_eq!(desired_ready(Some(now), now, grace), "True");
        assert_eq!(
            desired_ready(now.checked_sub(Duration::from_secs(21)), now, grace),
            "Unknown"
        );
        assert_eq!(desired_ready(None, now, grace), "Unknown");
    }
}
