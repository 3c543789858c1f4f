//! The single writer: drains every pending request, stages them, commits one fjall batch, persists once
//! (group commit), publishes the projection and the watch hub, then acknowledges them all.

use std::sync::Arc;

use fjall::PersistMode;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use super::crypto::SecretBox;
use super::projection::Projection;
use super::watch::WatchHub;
use super::{now_ms, record, Error, EventType, Staging};

/// Called once the batch holding a job's changes is durable (or failed).
pub type Ack = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A unit of work run on the writer thread against the staged state.
pub type Job = Box<dyn FnOnce(&mut Staging) -> Ack + Send>;

/// Most requests folded into one batch.
pub const MAX_BATCH: usize = 4096;

/// The keyspaces and shared state the writer updates.
pub(crate) struct WriterState {
    /// Set when a storage failure has stopped all writes.
    pub broken: Arc<parking_lot::Mutex<Option<String>>>,
    pub db: fjall::Database,
    pub log: fjall::Keyspace,
    pub objects: fjall::Keyspace,
    pub history: fjall::Keyspace,
    pub base: fjall::Keyspace,
    pub meta: fjall::Keyspace,
    pub secrets: SecretBox,
    pub projection: Arc<RwLock<Projection>>,
    pub hub: Arc<WatchHub>,
    /// Keep at most this many events (None: keep everything).
    pub retain_events: Option<u64>,
    /// Drop events older than this (None: no age limit).
    pub retain_age: Option<std::time::Duration>,
    /// Keep the log's events within about this many bytes on disk (None: no limit).
    pub retain_bytes: Option<u64>,
    /// When the size policy was last applied.
    pub last_size_check: Option<std::time::Instant>,
    /// Bytes of the records held (counted once when the size policy first runs, then kept).
    pub held_bytes: std::cell::Cell<Option<u64>>,
    /// When the age policy was last applied.
    pub last_age_check: Option<std::time::Instant>,
}

