//! `pods/NAME/attach` over WebSocket (`kubectl attach [-i]`): the container's output from now on,
//! on channel 1, until the container ends (then a Success status on channel 3) or the client goes;
//! with `-i`, what the client sends on channel 0 goes to the stdin of a container whose spec has
//! `stdin: true` (a FIFO on its node). A terminal (`-t`) is not attachable: `kubectl exec -it` is.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use super::exec_ws::{channel, error_response, header_str, subprotocol, tokio_stream_of};
use super::request::Query;
use super::websocket::{accept_key, frame, op, read_frame};
use super::{ApiCore, ApiError};

/// The attach handler.
pub async fn attach(
    req: HttpRequest,
    payload: web::Payload,
    core: web::Data<ApiCore>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (ns, name) = path.into_inner();
    if !header_str(&req, header::UPGRADE).eq_ignore_ascii_case("websocket") {
        return error_response(&ApiError::bad_request(
            "attach is a WebSocket (v5.channel.k8s.io or v4.channel.k8s.io), as kubectl opens it",
        ));
    }
    let protocol = match subprotocol(&req, "attach") {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    let Some(pod) = core.log.projection().get("Pod", &ns, &name).map(|p| p.object()) else {
        return error_response(&ApiError::not_found("pods", &name));
    };
    let q = Query::parse(req.query_string());
    let containers = pod
        .pointer("/spec/containers")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let container = q
        .get("container")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .or_else(|| containers.first().and_then(|c| c["name"].as_str()).map(str::to_string))
        .unwrap_or_default();
    let spec = containers
        .iter()
        .find(|c| c["name"] == container.as_str())
        .cloned()
        .unwrap_or_default();
    let refusal = if q.flag("tty") {
        Some(
            "orca does not attach a terminal to a container's main process; use kubectl exec -it POD -- sh".to_string(),
        )
    } else if q.flag("stdin") && spec["stdin"] != true {
        Some(format!(
            "container {container} does not take stdin: set spec.containers[].stdin: true, or use kubectl exec -it POD -- sh"
        ))
    } else {
        None
    };
    let key = accept_key(header_str(&req, header::SEC_WEBSOCKET_KEY));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    if let Some(message) = refusal {
        let status = json!({"metadata": {}, "status": "Failure", "reason": "BadRequest", "message": message});
        let _ = tx.try_send(channel(3, status.to_string().as_bytes()));
        let _ = tx.try_send(Bytes::from(frame(op::CLOSE, &1000u16.to_be_bytes())));
    } else {
        let follow = Query::parse(&format!("container={container}&tailLines=0"));
        match core.follow_log(&ns, &name, &follow) {
            Ok(mut lines) => {
                // The client's frames: stdin passed on, pings answered; its close (or its going)
                // ends the attach.
                let pongs = tx.clone();
                let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
                let (log, nats) = (core.log.clone(), core.nats.clone());
                let (ns2, name2, container2) = (ns.clone(), name.clone(), container.clone());
                actix_web::rt::spawn(async move {
                    let (mut payload, mut buf) = (payload, Vec::new());
                    while let Some(Ok(chunk)) = payload.next().await {
                        buf.extend_from_slice(&chunk);
                        while let Some((f, used)) = read_frame(&buf) {
                            buf.drain(..used);
                            match f.opcode {
                                op::PING => {
                                    let _ = pongs.try_send(Bytes::from(frame(op::PONG, &f.payload)));
                                }
                                op::CLOSE => {
                                    let _ = stop.send(());
                                    return;
                                }
                                op::BINARY | op::TEXT if f.payload.len() > 1 && f.payload[0] == 0 => {
                                    if let Some(nats) = &nats {
                                        let data = f.payload[1..].to_vec();
                                        let sent =
                                            super::pods::attach_input(&log, nats, &ns2, &name2, &container2, data)
                                                .await;
                                        if let Err(e) = sent {
                                            tracing::debug!("attach {ns2}/{name2}: {}", e.message);
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    let _ = stop.send(());
                });
                actix_web::rt::spawn(async move {
                    loop {
                        tokio::select! {
                            line = lines.next() => match line {
                                Some((_, text)) => {
                                    if tx.send(channel(1, &text)).await.is_err() {
                                        return;
                                    }
                                }
                                None => break,
                            },
                            _ = &mut stopped => return,
                        }
                    }
                    let done = json!({"metadata": {}, "status": "Success"});
                    let _ = tx.send(channel(3, done.to_string().as_bytes())).await;
                    let _ = tx.send(Bytes::from(frame(op::CLOSE, &1000u16.to_be_bytes()))).await;
                });
            }
            Err(e) => return error_response(&e),
        }
    }
    HttpResponse::SwitchingProtocols()
        .upgrade("websocket")
        .insert_header((header::SEC_WEBSOCKET_ACCEPT, key))
        .insert_header((header::SEC_WEBSOCKET_PROTOCOL, protocol))
        .streaming(tokio_stream_of(rx))
}
