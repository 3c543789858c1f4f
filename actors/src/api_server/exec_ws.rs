//! `pods/NAME/exec` over WebSocket, as kubectl 1.32 opens it (`v5.channel.k8s.io`, or v4): the
//! command runs where the container runs; its stdout and stderr come back on channels 1 and 2 and
//! its end as a Status on channel 3 (exit code in `details.causes`). Output is sent when the
//! command ends: stdin and TTY are not streamed yet. A request without the upgrade is the JSON
//! exec (`POST` with `{"command": [...]}`).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use super::request::Query;
use super::websocket::{accept_key, frame, op, read_frame};
use super::{pods, ApiCore, ApiError, ApiResponse};

/// Subprotocols understood, best first.
pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

fn header_str(req: &HttpRequest, name: header::HeaderName) -> &str {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn status_of(out: &Value, command: &[String]) -> Value {
    match out["exitCode"].as_i64().unwrap_or(0) {
        0 => json!({"metadata": {}, "status": "Success"}),
        code => json!({"metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command {command:?}, exit code {code}"),
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}}),
    }
}

fn channel(n: u8, data: &[u8]) -> Bytes {
    let mut msg = Vec::with_capacity(data.len() + 1);
    msg.push(n);
    msg.extend_from_slice(data);
    Bytes::from(frame(op::BINARY, &msg))
}

fn error_response(e: &ApiError) -> HttpResponse {
    let resp = ApiResponse::error(e);
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(resp.status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .content_type("application/json")
    .body(resp.body)
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
    let offered: Vec<&str> = header_str(&req, header::SEC_WEBSOCKET_PROTOCOL)
        .split(',')
        .map(str::trim)
        .collect();
    let Some(protocol) = PROTOCOLS.iter().find(|p| offered.contains(p)) else {
        return error_response(&ApiError::bad_request(format!(
            "exec over WebSocket speaks {}; the client offered {offered:?}",
            PROTOCOLS.join(", ")
        )));
    };
    let q = Query::parse(req.query_string());
    let command = q.all("command");
    if command.is_empty() {
        return error_response(&ApiError::bad_request("exec needs ?command=..."));
    }
    if core.log.projection().get("Pod", &ns, &name).is_none() {
        return error_response(&ApiError::not_found("pods", &name));
    }
    let key = accept_key(header_str(&req, header::SEC_WEBSOCKET_KEY));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    // Read the client's frames: answer pings, stop at close (stdin is not passed on yet).
    let pongs = tx.clone();
    actix_web::rt::spawn(async move {
        let mut payload = payload;
        let mut buf = Vec::new();
        while let Some(Ok(chunk)) = payload.next().await {
            buf.extend_from_slice(&chunk);
            while let Some((f, used)) = read_frame(&buf) {
                buf.drain(..used);
                match f.opcode {
                    op::PING => {
                        let _ = pongs.send(Bytes::from(frame(op::PONG, &f.payload)));
                    }
                    op::CLOSE => return,
                    _ => {}
                }
            }
        }
    });
    let body = json!({"command": command, "container": q.get("container").unwrap_or("")});
    let (log, nats) = (core.log.clone(), core.nats.clone());
    actix_web::rt::spawn(async move {
        match pods::exec(&log, nats.as_ref(), &ns, &name, &body).await {
            Ok(out) => {
                for (n, key) in [(1u8, "stdout"), (2u8, "stderr")] {
                    let text = out[key].as_str().unwrap_or("");
                    if !text.is_empty() {
                        let _ = tx.send(channel(n, text.as_bytes()));
                    }
                }
                let _ = tx.send(channel(3, status_of(&out, &command).to_string().as_bytes()));
            }
            Err(e) => {
                let _ = tx.send(channel(3, &serde_json::to_vec(&e.to_status()).unwrap_or_default()));
            }
        }
        let _ = tx.send(Bytes::from(frame(op::CLOSE, &1000u16.to_be_bytes())));
    });
    let out = tokio_stream_of(rx);
    HttpResponse::SwitchingProtocols()
        .upgrade("websocket")
        .insert_header((header::SEC_WEBSOCKET_ACCEPT, key))
        .insert_header((header::SEC_WEBSOCKET_PROTOCOL, *protocol))
        .streaming(out)
}

/// The frames to send, ending after the close frame.
fn tokio_stream_of(
    rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>,
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
