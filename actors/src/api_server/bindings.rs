//! `POST /apis/orca.dev/v1/bindings`: many pod bindings in one request and one log batch, each with its
//! `Scheduled` Event, so that the scheduler's throughput does not pay a round trip per pod.

use serde_json::{json, Value};

use super::pods;
use super::status::ApiError;
use crate::eventlog::{Change, EventType, Staging};

/// The path of the bulk binding endpoint.
pub const PATH: &str = crate::bus::paths::BINDINGS;

/// Applies `{"items": [{"namespace", "name", "node"}]}`; returns one result per item.
pub fn bind_all(st: &mut Staging, body: &Value, actor: &str) -> Value {
    let mut results = Vec::new();
    for item in body["items"].as_array().into_iter().flatten() {
        let ns = item["namespace"].as_str().unwrap_or("default");
        let name = item["name"].as_str().unwrap_or("");
        let node = item["node"].as_str().unwrap_or("");
        let outcome = st.atomic(|st| {
            if node.is_empty() {
                return Err(ApiError::bad_request("a binding needs a node"));
            }
            let ev = pods::bind(st, ns, name, node, actor.to_string())?;
            scheduled_event(st, &ev.object(), ns, name, node, actor);
            Ok(ev.revision)
        });
        results.push(match outcome {
            Ok(rev) => json!({"namespace": ns, "name": name, "status": 201, "resourceVersion": rev.to_string()}),
            Err(e) => json!({"namespace": ns, "name": name, "status": e.code, "message": e.message}),
        });
    }
    json!({"kind": "BindingResults", "apiVersion": "orca.dev/v1", "results": results})
}

fn scheduled_event(st: &mut Staging, pod: &Value, ns: &str, name: &str, node: &str, actor: &str) {
    let now = super::write::rfc3339(st.time_ms());
    let event_name = format!("{name}.{:x}", st.next_revision());
    let obj = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": event_name, "namespace": ns, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": now},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": ns, "name": name, "uid": pod.pointer("/metadata/uid")},
        "reason": "Scheduled", "message": format!("Successfully assigned {ns}/{name} to {node}"), "type": "Normal", "count": 1,
        "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "default-scheduler"}, "reportingComponent": "default-scheduler",
    });
    st.put(Change {
        kind: "Event".into(),
        namespace: ns.into(),
        name: event_name,
        event_type: EventType::Added,
        object: obj,
        actor: actor.into(),
    });
}
