//! Watch streams served from the log: from any held revision, nothing missed or repeated, with
//! bookmarks and a timeout; one JSON line per event.

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;

use orca_schemas::ResourceType;

use super::read::Filter;
use super::status::{ApiError, ApiResult};
use crate::eventlog::{Error as LogError, EventLog};

/// Default interval between bookmarks when the client allows them.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);
/// Default lifetime of a watch when the client gives no `timeoutSeconds`.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const BATCH: usize = 1024;

/// What a watch follows.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// Kind watched.
    pub rt: &'static ResourceType,
    /// Namespace, or all.
    pub namespace: Option<String>,
    /// One object by name (from the path), or all.
    pub name: Option<String>,
    /// Label and field selectors.
    pub filter: Filter,
    /// Start after this revision; `None` sends the current state first.
    pub since: Option<u64>,
    /// Send bookmarks.
    pub bookmarks: bool,
    /// Bookmark interval.
    pub bookmark_interval: Duration,
    /// End the stream after this long.
    pub timeout: Duration,
}

fn bookmark(rt: &ResourceType, revision: u64) -> Bytes {
    let line = json!({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": revision.to_string()}}});
    let mut v = serde_json::to_vec(&line).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn error_line(e: &ApiError) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_status()})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Starts a watch: checks the start revision (410 below the horizon), then streams lines into the
/// returned channel until the client goes away or the timeout passes. The line carries the revision.
pub fn start(log: EventLog, spec: WatchSpec) -> ApiResult<mpsc::Receiver<(u64, Bytes)>> {
    let (initial, mut after) = match spec.since {
        Some(rv) => {
            log.events_after(rv, 0)?;
            (Vec::new(), rv)
        }
        None => {
            let p = log.projection();
            (p.list(spec.rt.kind, spec.namespace.as_deref()), p.head)
        }
    };
    let (tx, rx) = mpsc::channel::<(u64, Bytes)>(256);
    let matches =
        move |kind: &str, ns: &str, name: &str, obj: &orca_schemas::stored::ObjectHeader, spec: &WatchSpec| {
            kind == spec.rt.kind
                && spec.namespace.as_deref().is_none_or(|n| n == ns)
                && spec.name.as_deref().is_none_or(|n| n == name)
                && spec.filter.matches(obj)
        };
    tokio::spawn(async move {
        for ev in initial {
            if matches(&ev.kind, &ev.namespace, &ev.name, &ev.header, &spec) {
                let mut line = Vec::with_capacity(ev.json.len() + 32);
                line.extend_from_slice(b"{\"type\":\"ADDED\",\"object\":");
                line.extend_from_slice(&ev.json);
                line.extend_from_slice(b"}\n");
                if tx.send((ev.revision, Bytes::from(line))).await.is_err() {
                    return;
                }
            }
        }
        let mut signal = log.head_signal();
        let deadline = tokio::time::sleep(spec.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(spec.bookmark_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                res = log.next_events(after, &mut signal, BATCH) => match res {
                    Ok(events) => {
                        for ev in events {
                            after = ev.revision;
                            if matches(&ev.kind, &ev.namespace, &ev.name, &ev.header, &spec) {
                                let line = ev.watch_line();
                                if tx.send((ev.revision, line)).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    Err(LogError::Compacted { requested, oldest }) => {
                        let _ = tx.send((after, error_line(&ApiError::gone(requested, oldest)))).await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send((after, error_line(&ApiError::internal(e.to_string())))).await;
                        return;
                    }
                },
                _ = ticker.tick(), if spec.bookmarks => {
                    if tx.send((after, bookmark(spec.rt, after))).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
                _ = &mut deadline => return,
            }
        }
    });
    Ok(rx)
}
