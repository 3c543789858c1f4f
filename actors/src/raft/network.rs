//! Raft's messages over NATS request/reply: member N of cluster C answers on
//! `orca.raft.C.N.{append,vote,snapshot}`; bodies are JSON, answers `Result`s of Raft's own types.

use futures::StreamExt;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::BasicNode;

use super::{Raft, TypeConfig};

/// The subject prefix of a member's Raft messages.
pub fn subject(cluster: &str, member: u64) -> String {
    format!("orca.raft.{cluster}.{member}")
}

/// Makes a connection per peer.
pub struct Network {
    nats: async_nats::Client,
    cluster: String,
}

impl Network {
    /// The network of `cluster` over `nats`.
    pub fn new(nats: async_nats::Client, cluster: &str) -> Network {
        Network {
            nats,
            cluster: cluster.to_string(),
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Peer {
        Peer {
            nats: self.nats.clone(),
            target,
            subject: subject(&self.cluster, target),
        }
    }
}

/// One peer.
pub struct Peer {
    nats: async_nats::Client,
    target: u64,
    subject: String,
}

impl Peer {
    async fn call<Req, Resp, E>(
        &self,
        rpc: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: serde::Serialize,
        Resp: serde::de::DeserializeOwned,
        E: std::error::Error + serde::de::DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let request = self.nats.request(format!("{}.{rpc}", self.subject), body.into());
        let answer = match tokio::time::timeout(option.hard_ttl(), request).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(RPCError::Unreachable(Unreachable::new(&e))),
            Err(e) => return Err(RPCError::Unreachable(Unreachable::new(&e))),
        };
        let result: Result<Resp, RaftError<u64, E>> =
            serde_json::from_slice(&answer.payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>> {
        self.call("snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call("vote", &rpc, &option).await
    }

    /// Half a heartbeat between tries to reach a member that is down: one that returns hears
    /// from the leader before its election timeout runs out, and does not unseat it.
    fn backoff(&self) -> openraft::network::Backoff {
        openraft::network::Backoff::new(std::iter::repeat(std::time::Duration::from_millis(50)))
    }
}

async fn answer(raft: &Raft, rpc: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let text = |e: serde_json::Error| e.to_string();
    match rpc {
        "append" => {
            let req: AppendEntriesRequest<TypeConfig> = serde_json::from_slice(body).map_err(text)?;
            serde_json::to_vec(&raft.append_entries(req).await).map_err(text)
        }
        "vote" => {
            let req: VoteRequest<u64> = serde_json::from_slice(body).map_err(text)?;
            serde_json::to_vec(&raft.vote(req).await).map_err(text)
        }
        "snapshot" => {
            let req: InstallSnapshotRequest<TypeConfig> = serde_json::from_slice(body).map_err(text)?;
            serde_json::to_vec(&raft.install_snapshot(req).await).map_err(text)
        }
        other => Err(format!("unknown Raft message {other}")),
    }
}

/// Serves member `id`'s Raft messages until the task is aborted.
pub async fn serve(
    nats: async_nats::Client,
    cluster: &str,
    id: u64,
    raft: Raft,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let mut sub = nats
        .subscribe(format!("{}.*", subject(cluster, id)))
        .await
        .map_err(|e| format!("subscribing to Raft messages: {e}"))?;
    nats.flush().await.map_err(|e| e.to_string())?;
    Ok(tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let (raft, nats) = (raft.clone(), nats.clone());
            tokio::spawn(async move {
                let rpc = msg.subject.as_str().rsplit('.').next().unwrap_or("").to_string();
                let Some(reply) = msg.reply else { return };
                match answer(&raft, &rpc, &msg.payload).await {
                    Ok(body) => {
                        let _ = nats.publish(reply, body.into()).await;
                    }
                    // A message that does not decode gets no answer: the sender times out.
                    Err(e) => tracing::warn!("raft: {e}"),
                }
            });
        }
    }))
}