/// The key of an object in the `objects` keyspace.
pub fn object_key(kind: &str, namespace: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(kind.len() + namespace.len() + name.len() + 2);
    k.extend_from_slice(kind.as_bytes());
    k.push(0);
    k.extend_from_slice(namespace.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The key of one event in the `history` index: the object's key, a NUL, and the revision.
pub fn history_key(kind: &str, namespace: &str, name: &str, revision: u64) -> Vec<u8> {
    let mut k = object_key(kind, namespace, name);
    k.push(0);
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

/// Waits for a job, then takes every job pending behind it (up to [`MAX_BATCH`]) into `jobs`;
/// false once every sender is dropped.
pub(crate) fn next_batch(rx: &mut mpsc::UnboundedReceiver<Job>, jobs: &mut Vec<Job>) -> bool {
    let Some(first) = rx.blocking_recv() else {
        return false;
    };
    jobs.push(first);
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(j) => jobs.push(j),
            Err(_) => break,
        }
    }
    true
}

/// Runs the writer loop until every sender is dropped.
pub(crate) fn run(mut state: WriterState, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut failed: Option<String> = None;
    let mut jobs = Vec::with_capacity(256);
    while next_batch(&mut rx, &mut jobs) {
        let mut staging = Staging::new(state.projection.clone(), now_ms());
        let acks: Vec<Ack> = jobs.drain(..).map(|job| job(&mut staging)).collect();
        let outcome = match &failed {
            Some(reason) => Err(reason.clone()),
            None => commit(&state, &staging.events, &[]).map_err(|e| e.to_string()),
        };
        if let Err(reason) = &outcome {
            // A storage failure leaves the log in an unknown state: refuse further writes.
            if failed.is_none() {
                tracing::error!("event log writer refuses further writes: {reason}");
                *state.broken.lock() = Some(reason.clone());
            }
            failed.get_or_insert_with(|| reason.clone());
        } else {
            publish(&mut state, &staging.events);
        }
        for ack in acks {
            ack(outcome.clone());
        }
    }
}

/// Makes `events` durable: records, history index and objects in one fjall batch with the `meta`
/// entries given, then one fdatasync.
pub(crate) fn commit(state: &WriterState, events: &[Arc<super::Event>], meta: &[(&str, Vec<u8>)]) -> Result<(), Error> {
    commit_records(state, events, None, meta, true)
}

/// [`commit`] with the events' records when they are encoded already (`records[i]` is
/// `events[i]`'s); without `sync` when another log made them durable (Raft's).
pub(crate) fn commit_records(
    state: &WriterState,
    events: &[Arc<super::Event>],
    records: Option<&[Vec<u8>]>,
    meta: &[(&str, Vec<u8>)],
    sync: bool,
) -> Result<(), Error> {
    if events.is_empty() && meta.is_empty() {
        return Ok(());
    }
    let mut batch = state.db.batch();
    for (k, v) in meta {
        batch.insert(&state.meta, *k, v.clone());
    }
    for (i, ev) in events.iter().enumerate() {
        let rec = match records.and_then(|r| r.get(i)) {
            Some(r) => r.clone(),
            None => record::encode(ev, &state.secrets)?,
        };
        let key = object_key(&ev.kind, &ev.namespace, &ev.name);
        match ev.event_type {
            EventType::Deleted => batch.remove(&state.objects, key),
            _ => batch.insert(&state.objects, key, rec.clone()),
        }
        batch.insert(
            &state.history,
            history_key(&ev.kind, &ev.namespace, &ev.name, ev.revision),
            [ev.event_type as u8],
        );
        if let Some(held) = state.held_bytes.get() {
            state.held_bytes.set(Some(held + rec.len() as u64));
        }
        batch.insert(&state.log, ev.revision.to_be_bytes(), rec);
    }
    batch.commit()?;
    if !sync {
        return Ok(());
    }
    let fsync = std::time::Instant::now();
    state.db.persist(PersistMode::SyncData)?;
    crate::metrics::api::batch(events.len(), fsync.elapsed().as_secs_f64());
    Ok(())
}

/// Makes committed `events` visible: the projection, the watch hub, then the retention policies.
pub(crate) fn publish(state: &mut WriterState, events: &[Arc<super::Event>]) {
    if events.is_empty() {
        return;
    }
    {
        let mut proj = state.projection.write();
        for ev in events {
            proj.apply(ev);
        }
    }
    state.hub.publish(events);
    let retention = compact_if_due(state)
        .and_then(|_| compact_by_age(state))
        .and_then(|_| compact_by_size(state));
    if let Err(e) = retention {
        tracing::warn!("compaction failed: {e}");
    }
}

/// Drops the oldest events once the log holds more than the retention allows (with 10% slack so that
/// compaction runs in chunks). The horizon is recorded in the same batch.
fn compact_if_due(state: &WriterState) -> Result<(), Error> {
    let Some(retain) = state.retain_events else {
        return Ok(());
    };
    let (head, oldest) = {
        let p = state.projection.read();
        (p.head, p.oldest)
    };
    let held = head + 1 - oldest;
    if held <= retain + retain / 10 {
        return Ok(());
    }
    let new_oldest = head + 1 - retain;
    compact_to(state, new_oldest)
}

/// How often the age policy is applied.
const AGE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Drops events older than the age limit, never the newest event. Times never decrease along
/// revisions, so the cut is found by binary search.
fn compact_by_age(state: &mut WriterState) -> Result<(), Error> {
    let Some(age) = state.retain_age else { return Ok(()) };
    if state.last_age_check.is_some_and(|t| t.elapsed() < AGE_CHECK) {
        return Ok(());
    }
    state.last_age_check = Some(std::time::Instant::now());
    let cutoff = now_ms().saturating_sub(age.as_millis() as u64);
    let (head, oldest) = {
        let p = state.projection.read();
        (p.head, p.oldest)
    };
    let time_of = |rev: u64| -> Result<Option<u64>, Error> {
        match state.log.get(rev.to_be_bytes())? {
            Some(v) => Ok(Some(record::decode(&v, rev, &state.secrets)?.time_ms)),
            None => Ok(None),
        }
    };
    // The first revision newer than the cutoff.
    let (mut lo, mut hi) = (oldest, head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match time_of(mid)? {
            Some(t) if t <= cutoff => lo = mid + 1,
            _ => hi = mid,
        }
    }
    compact_to(state, lo.min(head))
}

/// Drops the oldest events while the records held take more than the size limit (as stored,
/// before the files' compression): down to 90% of it, never the head (checked once a second;
/// the disk space itself comes back as the store compacts its files).
fn compact_by_size(state: &mut WriterState) -> Result<(), Error> {
    let Some(limit) = state.retain_bytes else { return Ok(()) };
    if state.last_size_check.is_some_and(|t| t.elapsed() < AGE_CHECK) {
        return Ok(());
    }
    state.last_size_check = Some(std::time::Instant::now());
    let held = match state.held_bytes.get() {
        Some(h) => h,
        None => {
            let mut sum = 0u64;
            for guard in state.log.iter() {
                sum += guard.into_inner()?.1.len() as u64;
            }
            state.held_bytes.set(Some(sum));
            sum
        }
    };
    if held <= limit {
        return Ok(());
    }
    let (head, oldest) = {
        let p = state.projection.read();
        (p.head, p.oldest)
    };
    let mut excess = held - limit / 10 * 9;
    let mut new_oldest = oldest;
    for guard in state.log.range(oldest.to_be_bytes()..head.to_be_bytes()) {
        let (key, value) = guard.into_inner()?;
        new_oldest = super::reader::key_revision(&key) + 1;
        excess = excess.saturating_sub(value.len() as u64);
        if excess == 0 {
            break;
        }
    }
    compact_to(state, new_oldest)
}

/// Removes every event below `new_oldest` and records the new horizon. The head event always
/// stays: it is what a restart reads the head revision from, so revisions are never reused.
/// The state at the horizon stays too: each object's last version below it moves to the `base`
/// keyspace (a deleted object's leaves), so time travel to any held revision and replay from the
/// horizon still see objects unchanged since; the history index loses the removed revisions.
pub(crate) fn compact_to(state: &WriterState, new_oldest: u64) -> Result<(), Error> {
    let (oldest, head) = {
        let p = state.projection.read();
        (p.oldest, p.head)
    };
    let new_oldest = new_oldest.min(head.max(1));
    if new_oldest <= oldest {
        return Ok(());
    }
    let mut base: std::collections::BTreeMap<Vec<u8>, Option<fjall::Slice>> = Default::default();
    let mut batch = state.db.batch();
    let mut removed = 0u64;
    for guard in state.log.range(oldest.to_be_bytes()..new_oldest.to_be_bytes()) {
        let (key, raw) = guard.into_inner()?;
        removed += raw.len() as u64;
        let rev = super::reader::key_revision(&key);
        let h = super::record::decode_header(&raw, rev)?;
        batch.remove(&state.history, history_key(&h.kind, &h.namespace, &h.name, rev));
        let kept = (h.event_type != super::EventType::Deleted).then_some(raw);
        base.insert(object_key(&h.kind, &h.namespace, &h.name), kept);
    }
    for rev in oldest..new_oldest {
        batch.remove(&state.log, rev.to_be_bytes());
    }
    for (object, kept) in base {
        match kept {
            Some(raw) => batch.insert(&state.base, object, raw),
            None => batch.remove(&state.base, object),
        }
    }
    batch.insert(&state.meta, "oldest", new_oldest.to_be_bytes());
    batch.commit()?;
    state.db.persist(PersistMode::SyncData)?;
    state.projection.write().oldest = new_oldest;
    if let Some(held) = state.held_bytes.get() {
        state.held_bytes.set(Some(held.saturating_sub(removed)));
    }
    Ok(())
}
