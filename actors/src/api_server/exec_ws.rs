//! `pods/NAME/exec` over WebSocket, as kubectl 1.32 opens it (`v5.channel.k8s.io`, or v4): the
//! command runs where the container runs, in a session on its node (`node/exec_session.rs`);
//! stdin arrives on channel 0, terminal resizes on 4; stdout and stderr (or the terminal) go back
//! on 1 and 2 as they come, and the end as a Status on channel 3 (exit code in
//! `details.causes`). A request without the upgrade is the JSON exec (`POST` with
//! `{"command": [...]}`).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use super::request::Query;
use super::websocket::{accept_key, frame, op, read_frame};
use super::{pods, ApiCore, ApiError, ApiResponse};
use crate::bus::envelope::{self, ExecInput, ExecOutput, ExecRequest, ExecSession};
use crate::bus::subjects;

/// How long the node may take to take one input.
const INPUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a session may stay silent before the node is taken for gone. Interactive shells are
/// silent while their user thinks, so this is long; a node that dies is noticed by the client.
const IDLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Subprotocols understood, best first.
pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

pub(super) fn header_str(req: &HttpRequest, name: header::HeaderName) -> &str {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub(super) fn status_of(out: &Value, command: &[String]) -> Value {
    match out["exitCode"].as_i64().unwrap_or(0) {
        0 => json!({"metadata": {}, "status": "Success"}),
        code => json!({"metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command {command:?}, exit code {code}"),
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}}),
    }
}

pub(super) fn channel(n: u8, data: &[u8]) -> Bytes {
    let mut msg = Vec::with_capacity(data.len() + 1);
    msg.push(n);
    msg.extend_from_slice(data);
    Bytes::from(frame(op::BINARY, &msg))
}

pub(super) fn error_response(e: &ApiError) -> HttpResponse {
    let resp = ApiResponse::error(e);
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(resp.status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .content_type("application/json")
    .body(resp.body)
}

/// The streaming subprotocol both sides speak (the client's offer, ours best first), or the error
/// naming what we speak.
pub(super) fn subprotocol(req: &HttpRequest, what: &str) -> Result<&'static str, ApiError> {
    let offered: Vec<&str> = header_str(req, header::SEC_WEBSOCKET_PROTOCOL)
        .split(',')
        .map(str::trim)
        .collect();
    PROTOCOLS.iter().find(|p| offered.contains(p)).copied().ok_or_else(|| {
        ApiError::bad_request(format!(
            "{what} over WebSocket speaks {}; the client offered {offered:?}",
            PROTOCOLS.join(", ")
        ))
    })
}

