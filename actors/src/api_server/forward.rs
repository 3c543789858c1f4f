//! Writes on a follower of a replicated control plane: sent to the leader over NATS
//! (`orca.member.CLUSTER.N.forward`) with the caller's authenticated identity, and answered once
//! this member has applied them, so that the caller's next read here sees its own write.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use super::status::ApiError;
use super::{ApiCore, ApiRequest, ApiResponse, Reply};
use crate::raft::{Batch, Member};

/// How long a forwarded write may take (the leader's own limits are shorter).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// This member's place in the control plane.
pub struct Replica {
    /// Its Raft member.
    pub member: Arc<Member>,
    /// Its NATS connection.
    pub nats: async_nats::Client,
    /// The NATS subject space of the control plane.
    pub cluster: String,
}

/// The subject on which member `id` takes forwarded writes.
pub fn subject(cluster: &str, id: u64) -> String {
    format!("orca.member.{cluster}.{id}.forward")
}

/// A forwarded request.
#[derive(serde::Serialize, serde::Deserialize)]
struct Forwarded {
    method: String,
    path: String,
    query: String,
    content_type: String,
    actor: String,
    identity: Option<crate::auth::Identity>,
    body: Batch,
}

/// The leader's answer, with its head after the write.
#[derive(serde::Serialize, serde::Deserialize)]
struct Answer {
    status: u16,
    body: Batch,
    warnings: Vec<String>,
    head: u64,
}

fn mutating(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

impl ApiCore {
    /// Joins this API to a replicated control plane.
    pub fn with_replica(mut self, replica: Arc<Replica>) -> ApiCore {
        self.replica = Some(replica);
        self
    }

    /// The replica to forward through, when `req` is a write and another member leads.
    pub(super) fn forward_to_leader(&self, req: &ApiRequest) -> Option<Arc<Replica>> {
        let r = self.replica.as_ref()?;
        // Writes, and the members list (only the leader knows how far each member is).
        let leaders = mutating(&req.method) || req.path == super::members::PATH;
        (leaders && r.member.leader() != Some(r.member.id)).then(|| r.clone())
    }

    pub(super) async fn forward(&self, replica: &Replica, req: ApiRequest) -> Reply {
        let Some(leader) = replica.member.leader() else {
            return Reply::Done(ApiResponse::error(&ApiError::unavailable(
                "the control plane has no leader at the moment (members are electing one); retry",
            )));
        };
        tracing::debug!("forwarding {} {} to member {leader}", req.method, req.path);
        let msg = Forwarded {
            method: req.method,
            path: req.path,
            query: req.query,
            content_type: req.content_type,
            actor: req.actor,
            identity: req.identity,
            body: Batch(req.body.to_vec()),
        };
        let body = match serde_json::to_vec(&msg) {
            Ok(b) => b,
            Err(e) => return Reply::Done(ApiResponse::error(&ApiError::internal(e.to_string()))),
        };
        let call = replica.nats.request(subject(&replica.cluster, leader), body.into());
        // A leader that dies with the write in hand never answers: stop waiting once another
        // leads (whether the write was committed is then unknown, as after any timeout).
        let mut metrics = replica.member.raft.metrics();
        let deposed = async move {
            let _ = metrics
                .wait_for(|m| m.current_leader.is_some_and(|l| l != leader))
                .await;
        };
        let answer = tokio::select! {
            r = tokio::time::timeout(FORWARD_TIMEOUT, call) => match r {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    return Reply::Done(ApiResponse::error(&ApiError::unavailable(format!(
                        "the control-plane leader (member {leader}) did not take the write: {e}; retry"
                    ))))
                }
                Err(_) => {
                    return Reply::Done(ApiResponse::error(&ApiError::unavailable(format!(
                        "the control-plane leader (member {leader}) did not answer within {FORWARD_TIMEOUT:?}; retry"
                    ))))
                }
            },
            _ = deposed => {
                return Reply::Done(ApiResponse::error(&ApiError::unavailable(format!(
                    "the control-plane leader changed (member {leader} no longer leads) while it had the write; whether it was committed is unknown: read, then retry"
                ))))
            }
        };
        let answer: Answer = match serde_json::from_slice(&answer.payload) {
            Ok(a) => a,
            Err(e) => return Reply::Done(ApiResponse::error(&ApiError::internal(e.to_string()))),
        };
        // Read your writes: answer once this member holds the leader's head after the write.
        let mut head = self.log.head_signal();
        let caught_up = tokio::time::timeout(FORWARD_TIMEOUT, head.wait_for(|h| *h >= answer.head)).await;
        if caught_up.is_err() {
            tracing::warn!(
                "this member did not apply revision {} within {FORWARD_TIMEOUT:?}",
                answer.head
            );
        }
        let mut r = ApiResponse::json(answer.status, Bytes::from(answer.body.0));
        r.warnings = answer.warnings;
        Reply::Done(r)
    }
}

/// Serves the writes forwarded to member `id` (while it leads; a member that no longer leads
/// forwards them on).
pub async fn serve(core: ApiCore, replica: Arc<Replica>) -> Result<tokio::task::JoinHandle<()>, String> {
    let mut sub = replica
        .nats
        .subscribe(subject(&replica.cluster, replica.member.id))
        .await
        .map_err(|e| format!("subscribing to forwarded writes: {e}"))?;
    Ok(tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let (core, nats) = (core.clone(), replica.nats.clone());
            tokio::spawn(async move {
                let Some(reply) = msg.reply else { return };
                let answer = match serde_json::from_slice::<Forwarded>(&msg.payload) {
                    Ok(f) => {
                        let req = ApiRequest {
                            method: f.method,
                            path: f.path,
                            query: f.query,
                            content_type: f.content_type,
                            actor: f.actor,
                            identity: f.identity,
                            body: Bytes::from(f.body.0),
                        };
                        let r = match core.handle(req).await {
                            Reply::Done(r) => r,
                            Reply::Watch(_) => {
                                ApiResponse::error(&ApiError::bad_request("a watch cannot be forwarded"))
                            }
                        };
                        Answer {
                            status: r.status,
                            body: Batch(r.body.to_vec()),
                            warnings: r.warnings,
                            head: core.log.head(),
                        }
                    }
                    Err(e) => Answer {
                        status: 400,
                        body: Batch(e.to_string().into_bytes()),
                        warnings: vec![],
                        head: 0,
                    },
                };
                if let Ok(body) = serde_json::to_vec(&answer) {
                    let _ = nats.publish(reply, body.into()).await;
                }
            });
        }
    }))
}
