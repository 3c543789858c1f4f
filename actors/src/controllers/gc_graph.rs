//! The garbage collector's picture of ownership: every object by uid with its owners, and the
//! reverse index from an owner to its dependents.

use std::collections::{BTreeSet, HashMap};

/// An object as the collector knows it: kind, namespace (empty when cluster-scoped) and name.
pub type ObjRef = (&'static str, String, String);

/// One object in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Kind, namespace and name.
    pub obj: ObjRef,
    /// Owner uids.
    pub owners: Vec<String>,
    /// It has a deletionTimestamp.
    pub deleting: bool,
}

/// Who owns whom.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    by_obj: HashMap<ObjRef, String>,
    dependents: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Records an object (new or changed).
    pub fn upsert(&mut self, uid: &str, node: Node) {
        self.remove(uid);
        if let Some(old) = self.by_obj.get(&node.obj).cloned() {
            self.remove(&old);
        }
        for o in &node.owners {
            self.dependents.entry(o.clone()).or_default().insert(uid.to_string());
        }
        self.by_obj.insert(node.obj.clone(), uid.to_string());
        self.nodes.insert(uid.to_string(), node);
    }

    /// Forgets an object; returns what was known of it.
    pub fn remove(&mut self, uid: &str) -> Option<Node> {
        let node = self.nodes.remove(uid)?;
        for o in &node.owners {
            if let Some(d) = self.dependents.get_mut(o) {
                d.remove(uid);
                if d.is_empty() {
                    self.dependents.remove(o);
                }
            }
        }
        if self.by_obj.get(&node.obj).map(String::as_str) == Some(uid) {
            self.by_obj.remove(&node.obj);
        }
        Some(node)
    }

    /// The uid and node of an object.
    pub fn find(&self, obj: &ObjRef) -> Option<(String, Node)> {
        let uid = self.by_obj.get(obj)?;
        Some((uid.clone(), self.nodes.get(uid)?.clone()))
    }

    /// Whether an object with this uid exists.
    pub fn has(&self, uid: &str) -> bool {
        self.nodes.contains_key(uid)
    }

    /// The node of a uid.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The objects that name `uid` as an owner.
    pub fn dependents(&self, uid: &str) -> Vec<(String, Node)> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d.clone(), self.nodes.get(d)?.clone())))
            .collect()
    }

    /// Owners of `node` the graph does not hold.
    pub fn absent_owners(&self, node: &Node) -> Vec<String> {
        node.owners.iter().filter(|o| !self.has(o)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: &'static str, name: &str, owners: &[&str]) -> Node {
        Node {
            obj: (kind, "ns".into(), name.into()),
            owners: owners.iter().map(|s| s.to_string()).collect(),
            deleting: false,
        }
    }

    #[test]
    fn dependents_follow_changes_and_removal() {
        let mut g = Graph::default();
        g.upsert("rs", node("ReplicaSet", "web", &["dep"]));
        g.upsert("p1", node("Pod", "web-1", &["rs"]));
        g.upsert("p2", node("Pod", "web-2", &["rs"]));
        assert_eq!(g.dependents("rs").len(), 2);
        assert_eq!(g.absent_owners(g.get("rs").unwrap()), vec!["dep".to_string()]);
        // Released: the pod no longer names the set.
        g.upsert("p2", node("Pod", "web-2", &[]));
        assert_eq!(g.dependents("rs").len(), 1);
        g.remove("p1");
        assert!(g.dependents("rs").is_empty());
        // A new object under an old name replaces the old uid.
        g.upsert("rs2", node("ReplicaSet", "web", &[]));
        assert!(!g.has("rs"));
        assert_eq!(g.find(&("ReplicaSet", "ns".into(), "web".into())).unwrap().0, "rs2");
    }
}
