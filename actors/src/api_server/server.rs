//! The API server actor on NATS: answers `orca.api` requests, opens watch streams on
//! `orca.api.watch`, and hands out the parts of answers larger than one message.

use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;

use super::{ApiCore, ApiRequest, ApiResponse, Reply};
use crate::bus::envelope::{self, ApiAnswer, ApiCall, MoreParts, PartAnswer, PartRequest, WatchFrame, WatchOpen};
use crate::bus::split::{self, PartStore};
use crate::bus::{subjects, Error, Result};

/// Serves the API over NATS.
pub struct ApiServer {
    core: ApiCore,
    out: Outbox,
}

/// What every reply needs: the connection, this server's parts subject and its held answers.
#[derive(Clone)]
struct Outbox {
    nats: async_nats::Client,
    parts_subject: String,
    parts: Arc<PartStore>,
}

/// A request on `orca.api`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallReceived(pub async_nats::Message);

/// A request on `orca.api.watch`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchRequested(pub async_nats::Message);

/// A request for one part of a large answer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PartRequested(pub async_nats::Message);

/// Whether the actor runs (for readiness).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Ping;

impl Actor for ApiServer {
    type Context = Context<Self>;
}

impl ApiServer {
    /// Subscribes (queue group `orca-api`) and starts the actor.
    pub async fn start(core: ApiCore, nats: async_nats::Client) -> Result<Addr<ApiServer>> {
        let sub = |s: String, queue: bool| {
            let nats = nats.clone();
            async move {
                let r = if queue {
                    nats.queue_subscribe(s.clone(), subjects::API_QUEUE.to_string()).await
                } else {
                    nats.subscribe(s.clone()).await
                };
                r.map_err(|e| Error::Subscribe {
                    subject: s,
                    reason: e.to_string(),
                })
            }
        };
        let parts_subject = subjects::api_parts(&uuid::Uuid::new_v4().simple().to_string());
        let calls = sub(subjects::API.into(), true).await?;
        let watches = sub(subjects::API_WATCH.into(), true).await?;
        let node_calls = sub(subjects::API_NODES.into(), true).await?;
        let node_watches = sub(subjects::API_NODES_WATCH.into(), true).await?;
        let parts = sub(parts_subject.clone(), false).await?;
        let out = Outbox {
            nats,
            parts_subject,
            parts: Arc::default(),
        };
        Ok(ApiServer::create(move |ctx| {
            ctx.add_message_stream(futures::StreamExt::map(calls, CallReceived));
            ctx.add_message_stream(futures::StreamExt::map(watches, WatchRequested));
            ctx.add_message_stream(futures::StreamExt::map(node_calls, CallReceived));
            ctx.add_message_stream(futures::StreamExt::map(node_watches, WatchRequested));
            ctx.add_message_stream(futures::StreamExt::map(parts, PartRequested));
            ApiServer { core, out }
        }))
    }
}

impl Outbox {
    /// Encodes an answer; a body too large for one message is held and its first part sent.
    fn answer(&self, resp: &ApiResponse) -> Vec<u8> {
        let size = split::body_limit(&self.nats);
        let mut answer = ApiAnswer {
            status: resp.status,
            warnings: resp.warnings.clone(),
            body: Vec::new(),
            more: None,
        };
        if resp.body.len() <= size {
            answer.body = resp.body.to_vec();
        } else {
            let parts = split::part_count(resp.body.len(), size);
            answer.body = split::part(&resp.body, 0, size).unwrap_or_default().to_vec();
            let id = self.parts.put(resp.body.clone());
            answer.more = Some(MoreParts {
                subject: self.parts_subject.clone(),
                id,
                parts,
                part_size: size as u64,
            });
        }
        envelope::encode(&answer)
    }

    fn error(&self, e: &super::ApiError) -> Vec<u8> {
        self.answer(&ApiResponse::error(e))
    }

    async fn reply(&self, to: async_nats::Subject, payload: Vec<u8>) {
        if let Err(e) = self.nats.publish(to, payload.into()).await {
            tracing::warn!("failed to send an API answer: {e}");
        }
    }
}

impl Handler<CallReceived> for ApiServer {
    type Result = ();
    fn handle(&mut self, CallReceived(msg): CallReceived, _: &mut Context<Self>) {
        let Some(reply_to) = msg.reply.clone() else { return };
        let (core, out) = (self.core.clone(), self.out.clone());
        actix::spawn(async move {
            let payload = match envelope::decode::<ApiCall>(&msg.payload) {
                Ok(call) => {
                    let identity = caller(msg.subject.as_str());
                    let req = ApiRequest {
                        method: call.method,
                        path: call.path,
                        query: call.query,
                        content_type: call.content_type,
                        // A node is recorded as itself, whatever its envelope says.
                        actor: identity.as_ref().map_or(call.actor, |i| i.user.clone()),
                        identity,
                        body: Bytes::from(call.body),
                    };
                    match core.authorize_call(&req) {
                        Err(e) => out.error(&e),
                        Ok(()) => match core.handle(req).await {
                            Reply::Done(resp) => out.answer(&resp),
                            Reply::Watch(_) => {
                                out.error(&super::ApiError::bad_request("open watches on orca.api.watch"))
                            }
                        },
                    }
                }
                Err(e) => out.error(&bad_envelope(&e)),
            };
            out.reply(reply_to, payload).await;
        });
    }
}

