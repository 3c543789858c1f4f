//! The informer's cache: objects as bytes with their headers, indexed by namespace, node and owner;
//! one writer (the informer), many cheap readers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use orca_schemas::selector::Selector;
use orca_schemas::stored::ObjectHeader;

/// An object's key: namespace (empty for cluster-scoped kinds) and name.
pub type Key = (String, String);

/// One cached object.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    /// Namespace and name.
    pub key: Key,
    /// Uid.
    pub uid: String,
    /// `metadata.resourceVersion`.
    pub revision: u64,
    /// What selectors and indexes read.
    pub header: ObjectHeader,
    /// The object's JSON, as the server sent it.
    pub json: Bytes,
}

/// Why bytes could not become a cached object.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not an object with a name.
    #[error("object is not valid: {0}")]
    Invalid(String),
}

impl Cached {
    /// Reads an object's identity and header from its JSON (one pass, no tree).
    pub fn from_json(json: Bytes) -> Result<Cached, DecodeError> {
        let (id, header) = orca_schemas::stored::read_header(&json).map_err(DecodeError::Invalid)?;
        if id.name.is_empty() {
            return Err(DecodeError::Invalid("metadata.name is missing".into()));
        }
        Ok(Cached {
            key: (id.namespace, id.name),
            uid: id.uid,
            revision: id.revision,
            header,
            json,
        })
    }

    /// The object decoded into a typed view.
    pub fn view<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.json)
    }

    /// The node a pod is bound to (empty when none).
    pub fn node(&self) -> &str {
        self.header.field("spec.nodeName")
    }
}

#[derive(Default, Debug)]
struct Inner {
    objects: BTreeMap<Key, Arc<Cached>>,
    by_node: HashMap<String, BTreeSet<Key>>,
    by_owner: HashMap<String, BTreeSet<Key>>,
    revision: u64,
    synced: bool,
}

impl Inner {
    fn unindex(&mut self, c: &Cached) {
        let node = c.node();
        if !node.is_empty() {
            if let Some(s) = self.by_node.get_mut(node) {
                s.remove(&c.key);
                if s.is_empty() {
                    self.by_node.remove(node);
                }
            }
        }
        for o in &c.header.owners {
            if let Some(s) = self.by_owner.get_mut(o) {
                s.remove(&c.key);
                if s.is_empty() {
                    self.by_owner.remove(o);
                }
            }
        }
    }

    fn index(&mut self, c: &Cached) {
        if !c.node().is_empty() {
            self.by_node
                .entry(c.node().to_string())
                .or_default()
                .insert(c.key.clone());
        }
        for o in &c.header.owners {
            self.by_owner.entry(o.clone()).or_default().insert(c.key.clone());
        }
    }

    fn put(&mut self, c: Arc<Cached>) -> Option<Arc<Cached>> {
        let old = self.objects.insert(c.key.clone(), c.clone());
        if let Some(o) = &old {
            self.unindex(o);
        }
        self.index(&c);
        old
    }

    fn remove(&mut self, key: &Key) -> Option<Arc<Cached>> {
        let old = self.objects.remove(key);
        if let Some(o) = &old {
            self.unindex(o);
        }
        old
    }
}

/// A shared, indexed cache of one kind. Cloning shares it.
#[derive(Clone, Default, Debug)]
pub struct Store {
    inner: Arc<RwLock<Inner>>,
}

/// What a change did to the cache.
#[derive(Debug, Clone)]
pub struct Delta {
    /// The key changed.
    pub key: Key,
    /// Before.
    pub old: Option<Arc<Cached>>,
    /// After (None: deleted).
    pub new: Option<Arc<Cached>>,
}

impl Store {
    /// One object.
    pub fn get(&self, key: &Key) -> Option<Arc<Cached>> {
        self.inner.read().objects.get(key).cloned()
    }

    /// Objects in a namespace, or all, ordered by key.
    pub fn list(&self, namespace: Option<&str>) -> Vec<Arc<Cached>> {
        let inner = self.inner.read();
        match namespace {
            None => inner.objects.values().cloned().collect(),
            Some(ns) => inner
                .objects
                .range((ns.to_string(), String::new())..)
                .take_while(|(k, _)| k.0 == ns)
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }

    /// Objects in a namespace (or all) whose labels match.
    pub fn select(&self, namespace: Option<&str>, labels: &Selector) -> Vec<Arc<Cached>> {
        let none = Selector::default();
        self.list(namespace)
            .into_iter()
            .filter(|c| c.header.matches(labels, &none))
            .collect()
    }

    /// Objects bound to a node (`spec.nodeName`).
    pub fn on_node(&self, node: &str) -> Vec<Arc<Cached>> {
        let inner = self.inner.read();
        inner
            .by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|k| inner.objects.get(k).cloned())
            .collect()
    }

