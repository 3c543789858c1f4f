//! Reads from the projection: get, and list with label and field selectors.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use orca_schemas::selector::{parse_field_selector, Requirement, Selector};
use orca_schemas::ResourceType;

use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::eventlog::{Event, EventLog};

/// Field selector paths the API supports.
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

/// A list or watch filter: label selector, field selector, and a name from the path.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    labels: Selector,
    fields: Selector,
}

impl Filter {
    /// Builds the filter from `labelSelector` and `fieldSelector`.
    pub fn from_query(q: &Query) -> ApiResult<Filter> {
        let labels =
            Selector::parse(q.get("labelSelector").unwrap_or("")).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = parse_field_selector(q.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        for r in &fields.0 {
            let (Requirement::Equals(k, _) | Requirement::NotEquals(k, _)) = r else {
                continue;
            };
            if !FIELD_SELECTORS.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k} (supported: {})",
                    FIELD_SELECTORS.join(", ")
                )));
            }
        }
        Ok(Filter { labels, fields })
    }

    /// Whether an object passes the filter.
    pub fn matches(&self, obj: &Value) -> bool {
        if !self.labels.is_empty() {
            let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
            let ok = self
                .labels
                .matches_with(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str));
            if !ok {
                return false;
            }
        }
        if !self.fields.is_empty() {
            let ok = self.fields.matches_with(|path| {
                let pointer = format!("/{}", path.replace('.', "/"));
                match obj.pointer(&pointer) {
                    Some(Value::String(s)) => Some(s.as_str()),
                    Some(Value::Bool(true)) => Some("true"),
                    Some(Value::Bool(false)) => Some("false"),
                    _ => Some(""),
                }
            });
            if !ok {
                return false;
            }
        }
        true
    }
}

/// The stored object or 404.
pub fn get(log: &EventLog, rt: &ResourceType, ns: &str, name: &str) -> ApiResult<Arc<Event>> {
    log.projection()
        .get(rt.kind, ns, name)
        .ok_or_else(|| ApiError::not_found(rt.plural, name))
}

/// The `KindList` body for the matching objects, with the head revision as resourceVersion.
pub fn list(log: &EventLog, rt: &ResourceType, ns: Option<&str>, filter: &Filter) -> Bytes {
    let (items, head) = {
        let p = log.projection();
        (p.list(rt.kind, ns), p.head)
    };
    list_body(rt, &items, filter, head)
}

/// A `KindList` of the items passing the filter, built from their shared encodings.
pub fn list_body(rt: &ResourceType, items: &[Arc<Event>], filter: &Filter, revision: u64) -> Bytes {
    let mut out = Vec::with_capacity(64 + items.iter().map(|e| e.json.len() + 1).sum::<usize>());
    out.extend_from_slice(
        format!("{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{revision}\"}},\"items\":[", rt.kind, rt.api_version()).as_bytes(),
    );
    let mut first = true;
    for ev in items.iter().filter(|e| filter.matches(&e.object)) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(&ev.json);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}
