//! The header of a stored object: what filters, selectors and indexes read, computed once at write.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::selector::Selector;

/// Field selector paths the API supports, in the order their values are kept in a header.
pub const FIELD_SELECTORS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.unschedulable",
    "status.phase",
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.uid",
    "reason",
    "type",
];

/// What a reader of a stored object needs without decoding it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectHeader {
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Uids of the object's owners (`metadata.ownerReferences[*].uid`).
    pub owners: Vec<String>,
    /// The uid of the controlling owner, if one is marked `controller: true`.
    pub controller: Option<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Values of the field selector paths the object has, by index into [`FIELD_SELECTORS`].
    fields: Vec<(u8, String)>,
}

impl ObjectHeader {
    /// Reads the header of an object.
    pub fn of(obj: &Value) -> ObjectHeader {
        let meta = obj.get("metadata");
        let mut labels: Vec<(String, String)> = meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort();
        let refs = meta
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let owners = refs
            .iter()
            .filter_map(|r| Some(r.get("uid")?.as_str()?.to_string()))
            .collect();
        let controller = refs
            .iter()
            .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            .and_then(|r| Some(r.get("uid")?.as_str()?.to_string()));
        let deleting = meta
            .and_then(|m| m.get("deletionTimestamp"))
            .is_some_and(|v| !v.is_null());
        let mut fields = Vec::new();
        for (i, path) in FIELD_SELECTORS.iter().enumerate() {
            let mut cur = Some(obj);
            for part in path.split('.') {
                cur = cur.and_then(|c| c.get(part));
            }
            let value = match cur {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => continue,
            };
            fields.push((i as u8, value));
        }
        ObjectHeader {
            labels,
            owners,
            controller,
            deleting,
            fields,
        }
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }

    /// The value at a field selector path; empty when the object has none there.
    pub fn field(&self, path: &str) -> &str {
        let Some(i) = FIELD_SELECTORS.iter().position(|p| *p == path) else {
            return "";
        };
        self.fields
            .iter()
            .find(|(j, _)| *j as usize == i)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Whether the object passes a label selector and a field selector.
    pub fn matches(&self, labels: &Selector, fields: &Selector) -> bool {
        (labels.is_empty() || labels.matches_with(|k| self.label(k)))
            && (fields.is_empty() || fields.matches_with(|p| Some(self.field(p))))
    }
}

/// Who an object is: what a cache keys it by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
    /// `metadata.resourceVersion` as a number (0 when absent).
    pub revision: u64,
}

#[derive(Deserialize, Default)]
struct OwnerDoc<'a> {
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
    #[serde(default)]
    controller: Option<bool>,
}

#[derive(Deserialize, Default)]
struct MetaDoc<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
    #[serde(rename = "resourceVersion", borrow, default)]
    resource_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    labels: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(rename = "ownerReferences", borrow, default)]
    owner_references: Option<Vec<OwnerDoc<'a>>>,
    #[serde(rename = "deletionTimestamp", borrow, default)]
    deletion_timestamp: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct SpecDoc<'a> {
    #[serde(rename = "nodeName", borrow, default)]
    node_name: Option<Cow<'a, str>>,
    #[serde(default)]
    unschedulable: Option<bool>,
}

#[derive(Deserialize, Default)]
struct StatusDoc<'a> {
    #[serde(borrow, default)]
    phase: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct InvolvedDoc<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct HeaderDoc<'a> {
    #[serde(borrow, default)]
    metadata: MetaDoc<'a>,
    #[serde(borrow, default)]
    spec: Option<SpecDoc<'a>>,
    #[serde(borrow, default)]
    status: Option<StatusDoc<'a>>,
    #[serde(rename = "involvedObject", borrow, default)]
    involved: Option<InvolvedDoc<'a>>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    event_type: Option<Cow<'a, str>>,
}

