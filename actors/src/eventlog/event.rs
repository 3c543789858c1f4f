//! One event of the log and the stored form of an object's current state.

use bytes::Bytes;
use serde_json::Value;

use orca_schemas::stored::ObjectHeader;

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

/// An accepted change, as the log keeps it: the object stays its encoded JSON plus a header. Its
/// other fields (revision, kind, name, ...) are those of [`EventMeta`], reached through `Deref`.
#[derive(Debug, Clone)]
pub struct Event {
    /// Revision, time, actor, identity, type and the links to earlier events.
    pub meta: EventMeta,
    /// Labels, owners, deletion and field-selector values, read once at write.
    pub header: ObjectHeader,
    /// The object after the change (before it, for Deleted) encoded once as JSON; a slice of
    /// `line`, shared by every reader and watcher.
    pub json: Bytes,
    /// The watch line `{"type":..,"object":..}\n` holding `json`.
    line: Bytes,
}

impl std::ops::Deref for Event {
    type Target = EventMeta;
    fn deref(&self) -> &EventMeta {
        &self.meta
    }
}

/// What an event is besides its object.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMeta {
    /// Gapless revision.
    pub revision: u64,
    /// Time accepted, ms since the epoch.
    pub time_ms: u64,
    /// Who made the change.
    pub actor: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
    /// Added, Modified or Deleted.
    pub event_type: EventType,
    /// Revision that created the object.
    pub create_revision: u64,
    /// Previous revision of the object.
    pub prev_revision: u64,
}

impl Event {
    /// Builds an event from an object: encodes it once and reads its header.
    pub fn new(meta: EventMeta, object: &Value) -> Event {
        // Serialising a `Value` into a Vec cannot fail.
        let json = serde_json::to_vec(object).unwrap_or_default();
        Event::assemble(meta, &json, ObjectHeader::of(object))
    }

    /// Builds an event from encoded JSON, which must be an object.
    pub fn from_json(meta: EventMeta, json: &[u8]) -> Result<Event, String> {
        let (_, header) = orca_schemas::stored::read_header(json)?;
        Ok(Event::assemble(meta, json, header))
    }

    fn assemble(meta: EventMeta, json: &[u8], header: ObjectHeader) -> Event {
        let prefix = format!("{{\"type\":\"{}\",\"object\":", meta.event_type.as_watch_type());
        let mut line = Vec::with_capacity(prefix.len() + json.len() + 2);
        line.extend_from_slice(prefix.as_bytes());
        line.extend_from_slice(json);
        line.extend_from_slice(b"}\n");
        let line = Bytes::from(line);
        let json = line.slice(prefix.len()..prefix.len() + json.len());
        Event {
            meta,
            header,
            json,
            line,
        }
    }

    /// The object decoded into a JSON tree (for code that edits it).
    pub fn object(&self) -> Value {
        // `json` was checked to be JSON when the event was built.
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// The object decoded into a typed view.
    pub fn view<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.json)
    }

    /// The watch line `{"type":..,"object":..}\n`, shared by every watcher.
    pub fn watch_line(&self) -> Bytes {
        self.line.clone()
    }
}

/// The current state of one object: the newest event that touched it.
pub type StoredObject = Event;
