//! The event log replicated through Raft: the leader's writer stages a batch as a single writer
//! does, then hands its records to Raft instead of committing them; every member (the leader too)
//! commits the batch when Raft applies it, if it was staged against the head the member holds.
//! A batch staged against an older head (a leader that changed meanwhile) is dropped on every
//! member alike and its writes fail, to be retried; so revisions stay gapless and equal everywhere.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::crypto::SecretBox;
use super::projection::Projection;
use super::reader::key_revision;
use super::recovery::{EventLog, LogOptions};
use super::writer::{self, Ack, Job, WriterState};
use super::{now_ms, record, Result, Staging};

/// Meta key: the last Raft index this log applied (written with the batch it applied).
pub const RAFT_INDEX: &str = "raft_index";
/// Meta key: the head revision of the snapshot this log was restored from.
pub const SNAPSHOT_HEAD: &str = "snapshot_head";
/// Outcomes kept for the writer to read (older ones belong to writes nobody waits for).
const OUTCOMES: usize = 4096;

/// One Raft entry: the records of a batch and the head it was staged against.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    base: u64,
    records: Vec<Vec<u8>>,
}

/// A snapshot: every object's last record and the head.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    head: u64,
    objects: Vec<(Vec<u8>, Vec<u8>)>,
}

fn encode<T: serde::Serialize>(v: &T) -> std::result::Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).map_err(|e| e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> std::result::Result<T, String> {
    bincode::serde::decode_from_slice(b, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| e.to_string())
}

/// Replicates an entry: its Raft index once a majority holds it and this member applied it.
pub type Replicate = Box<dyn Fn(Vec<u8>) -> std::result::Result<u64, String> + Send + Sync>;

/// What the writer and the state machine share.
#[derive(Default)]
pub struct Replication {
    replicate: OnceLock<Replicate>,
    outcomes: Mutex<BTreeMap<u64, bool>>,
}

impl Replication {
    /// Connects the writer to Raft (once).
    pub fn connect(&self, replicate: Replicate) {
        let _ = self.replicate.set(replicate);
    }
}

/// The Raft state machine over the log.
pub struct LogMachine {
    state: Mutex<WriterState>,
    shared: Arc<Replication>,
    applied: Mutex<u64>,
}

impl EventLog {
    /// Opens the log as a member of a replicated control plane: writes go through Raft once
    /// [`Replication::connect`] is called; the machine applies what Raft commits.
    pub fn open_replicated(opts: &LogOptions) -> Result<(EventLog, Arc<LogMachine>, Arc<Replication>)> {
        let (state, log) = EventLog::open_state(opts)?;
        let applied = state.meta.get(RAFT_INDEX)?.map_or(0, |v| key_revision(&v));
        let (projection, secrets) = (state.projection.clone(), state.secrets.clone());
        let shared = Arc::new(Replication::default());
        let machine = Arc::new(LogMachine {
            state: Mutex::new(state),
            shared: shared.clone(),
            applied: Mutex::new(applied),
        });
        let s = shared.clone();
        let log = log.start_writer(opts, move |rx| run(projection, secrets, s, rx))?;
        Ok((log, machine, shared))
    }
}

/// The leader's writer: stages batches and replicates them, one at a time, so that each is staged
/// against the state every earlier one left.
fn run(
    projection: Arc<parking_lot::RwLock<Projection>>,
    secrets: SecretBox,
    shared: Arc<Replication>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let mut jobs = Vec::with_capacity(256);
    while writer::next_batch(&mut rx, &mut jobs) {
        let mut staging = Staging::new(projection.clone(), now_ms());
        let base = staging.next_revision() - 1;
        let acks: Vec<Ack> = jobs.drain(..).map(|job| job(&mut staging)).collect();
        let outcome = if staging.events.is_empty() {
            Ok(())
        } else {
            replicate(&shared, &secrets, base, &staging)
        };
        for ack in acks {
            ack(outcome.clone());
        }
    }
}

fn replicate(
    shared: &Replication,
    secrets: &SecretBox,
    base: u64,
    staging: &Staging,
) -> std::result::Result<(), String> {
    let Some(send) = shared.replicate.get() else {
        return Err("this control-plane member is not connected to its peers yet".into());
    };
    let records = staging
        .events
        .iter()
        .map(|ev| record::encode(ev, secrets))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    let index = send(encode(&Entry { base, records })?)?;
    match shared.outcomes.lock().remove(&index) {
        Some(true) => Ok(()),
        Some(false) => Err("the write met a change of leader before it was committed; retry".into()),
        None => Err(format!("the outcome of Raft entry {index} is unknown; retry")),
    }
}

impl LogMachine {
    fn outcome(&self, index: u64, accepted: bool) {
        let mut o = self.shared.outcomes.lock();
        o.insert(index, accepted);
        while o.len() > OUTCOMES {
            o.pop_first();
        }
    }
}

impl crate::raft::Machine for LogMachine {
    fn apply(&self, index: u64, data: &[u8]) -> std::result::Result<(), String> {
        let mut applied = self.applied.lock();
        if index <= *applied {
            return Ok(());
        }
        let entry: Entry = decode(data)?;
        let mut state = self.state.lock();
        let head = state.projection.read().head;
        let mark = [(RAFT_INDEX, index.to_be_bytes().to_vec())];
        // Not flushed: Raft's log holds the entry durably, and after a crash the entries past
        // the last index recorded here are applied again.
        if entry.base != head {
            // Staged against another state: dropped here as on every member.
            writer::commit_records(&state, &[], None, &mark, false).map_err(|e| e.to_string())?;
            *applied = index;
            self.outcome(index, false);
            return Ok(());
        }
        let events = entry
            .records
            .iter()
            .map(|r| record::decode(r, 0, &state.secrets).map(Arc::new))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.to_string())?;
        writer::commit_records(&state, &events, Some(&entry.records), &mark, false).map_err(|e| e.to_string())?;
        writer::publish(&mut state, &events);
        *applied = index;
        self.outcome(index, true);
        Ok(())
    }

    fn applied(&self) -> u64 {
        *self.applied.lock()
    }

    fn snapshot(&self) -> std::result::Result<Vec<u8>, String> {
        let state = self.state.lock();
        let head = state.projection.read().head;
        let mut objects = Vec::new();
        for guard in state.objects.iter() {
            let (k, v) = guard.into_inner().map_err(|e| e.to_string())?;
            objects.push((k.to_vec(), v.to_vec()));
        }
        encode(&Snapshot { head, objects })
    }

    fn restore(&self, index: u64, data: &[u8]) -> std::result::Result<(), String> {
        let snap: Snapshot = decode(data)?;
        let state = self.state.lock();
        let err = |e: fjall::Error| e.to_string();
        let mut batch = state.db.batch();
        for ks in [&state.objects, &state.log, &state.history, &state.base] {
            for guard in ks.iter() {
                batch.remove(ks, guard.key().map_err(err)?);
            }
        }
        let mut projection = Projection::default();
        for (k, v) in &snap.objects {
            batch.insert(&state.objects, k.clone(), v.clone());
            let ev = record::decode(v, 0, &state.secrets).map_err(|e| e.to_string())?;
            projection.apply(&Arc::new(ev));
        }
        batch.insert(&state.meta, SNAPSHOT_HEAD, snap.head.to_be_bytes());
        batch.insert(&state.meta, "oldest", (snap.head + 1).to_be_bytes());
        batch.insert(&state.meta, RAFT_INDEX, index.to_be_bytes());
        batch.commit().map_err(err)?;
        state.db.persist(fjall::PersistMode::SyncData).map_err(err)?;
        projection.head = snap.head;
        projection.oldest = snap.head + 1;
        *state.projection.write() = projection;
        *self.applied.lock() = index;
        state.held_bytes.set(None);
        Ok(())
    }
}
