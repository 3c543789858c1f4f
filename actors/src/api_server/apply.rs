//! Server-side apply (`application/apply-patch+yaml`) and `metadata.managedFields`: each manager
//! owns the fields it set; an apply that would change another manager's field is refused with a
//! 409 naming both (unless `force=true`, which takes the field over); fields a manager applied
//! before and applies no more are removed unless someone else owns them; other writes that name
//! a `fieldManager` (or change an object that has managed fields) take over the fields they change.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use orca_schemas::{admit, ResourceType};

use super::fieldset::{self, FieldSet};
use super::status::{ApiError, ApiResult};
use super::strategic::merge_key;
use super::write;
use crate::eventlog::{Event, Staging};

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

struct Entry {
    raw: Map<String, Value>,
    set: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str) -> bool {
        self.raw.get("manager").and_then(Value::as_str) == Some(manager)
            && self.raw.get("operation").and_then(Value::as_str) == Some(operation)
            && self.raw.get("subresource").is_none()
    }
    fn name(&self) -> String {
        self.raw
            .get("manager")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

fn entries(obj: &Value) -> Vec<Entry> {
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

fn store(obj: &mut Value, entries: Vec<Entry>) {
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

fn new_entry(manager: &str, operation: &str, api_version: &str, time: &str) -> Entry {
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

/// Merges an applied configuration into the live object: objects field by field, keyed lists
/// item by item, everything else replaced.
fn merge(target: &mut Value, applied: &Value, path: &mut Vec<String>) {
    let (Some(t), Some(a)) = (target.as_object_mut(), applied.as_object()) else {
        *target = applied.clone();
        return;
    };
    for (k, v) in a {
        if path.len() == 1 && path[0] == "metadata" && k == "managedFields" {
            continue;
        }
        let key = merge_key(path, k).filter(|key| {
            v.as_array()
                .is_some_and(|items| items.iter().all(|i| i.get(*key).is_some_and(|x| !x.is_null())))
        });
        match (t.get_mut(k), v) {
            (Some(tv @ Value::Object(_)), Value::Object(_)) => {
                path.push(k.clone());
                merge(tv, v, path);
                path.pop();
            }
            (Some(Value::Array(live)), Value::Array(items)) if key.is_some() => {
                let key = key.unwrap_or_default();
                path.push(k.clone());
                for item in items {
                    match live.iter_mut().find(|l| l.get(key) == item.get(key)) {
                        Some(l) => merge(l, item, path),
                        None => live.push(item.clone()),
                    }
                }
                path.pop();
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

fn conflict_error(conflicts: &[(String, String, String)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, v, f)| json!({"type": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {v}"), "field": f}))
        .collect();
    let lines: Vec<String> = conflicts
        .iter()
        .map(|(m, v, f)| format!("conflict with \"{m}\" using {v}: {f}"))
        .collect();
    let n = conflicts.len();
    let message = if n == 1 {
        format!("Apply failed with 1 conflict: {}", lines[0])
    } else {
        format!("Apply failed with {n} conflicts: {}", lines.join("\n"))
    };
    let mut e = ApiError::conflict_message(message);
    e.details = Some(Box::new(json!({"causes": causes})));
    e
}

/// What an apply request carries besides the configuration.
pub struct ApplyRequest<'a> {
    /// The `fieldManager` (required).
    pub manager: &'a str,
    /// `force=true`: take conflicting fields over.
    pub force: bool,
    /// Recorded as the event's actor.
    pub actor: String,
}

/// Applies `applied` to object `ns/name` (creating it when missing); true when it was created.
pub fn apply(
    st: &mut Staging,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    applied: &Value,
    req: ApplyRequest<'_>,
) -> ApiResult<(Arc<Event>, bool, Vec<String>)> {
    let api_version = rt.api_version();
    if applied.get("apiVersion").and_then(Value::as_str) != Some(api_version.as_str())
        || applied.get("kind").and_then(Value::as_str) != Some(rt.kind)
    {
        return Err(ApiError::bad_request(format!(
            "an apply configuration must have apiVersion \"{api_version}\" and kind \"{}\"",
            rt.kind
        )));
    }
    if applied
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return Err(ApiError::bad_request(format!(
            "the name in the configuration does not match the name in the URL ({name})"
        )));
    }
    let time = write::rfc3339(st.time_ms());
    let applied_set = FieldSet::of(applied);
    let Some(cur) = st.get(rt.kind, ns, name) else {
        let mut obj = applied.clone();
        obj["metadata"]["name"] = json!(name);
        if rt.namespaced {
            obj["metadata"]["namespace"] = json!(ns);
        }
        let mut e = new_entry(req.manager, "Apply", &api_version, &time);
        e.set = applied_set;
        store(&mut obj, vec![e]);
        let admitted = admit(rt, obj).map_err(|errs| ApiError::invalid(rt.kind, name, &errs))?;
        let mut obj = admitted.object;
        write::set_meta(&mut obj, "uid", json!(uuid::Uuid::new_v4().to_string()));
        write::set_meta(&mut obj, "resourceVersion", Value::Null);
        let ev = write::create(st, rt, obj, req.actor, None)?;
        return Ok((ev, true, admitted.warnings));
    };
    let live = cur.object();
    let mut list = entries(&live);
    let mut conflicts = Vec::new();
    for e in list.iter_mut().filter(|e| !e.is(req.manager, "Apply")) {
        let clash: Vec<_> = applied_set
            .intersection(&e.set)
            .0
            .into_iter()
            .filter(|p| p.last().is_some_and(|x| x.starts_with("f:")))
            .filter(|p| fieldset::get(&live, p) != fieldset::get(applied, p))
            .collect();
        for p in &clash {
            let v = e
                .raw
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            conflicts.push((e.name(), v, fieldset::display(p)));
        }
        if req.force {
            e.set = e.set.difference(&FieldSet(clash.into_iter().collect()));
        }
    }
    if !conflicts.is_empty() && !req.force {
        return Err(conflict_error(&conflicts));
    }
    let others = list
        .iter()
        .filter(|e| !e.is(req.manager, "Apply"))
        .fold(FieldSet::default(), |acc, e| acc.union(&e.set));
    let previous = list
        .iter()
        .find(|e| e.is(req.manager, "Apply"))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let mut merged = live.clone();
    let mut gone: Vec<_> = previous
        .difference(&applied_set)
        .difference(&others)
        .0
        .into_iter()
        .collect();
    gone.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in &gone {
        fieldset::remove(&mut merged, p);
    }
    merge(&mut merged, applied, &mut Vec::new());
    match list.iter_mut().find(|e| e.is(req.manager, "Apply")) {
        Some(e) => {
            e.set = applied_set;
            e.raw.insert("time".into(), json!(time));
            e.raw.insert("apiVersion".into(), json!(api_version));
        }
        None => {
            let mut e = new_entry(req.manager, "Apply", &api_version, &time);
            e.set = applied_set;
            list.push(e);
        }
    }
    store(&mut merged, list);
    let admitted = admit(rt, merged).map_err(|errs| ApiError::invalid(rt.kind, name, &errs))?;
    let ev = write::update(st, rt, ns, name, admitted.object, false, req.actor, None)?;
    Ok((ev, false, admitted.warnings))
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

    #[test]
    fn merge_keys_items_and_replaces_the_rest() {
        let mut live = json!({"spec": {"containers": [{"name": "a", "image": "x", "args": ["1"]}, {"name": "b"}]}});
        merge(
            &mut live,
            &json!({"spec": {"containers": [{"name": "a", "args": ["2"]}, {"name": "c"}]}}),
            &mut Vec::new(),
        );
        assert_eq!(
            live,
            json!({"spec": {"containers": [{"name": "a", "image": "x", "args": ["2"]}, {"name": "b"}, {"name": "c"}]}})
        );
    }
}
