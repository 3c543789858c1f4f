//! `events.k8s.io/v1` Events: the same stored Events as `core/v1`, seen through Kubernetes'
//! conversion (`regarding` for `involvedObject`, `note` for `message`, `reportingController`,
//! `deprecatedSource`, `deprecatedFirstTimestamp`/`LastTimestamp`/`Count`). A request under
//! `/apis/events.k8s.io/v1/` is served as its `/api/v1/` twin, its body converted on the way in
//! and objects, lists and watch lines on the way out.

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value};

use super::request::{self, ApiRequest, ApiResponse};
use super::status::ApiError;
use super::watch::WatchStream;
use super::Reply;

/// The group's URL prefix.
pub const PREFIX: &str = "/apis/events.k8s.io/v1";
/// The group version.
pub const API_VERSION: &str = "events.k8s.io/v1";

/// (core field, events.k8s.io field) pairs that only change name.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("source", "deprecatedSource"),
];

/// The `/api/v1` path of an events.k8s.io path, if it is one.
pub fn core_path(path: &str) -> Option<String> {
    path.strip_prefix(PREFIX)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .map(|rest| format!("/api/v1{rest}"))
}

/// A field selector in events.k8s.io terms, in core terms.
pub fn core_query(query: &str) -> String {
    query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("fieldSelector", v)) => {
                let mut v = v.to_string();
                for (core, new) in RENAMED {
                    v = v.replace(&format!("{new}."), &format!("{core}."));
                }
                format!("fieldSelector={v}")
            }
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn rename(obj: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = obj.remove(from) {
        obj.insert(to.to_string(), v);
    }
}

/// A core/v1 Event as events.k8s.io/v1 shows it.
pub fn to_v1(mut ev: Value) -> Value {
    if let Some(m) = ev.as_object_mut() {
        if m.get("kind").and_then(Value::as_str) == Some("Event") || m.contains_key("involvedObject") {
            for (core, new) in RENAMED {
                rename(m, core, new);
            }
            m.insert("apiVersion".into(), Value::String(API_VERSION.into()));
            if !m.contains_key("eventTime") {
                // Required in v1; an Event written through core/v1 has its first time instead.
                let first = m.get("deprecatedFirstTimestamp").and_then(Value::as_str).unwrap_or("");
                let micro = first
                    .strip_suffix('Z')
                    .map(|t| format!("{t}.000000Z"))
                    .unwrap_or_default();
                m.insert("eventTime".into(), Value::String(micro));
            }
        }
    }
    ev
}

/// An events.k8s.io/v1 Event as core/v1 stores it.
pub fn to_core(mut ev: Value) -> Value {
    if let Some(m) = ev.as_object_mut() {
        for (core, new) in RENAMED {
            rename(m, new, core);
        }
        m.insert("apiVersion".into(), Value::String("v1".into()));
    }
    ev
}

/// A JSON answer (an Event, a list of them, or a Status) in events.k8s.io terms.
pub fn answer(body: &[u8]) -> Option<Bytes> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let out = match v.get("kind").and_then(Value::as_str) {
        Some("EventList") => {
            let mut list = v;
            if let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) {
                for item in items.iter_mut() {
                    *item = to_v1(std::mem::take(item));
                }
            }
            list["apiVersion"] = Value::String(API_VERSION.into());
            list
        }
        Some("Event") => to_v1(v),
        _ => return None,
    };
    serde_json::to_vec(&out).ok().map(Bytes::from)
}

/// A watch whose lines carry events.k8s.io/v1 Events.
pub fn watch(stream: WatchStream) -> WatchStream {
    Box::pin(stream.map(|(rev, line)| {
        let converted = serde_json::from_slice::<Value>(&line).ok().and_then(|mut ev| {
            let obj = ev.get_mut("object")?;
            if obj.get("kind").and_then(Value::as_str) == Some("Event") {
                *obj = to_v1(std::mem::take(obj));
            }
            let mut out = serde_json::to_vec(&ev).ok()?;
            out.push(b'\n');
            Some(Bytes::from(out))
        });
        (rev, converted.unwrap_or(line))
    }))
}

impl super::ApiCore {
    /// An `events.k8s.io/v1` call, served as its core/v1 twin (`events_v1.rs`).
    pub(super) async fn handle_events_v1(&self, mut req: ApiRequest, path: String) -> Reply {
        let is_events = super::routes::parse(&path).is_ok_and(|r| r.rt.kind == "Event" && r.subresource.is_none());
        if !is_events {
            return Reply::Done(ApiResponse::error(&ApiError::no_route(&req.path)));
        }
        req.path = path;
        req.query = core_query(&req.query);
        if !req.body.is_empty() && !req.content_type.contains("json-patch") {
            match request::decode_body(&req.content_type, &req.body) {
                Ok(v) => {
                    req.body = Bytes::from(serde_json::to_vec(&to_core(v)).unwrap_or_default());
                    if !req.content_type.contains("patch") {
                        req.content_type = "application/json".into();
                    }
                }
                Err(e) => return Reply::Done(ApiResponse::error(&e)),
            }
        }
        match self.dispatch(req).await {
            Ok(Reply::Done(mut resp)) => {
                if let Some(body) = answer(&resp.body) {
                    resp.body = body;
                }
                Reply::Done(resp)
            }
            Ok(Reply::Watch(stream)) => Reply::Watch(watch(stream)),
            Err(e) => Reply::Done(ApiResponse::error(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_convert_both_ways() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hi", "reason": "Started",
            "firstTimestamp": "2026-01-01T00:00:00Z", "count": 2, "source": {"component": "kubelet"}});
        let v1 = to_v1(core.clone());
        assert_eq!(v1["regarding"]["name"], "p");
        assert_eq!(v1["note"], "hi");
        assert_eq!(v1["deprecatedCount"], 2);
        assert_eq!(v1["eventTime"], "2026-01-01T00:00:00.000000Z");
        let mut back = to_core(v1);
        back.as_object_mut().unwrap().remove("eventTime");
        assert_eq!(back, core);
        assert_eq!(
            core_path("/apis/events.k8s.io/v1/namespaces/a/events").as_deref(),
            Some("/api/v1/namespaces/a/events")
        );
        assert_eq!(
            core_query("fieldSelector=regarding.name%3Dp&limit=5"),
            "fieldSelector=involvedObject.name%3Dp&limit=5"
        );
    }
}
