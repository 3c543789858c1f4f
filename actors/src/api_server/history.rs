//! History and time travel from the log's index: every change of an object (all its lives, deleted
//! ones too), and objects as they were at a revision (`resourceVersionMatch=Exact`).

use bytes::Bytes;
use serde_json::json;

use orca_schemas::ResourceType;

use super::read::Filter;
use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::eventlog::EventLog;

/// The path of the history endpoint (`?kind=&namespace=&name=`).
pub const PATH: &str = "/apis/orca.dev/v1/history";

fn check_horizon(log: &EventLog, rev: u64) -> ApiResult<()> {
    let oldest = log.oldest();
    if rev + 1 < oldest {
        return Err(ApiError::gone(rev, oldest));
    }
    if rev > log.head() {
        return Err(ApiError::bad_request(format!(
            "resourceVersion {rev} is newer than the newest revision, {}",
            log.head()
        )));
    }
    Ok(())
}

/// One object as it was at `rev`.
pub fn get_at(log: &EventLog, rt: &ResourceType, ns: &str, name: &str, rev: u64) -> ApiResult<Bytes> {
    check_horizon(log, rev)?;
    match log.reader().at(rt.kind, ns, name, rev)? {
        Some(ev) => Ok(ev.json.clone()),
        None => Err(ApiError::not_found(rt.plural, name)),
    }
}

/// A list as it was at `rev`.
pub fn list_at(log: &EventLog, rt: &ResourceType, ns: Option<&str>, filter: &Filter, rev: u64) -> ApiResult<Bytes> {
    check_horizon(log, rev)?;
    let items = log.reader().list_at(rt.kind, ns, rev)?;
    Ok(super::read::list_body(
        rt,
        &items,
        filter,
        &super::read::ListMeta::at(rev),
    ))
}

/// Every event of one object, oldest first: revision, time, actor, type, uid and the object.
pub fn history(log: &EventLog, q: &Query) -> ApiResult<Bytes> {
    let kind = q
        .get("kind")
        .ok_or_else(|| ApiError::bad_request("history needs kind, namespace and name"))?;
    let rt = orca_schemas::lookup(kind).ok_or_else(|| ApiError::bad_request(format!("unknown kind {kind:?}")))?;
    let name = q
        .get("name")
        .ok_or_else(|| ApiError::bad_request("history needs a name"))?;
    let ns = if rt.namespaced {
        q.get("namespace").unwrap_or("default")
    } else {
        ""
    };
    let revisions = log.reader().history(rt.kind, ns, name)?;
    if revisions.is_empty() {
        return Err(ApiError::not_found(rt.plural, name));
    }
    let mut items = Vec::new();
    let mut compacted = 0;
    for rev in revisions {
        match log.reader().event(rev)? {
            Some(ev) => items.push(json!({
                "revision": ev.revision,
                "time": super::write::rfc3339(ev.time_ms),
                "timeMillis": ev.time_ms,
                "actor": ev.actor,
                "type": ev.event_type.as_watch_type(),
                "uid": ev.uid,
                "object": ev.object(),
            })),
            None => compacted += 1,
        }
    }
    let out = json!({"kind": "History", "apiVersion": "orca.dev/v1", "objectKind": rt.kind, "namespace": ns, "name": name,
        "oldestRevisionHeld": log.oldest(), "compactedEvents": compacted, "items": items});
    Ok(Bytes::from(serde_json::to_vec(&out).unwrap_or_default()))
}

/// The past revision a query asks for: `resourceVersion=N&resourceVersionMatch=Exact`, or
/// `atTime=RFC3339` (the newest revision at or before that time).
pub fn exact(log: &EventLog, q: &Query) -> ApiResult<Option<u64>> {
    if let Some(t) = q.get("atTime") {
        let when = humantime::parse_rfc3339_weak(t)
            .map_err(|_| ApiError::bad_request(format!("atTime={t:?} is not an RFC 3339 time")))?;
        let ms = when
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let rev = crate::eventlog::replay::revision_at_time(log, ms)?;
        if rev == 0 {
            return Err(ApiError::gone(0, log.oldest()));
        }
        return Ok(Some(rev));
    }
    if q.get("resourceVersionMatch") != Some("Exact") {
        return Ok(None);
    }
    q.number("resourceVersion")?
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("resourceVersionMatch=Exact needs a resourceVersion"))
}
