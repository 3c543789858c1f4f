//! A batch being built by the writer: changes see earlier changes of the same batch, and roll back as a unit.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

use super::event::EventMeta;
use super::projection::Projection;
use super::{Event, EventType};

type Key = (String, String, String);

/// A change an API operation wants to append.
#[derive(Debug, Clone)]
pub struct Change {
    /// Kind of the object.
    pub kind: String,
    /// Namespace, empty for cluster-scoped kinds.
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// Added, Modified or Deleted.
    pub event_type: EventType,
    /// The object after the change (for Deleted, its last state).
    pub object: Value,
    /// Who made the change.
    pub actor: String,
}

/// The writer's view while it builds a batch.
pub struct Staging {
    projection: Arc<RwLock<Projection>>,
    overlay: HashMap<Key, Option<Arc<Event>>>,
    undo: Vec<(Key, Option<Option<Arc<Event>>>)>,
    pub(crate) events: Vec<Arc<Event>>,
    next_revision: u64,
    time_ms: u64,
}

impl Staging {
    pub(crate) fn new(projection: Arc<RwLock<Projection>>, time_ms: u64) -> Staging {
        let next_revision = projection.read().head + 1;
        Staging {
            projection,
            overlay: HashMap::new(),
            undo: Vec::new(),
            events: Vec::new(),
            next_revision,
            time_ms,
        }
    }

    /// The object as of this point in the batch.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Arc<Event>> {
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        match self.overlay.get(&key) {
            Some(v) => v.clone(),
            None => self.projection.read().get(kind, namespace, name),
        }
    }

    /// Objects of a kind in a namespace as of this point in the batch.
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Arc<Event>> {
        let mut base: HashMap<(String, String), Arc<Event>> = self
            .projection
            .read()
            .list(kind, namespace)
            .into_iter()
            .map(|e| ((e.namespace.clone(), e.name.clone()), e))
            .collect();
        for ((k, ns, n), v) in &self.overlay {
            if k == kind && namespace.is_none_or(|want| want == ns) {
                match v {
                    Some(e) => base.insert((ns.clone(), n.clone()), e.clone()),
                    None => base.remove(&(ns.clone(), n.clone())),
                };
            }
        }
        let mut out: Vec<_> = base.into_values().collect();
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out
    }

    /// The revision the next change will get.
    pub fn next_revision(&self) -> u64 {
        self.next_revision
    }

    /// Time of this batch in milliseconds since the epoch.
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// Stages a change: assigns its revision, stamps `metadata.resourceVersion`, links it to the
    /// object's previous event.
    pub fn put(&mut self, mut change: Change) -> Arc<Event> {
        let current = self.get(&change.kind, &change.namespace, &change.name);
        let revision = self.next_revision;
        self.next_revision += 1;
        if let Some(meta) = change.object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(revision.to_string()));
        }
        let uid = match (&current, change.event_type) {
            (Some(cur), t) if t != EventType::Added => cur.uid.clone(),
            _ => change
                .object
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        let create_revision = match (&current, change.event_type) {
            (Some(cur), t) if t != EventType::Added => cur.create_revision,
            _ => revision,
        };
        let meta = EventMeta {
            revision,
            time_ms: self.time_ms,
            actor: change.actor,
            kind: change.kind,
            namespace: change.namespace,
            name: change.name,
            uid,
            event_type: change.event_type,
            create_revision,
            prev_revision: current.as_ref().map_or(0, |c| c.revision),
        };
        let ev = Arc::new(Event::new(meta, &change.object));
        let key = (ev.kind.clone(), ev.namespace.clone(), ev.name.clone());
        let value = if ev.event_type == EventType::Deleted {
            None
        } else {
            Some(ev.clone())
        };
        let previous = self.overlay.insert(key.clone(), value);
        self.undo.push((key, previous));
        self.events.push(ev.clone());
        ev
    }

    /// Runs `f`; if it fails, every change it staged is undone, revisions included.
    pub fn atomic<T, E>(&mut self, f: impl FnOnce(&mut Staging) -> Result<T, E>) -> Result<T, E> {
        let (events, undo, next) = (self.events.len(), self.undo.len(), self.next_revision);
        let out = f(self);
        if out.is_err() {
            while self.undo.len() > undo {
                if let Some((key, previous)) = self.undo.pop() {
                    match previous {
                        Some(v) => self.overlay.insert(key, v),
                        None => self.overlay.remove(&key),
                    };
                }
            }
            self.events.truncate(events);
            self.next_revision = next;
        }
        out
    }
}
