//! What comes before and after a write: the body decoded, checked against the path and admitted
//! (`prepare`), `fieldValidation` (Strict refuses fields Kubernetes does not define, Ignore drops
//! the warnings about them, Warn is the default), and `dryRun` answers at the object's revision
//! before the change.

use bytes::Bytes;
use serde_json::Value;

use orca_schemas::{admit, ResourceType};

use super::request::{self, ApiRequest, Query};
use super::status::{ApiError, ApiResult};
use super::write;

/// The object a write answers with. A dry run's changes are not kept, so its answer carries the
/// object's revision before it (none for a create), as Kubernetes answers a dry run.
pub fn answer_of(ev: &crate::eventlog::Event, dry: bool) -> Bytes {
    if !dry {
        return ev.json.clone();
    }
    let mut v = ev.object();
    let created = ev.meta.event_type == crate::eventlog::EventType::Added;
    match ev.meta.prev_revision {
        prev if prev > 0 && !created => write::set_meta(&mut v, "resourceVersion", Value::String(prev.to_string())),
        _ => write::set_meta(&mut v, "resourceVersion", Value::Null),
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// `fieldValidation=Strict`: a body with fields Kubernetes does not define is refused, every such
/// field named (status aside, which orca's components extend). Warn (the default) keeps them with
/// a warning; Ignore keeps them silently.
pub fn field_validation(rt: &ResourceType, q: &Query, body: &Value) -> ApiResult<()> {
    match q.get("fieldValidation") {
        None | Some("" | "Warn" | "Ignore") => Ok(()),
        Some("Strict") => {
            let mut unknown = orca_schemas::kube_fields::unknown(&rt.api_version(), rt.kind, body);
            unknown.retain(|p| p != "status" && !p.starts_with("status."));
            if unknown.is_empty() {
                return Ok(());
            }
            let list: Vec<String> = unknown.iter().map(|p| format!("unknown field \"{p}\"")).collect();
            Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
                list.join(", "),
                kind = rt.kind,
                v = rt.version
            )))
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// With `fieldValidation=Ignore`, no warnings about unknown fields.
pub fn ignore_unknown(q: &Query, warnings: &mut Vec<String>) {
    if q.get("fieldValidation") == Some("Ignore") {
        warnings.retain(|w| !w.starts_with("unknown field"));
    }
}

/// Decodes, checks identity against the path, admits, and stamps uid for a create.
pub fn prepare(
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
    req: &ApiRequest,
    q: &Query,
) -> ApiResult<(Value, Vec<String>)> {
    let mut v = request::decode_body(&req.content_type, &req.body)?;
    field_validation(rt, q, &v)?;
    request::fill_identity(&mut v, rt, ns, name)?;
    let display = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut admitted = admit(rt, v).map_err(|errs| ApiError::invalid(rt.kind, &display, &errs))?;
    if name.is_none() {
        if admitted
            .object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if let Some(meta) = admitted.object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("uid".into(), Value::String(uuid::Uuid::new_v4().to_string()));
            meta.remove("resourceVersion");
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
        }
    }
    let mut warnings = admitted.warnings;
    ignore_unknown(q, &mut warnings);
    Ok((admitted.object, warnings))
}