/// The exec handler.
pub async fn exec(
    req: HttpRequest,
    payload: web::Payload,
    core: web::Data<ApiCore>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    if !header_str(&req, header::UPGRADE).eq_ignore_ascii_case("websocket") {
        return super::http::api(req, payload, core).await;
    }
    let (ns, name) = path.into_inner();
    let protocol = match subprotocol(&req, "exec") {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    let q = Query::parse(req.query_string());
    let command = q.all("command");
    if command.is_empty() {
        return error_response(&ApiError::bad_request("exec needs ?command=..."));
    }
    if core.log.projection().get("Pod", &ns, &name).is_none() {
        return error_response(&ApiError::not_found("pods", &name));
    }
    let Some(nats) = core.nats.clone() else {
        return error_response(&ApiError::unavailable(
            "exec needs the NATS connection of the API server",
        ));
    };
    let yes = |k: &str| q.flag(k);
    let open = ExecSession {
        exec: ExecRequest {
            namespace: ns.clone(),
            pod: name.clone(),
            container: q.get("container").unwrap_or("").to_string(),
            command: command.clone(),
        },
        session: match pods::node_of(&core.log, &ns, &name) {
            Ok(node) => subjects::exec_session_id(&node, &uuid::Uuid::new_v4().simple().to_string()),
            Err(e) => return error_response(&e),
        },
        stdin: yes("stdin"),
        tty: yes("tty"),
    };
    let outputs = match nats.subscribe(subjects::exec_output(&open.session)).await {
        Ok(s) => s,
        Err(e) => return error_response(&ApiError::unavailable(format!("exec: {e}"))),
    };
    if let Err(e) = pods::open_session(&core.log, &nats, &ns, &name, &open).await {
        return error_response(&e);
    }
    let key = accept_key(header_str(&req, header::SEC_WEBSOCKET_KEY));
    // Bounded: a client that does not read holds the command's output back at the node.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    actix_web::rt::spawn(client_frames(payload, tx.clone(), nats.clone(), open.session.clone()));
    actix_web::rt::spawn(forward_output(outputs, tx, nats, command));
    HttpResponse::SwitchingProtocols()
        .upgrade("websocket")
        .insert_header((header::SEC_WEBSOCKET_ACCEPT, key))
        .insert_header((header::SEC_WEBSOCKET_PROTOCOL, protocol))
        .streaming(tokio_stream_of(rx))
}

/// Sends one input to the session (acknowledged by the node, so none is lost).
async fn send_input(nats: &async_nats::Client, session: &str, input: ExecInput) -> bool {
    let subject = subjects::exec_input(session);
    matches!(
        tokio::time::timeout(INPUT_TIMEOUT, nats.request(subject, envelope::encode(&input).into())).await,
        Ok(Ok(_))
    )
}

fn input() -> ExecInput {
    ExecInput {
        data: Vec::new(),
        resize: None,
        close_stdin: false,
        kill: false,
    }
}

/// Reads the client's frames: stdin (channel 0), resizes (channel 4, `{"Width":W,"Height":H}`),
/// the end of stdin (v5: channel 255 naming stream 0), pings; the client's close ends the command.
async fn client_frames(
    mut payload: web::Payload,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    nats: async_nats::Client,
    session: String,
) {
    let mut buf = Vec::new();
    'read: while let Some(Ok(chunk)) = payload.next().await {
        buf.extend_from_slice(&chunk);
        while let Some((f, used)) = read_frame(&buf) {
            buf.drain(..used);
            match f.opcode {
                op::PING => {
                    let _ = tx.try_send(Bytes::from(frame(op::PONG, &f.payload)));
                }
                op::CLOSE => break 'read,
                op::BINARY | op::TEXT if !f.payload.is_empty() => {
                    let data = &f.payload[1..];
                    let msg = match f.payload[0] {
                        0 if !data.is_empty() => ExecInput {
                            data: data.to_vec(),
                            ..input()
                        },
                        4 => {
                            let size: Value = serde_json::from_slice(data).unwrap_or_default();
                            let dim = |k: &str| size[k].as_u64().map(|v| v.min(u64::from(u16::MAX)) as u16);
                            match (dim("Width"), dim("Height")) {
                                (Some(w), Some(h)) => ExecInput {
                                    resize: Some((w, h)),
                                    ..input()
                                },
                                _ => continue,
                            }
                        }
                        255 if data.first() == Some(&0) => ExecInput {
                            close_stdin: true,
                            ..input()
                        },
                        _ => continue,
                    };
                    if !send_input(&nats, &session, msg).await {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
    // The client is gone (or closed): the command ends with it, as kubectl's does.
    send_input(&nats, &session, ExecInput { kill: true, ..input() }).await;
}

/// Passes the session's output to the client, acknowledging each piece once it is queued, and
/// ends with the exit status on channel 3.
async fn forward_output(
    mut outputs: async_nats::Subscriber,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    nats: async_nats::Client,
    command: Vec<String>,
) {
    let status = loop {
        let Ok(Some(msg)) = tokio::time::timeout(IDLE_LIMIT, outputs.next()).await else {
            break json!({"metadata": {}, "status": "Failure", "reason": "InternalError",
                "message": "the node stopped sending the command's output"});
        };
        let Ok(out) = envelope::decode::<ExecOutput>(&msg.payload) else {
            continue;
        };
        if let Some(code) = out.exit_code {
            if let Some(reply) = msg.reply {
                let _ = nats.publish(reply, Bytes::new()).await;
            }
            break status_of(&json!({"exitCode": code}), &command);
        }
        if tx.send(channel(out.stream, &out.data)).await.is_err() {
            return; // the client is gone; the node hears it from the input side
        }
        if let Some(reply) = msg.reply {
            let _ = nats.publish(reply, Bytes::new()).await;
        }
    };
    let _ = tx.send(channel(3, status.to_string().as_bytes())).await;
    let _ = tx.send(Bytes::from(frame(op::CLOSE, &1000u16.to_be_bytes()))).await;
}

/// The frames to send, ending after the close frame.
pub(super) fn tokio_stream_of(
    rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures::Stream<Item = Result<Bytes, actix_web::Error>> {
    futures::stream::unfold((rx, false), |(mut rx, closed)| async move {
        if closed {
            return None;
        }
        let b = rx.recv().await?;
        let is_close = b.first() == Some(&(0x80 | op::CLOSE));
        Some((Ok(b), (rx, is_close)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_become_statuses_as_kubectl_reads_them() {
        assert_eq!(
            status_of(&json!({"exitCode": 0}), &[]),
            json!({"metadata": {}, "status": "Success"})
        );
        let failed = status_of(&json!({"exitCode": 3}), &["false".to_string()]);
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
        assert_eq!(channel(1, b"hi").as_ref(), &[0x82, 3, 1, b'h', b'i']);
    }
}
