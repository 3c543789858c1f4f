//! Pod subresources: `binding` (the scheduler's placement), and `log` and `exec`, proxied over NATS to
//! the node agent that runs the pod.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::bus::envelope::{self, ExecRequest, LogRequest, NodeReply};
use crate::bus::subjects;
use crate::eventlog::{Change, Event, EventLog, EventType, Staging};

/// How long a node agent has to answer a log or exec request.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds a pod to a node: `spec.nodeName` and the PodScheduled condition in one event.
pub fn bind(st: &mut Staging, ns: &str, name: &str, node: &str, actor: String) -> ApiResult<Arc<Event>> {
    let cur = st
        .get("Pod", ns, name)
        .ok_or_else(|| ApiError::not_found("pods", name))?;
    let mut obj = cur.object();
    match obj.pointer("/spec/nodeName").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n == node => return Ok(cur),
        Some(n) if !n.is_empty() => {
            return Err(ApiError::conflict_message(format!(
                "pod {name} is already assigned to node \"{n}\""
            )))
        }
        _ => {}
    }
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError::conflict_message(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        )));
    }
    obj["spec"]["nodeName"] = json!(node);
    let now = super::write::rfc3339(st.time_ms());
    set_condition(
        &mut obj,
        json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now}),
    );
    Ok(st.put(Change {
        kind: "Pod".into(),
        namespace: ns.into(),
        name: name.into(),
        event_type: EventType::Modified,
        object: obj,
        actor,
    }))
}

/// Replaces (or adds) a condition of the same type in `status.conditions`.
pub fn set_condition(obj: &mut Value, cond: Value) {
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    let conds = obj["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    if let Some(Value::Array(list)) = conds {
        list.retain(|c| c.get("type") != cond.get("type"));
        list.push(cond);
    }
}

pub(crate) fn node_of(log: &EventLog, ns: &str, name: &str) -> ApiResult<String> {
    let pod = log
        .projection()
        .get("Pod", ns, name)
        .ok_or_else(|| ApiError::not_found("pods", name))?;
    pod.object()
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "pod {name} is not scheduled to a node yet; its logs appear once it runs"
            ))
        })
}

pub(super) async fn ask_node(
    nats: &async_nats::Client,
    subject: String,
    payload: Vec<u8>,
    node: &str,
) -> ApiResult<NodeReply> {
    let hint = format!("the agent of node {node} is not running or not connected; check `orcactl get nodes`");
    let msg = crate::bus::request(nats, &subject, payload, NODE_TIMEOUT, &hint)
        .await
        .map_err(|e| ApiError::unavailable(format!("node {node} did not answer: {e}")))?;
    let reply: NodeReply = envelope::decode(&msg.payload)
        .map_err(|e| ApiError::internal(format!("node {node} sent a malformed reply: {e}")))?;
    if reply.error.is_empty() {
        Ok(reply)
    } else {
        Err(ApiError::bad_request(reply.error))
    }
}

/// `GET pods/NAME/log`: the container's log from its node (`container`, `tailLines`, `previous`,
/// `sinceBytes`). The byte offset reached comes back in the `X-Orca-Log-Offset` sense as the reply's
/// second element.
pub async fn logs(
    log: &EventLog,
    nats: Option<&async_nats::Client>,
    ns: &str,
    name: &str,
    q: &Query,
) -> ApiResult<(Bytes, u64)> {
    let req = LogRequest {
        namespace: ns.into(),
        pod: name.into(),
        container: q.get("container").unwrap_or("").into(),
        tail_lines: q.number("tailLines")?,
        previous: q.flag("previous"),
        since_bytes: q.number("sinceBytes")?,
    };
    logs_of(log, nats, req).await
}

/// One read of a container's output as `req` asks.
pub async fn logs_of(log: &EventLog, nats: Option<&async_nats::Client>, req: LogRequest) -> ApiResult<(Bytes, u64)> {
    if log.projection().get("Pod", &req.namespace, &req.pod).is_none() {
        return kept_tail(log, &req.namespace, &req.pod, &req.container);
    }
    let nats = nats.ok_or_else(|| ApiError::unavailable("logs need the NATS connection of the API server"))?;
    let node = node_of(log, &req.namespace, &req.pod)?;
    let reply = ask_node(nats, subjects::node_logs(&node), envelope::encode(&req), &node).await?;
    Ok((Bytes::from(reply.stdout), reply.offset))
}

