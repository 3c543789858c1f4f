//! Server-side apply (`application/apply-patch+yaml`): each manager owns the fields it applied
//! (`managed.rs` keeps the entries); an apply that would change another manager's field is refused
//! with a 409 naming both (unless `force=true`, which takes the field over); fields a manager
//! applied before and applies no more are removed unless someone else owns them.

use std::sync::Arc;

use serde_json::{json, Value};

use orca_schemas::{admit, ResourceType};

use super::fieldset::{self, FieldSet};
use super::managed::{entries, new_entry, store};
use super::request::{self, ApiRequest, ApiResponse, Query};
use super::status::{ApiError, ApiResult};
use super::strategic::merge_key;
use super::write;
use super::write_options::{answer_of, field_validation};
use super::Reply;
use crate::eventlog::{Event, Staging};

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

impl super::ApiCore {
    /// A server-side apply: 201 when it created the object, 200 when it changed it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply(
        &self,
        rt: &'static ResourceType,
        ns: String,
        name: String,
        req: &ApiRequest,
        q: &Query,
        dry: bool,
        actor: String,
        status_only: bool,
    ) -> ApiResult<Reply> {
        if status_only {
            return Err(ApiError::bad_request(
                "server-side apply to /status is not supported; apply to the object",
            ));
        }
        let manager = q
            .get("fieldManager")
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::unprocessable(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            )
            })?;
        let force = q.flag("force");
        let body = request::decode_body("application/yaml", &req.body)?;
        field_validation(rt, q, &body)?;
        let (ev, created, warnings) = self
            .commit(dry, move |st| {
                apply(
                    st,
                    rt,
                    &ns,
                    &name,
                    &body,
                    ApplyRequest {
                        manager: &manager,
                        force,
                        actor,
                    },
                )
            })
            .await??;
        Ok(Reply::Done(ApiResponse {
            status: if created { 201 } else { 200 },
            body: answer_of(&ev, dry),
            warnings,
            offset: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
