//! The writing operations, run on the log writer so that checks and append are one atomic step:
//! create, update (PUT and `/status`), patch; deletes are in `delete.rs`.

use std::sync::Arc;

use serde_json::{json, Value};

use orca_schemas::{admit, validate_update, ResourceType};

use super::patch;
use super::status::{ApiError, ApiResult};
use crate::eventlog::{Change, Event, EventType, Staging};

/// Kinds whose `status` is owned by the `/status` subresource.
pub fn has_status(kind: &str) -> bool {
    !matches!(
        kind,
        "ConfigMap"
            | "Secret"
            | "Endpoints"
            | "EndpointSlice"
            | "Event"
            | "StorageClass"
            | "IngressClass"
            | "ServiceAccount"
            | "Role"
            | "ClusterRole"
            | "RoleBinding"
            | "ClusterRoleBinding"
    )
}

/// RFC 3339 time (UTC, seconds) of a millisecond timestamp.
pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub(super) fn set_meta(obj: &mut Value, field: &str, value: Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if value.is_null() {
            m.remove(field);
        } else {
            m.insert(field.to_string(), value);
        }
    }
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let id = uuid::Uuid::new_v4();
    id.as_bytes()[..5]
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect()
}

fn check_namespace(st: &Staging, rt: &ResourceType, ns: &str) -> ApiResult<()> {
    if !rt.namespaced {
        return Ok(());
    }
    match st.get("Namespace", "", ns) {
        None => Err(ApiError::not_found("namespaces", ns)),
        Some(n) if n.header.deleting => Err(ApiError::forbidden(format!(
            "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            rt.plural,
            n.name.as_str()
        ))),
        Some(_) => Ok(()),
    }
}

/// Creates an admitted object (uid and creationTimestamp already stamped); a `manager` (the
/// request's `fieldManager`) is recorded as the owner of every field.
pub fn create(
    st: &mut Staging,
    rt: &'static ResourceType,
    mut obj: Value,
    actor: String,
    manager: Option<&str>,
) -> ApiResult<Arc<Event>> {
    let ns = meta_str(&obj, "namespace").unwrap_or_default().to_string();
    check_namespace(st, rt, &ns)?;
    let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => {
            let prefix = meta_str(&obj, "generateName").unwrap_or_default().to_string();
            let name = (0..16)
                .map(|_| format!("{prefix}{}", random_suffix()))
                .find(|n| st.get(rt.kind, &ns, n).is_none())
                .ok_or_else(|| ApiError::internal("could not generate a unique name; retry"))?;
            set_meta(&mut obj, "name", Value::String(name.clone()));
            name
        }
    };
    if st.get(rt.kind, &ns, &name).is_some() {
        return Err(ApiError::already_exists(
            &format!("{}{}", rt.plural, group_suffix(rt)),
            &name,
        ));
    }
    if rt.kind == "Service" {
        super::cluster_ip::allocate(st, &mut obj)?;
    }
    if rt.kind == "PersistentVolumeClaim" && obj.pointer("/spec/storageClassName").is_none() {
        // Kubernetes' DefaultStorageClass admission: a claim naming no class gets the default one.
        let default = st.list("StorageClass", None).into_iter().find(|c| {
            c.object()
                .pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                == Some(&Value::String("true".into()))
        });
        if let Some(c) = default {
            obj["spec"]["storageClassName"] = Value::String(c.name.clone());
        }
    }
    set_meta(&mut obj, "creationTimestamp", Value::String(rfc3339(st.time_ms())));
    if rt.kind == "Pod" {
        super::pod_status::initial(&mut obj);
    }
    if let Some(m) = manager {
        super::managed::track_update(None, &mut obj, m, &rt.api_version(), &rfc3339(st.time_ms()));
    }
    if has_status(rt.kind) && obj.get("spec").is_some() {
        set_meta(&mut obj, "generation", json!(1));
    }
    Ok(st.put(Change {
        kind: rt.kind.into(),
        namespace: ns,
        name,
        event_type: EventType::Added,
        object: obj,
        actor,
    }))
}

/// The object as staged, with the resource's qualified plural for messages; 404 when missing.
pub(super) fn current(st: &Staging, rt: &ResourceType, ns: &str, name: &str) -> ApiResult<(String, Arc<Event>)> {
    let plural = format!("{}{}", rt.plural, group_suffix(rt));
    let cur = st
        .get(rt.kind, ns, name)
        .ok_or_else(|| ApiError::not_found(&plural, name))?;
    Ok((plural, cur))
}

fn group_suffix(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        String::new()
    } else {
        format!(".{}", rt.group)
    }
}

/// DeleteOptions' `preconditions` (`uid`, `resourceVersion`): the object must still be the one
/// the caller means, not a newer one of the same name (409 otherwise, as Kubernetes answers).
pub fn check_preconditions(st: &Staging, rt: &ResourceType, ns: &str, name: &str, pre: &Value) -> ApiResult<()> {
    if !pre.is_object() {
        return Ok(());
    }
    let (plural, cur) = current(st, rt, ns, name)?;
    let obj = cur.object();
    if let Some(uid) = pre.get("uid").and_then(Value::as_str) {
        let have = meta_str(&obj, "uid").unwrap_or("");
        if uid != have {
            return Err(ApiError::conflict_message(format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {have} ({plural} \"{name}\")"
            )));
        }
    }
    if let Some(rv) = pre.get("resourceVersion").and_then(Value::as_str) {
        if rv != cur.revision.to_string() {
            return Err(ApiError::conflict_message(format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {} ({plural} \"{name}\")",
                cur.revision
            )));
        }
    }
    Ok(())
}

