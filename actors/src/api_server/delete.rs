//! Deletes: finalizers, graceful pod deletion, propagation to dependents (Background, Foreground,
//! Orphan) and namespaces that turn Terminating until the namespace controller has emptied them.

use std::sync::Arc;

use serde_json::{json, Value};

use orca_schemas::ResourceType;

use super::status::{ApiError, ApiResult};
use super::write::{current, rfc3339, set_meta};
use crate::eventlog::{Change, Event, EventType, Staging};

/// How a delete treats the object's dependents (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// The object goes at once; the garbage collector deletes its dependents afterwards.
    Background,
    /// The object waits (finalizer `foregroundDeletion`) until its dependents are gone.
    Foreground,
    /// The object waits (finalizer `orphan`) until its dependents no longer name it as an owner.
    Orphan,
}

/// The finalizer of a foreground delete.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer of an orphaning delete.
pub const ORPHAN: &str = "orphan";
/// The namespace finalizer (in `spec.finalizers`) the namespace controller removes once the
/// namespace is empty.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

impl Propagation {
    /// Reads `propagationPolicy`; absent means Background.
    pub fn parse(v: Option<&str>) -> ApiResult<Propagation> {
        match v {
            None | Some("") | Some("Background") => Ok(Propagation::Background),
            Some("Foreground") => Ok(Propagation::Foreground),
            Some("Orphan") => Ok(Propagation::Orphan),
            Some(other) => Err(ApiError::bad_request(format!(
                "propagationPolicy {other:?} is not one of Background, Foreground, Orphan"
            ))),
        }
    }

    fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some(FOREGROUND),
            Propagation::Orphan => Some(ORPHAN),
        }
    }
}

/// Whether an object with a deletionTimestamp may go: no finalizer left (for a namespace, none in
/// `spec.finalizers` either).
pub fn finalized(obj: &Value) -> bool {
    let empty = |p: &str| obj.pointer(p).and_then(Value::as_array).is_none_or(|f| f.is_empty());
    empty("/metadata/finalizers") && (obj["kind"] != "Namespace" || empty("/spec/finalizers"))
}

/// Deletes an object: with finalizers it only gets a `deletionTimestamp`; a pod bound to a node is
/// deleted gracefully (its node confirms); a namespace turns Terminating and the namespace
/// controller empties it; Foreground and Orphan propagation add their finalizer for the garbage
/// collector.
#[allow(clippy::too_many_arguments)]
pub fn delete(
    st: &mut Staging,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    grace: Option<u64>,
    policy: Propagation,
    actor: String,
) -> ApiResult<Arc<Event>> {
    let (_, cur) = current(st, rt, ns, name)?;
    let mut obj = cur.object();
    if rt.kind == "Namespace" {
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(cur);
        }
        set_meta(&mut obj, "deletionTimestamp", Value::String(rfc3339(st.time_ms())));
        set_meta(&mut obj, "deletionGracePeriodSeconds", json!(0));
        obj["spec"]["finalizers"] = json!([NAMESPACE_FINALIZER]);
        obj["status"]["phase"] = json!("Terminating");
        return Ok(st.put(Change {
            kind: rt.kind.into(),
            namespace: ns.into(),
            name: name.into(),
            event_type: EventType::Modified,
            object: obj,
            actor,
        }));
    }
    if let Some(f) = policy.finalizer() {
        let list = &mut obj["metadata"]["finalizers"];
        if !list.is_array() {
            *list = json!([]);
        }
        if let Some(l) = list.as_array_mut() {
            if !l.iter().any(|x| x == f) {
                l.push(json!(f));
            }
        }
    }
    let has_finalizers = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let bound_pod = rt.kind == "Pod"
        && obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
    let grace = grace.unwrap_or_else(|| {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_u64)
            .unwrap_or(30)
    });
    let graceful = bound_pod && grace > 0;
    if has_finalizers || graceful {
        let deleting = cur.object().pointer("/metadata/deletionTimestamp").is_some();
        if deleting && !(bound_pod && grace == 0) {
            if cur.object().pointer("/metadata/finalizers") == obj.pointer("/metadata/finalizers") {
                return Ok(cur);
            }
        } else {
            set_meta(
                &mut obj,
                "deletionTimestamp",
                Value::String(rfc3339(st.time_ms() + grace * 1000 * graceful as u64)),
            );
            set_meta(
                &mut obj,
                "deletionGracePeriodSeconds",
                json!(if graceful { grace } else { 0 }),
            );
        }
        return Ok(st.put(Change {
            kind: rt.kind.into(),
            namespace: ns.into(),
            name: name.into(),
            event_type: EventType::Modified,
            object: obj,
            actor,
        }));
    }
    set_meta(&mut obj, "deletionTimestamp", Value::String(rfc3339(st.time_ms())));
    Ok(st.put(Change {
        kind: rt.kind.into(),
        namespace: ns.into(),
        name: name.into(),
        event_type: EventType::Deleted,
        object: obj,
        actor,
    }))
}
