//! The in-memory projection: the current object per kind/namespace/name, published after each commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{Event, EventType};

type Key = (String, String);

/// Current objects, the head revision and the oldest revision held.
#[derive(Debug, Default)]
pub struct Projection {
    objects: HashMap<String, BTreeMap<Key, Arc<Event>>>,
    /// Revision of the newest committed event.
    pub head: u64,
    /// Oldest revision still held in the log (the compaction horizon).
    pub oldest: u64,
}

impl Projection {
    /// The current state of one object.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Arc<Event>> {
        self.objects
            .get(kind)?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Objects of a kind, in one namespace or in all, ordered by namespace then name.
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Arc<Event>> {
        let Some(map) = self.objects.get(kind) else {
            return Vec::new();
        };
        match namespace {
            Some(ns) => {
                let start = (ns.to_string(), String::new());
                map.range(start..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect()
            }
            None => map.values().cloned().collect(),
        }
    }

    /// Number of objects of a kind in a namespace (all namespaces when `None`).
    pub fn count(&self, kind: &str, namespace: Option<&str>) -> usize {
        match namespace {
            None => self.objects.get(kind).map_or(0, BTreeMap::len),
            Some(_) => self.list(kind, namespace).len(),
        }
    }

    /// Applies a committed event.
    pub fn apply(&mut self, ev: &Arc<Event>) {
        let key = (ev.namespace.clone(), ev.name.clone());
        let map = self.objects.entry(ev.kind.clone()).or_default();
        match ev.event_type {
            EventType::Deleted => {
                map.remove(&key);
            }
            _ => {
                map.insert(key, ev.clone());
            }
        }
        self.head = self.head.max(ev.revision);
    }

    /// Every object, for comparing against a replay.
    pub fn all(&self) -> Vec<Arc<Event>> {
        let mut out: Vec<_> = self.objects.values().flat_map(|m| m.values().cloned()).collect();
        out.sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));
        out
    }
}
