//! Raft's state machine: hands committed entries to the [`Machine`] and records what it applied
//! (and the membership) in the log's database; snapshots are the machine's whole state.

// The error type is openraft's, fixed by its traits.
#![allow(clippy::result_large_err)]

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, StorageError, StorageIOError,
    StoredMembership,
};

use super::{Machine, TypeConfig};

fn sm_err(e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::write_state_machine(AnyError::error(e.to_string())).into()
}

/// What was applied, kept with the log.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Applied {
    last: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
}

/// The state machine (cheap to clone).
#[derive(Clone)]
pub struct StateMachine {
    machine: Arc<dyn Machine>,
    keyspace: fjall::Keyspace,
    applied: Arc<parking_lot::Mutex<Applied>>,
    snapshot: Arc<parking_lot::Mutex<Option<Held>>>,
}

/// The last snapshot built or installed.
type Held = (SnapshotMeta<u64, BasicNode>, Vec<u8>);

impl StateMachine {
    /// Opens the record of what was applied (kept with `log`) over `machine`. The machine does not
    /// flush what it applies: when it holds less than the record says, the record goes back to
    /// the machine's last entry, and Raft applies the rest again from its log.
    pub async fn open(log: &super::log_store::LogStore, machine: Arc<dyn Machine>) -> Result<StateMachine, String> {
        let err = |e: fjall::Error| e.to_string();
        let keyspace = log
            .db()
            .keyspace("applied", fjall::KeyspaceCreateOptions::default)
            .map_err(err)?;
        let mut applied: Applied = keyspace
            .get("applied")
            .map_err(err)?
            .and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default();
        let held = machine.applied();
        if applied.last.is_some_and(|l| l.index > held) {
            let mut reader = log.clone();
            let entry = openraft::RaftLogReader::try_get_log_entries(&mut reader, held..=held)
                .await
                .map_err(|e| e.to_string())?;
            applied.last = match entry.first() {
                Some(e) => Some(e.log_id),
                None if held == 0 => None,
                // Purged behind a snapshot: the snapshot's own record stands.
                None => applied.last,
            };
        }
        Ok(StateMachine {
            machine,
            keyspace,
            applied: Arc::new(parking_lot::Mutex::new(applied)),
            snapshot: Arc::default(),
        })
    }

    fn record(&self) -> Result<(), StorageError<u64>> {
        // Not flushed: entries applied again after a crash are skipped by the machine.
        let v = serde_json::to_vec(&*self.applied.lock()).map_err(sm_err)?;
        self.keyspace.insert("applied", v).map_err(sm_err)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let applied = self.applied.lock().clone();
        let data = self.machine.snapshot().map_err(sm_err)?;
        let id = applied
            .last
            .map_or("empty".to_string(), |l| format!("{}-{}", l.leader_id, l.index));
        let meta = SnapshotMeta {
            last_log_id: applied.last,
            last_membership: applied.membership,
            snapshot_id: id,
        };
        *self.snapshot.lock() = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let a = self.applied.lock().clone();
        Ok((a.last, a.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for e in entries {
            match &e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(batch) => self.machine.apply(e.log_id.index, &batch.0).map_err(sm_err)?,
                EntryPayload::Membership(m) => {
                    self.applied.lock().membership = StoredMembership::new(Some(e.log_id), m.clone());
                }
            }
            self.applied.lock().last = Some(e.log_id);
            out.push(());
        }
        self.record()?;
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let data = snapshot.into_inner();
        let index = meta.last_log_id.map_or(0, |l| l.index);
        self.machine.restore(index, &data).map_err(sm_err)?;
        {
            let mut a = self.applied.lock();
            a.last = meta.last_log_id;
            a.membership = meta.last_membership.clone();
        }
        self.record()?;
        *self.snapshot.lock() = Some((meta.clone(), data));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        Ok(self.snapshot.lock().clone().map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
