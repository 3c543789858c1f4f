//! One event of the log and the stored form of an object's current state.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object is gone.
    Deleted,
}

impl EventType {
    /// The Kubernetes watch type (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_watch_type(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// An accepted change, as the log keeps it.
#[derive(Debug, Clone)]
pub struct Event {
    /// Gapless revision; it is the object's `resourceVersion`.
    pub revision: u64,
    /// When it was accepted, milliseconds since the epoch.
    pub time_ms: u64,
    /// Who made the change.
    pub actor: String,
    /// Kind of the object.
    pub kind: String,
    /// Namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// Object uid.
    pub uid: String,
    /// Added, Modified or Deleted.
    pub event_type: EventType,
    /// Revision of the event that created the object.
    pub create_revision: u64,
    /// Revision of the previous event of the same object, 0 for none.
    pub prev_revision: u64,
    /// The object after the change (before it, for Deleted), as JSON.
    pub object: Arc<Value>,
    /// The object encoded once as JSON; shared by every reader and watcher.
    pub json: Bytes,
    /// The watch line, built on first use and shared by every watcher.
    pub line: OnceLock<Bytes>,
}

impl Event {
    /// The watch line `{"type":..,"object":..}\n`, built once from the shared encoding.
    pub fn watch_line(&self) -> Bytes {
        self.line.get_or_init(|| self.build_line()).clone()
    }

    fn build_line(&self) -> Bytes {
        let kind = self.event_type.as_watch_type();
        let mut out = Vec::with_capacity(self.json.len() + 32);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        out.extend_from_slice(&self.json);
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }
}

/// The current state of one object: the newest event that touched it.
pub type StoredObject = Event;
