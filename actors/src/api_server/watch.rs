//! Watch streams served from the log: from any held revision, nothing missed or repeated, with
//! bookmarks and a timeout; one JSON line per event. A selected watch sees an object that starts
//! matching as ADDED and one that stops matching as DELETED, as Kubernetes sends them; a start
//! below the compaction horizon is a 200 stream whose one event is an ERROR (410 Expired).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use orca_schemas::ResourceType;

use super::read::Filter;
use super::status::{ApiError, ApiResult};
use crate::eventlog::{Error as LogError, Event, EventLog, EventType};

/// Default interval between bookmarks when the client allows them.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);
/// Default lifetime of a watch when the client gives no `timeoutSeconds`.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const BATCH: usize = 1024;
/// What one watch holds at most between reads of the log (pending lines): a watch whose client
/// stopped reading costs this, not the whole backlog.
pub const PENDING_BYTES: usize = 1 << 20;

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

/// The lines of a watch, each with its revision; polled straight by the HTTP body or the NATS
/// sender, with no task or channel in between.
pub type WatchStream = std::pin::Pin<Box<dyn futures::Stream<Item = (u64, Bytes)> + Send>>;

struct Follow {
    log: EventLog,
    spec: WatchSpec,
    after: u64,
    signal: tokio::sync::watch::Receiver<u64>,
    pending: VecDeque<(u64, Bytes)>,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    ticker: tokio::time::Interval,
    done: bool,
    /// For a selected watch: the uids of the objects whose last version seen matched.
    matching: HashSet<String>,
    /// Bytes per event in the last batch read, which sizes the next one.
    event_bytes: usize,
}

impl Drop for Follow {
    fn drop(&mut self) {
        crate::metrics::api::watchers(-1);
    }
}

/// The watch line of `ev` with another type.
fn retyped(ev: &Event, kind: &str) -> Bytes {
    let mut line = Vec::with_capacity(ev.json.len() + 32);
    line.extend_from_slice(format!("{{\"type\":\"{kind}\",\"object\":").as_bytes());
    line.extend_from_slice(&ev.json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

impl Follow {
    fn watched(&self, ev: &Event) -> bool {
        ev.kind == self.spec.rt.kind
            && self.spec.namespace.as_deref().is_none_or(|n| n == ev.namespace)
            && self.spec.name.as_deref().is_none_or(|n| n == ev.name)
    }

    /// Whether the object's version before `ev` matched the selectors.
    fn matched_before(&mut self, ev: &Event) -> bool {
        if self.matching.contains(ev.uid.as_str()) {
            return true;
        }
        // Not among the matches: it did not match, unless its previous version predates the
        // watch (a watch from a revision has not seen it), which the log answers.
        let since = self.spec.since.unwrap_or(u64::MAX);
        if ev.event_type == EventType::Added || ev.prev_revision == 0 || ev.prev_revision > since {
            return false;
        }
        match self.log.reader().event(ev.prev_revision) {
            Ok(Some(prev)) => prev.event_type != EventType::Deleted && self.spec.filter.matches(&prev.header),
            _ => false,
        }
    }

    /// The line `ev` gives this watch, if any.
    fn line_for(&mut self, ev: &Event) -> Option<Bytes> {
        if !self.watched(ev) {
            return None;
        }
        if self.spec.filter.is_empty() {
            return Some(ev.watch_line());
        }
        let now = self.spec.filter.matches(&ev.header);
        let before = self.matched_before(ev);
        if ev.event_type == EventType::Deleted {
            self.matching.remove(ev.uid.as_str());
            return (before || now).then(|| retyped(ev, "DELETED"));
        }
        match (before, now) {
            (true, true) => Some(ev.watch_line()),
            (false, true) => {
                self.matching.insert(ev.uid.clone());
                Some(retyped(ev, "ADDED"))
            }
            (true, false) => {
                self.matching.remove(ev.uid.as_str());
                Some(retyped(ev, "DELETED"))
            }
            (false, false) => None,
        }
    }

    /// The next line, waiting for the log when none is pending.
    async fn next(&mut self) -> Option<(u64, Bytes)> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some(line);
            }
            if self.done {
                return None;
            }
            let batch = (PENDING_BYTES / self.event_bytes.max(1)).clamp(1, BATCH);
            tokio::select! {
                res = self.log.next_events(self.after, &mut self.signal, batch) => match res {
                    Ok(events) => {
                        let bytes: usize = events.iter().map(|e| e.json.len()).sum();
                        self.event_bytes = (bytes / events.len().max(1)).max(64);
                        for ev in events {
                            self.after = ev.revision;
                            if let Some(line) = self.line_for(&ev) {
                                self.pending.push_back((ev.revision, line));
                            }
                        }
                    }
                    Err(LogError::Compacted { requested, oldest }) => {
                        crate::metrics::api::watch_expired();
                        self.pending.push_back((self.after, error_line(&ApiError::gone(requested, oldest))));
                        self.done = true;
                    }
                    Err(e) => {
                        self.pending.push_back((self.after, error_line(&ApiError::internal(e.to_string()))));
                        self.done = true;
                    }
                },
                _ = self.ticker.tick(), if self.spec.bookmarks => {
                    self.pending.push_back((self.after, bookmark(self.spec.rt, self.after)));
                }
                _ = &mut self.deadline => return None,
            }
        }
    }
}

/// Starts a watch: checks the start revision (410 below the horizon), then yields lines until the
/// timeout passes. Each line carries its revision.
pub fn start(log: EventLog, spec: WatchSpec) -> ApiResult<WatchStream> {
    let mut pending = VecDeque::new();
    let mut matching = HashSet::new();
    let mut done = false;
    let after = match spec.since {
        Some(rv) => {
            match log.events_after(rv, 0) {
                Ok(_) => {}
                Err(LogError::Compacted { requested, oldest }) => {
                    pending.push_back((rv, error_line(&ApiError::gone(requested, oldest))));
                    done = true;
                }
                Err(e) => return Err(e.into()),
            }
            rv
        }
        None => {
            let p = log.projection();
            for ev in p.list(spec.rt.kind, spec.namespace.as_deref()) {
                let name_ok = spec.name.as_deref().is_none_or(|n| n == ev.name);
                if name_ok && spec.filter.matches(&ev.header) {
                    if !spec.filter.is_empty() {
                        matching.insert(ev.uid.clone());
                    }
                    let mut line = Vec::with_capacity(ev.json.len() + 32);
                    line.extend_from_slice(b"{\"type\":\"ADDED\",\"object\":");
                    line.extend_from_slice(&ev.json);
                    line.extend_from_slice(b"}\n");
                    pending.push_back((ev.revision, Bytes::from(line)));
                }
            }
            p.head
        }
    };
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + spec.bookmark_interval,
        spec.bookmark_interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    crate::metrics::api::watchers(1);
    let follow = Follow {
        signal: log.head_signal(),
        deadline: Box::pin(tokio::time::sleep(spec.timeout)),
        log,
        spec,
        after,
        pending,
        ticker,
        done,
        matching,
        event_bytes: 1024,
    };
    Ok(Box::pin(futures::stream::unfold(follow, |mut f| async move {
        f.next().await.map(|line| (line, f))
    })))
}
