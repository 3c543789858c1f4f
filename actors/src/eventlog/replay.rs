//! Replay: rebuilds the state as of a revision (or a time) into a new data directory, with the log up
//! to that point, its history index and its projection, so that a read-only server can serve it.
//! `FreshLog` also serves `orca log import`.

use std::collections::BTreeMap;
use std::path::Path;

use fjall::PersistMode;

use super::writer::{history_key, object_key};
use super::{record, Error, Event, EventLog, EventType, LogOptions, Result};

/// Events copied per batch.
const CHUNK: usize = 10_000;

/// What a replay or an import produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Events written.
    pub events: u64,
    /// The last revision written.
    pub head: u64,
    /// Objects alive at that revision.
    pub objects: usize,
}

/// A new data directory being filled with records in revision order.
pub struct FreshLog {
    db: fjall::Database,
    log: fjall::Keyspace,
    objects: fjall::Keyspace,
    history: fjall::Keyspace,
    base: fjall::Keyspace,
    meta: fjall::Keyspace,
    state: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    batch: Vec<(record::Header, Vec<u8>)>,
    done: Replayed,
    first: Option<u64>,
}

impl FreshLog {
    /// Creates `dst` (which must hold no log) with the given secret key.
    pub fn create(dst: &Path, key: &[u8]) -> Result<FreshLog> {
        let err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Open {
            path: dst.display().to_string(),
            source: e,
        };
        if dst.join("log").exists() {
            return Err(err(
                "the destination already holds a log; it must be an empty directory".into(),
            ));
        }
        std::fs::create_dir_all(dst).map_err(|e| err(Box::new(e)))?;
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dst.join("secret.key"))
                .map_err(|e| err(Box::new(e)))?;
            f.write_all(key).map_err(|e| err(Box::new(e)))?;
        }
        let db = fjall::Database::builder(dst.join("log"))
            .open()
            .map_err(|e| err(Box::new(e)))?;
        Ok(FreshLog {
            log: db.keyspace("log", fjall::KeyspaceCreateOptions::default)?,
            objects: db.keyspace("objects", fjall::KeyspaceCreateOptions::default)?,
            history: db.keyspace("history", fjall::KeyspaceCreateOptions::default)?,
            base: db.keyspace("base", fjall::KeyspaceCreateOptions::default)?,
            meta: db.keyspace("meta", fjall::KeyspaceCreateOptions::default)?,
            db,
            state: BTreeMap::new(),
            batch: Vec::new(),
            done: Replayed {
                events: 0,
                head: 0,
                objects: 0,
            },
            first: None,
        })
    }

    /// Adds an object's version kept at the source's compaction horizon (before any event).
    pub fn add_base(&mut self, raw: Vec<u8>) -> Result<()> {
        let h = record::decode_header(&raw, 0)?;
        let key = object_key(&h.kind, &h.namespace, &h.name);
        self.base.insert(&key, &raw)?;
        self.state.insert(key, Some(raw));
        Ok(())
    }

    /// Adds one event with its stored record bytes (revisions must increase).
    pub fn add(&mut self, ev: Event, raw: Vec<u8>) -> Result<()> {
        let meta = ev.meta;
        let header = record::Header {
            revision: meta.revision,
            kind: meta.kind,
            namespace: meta.namespace,
            name: meta.name,
            event_type: meta.event_type,
        };
        self.add_raw(header, raw)
    }

    /// Adds one record by its header and bytes (revisions must increase).
    pub fn add_raw(&mut self, ev: record::Header, raw: Vec<u8>) -> Result<()> {
        if ev.revision <= self.done.head {
            return Err(Error::Corrupt {
                revision: ev.revision,
                reason: format!("out of order after revision {}", self.done.head),
            });
        }
        self.first.get_or_insert(ev.revision);
        self.done.head = ev.revision;
        self.done.events += 1;
        self.batch.push((ev, raw));
        if self.batch.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let mut batch = self.db.batch();
        for (ev, raw) in self.batch.drain(..) {
            self.state.insert(
                object_key(&ev.kind, &ev.namespace, &ev.name),
                (ev.event_type != EventType::Deleted).then(|| raw.clone()),
            );
            batch.insert(
                &self.history,
                history_key(&ev.kind, &ev.namespace, &ev.name, ev.revision),
                [ev.event_type as u8],
            );
            batch.insert(&self.log, ev.revision.to_be_bytes(), raw);
        }
        batch.commit()?;
        Ok(())
    }

    /// Writes the projection and the horizon, and makes everything durable.
    pub fn finish(mut self) -> Result<Replayed> {
        self.flush()?;
        let mut batch = self.db.batch();
        for (key, rec) in std::mem::take(&mut self.state) {
            if let Some(rec) = rec {
                batch.insert(&self.objects, key, rec);
                self.done.objects += 1;
            }
        }
        if let Some(first) = self.first.filter(|f| *f > 1) {
            batch.insert(&self.meta, "oldest", first.to_be_bytes());
        }
        batch.commit()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(self.done)
    }
}

/// The newest revision at or before `time_ms` (revisions' times never decrease).
pub fn revision_at_time(log: &EventLog, time_ms: u64) -> Result<u64> {
    let (mut lo, mut hi) = (log.oldest(), log.head());
    let mut found = 0;
    while lo <= hi && hi > 0 {
        let mid = lo + (hi - lo) / 2;
        match log.reader().event(mid)? {
            Some(ev) if ev.time_ms <= time_ms => {
                found = mid;
                lo = mid + 1;
            }
            Some(_) => hi = mid - 1,
            None => lo = mid + 1,
        }
    }
    Ok(found)
}

/// Copies `src`'s events up to `until` into the empty directory `dst`.
pub fn replay(src: &Path, until: u64, dst: &Path) -> Result<Replayed> {
    let source = EventLog::open(&LogOptions::new(src))?;
    let key = std::fs::read(src.join("secret.key")).map_err(|e| Error::Key {
        path: src.join("secret.key").display().to_string(),
        source: e,
    })?;
    let mut fresh = FreshLog::create(dst, &key)?;
    let until = until.min(source.head());
    if until + 1 < source.oldest() {
        return Err(Error::Compacted {
            requested: until,
            oldest: source.oldest(),
        });
    }
    // The state at the horizon first: objects unchanged since are part of every later state.
    for raw in source.reader().base_records()? {
        fresh.add_base(raw)?;
    }
    let mut next = source.oldest();
    // Records are copied as stored (same key): only their headers are read, and checked.
    while next <= until {
        let raws = source.reader().raw_range(next, until, CHUNK)?;
        let Some((last, _)) = raws.last() else { break };
        next = last + 1;
        for (rev, raw) in raws {
            let header = record::decode_header(&raw, rev)?;
            fresh.add_raw(header, raw)?;
        }
    }
    fresh.finish()
}
