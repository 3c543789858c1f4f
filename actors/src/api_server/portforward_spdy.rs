//! kubectl's port-forward session: SPDY/3.1 (`spdy.rs`) carried in a WebSocket
//! (`SPDY/3.1+portforward.k8s.io`, what kubectl opens by default since 1.31). A bare
//! `Upgrade: SPDY/3.1` is not served: the HTTP server streams only WebSocket upgrades, so older
//! clients are told to tunnel. Each forwarded connection is a pair of streams with one
//! `requestid`: `error` and `data`; the data stream's bytes go to the pod's port (dialled by the
//! API server at the pod's IP) and back; the error stream carries why a connection failed and ends
//! when its data stream does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spdy::{self, kind, Frame, HeaderReader, HeaderWriter, FLAG_FIN};
use super::websocket::{self, op};

/// The WebSocket subprotocol of the tunnel.
pub const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Sends SPDY frames to the client, one binary WebSocket message each.
#[derive(Clone)]
struct Out {
    tx: mpsc::Sender<Bytes>,
}

impl Out {
    async fn send(&self, frame: Vec<u8>) -> bool {
        let b = websocket::frame(op::BINARY, &frame);
        self.tx.send(Bytes::from(b)).await.is_ok()
    }
}

struct Forward {
    to_pod: Option<mpsc::Sender<Option<Bytes>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs one session until the client goes; `rx`'s receiver is the response body.
pub async fn serve(mut payload: web::Payload, tx: mpsc::Sender<Bytes>, pod: IpAddr) {
    let out = Out { tx };
    let (mut headers_in, mut headers_out) = (HeaderReader::default(), HeaderWriter::default());
    let mut wire = Vec::new(); // bytes of the transport not yet decoded
    let mut spdy_in = Vec::new(); // SPDY bytes not yet a whole frame
    let mut error_streams: HashMap<String, u32> = HashMap::new();
    let mut forwards: HashMap<u32, Forward> = HashMap::new();
    'session: while let Some(Ok(chunk)) = payload.next().await {
        wire.extend_from_slice(&chunk);
        while let Some((f, used)) = websocket::read_frame(&wire) {
            wire.drain(..used);
            match f.opcode {
                op::BINARY | op::CONTINUATION | op::TEXT => spdy_in.extend_from_slice(&f.payload),
                op::PING => {
                    let _ = out.tx.send(Bytes::from(websocket::frame(op::PONG, &f.payload))).await;
                }
                op::CLOSE => break 'session,
                _ => {}
            }
        }
        while let Some((frame, used)) = spdy::read_frame(&spdy_in) {
            spdy_in.drain(..used);
            match frame {
                Frame::Control {
                    kind: kind::SYN_STREAM,
                    payload,
                    ..
                } => {
                    let id = spdy::stream_of(&payload);
                    let Ok(pairs) = headers_in.read(payload.get(10..).unwrap_or_default()) else {
                        break 'session; // the header stream is broken: nothing after it can be read
                    };
                    let header = |k: &str| {
                        pairs
                            .iter()
                            .find(|(n, _)| n == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    let mut reply = id.to_be_bytes().to_vec();
                    reply.extend(headers_out.block(&[]));
                    if !out.send(spdy::control(kind::SYN_REPLY, 0, &reply)).await {
                        break 'session;
                    }
                    let request = header("requestid");
                    match header("streamtype").as_str() {
                        "error" => {
                            error_streams.insert(request, id);
                        }
                        "data" => {
                            let error_stream = error_streams.get(&request).copied();
                            let port: u16 = header("port").parse().unwrap_or(0);
                            let (to_pod, from_session) = mpsc::channel(64);
                            let task = tokio::spawn(forward(
                                out.clone(),
                                id,
                                error_stream,
                                SocketAddr::new(pod, port),
                                from_session,
                            ));
                            forwards.insert(
                                id,
                                Forward {
                                    to_pod: Some(to_pod),
                                    task,
                                },
                            );
                        }
                        _ => {
                            let _ = out.send(spdy::rst_stream(id, 1)).await;
                        }
                    }
                }
                Frame::Data { stream, flags, data } => {
                    if let Some(f) = forwards.get_mut(&stream) {
                        if let Some(to_pod) = &f.to_pod {
                            if !data.is_empty() && to_pod.send(Some(Bytes::from(data))).await.is_err() {
                                f.to_pod = None;
                            }
                        }
                        if flags & FLAG_FIN != 0 {
                            if let Some(to_pod) = f.to_pod.take() {
                                let _ = to_pod.send(None).await;
                            }
                        }
                    }
                }
                Frame::Control {
                    kind: kind::RST_STREAM,
                    payload,
                    ..
                } => {
                    if let Some(f) = forwards.remove(&spdy::stream_of(&payload)) {
                        f.task.abort();
                    }
                }
                Frame::Control {
                    kind: kind::PING,
                    payload,
                    ..
                } => {
                    let _ = out.send(spdy::control(kind::PING, 0, &payload)).await;
                }
                Frame::Control { kind: kind::GOAWAY, .. } => break 'session,
                // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do (no flow control is enforced
                // by Kubernetes' SPDY peers either).
                Frame::Control { .. } => {}
            }
        }
        forwards.retain(|_, f| !f.task.is_finished());
    }
    for (_, f) in forwards {
        f.task.abort();
    }
}

/// One forwarded connection: dial the pod, copy both ways, then end the data stream and its
/// error stream.
async fn forward(
    out: Out,
    data_stream: u32,
    error_stream: Option<u32>,
    addr: SocketAddr,
    mut from_session: mpsc::Receiver<Option<Bytes>>,
) {
    let dialled = tokio::time::timeout(super::portforward::DIAL_TIMEOUT, tokio::net::TcpStream::connect(addr)).await;
    let conn = match dialled {
        Ok(Ok(c)) => c,
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".into(),
            };
            if let Some(e) = error_stream {
                let msg = format!("error forwarding port {} to pod: dial {addr}: {why}", addr.port());
                out.send(spdy::data(e, 0, msg.as_bytes())).await;
                out.send(spdy::data(e, FLAG_FIN, &[])).await;
            }
            out.send(spdy::data(data_stream, FLAG_FIN, &[])).await;
            return;
        }
    };
    let _ = conn.set_nodelay(true);
    let (mut rd, mut wr) = conn.into_split();
    let writer = tokio::spawn(async move {
        while let Some(Some(chunk)) = from_session.recv().await {
            if wr.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = BytesMut::with_capacity(32 * 1024);
    loop {
        buf.clear();
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if !out.send(spdy::data(data_stream, 0, &buf)).await {
                    writer.abort();
                    return;
                }
            }
        }
    }
    out.send(spdy::data(data_stream, FLAG_FIN, &[])).await;
    if let Some(e) = error_stream {
        out.send(spdy::data(e, FLAG_FIN, &[])).await;
    }
    writer.abort();
}
