//! The API server actor on NATS: answers `orca.api` requests and opens watch streams on `orca.api.watch`.

use actix::prelude::*;
use bytes::Bytes;

use super::{ApiCore, ApiRequest, ApiResponse, Reply};
use crate::bus::envelope::{self, ApiAnswer, ApiCall, WatchFrame, WatchOpen};
use crate::bus::{subjects, Error, Result};

/// Serves the API over NATS.
pub struct ApiServer {
    core: ApiCore,
    nats: async_nats::Client,
}

impl Actor for ApiServer {
    type Context = Context<Self>;
}

impl ApiServer {
    /// Subscribes (queue group `orca-api`) and starts the actor.
    pub async fn start(core: ApiCore, nats: async_nats::Client) -> Result<Addr<ApiServer>> {
        let sub = |s: &'static str| {
            let nats = nats.clone();
            async move {
                nats.queue_subscribe(s, subjects::API_QUEUE.to_string())
                    .await
                    .map_err(|e| Error::Subscribe {
                        subject: s.into(),
                        reason: e.to_string(),
                    })
            }
        };
        let calls = sub(subjects::API).await?;
        let watches = sub(subjects::API_WATCH).await?;
        Ok(ApiServer::create(move |ctx| {
            ctx.add_stream(futures::stream::select(calls, watches));
            ApiServer { core, nats }
        }))
    }
}

fn answer(resp: &ApiResponse) -> Vec<u8> {
    envelope::encode(&ApiAnswer {
        status: resp.status,
        warnings: resp.warnings.clone(),
        body: resp.body.to_vec(),
    })
}

fn bad_envelope(e: &Error) -> Vec<u8> {
    answer(&ApiResponse::error(&super::ApiError::bad_request(format!(
        "malformed request envelope: {e}"
    ))))
}

impl StreamHandler<async_nats::Message> for ApiServer {
    fn handle(&mut self, msg: async_nats::Message, _: &mut Context<Self>) {
        let Some(reply_to) = msg.reply.clone() else { return };
        let (core, nats) = (self.core.clone(), self.nats.clone());
        actix::spawn(async move {
            if msg.subject.as_str() == subjects::API_WATCH {
                serve_watch(core, nats, reply_to, &msg.payload).await;
                return;
            }
            let out = match envelope::decode::<ApiCall>(&msg.payload) {
                Ok(call) => {
                    let req = ApiRequest {
                        method: call.method,
                        path: call.path,
                        query: call.query,
                        content_type: call.content_type,
                        actor: call.actor,
                        body: Bytes::from(call.body),
                    };
                    match core.handle(req).await {
                        Reply::Done(resp) => answer(&resp),
                        Reply::Watch(_) => answer(&ApiResponse::error(&super::ApiError::bad_request(
                            "open watches on orca.api.watch",
                        ))),
                    }
                }
                Err(e) => bad_envelope(&e),
            };
            let _ = nats.publish(reply_to, out.into()).await;
        });
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

async fn serve_watch(core: ApiCore, nats: async_nats::Client, reply_to: async_nats::Subject, payload: &[u8]) {
    let open = match envelope::decode::<WatchOpen>(payload) {
        Ok(o) => o,
        Err(e) => {
            let _ = nats.publish(reply_to, bad_envelope(&e).into()).await;
            return;
        }
    };
    if !open.deliver.starts_with("orca.watch.") {
        let e = super::ApiError::bad_request("watch frames may only be delivered under orca.watch.");
        let _ = nats.publish(reply_to, answer(&ApiResponse::error(&e)).into()).await;
        return;
    }
    let req = ApiRequest {
        method: "GET".into(),
        path: open.path,
        query: open.query,
        actor: open.actor,
        ..Default::default()
    };
    let mut rx = match core.handle(req).await {
        Reply::Watch(rx) => rx,
        Reply::Done(resp) => {
            let _ = nats.publish(reply_to, answer(&resp).into()).await;
            return;
        }
    };
    let ok = ApiResponse::json(200, Bytes::from_static(b"{}"));
    if nats.publish(reply_to, answer(&ok).into()).await.is_err() {
        return;
    }
    let mut seq = 0u64;
    let mut last = 0u64;
    while let Some((revision, line)) = rx.recv().await {
        seq += 1;
        last = revision;
        let frame = WatchFrame {
            seq,
            revision,
            line: line.to_vec(),
            end: false,
        };
        if nats
            .publish(open.deliver.clone(), envelope::encode(&frame).into())
            .await
            .is_err()
        {
            return;
        }
    }
    let end = WatchFrame {
        seq: seq + 1,
        revision: last,
        line: Vec::new(),
        end: true,
    };
    let _ = nats.publish(open.deliver, envelope::encode(&end).into()).await;
}