    /// Objects owned by the uid.
    pub fn owned_by(&self, uid: &str) -> Vec<Arc<Cached>> {
        let inner = self.inner.read();
        inner
            .by_owner
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|k| inner.objects.get(k).cloned())
            .collect()
    }

    /// Number of objects held.
    pub fn len(&self) -> usize {
        self.inner.read().objects.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The revision the cache is current to.
    pub fn revision(&self) -> u64 {
        self.inner.read().revision
    }

    /// Whether a first list has filled the cache.
    pub fn is_synced(&self) -> bool {
        self.inner.read().synced
    }

    /// Replaces everything with a fresh list; returns what differs from before.
    pub fn replace(&self, items: Vec<Cached>, revision: u64) -> Vec<Delta> {
        let mut inner = self.inner.write();
        let mut fresh: BTreeMap<Key, Arc<Cached>> = items.into_iter().map(|c| (c.key.clone(), Arc::new(c))).collect();
        let mut deltas = Vec::new();
        let gone: Vec<Key> = inner
            .objects
            .keys()
            .filter(|k| !fresh.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            let old = inner.remove(&k);
            deltas.push(Delta { key: k, old, new: None });
        }
        for (k, c) in std::mem::take(&mut fresh) {
            let same = inner
                .objects
                .get(&k)
                .is_some_and(|o| o.revision == c.revision && o.uid == c.uid);
            if same {
                continue;
            }
            let old = inner.put(c.clone());
            deltas.push(Delta {
                key: k,
                old,
                new: Some(c),
            });
        }
        inner.revision = revision;
        inner.synced = true;
        deltas
    }

    /// Applies one watch event.
    pub fn apply(&self, event_type: &str, c: Cached, revision: u64) -> Delta {
        let mut inner = self.inner.write();
        inner.revision = inner.revision.max(revision);
        let key = c.key.clone();
        if event_type == "DELETED" {
            let old = inner.remove(&key);
            Delta { key, old, new: None }
        } else {
            let c = Arc::new(c);
            let old = inner.put(c.clone());
            Delta { key, old, new: Some(c) }
        }
    }

    /// Notes that every event up to `revision` has been seen.
    pub fn advance(&self, revision: u64) {
        let mut inner = self.inner.write();
        inner.revision = inner.revision.max(revision);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, rv: u64, node: &str, owner: &str) -> Cached {
        let v = json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("u-{name}"), "resourceVersion": rv.to_string(),
            "labels": {"app": "web"}, "ownerReferences": [{"uid": owner}]}, "spec": {"nodeName": node}});
        Cached::from_json(Bytes::from(serde_json::to_vec(&v).unwrap())).unwrap()
    }

    #[test]
    fn indexes_follow_changes_and_relists_report_differences() {
        let s = Store::default();
        s.apply("ADDED", pod("a", 1, "n1", "rs1"), 1);
        s.apply("ADDED", pod("b", 2, "n1", "rs2"), 2);
        assert_eq!(s.on_node("n1").len(), 2);
        assert_eq!(s.owned_by("rs1").len(), 1);
        s.apply("MODIFIED", pod("a", 3, "n2", "rs1"), 3);
        assert_eq!(s.on_node("n1").len(), 1);
        assert_eq!(s.on_node("n2")[0].key.1, "a");
        assert_eq!(s.select(Some("ns"), &Selector::parse("app=web").unwrap()).len(), 2);
        assert!(s.select(Some("other"), &Selector::default()).is_empty());
        // A relist: b is gone, a unchanged, c new.
        let d = s.replace(vec![pod("a", 3, "n2", "rs1"), pod("c", 9, "n3", "rs1")], 9);
        let mut keys: Vec<_> = d.iter().map(|d| (d.key.1.clone(), d.new.is_some())).collect();
        keys.sort();
        assert_eq!(keys, vec![("b".into(), false), ("c".into(), true)]);
        assert!(s.on_node("n1").is_empty());
        assert_eq!(s.owned_by("rs1").len(), 2);
        assert_eq!((s.revision(), s.is_synced()), (9, true));
        assert!(Cached::from_json(Bytes::from_static(b"{\"metadata\":{}}")).is_err());
    }
}
