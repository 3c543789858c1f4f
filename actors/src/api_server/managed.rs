//! `metadata.managedFields`: the entries (manager, operation, apiVersion, time, `fieldsV1`), and
//! what a write that is not an apply does to them: the fields it changes pass to its manager, and
//! fields the object no longer has leave every manager. Server-side apply is in `apply.rs`.

use serde_json::{json, Map, Value};

use super::fieldset::{self, FieldSet};
use super::write;

/// The manager named by a write that does not name one: the client's program (`kubectl/v1.32.0
/// (linux/amd64) ...` gives `kubectl`).
pub fn default_manager(actor: &str) -> String {
    let name = actor.split(['/', ' ']).next().unwrap_or("");
    if name.is_empty() {
        "unknown".into()
    } else {
        name.to_string()
    }
}

pub(super) struct Entry {
    pub(super) raw: Map<String, Value>,
    pub(super) set: FieldSet,
}

impl Entry {
    pub(super) fn is(&self, manager: &str, operation: &str) -> bool {
        self.raw.get("manager").and_then(Value::as_str) == Some(manager)
            && self.raw.get("operation").and_then(Value::as_str) == Some(operation)
            && self.raw.get("subresource").is_none()
    }
    pub(super) fn name(&self) -> String {
        self.raw
            .get("manager")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

pub(super) fn entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_object().cloned())
        .map(|raw| Entry {
            set: FieldSet::from_json(raw.get("fieldsV1").unwrap_or(&Value::Null)),
            raw,
        })
        .collect()
}

pub(super) fn store(obj: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|e| !e.set.is_empty())
        .map(|mut e| {
            e.raw.insert("fieldsType".into(), json!("FieldsV1"));
            e.raw.insert("fieldsV1".into(), e.set.to_json());
            Value::Object(e.raw)
        })
        .collect();
    write::set_meta(
        obj,
        "managedFields",
        if list.is_empty() {
            Value::Null
        } else {
            Value::Array(list)
        },
    );
}

pub(super) fn new_entry(manager: &str, operation: &str, api_version: &str, time: &str) -> Entry {
    let mut raw = Map::new();
    raw.insert("manager".into(), json!(manager));
    raw.insert("operation".into(), json!(operation));
    raw.insert("apiVersion".into(), json!(api_version));
    raw.insert("time".into(), json!(time));
    Entry {
        raw,
        set: FieldSet::default(),
    }
}

/// Records a write that is not an apply: the fields it changed pass to `manager` (an `Update`
/// entry), and fields the object no longer has leave every manager. A write that sets
/// `managedFields` itself keeps what it set (an empty list clears them).
pub fn track_update(old: Option<&Value>, new: &mut Value, manager: &str, api_version: &str, time: &str) {
    let given = new.pointer("/metadata/managedFields").cloned();
    let before = old.and_then(|o| o.pointer("/metadata/managedFields")).cloned();
    match given {
        Some(Value::Array(a)) if a.is_empty() => {
            write::set_meta(new, "managedFields", Value::Null);
            return;
        }
        Some(g) if Some(&g) != before.as_ref() => return,
        _ => {}
    }
    if let Some(b) = before {
        write::set_meta(new, "managedFields", b);
    }
    let now = FieldSet::of(new);
    let changed = FieldSet(
        now.0
            .iter()
            .filter(|p| {
                let item = p.last().is_some_and(|e| e.starts_with("k:"));
                match old {
                    None => true,
                    Some(o) if item => fieldset::get(o, p).is_none(),
                    Some(o) => fieldset::get(o, p) != fieldset::get(new, p),
                }
            })
            .cloned()
            .collect(),
    );
    let mut list = entries(new);
    for e in &mut list {
        e.set = FieldSet(e.set.0.intersection(&now.0).cloned().collect()).difference(&changed);
    }
    if !changed.is_empty() {
        match list.iter_mut().find(|e| e.is(manager, "Update")) {
            Some(e) => {
                e.set = e.set.union(&changed);
                e.raw.insert("time".into(), json!(time));
                e.raw.insert("apiVersion".into(), json!(api_version));
            }
            None => {
                let mut e = new_entry(manager, "Update", api_version, time);
                e.set = changed;
                list.push(e);
            }
        }
    }
    store(new, list);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_take_over_the_fields_they_change() {
        let old = json!({"metadata": {"name": "d"}, "spec": {"replicas": 1, "paused": false}});
        let mut created = old.clone();
        track_update(None, &mut created, "kubectl-create", "apps/v1", "t0");
        let mf = &created["metadata"]["managedFields"];
        assert_eq!(mf[0]["manager"], "kubectl-create");
        assert_eq!(mf[0]["fieldsV1"], json!({"f:spec": {"f:replicas": {}, "f:paused": {}}}));
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(3);
        track_update(Some(&created), &mut scaled, "kubectl-scale", "apps/v1", "t1");
        let mf = &scaled["metadata"]["managedFields"];
        assert_eq!(mf[0]["fieldsV1"], json!({"f:spec": {"f:paused": {}}}));
        assert_eq!(mf[1]["manager"], "kubectl-scale");
        assert_eq!(mf[1]["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(
            default_manager("kubectl/v1.32.0 (linux/amd64) kubernetes/abc"),
            "kubectl"
        );
    }
}
