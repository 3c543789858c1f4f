//! Raft's log on fjall: entries by index, the vote, the committed id and the purge point; an append
//! is acknowledged only after fdatasync.

// The error type is openraft's, fixed by its traits.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use fjall::PersistMode;
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use super::TypeConfig;

/// The log store (cheap to clone: handles of one database).
#[derive(Clone)]
pub struct LogStore {
    db: fjall::Database,
    entries: fjall::Keyspace,
    meta: fjall::Keyspace,
}

fn io_err(e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::write_logs(AnyError::error(e.to_string())).into()
}

fn read_err(e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::read_logs(AnyError::error(e.to_string())).into()
}

impl LogStore {
    /// Opens (or makes) the log in `dir`.
    pub fn open(dir: &std::path::Path) -> Result<LogStore, fjall::Error> {
        let db = fjall::Database::builder(dir).worker_threads(1).open()?;
        let entries = db.keyspace("entries", fjall::KeyspaceCreateOptions::default)?;
        let meta = db.keyspace("meta", fjall::KeyspaceCreateOptions::default)?;
        Ok(LogStore { db, entries, meta })
    }

    /// The database, shared with the state machine's record of what it applied.
    pub fn db(&self) -> fjall::Database {
        self.db.clone()
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError<u64>> {
        match self.meta.get(key).map_err(read_err)? {
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(read_err),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError<u64>> {
        let v = serde_json::to_vec(value).map_err(io_err)?;
        self.meta.insert(key, v).map_err(io_err)?;
        self.db.persist(PersistMode::SyncData).map_err(io_err)
    }

    fn last_entry(&self) -> Result<Option<Entry<TypeConfig>>, StorageError<u64>> {
        match self.entries.iter().next_back() {
            Some(guard) => {
                let (_, v) = guard.into_inner().map_err(read_err)?;
                serde_json::from_slice(&v).map(Some).map_err(read_err)
            }
            None => Ok(None),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i + 1,
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        for guard in self.entries.range(start.to_be_bytes()..) {
            let (k, v) = guard.into_inner().map_err(read_err)?;
            let index = u64::from_be_bytes(k.as_ref().try_into().map_err(read_err)?);
            if !range.contains(&index) {
                break;
            }
            out.push(serde_json::from_slice(&v).map_err(read_err)?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let last_purged: Option<LogId<u64>> = self.get_meta("purged")?;
        let last = self.last_entry()?.map(|e| e.log_id).or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.put_meta("vote", vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        self.get_meta("vote")
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        // Not flushed: a committed id lost in a crash is learned again from the leader.
        let v = serde_json::to_vec(&committed).map_err(io_err)?;
        self.meta.insert("committed", v).map_err(io_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.get_meta::<Option<LogId<u64>>>("committed")?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = self.db.batch();
        for e in entries {
            let v = serde_json::to_vec(&e).map_err(io_err)?;
            batch.insert(&self.entries, e.log_id.index.to_be_bytes(), v);
        }
        batch.commit().map_err(io_err)?;
        let flushed = self
            .db
            .persist(PersistMode::SyncData)
            .map_err(|e| std::io::Error::other(e.to_string()));
        callback.log_io_completed(flushed);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut batch = self.db.batch();
        for guard in self.entries.range(log_id.index.to_be_bytes()..) {
            let k = guard.key().map_err(io_err)?;
            batch.remove(&self.entries, k);
        }
        batch.commit().map_err(io_err)?;
        self.db.persist(PersistMode::SyncData).map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.put_meta("purged", &log_id)?;
        let mut batch = self.db.batch();
        for guard in self.entries.range(..=log_id.index.to_be_bytes()) {
            let k = guard.key().map_err(io_err)?;
            batch.remove(&self.entries, k);
        }
        batch.commit().map_err(io_err)
    }
}