/// Replaces an object (PUT or `/status`); `new` is admitted already. With a `manager`, or when
/// the object has managed fields, the fields the write changes pass to the manager (the
/// request's `fieldManager`, else the client's program).
#[allow(clippy::too_many_arguments)]
pub fn update(
    st: &mut Staging,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    new: Value,
    status_only: bool,
    actor: String,
    manager: Option<&str>,
) -> ApiResult<Arc<Event>> {
    let (plural, cur) = current(st, rt, ns, name)?;
    if let Some(uid) = meta_str(&new, "uid").filter(|u| !u.is_empty()) {
        let have = cur.uid.as_str();
        if uid != have {
            return Err(ApiError::conflict_message(format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {have} ({plural} \"{name}\")"
            )));
        }
    }
    if let Some(rv) = meta_str(&new, "resourceVersion").filter(|rv| !rv.is_empty()) {
        if rv != cur.revision.to_string() {
            return Err(ApiError::conflict(&plural, name));
        }
    }
    let old = &cur.object();
    let mut merged = if status_only {
        let mut m = old.clone();
        match new.get("status") {
            Some(s) => m["status"] = s.clone(),
            None => {
                if let Some(o) = m.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        m
    } else {
        let mut m = new;
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            set_meta(
                &mut m,
                field,
                old.pointer(&format!("/metadata/{field}"))
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        if has_status(rt.kind) && rt.kind != "Namespace" {
            match old.get("status") {
                Some(s) => m["status"] = s.clone(),
                None => {
                    if let Some(o) = m.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
        }
        if old.get("spec") != m.get("spec") {
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            set_meta(&mut m, "generation", json!(generation));
        }
        if manager.is_some() || old.pointer("/metadata/managedFields").is_some() {
            let who = manager.map_or_else(|| super::managed::default_manager(&actor), str::to_string);
            super::managed::track_update(Some(old), &mut m, &who, &rt.api_version(), &rfc3339(st.time_ms()));
        }
        m
    };
    if rt.kind == "Service" {
        super::cluster_ip::carry_over(old, &mut merged);
        super::cluster_ip::node_ports(st, &mut merged, Some((ns, name)))?;
    }
    set_meta(&mut merged, "resourceVersion", Value::String(cur.revision.to_string()));
    let errs = validate_update(rt, old, &merged);
    if !errs.is_empty() {
        return Err(ApiError::invalid(rt.kind, name, &errs));
    }
    if &merged == old {
        return Ok(cur);
    }
    let finalizing = merged.pointer("/metadata/deletionTimestamp").is_some() && finalized(&merged);
    let event_type = if finalizing {
        EventType::Deleted
    } else {
        EventType::Modified
    };
    Ok(st.put(Change {
        kind: rt.kind.into(),
        namespace: ns.into(),
        name: name.into(),
        event_type,
        object: merged,
        actor,
    }))
}

/// The kinds of patch the API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/json-patch+json`.
    Json,
}

/// Patches an object: applies the patch to the current state, re-admits, then updates.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    st: &mut Staging,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    kind: PatchType,
    body: &Value,
    status_only: bool,
    actor: String,
    manager: Option<&str>,
) -> ApiResult<(Arc<Event>, Vec<String>)> {
    let (_, cur) = current(st, rt, ns, name)?;
    let mut doc = cur.object();
    match kind {
        PatchType::Merge => patch::merge_patch(&mut doc, body),
        PatchType::Strategic => super::strategic::apply(&mut doc, body, &mut Vec::new()),
        PatchType::Json => patch::json_patch(&mut doc, body).map_err(|e| {
            ApiError::invalid(
                rt.kind,
                name,
                &[orca_schemas::FieldError {
                    kind: orca_schemas::validate::ErrorType::Invalid,
                    field: String::new(),
                    message: format!("the patch could not be applied: {e}"),
                }],
            )
        })?,
    }
    if meta_str(&doc, "name") != Some(name) || (rt.namespaced && meta_str(&doc, "namespace") != Some(ns)) {
        return Err(ApiError::bad_request(
            "a patch may not change metadata.name or metadata.namespace",
        ));
    }
    if status_only {
        // Only `status` is taken from a status patch; the rest of the object was admitted before.
        // Skipping full admission keeps this work, the most frequent write, light on the writer.
        if doc.get("status").is_some_and(|s| !s.is_object()) {
            return Err(ApiError::bad_request("status must be an object"));
        }
        return Ok((update(st, rt, ns, name, doc, true, actor, None)?, Vec::new()));
    }
    let admitted = admit(rt, doc).map_err(|errs| ApiError::invalid(rt.kind, name, &errs))?;
    let ev = update(st, rt, ns, name, admitted.object, status_only, actor, manager)?;
    Ok((ev, admitted.warnings))
}

pub use super::delete::{delete, finalized, Propagation, FOREGROUND, NAMESPACE_FINALIZER, ORPHAN};
