//! Reads from the projection: get, and list with label and field selectors.

use std::sync::Arc;

use bytes::Bytes;

use orca_schemas::selector::{parse_field_selector, Requirement, Selector};
use orca_schemas::stored::ObjectHeader;
use orca_schemas::ResourceType;

use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::eventlog::{Event, EventLog};

pub use orca_schemas::stored::FIELD_SELECTORS;

/// A list or watch filter: label selector, field selector, and a name from the path.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    labels: Selector,
    fields: Selector,
}

impl Filter {
    /// Builds the filter from `labelSelector` and `fieldSelector`.
    pub fn from_query(q: &Query) -> ApiResult<Filter> {
        let labels = Selector::parse_labels(q.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
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

    /// Whether an object passes the filter, read from its header.
    pub fn matches(&self, h: &ObjectHeader) -> bool {
        h.matches(&self.labels, &self.fields)
    }

    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
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
    list_body(rt, &items, filter, &ListMeta::at(head))
}

/// A list's `metadata`: its revision, and for a page the token and count of what remains.
#[derive(Debug, Clone, Default)]
pub struct ListMeta {
    /// The revision the list shows.
    pub revision: u64,
    /// `continue`: where the next page starts.
    pub continue_token: Option<String>,
    /// `remainingItemCount`, when known.
    pub remaining: Option<usize>,
}

impl ListMeta {
    /// A complete list at `revision`.
    pub fn at(revision: u64) -> ListMeta {
        ListMeta {
            revision,
            ..ListMeta::default()
        }
    }
}

/// A `KindList` of the items passing the filter, built from their shared encodings.
pub fn list_body(rt: &ResourceType, items: &[Arc<Event>], filter: &Filter, meta: &ListMeta) -> Bytes {
    let mut out = Vec::with_capacity(128 + items.iter().map(|e| e.json.len() + 1).sum::<usize>());
    let mut m = format!("\"resourceVersion\":\"{}\"", meta.revision);
    if let Some(c) = &meta.continue_token {
        m.push_str(&format!(",\"continue\":\"{c}\""));
    }
    if let Some(r) = meta.remaining {
        m.push_str(&format!(",\"remainingItemCount\":{r}"));
    }
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{{m}}},\"items\":[",
            rt.kind,
            rt.api_version()
        )
        .as_bytes(),
    );
    let mut first = true;
    for ev in items.iter().filter(|e| filter.matches(&e.header)) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(&ev.json);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

/// Waits up to 3 s for the log to reach `rv` (a client that read a newer revision elsewhere);
/// after that, 504 as Kubernetes answers a resource version that is too large.
pub async fn wait_for_revision(log: &EventLog, rv: u64) -> ApiResult<()> {
    let mut signal = log.head_signal();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while log.head() < rv {
        if !matches!(tokio::time::timeout_at(deadline, signal.changed()).await, Ok(Ok(()))) {
            let mut e = ApiError::bad_request(format!("Too large resource version: {rv}, current: {}", log.head()));
            e.code = 504;
            e.reason = "Timeout";
            e.details = Some(Box::new(
                serde_json::json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1}),
            ));
            return Err(e);
        }
    }
    Ok(())
}