impl Handler<PartRequested> for ApiServer {
    type Result = ();
    fn handle(&mut self, PartRequested(msg): PartRequested, _: &mut Context<Self>) {
        let Some(reply_to) = msg.reply.clone() else { return };
        let out = self.out.clone();
        let size = split::body_limit(&out.nats);
        let answer = match envelope::decode::<PartRequest>(&msg.payload) {
            Ok(req) => match out.parts.take_part(req.id, req.index, size) {
                Some(body) => PartAnswer {
                    error: String::new(),
                    body: body.to_vec(),
                },
                None => PartAnswer {
                    error: format!(
                        "part {} of answer {} is not held (expired or already fetched)",
                        req.index, req.id
                    ),
                    body: Vec::new(),
                },
            },
            Err(e) => PartAnswer {
                error: format!("malformed part request: {e}"),
                body: Vec::new(),
            },
        };
        actix::spawn(async move { out.reply(reply_to, envelope::encode(&answer)).await });
    }
}

impl Handler<WatchRequested> for ApiServer {
    type Result = ();
    fn handle(&mut self, WatchRequested(msg): WatchRequested, _: &mut Context<Self>) {
        let Some(reply_to) = msg.reply.clone() else { return };
        let (core, out) = (self.core.clone(), self.out.clone());
        let identity = caller(msg.subject.as_str());
        actix::spawn(async move { serve_watch(core, out, reply_to, &msg.payload, identity).await });
    }
}

impl Handler<Ping> for ApiServer {
    type Result = bool;
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> bool {
        true
    }
}

/// Who calls on `subject`: a node on its own subjects (only it may publish there when NATS is
/// secured), or None for the control plane's `orca.api`.
fn caller(subject: &str) -> Option<crate::auth::Identity> {
    let node = subjects::api_subject_node(subject)?;
    Some(crate::auth::Identity::new(
        &format!("{}{node}", crate::auth::node_authz::NODE_PREFIX),
        "",
        vec![crate::auth::node_authz::NODES_GROUP.to_string()],
    ))
}

fn bad_envelope(e: &Error) -> super::ApiError {
    super::ApiError::bad_request(format!("malformed request envelope: {e}"))
}

async fn serve_watch(
    core: ApiCore,
    out: Outbox,
    reply_to: async_nats::Subject,
    payload: &[u8],
    identity: Option<crate::auth::Identity>,
) {
    let open = match envelope::decode::<WatchOpen>(payload) {
        Ok(o) => o,
        Err(e) => return out.reply(reply_to, out.error(&bad_envelope(&e))).await,
    };
    // A node's frames go where only that node may listen.
    let allowed = match identity
        .as_ref()
        .and_then(|i| i.user.strip_prefix(crate::auth::node_authz::NODE_PREFIX))
    {
        Some(node) => subjects::node_watch_stream(node, ""),
        None => "orca.watch.".to_string(),
    };
    if !open.deliver.starts_with(&allowed) {
        let e = super::ApiError::bad_request(format!("watch frames may only be delivered under {allowed}"));
        return out.reply(reply_to, out.error(&e)).await;
    }
    let req = ApiRequest {
        method: "GET".into(),
        path: open.path,
        query: open.query,
        actor: identity.as_ref().map_or(open.actor, |i| i.user.clone()),
        identity,
        ..Default::default()
    };
    if let Err(e) = core.authorize_call(&req) {
        return out.reply(reply_to, out.error(&e)).await;
    }
    let mut rx = match core.handle(req).await {
        Reply::Watch(rx) => rx,
        Reply::Done(resp) => return out.reply(reply_to, out.answer(&resp)).await,
    };
    out.reply(reply_to, out.answer(&ApiResponse::json(200, Bytes::from_static(b"{}"))))
        .await;
    let mut seq = 0u64;
    let mut last = 0u64;
    while let Some((revision, line)) = futures::StreamExt::next(&mut rx).await {
        last = revision;
        let size = split::body_limit(&out.nats);
        let parts = split::part_count(line.len(), size);
        for i in 0..parts {
            seq += 1;
            let frame = WatchFrame {
                seq,
                revision,
                line: split::part(&line, i, size).unwrap_or_default().to_vec(),
                end: false,
                more: i + 1 < parts,
            };
            if out
                .nats
                .publish(open.deliver.clone(), envelope::encode(&frame).into())
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let end = WatchFrame {
        seq: seq + 1,
        revision: last,
        line: Vec::new(),
        end: true,
        more: false,
    };
    let _ = out.nats.publish(open.deliver, envelope::encode(&end).into()).await;
}