/// Reads the identity and header of an object from its JSON without building a tree: one pass
/// that skips every field a header does not hold. Falls back to a full parse for shapes the fast
/// path does not expect (a label that is not a string, say).
pub fn read_header(json: &[u8]) -> Result<(Identity, ObjectHeader), String> {
    let doc: HeaderDoc = match serde_json::from_slice(json) {
        Ok(d) => d,
        Err(_) => {
            let v: Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
            let m = &v["metadata"];
            let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
            let id = Identity {
                namespace: s("namespace"),
                name: s("name"),
                uid: s("uid"),
                revision: s("resourceVersion").parse().unwrap_or(0),
            };
            return Ok((id, ObjectHeader::of(&v)));
        }
    };
    let own = |c: &Option<Cow<str>>| c.as_deref().unwrap_or("").to_string();
    let meta = &doc.metadata;
    let id = Identity {
        namespace: own(&meta.namespace),
        name: own(&meta.name),
        uid: own(&meta.uid),
        revision: meta
            .resource_version
            .as_deref()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
    };
    let refs = meta.owner_references.as_deref().unwrap_or_default();
    let mut fields: Vec<(u8, String)> = Vec::new();
    let mut put = |path: &str, v: Option<String>| {
        if let (Some(i), Some(v)) = (FIELD_SELECTORS.iter().position(|p| *p == path), v) {
            fields.push((i as u8, v));
        }
    };
    put("metadata.name", meta.name.as_ref().map(|c| c.to_string()));
    put("metadata.namespace", meta.namespace.as_ref().map(|c| c.to_string()));
    if let Some(spec) = &doc.spec {
        put("spec.nodeName", spec.node_name.as_ref().map(|c| c.to_string()));
        put("spec.unschedulable", spec.unschedulable.map(|b| b.to_string()));
    }
    put(
        "status.phase",
        doc.status
            .as_ref()
            .and_then(|s| s.phase.as_ref())
            .map(|c| c.to_string()),
    );
    if let Some(io) = &doc.involved {
        put("involvedObject.kind", io.kind.as_ref().map(|c| c.to_string()));
        put("involvedObject.name", io.name.as_ref().map(|c| c.to_string()));
        put("involvedObject.namespace", io.namespace.as_ref().map(|c| c.to_string()));
        put("involvedObject.uid", io.uid.as_ref().map(|c| c.to_string()));
    }
    put("reason", doc.reason.as_ref().map(|c| c.to_string()));
    put("type", doc.event_type.as_ref().map(|c| c.to_string()));
    fields.sort_by_key(|(i, _)| *i);
    let header = ObjectHeader {
        labels: meta
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        owners: refs
            .iter()
            .filter_map(|r| r.uid.as_ref().map(|u| u.to_string()))
            .collect(),
        controller: refs
            .iter()
            .find(|r| r.controller == Some(true))
            .and_then(|r| r.uid.as_ref().map(|u| u.to_string())),
        deleting: meta.deletion_timestamp.is_some(),
        fields,
    };
    Ok((id, header))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::parse_field_selector;
    use serde_json::json;

    #[test]
    fn reads_labels_owners_fields_and_deletion() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"b": "2", "a": "1"},
            "deletionTimestamp": "2026-01-01T00:00:00Z",
            "ownerReferences": [{"uid": "u1"}, {"uid": "u2", "controller": true}]},
            "spec": {"nodeName": "n1", "unschedulable": true}, "status": {"phase": "Running"}});
        let h = ObjectHeader::of(&pod);
        assert_eq!(h.labels, vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(h.label("b"), Some("2"));
        assert_eq!(h.label("c"), None);
        assert_eq!(h.owners, vec!["u1".to_string(), "u2".to_string()]);
        assert_eq!(h.controller.as_deref(), Some("u2"));
        assert!(h.deleting);
        assert_eq!(h.field("spec.nodeName"), "n1");
        assert_eq!(h.field("spec.unschedulable"), "true");
        assert_eq!(h.field("status.phase"), "Running");
        assert_eq!(h.field("reason"), "");
        let sel = Selector::parse("a=1,b in (2,3)").unwrap();
        let f = parse_field_selector("spec.nodeName=n1,status.phase!=Pending").unwrap();
        assert!(h.matches(&sel, &f));
        let f = parse_field_selector("spec.nodeName=").unwrap();
        assert!(!h.matches(&sel, &f));
        let unbound = ObjectHeader::of(&json!({"metadata": {"name": "q"}}));
        assert!(unbound.matches(&Selector::default(), &f));
        assert!(!unbound.deleting);
    }

    #[test]
    fn the_fast_reader_agrees_with_the_tree_reader() {
        let objects = [
            json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "42", "labels": {"b": "2", "a": "1"},
                "deletionTimestamp": "2026-01-01T00:00:00Z", "ownerReferences": [{"uid": "u1"}, {"uid": "u2", "controller": true}]},
                "spec": {"nodeName": "n\"1", "unschedulable": true, "containers": [{"name": "c"}]}, "status": {"phase": "Running", "conditions": []}}),
            json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p", "uid": "x"}, "reason": "Started", "type": "Normal"}),
            json!({"metadata": {"name": "odd", "labels": {"n": 5}}, "spec": "not an object"}),
            json!({"metadata": {"name": "d", "deletionTimestamp": null}}),
        ];
        for o in objects {
            let bytes = serde_json::to_vec(&o).unwrap();
            let (id, h) = read_header(&bytes).unwrap();
            assert_eq!(h, ObjectHeader::of(&o), "{o}");
            assert_eq!(id.name, o["metadata"]["name"].as_str().unwrap());
        }
        let (id, _) =
            read_header(br#"{"metadata":{"name":"p","namespace":"ns","uid":"u","resourceVersion":"42"}}"#).unwrap();
        assert_eq!((id.namespace.as_str(), id.uid.as_str(), id.revision), ("ns", "u", 42));
        assert!(read_header(b"not json").is_err());
    }
}
