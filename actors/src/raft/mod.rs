//! The replicated log of a control plane of several members: Raft (the `openraft` crate) over
//! NATS request/reply, its log durable on fjall, its state machine whatever a [`Machine`] applies.

pub mod log_store;
pub mod network;
pub mod state_machine;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
/// The Raft crate, for settings ([`config`] and [`Member::start`]).
pub use openraft;
use openraft::BasicNode;

/// One replicated entry's payload: bytes, carried as base64 in the JSON of Raft's messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch(pub Vec<u8>);

impl serde::Serialize for Batch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Batch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Batch, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Batch)
            .map_err(serde::de::Error::custom)
    }
}

openraft::declare_raft_types!(
    /// The Raft types of orca's control plane.
    pub TypeConfig:
        D = Batch,
        R = (),
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The Raft handle of one member.
pub type Raft = openraft::Raft<TypeConfig>;

/// What the replicated log drives. Entries come in log order; after a crash those past what the
/// machine says it holds come again (it need not flush: Raft's log is durable), so applying must
/// skip what it holds.
pub trait Machine: Send + Sync + 'static {
    /// Applies the entry at log `index`.
    fn apply(&self, index: u64, data: &[u8]) -> Result<(), String>;
    /// The index of the last entry it holds (0: none).
    fn applied(&self) -> u64;
    /// The whole state, for a member too far behind to catch up from the log.
    fn snapshot(&self) -> Result<Vec<u8>, String>;
    /// Replaces the state with a snapshot's, taken at log `index`.
    fn restore(&self, index: u64, data: &[u8]) -> Result<(), String>;
}

/// Raft timing: heartbeats every 50 ms; a follower that heard from its leader waits out the
/// leader's lease (the longest timeout, 300 ms) plus its own timeout (150-300 ms) before it stands
/// for election (openraft adds twice the longest timeout for a member whose log is behind), so
/// that a lost leader is replaced within about a second.
pub fn config() -> openraft::Config {
    openraft::Config {
        cluster_name: "orca".into(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        max_payload_entries: 256,
        // Snapshots after this many entries let the log be purged behind them.
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(50_000),
        max_in_snapshot_log_to_keep: 10_000,
        // Under NATS's 1 MB message limit.
        snapshot_max_chunk_size: 512 * 1024,
        ..Default::default()
    }
}

/// One control-plane member: its Raft, serving Raft's messages on NATS.
pub struct Member {
    /// The Raft handle.
    pub raft: Raft,
    /// This member's id.
    pub id: u64,
    server: tokio::task::JoinHandle<()>,
}

/// Why a write was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    /// Another member leads (or none is known yet): send the write there.
    #[error("not the leader (leader: {0:?})")]
    NotLeader(Option<u64>),
    /// Raft failed (stopped, storage failed).
    #[error("replication failed: {0}")]
    Failed(String),
}

impl Member {
    /// Opens the member's log in `dir` and starts it with Raft settings `config` (normally
    /// [`config`]); its peers are reached on NATS under `cluster`.
    pub async fn start(
        config: openraft::Config,
        nats: async_nats::Client,
        cluster: &str,
        id: u64,
        dir: &std::path::Path,
        machine: Arc<dyn Machine>,
    ) -> Result<Member, String> {
        let cfg = Arc::new(config.validate().map_err(|e| e.to_string())?);
        let store = log_store::LogStore::open(&dir.join("raft")).map_err(|e| e.to_string())?;
        let sm = state_machine::StateMachine::open(&store, machine)
            .await
            .map_err(|e| e.to_string())?;
        let net = network::Network::new(nats.clone(), cluster);
        let raft = Raft::new(id, cfg, net, store, sm).await.map_err(|e| e.to_string())?;
        let server = network::serve(nats, cluster, id, raft.clone()).await?;
        Ok(Member { raft, id, server })
    }

    /// Makes the first membership (once, on one member of a new cluster); a cluster already
    /// initialised says so and nothing changes.
    pub async fn initialize(&self, members: &[(u64, String)]) -> Result<(), String> {
        let m: BTreeMap<u64, BasicNode> = members.iter().map(|(id, name)| (*id, BasicNode::new(name))).collect();
        match self.raft.initialize(m).await {
            Ok(()) => Ok(()),
            Err(openraft::error::RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Replicates `data`: Ok with its log index once a majority holds it durably and this member
    /// has applied it.
    pub async fn write(&self, data: Vec<u8>) -> Result<u64, WriteError> {
        match self.raft.client_write(Batch(data)).await {
            Ok(r) => Ok(r.log_id.index),
            Err(openraft::error::RaftError::APIError(openraft::error::ClientWriteError::ForwardToLeader(f))) => {
                Err(WriteError::NotLeader(f.leader_id))
            }
            Err(e) => Err(WriteError::Failed(e.to_string())),
        }
    }

    /// The leader as this member knows it.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// Waits until some member leads (as this one sees it), up to `within`.
    pub async fn wait_leader(&self, within: Duration) -> Option<u64> {
        let wait = self.raft.wait(Some(within));
        wait.metrics(|m| m.current_leader.is_some(), "a leader")
            .await
            .ok()
            .and_then(|m| m.current_leader)
    }

    /// Stops the member (its log stays on disk); writes in flight fail.
    pub async fn shutdown(&self) {
        self.server.abort();
        let _ = self.raft.shutdown().await;
    }
}
