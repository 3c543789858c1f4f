//! `GET /apis/orca.dev/v1/log?from=REV&to=REV&limit=N`: the log itself as a timeline (revision, time,
//! actor, type, kind, namespace, name, and for Event records their reason and message).

use bytes::Bytes;
use serde_json::{json, Value};

use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::eventlog::EventLog;

/// The path of the log endpoint.
pub const PATH: &str = "/apis/orca.dev/v1/log";
/// Most entries in one answer.
pub const MAX_ENTRIES: u64 = 10_000;

/// Entries with revisions in `from..=to` (defaults: the oldest held, the head).
pub fn entries(log: &EventLog, q: &Query) -> ApiResult<Bytes> {
    let oldest = log.oldest();
    let head = log.head();
    let from = q.number("from")?.unwrap_or(oldest).max(1);
    if from < oldest {
        return Err(ApiError::gone(from, oldest));
    }
    let to = q.number("to")?.unwrap_or(head).min(head);
    let limit = q.number("limit")?.unwrap_or(MAX_ENTRIES).min(MAX_ENTRIES) as usize;
    let events = if from > to {
        Vec::new()
    } else {
        log.reader().range(from, to, limit)?
    };
    let items: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut item = json!({"revision": e.revision, "time": super::write::rfc3339(e.time_ms), "timeMillis": e.time_ms, "actor": e.actor,
                "type": e.event_type.as_watch_type(), "kind": e.kind, "namespace": e.namespace, "name": e.name, "uid": e.uid});
            if e.kind == "Event" {
                let o = e.object();
                item["reason"] = o.get("reason").cloned().unwrap_or(Value::Null);
                item["message"] = o.get("message").cloned().unwrap_or(Value::Null);
                item["eventType"] = o.get("type").cloned().unwrap_or(Value::Null);
                item["involvedObject"] = o.get("involvedObject").cloned().unwrap_or(Value::Null);
            }
            item
        })
        .collect();
    let next = events.last().map_or(from, |e| e.revision + 1);
    let out = json!({"kind": "LogEntries", "apiVersion": "orca.dev/v1", "oldestRevisionHeld": oldest, "head": head, "next": next, "items": items});
    Ok(Bytes::from(serde_json::to_vec(&out).unwrap_or_default()))
}