/// Whether the container (the first one when `container` is empty) has ended, or the pod is gone.
pub fn container_ended(log: &EventLog, ns: &str, name: &str, container: &str) -> bool {
    let Some(pod) = log.projection().get("Pod", ns, name) else {
        return true;
    };
    let pod = pod.object();
    if pod["metadata"]["deletionTimestamp"].is_string() && pod["status"]["phase"] != "Running" {
        return true;
    }
    let statuses = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let status = statuses
        .iter()
        .find(|c| container.is_empty() || c["name"] == container)
        .cloned()
        .unwrap_or(Value::Null);
    status["state"]["terminated"].is_object() || matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

/// `POST pods/NAME/exec` with `{"command": [...], "container": ".."}`: runs the command where the
/// container runs and returns `{"stdout","stderr","exitCode"}`.
pub async fn exec(
    log: &EventLog,
    nats: Option<&async_nats::Client>,
    ns: &str,
    name: &str,
    body: &Value,
) -> ApiResult<Value> {
    let nats = nats.ok_or_else(|| ApiError::unavailable("exec needs the NATS connection of the API server"))?;
    let node = node_of(log, ns, name)?;
    let command: Vec<String> = body["command"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if command.is_empty() {
        return Err(ApiError::bad_request(
            "exec needs a command: {\"command\": [\"ls\", \"/\"]}",
        ));
    }
    let req = ExecRequest {
        namespace: ns.into(),
        pod: name.into(),
        container: body["container"].as_str().unwrap_or("").into(),
        command,
    };
    let reply = ask_node(nats, subjects::node_exec(&node), envelope::encode(&req), &node).await?;
    Ok(
        json!({"stdout": String::from_utf8_lossy(&reply.stdout), "stderr": String::from_utf8_lossy(&reply.stderr), "exitCode": reply.exit_code}),
    )
}

/// Opens an interactive exec session on the pod's node (its output then arrives on the
/// session's output subject).
pub async fn open_session(
    log: &EventLog,
    nats: &async_nats::Client,
    ns: &str,
    name: &str,
    session: &envelope::ExecSession,
) -> ApiResult<()> {
    let node = node_of(log, ns, name)?;
    ask_node(
        nats,
        subjects::node_exec_session(&node),
        envelope::encode(session),
        &node,
    )
    .await?;
    Ok(())
}

/// Writes `data` to the stdin of a pod's container, on its node.
pub async fn attach_input(
    log: &EventLog,
    nats: &async_nats::Client,
    ns: &str,
    name: &str,
    container: &str,
    data: Vec<u8>,
) -> ApiResult<()> {
    let node = node_of(log, ns, name)?;
    let input = envelope::AttachInput {
        namespace: ns.into(),
        pod: name.into(),
        container: container.into(),
        data,
    };
    ask_node(nats, subjects::node_attach(&node), envelope::encode(&input), &node).await?;
    Ok(())
}

/// The tail of a deleted pod's output, kept with its final status in the log.
fn kept_tail(log: &EventLog, ns: &str, name: &str, container: &str) -> ApiResult<(Bytes, u64)> {
    let revisions = log.reader().history("Pod", ns, name)?;
    let last = match revisions.last() {
        Some(rev) => log.reader().event(*rev)?,
        None => None,
    };
    let Some(ev) = last else {
        return Err(ApiError::not_found("pods", name));
    };
    let tails = ev
        .object()
        .pointer("/status/logTails")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let container = if container.is_empty() {
        ev.object()
            .pointer("/spec/containers/0/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    } else {
        container.to_string()
    };
    match tails.get(&container).and_then(Value::as_str) {
        Some(text) => Ok((Bytes::from(text.to_string()), text.len() as u64)),
        None => Err(ApiError::not_found("pods", name)),
    }
}
