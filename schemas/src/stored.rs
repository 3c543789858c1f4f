//! The header of a stored object: what filters, selectors and indexes read, computed once at write.

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
}
