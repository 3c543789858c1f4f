//! Replay: rebuilds the state as of a revision (or a time) into a new data directory, with the log up
//! to that point, its history index and its projection, so that a read-only server can serve it.

use std::collections::BTreeMap;
use std::path::Path;

use fjall::PersistMode;

use super::crypto::SecretBox;
use super::writer::{history_key, object_key};
use super::{record, Error, EventLog, EventType, LogOptions, Result};

/// Events copied per batch.
const CHUNK: usize = 10_000;

/// What a replay produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Events copied.
    pub events: u64,
    /// The last revision copied.
    pub head: u64,
    /// Objects alive at that revision.
    pub objects: usize,
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
    let open_err = |e: std::io::Error| Error::Open {
        path: dst.display().to_string(),
        source: Box::new(e),
    };
    if dst.join("log").exists() {
        return Err(Error::Open {
            path: dst.display().to_string(),
            source: "the destination already holds a log; replay needs an empty directory".into(),
        });
    }
    let source = EventLog::open(&LogOptions::new(src))?;
    std::fs::create_dir_all(dst).map_err(open_err)?;
    let key = std::fs::read(src.join("secret.key")).map_err(open_err)?;
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dst.join("secret.key"))
            .map_err(open_err)?;
        f.write_all(&key).map_err(open_err)?;
    }
    let secrets = SecretBox::load_or_create(&dst.join("secret.key"))?;
    let db = fjall::Database::builder(dst.join("log"))
        .open()
        .map_err(|e| Error::Open {
            path: dst.display().to_string(),
            source: Box::new(e),
        })?;
    let log = db.keyspace("log", fjall::KeyspaceCreateOptions::default)?;
    let objects = db.keyspace("objects", fjall::KeyspaceCreateOptions::default)?;
    let history = db.keyspace("history", fjall::KeyspaceCreateOptions::default)?;
    let meta = db.keyspace("meta", fjall::KeyspaceCreateOptions::default)?;
    let until = until.min(source.head());
    let oldest = source.oldest();
    let mut state: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    let (mut next, mut copied, mut head) = (oldest, 0u64, 0u64);
    while next <= until {
        let events = source.reader().range(next, until, CHUNK)?;
        let Some(last) = events.last() else { break };
        next = last.revision + 1;
        let mut batch = db.batch();
        for ev in &events {
            let rec = record::encode(ev, &secrets)?;
            let key = object_key(&ev.kind, &ev.namespace, &ev.name);
            state.insert(key, (ev.event_type != EventType::Deleted).then(|| rec.clone()));
            batch.insert(
                &history,
                history_key(&ev.kind, &ev.namespace, &ev.name, ev.revision),
                [ev.event_type as u8],
            );
            batch.insert(&log, ev.revision.to_be_bytes(), rec);
            copied += 1;
            head = ev.revision;
        }
        batch.commit()?;
    }
    let mut batch = db.batch();
    let mut alive = 0;
    for (key, rec) in state {
        if let Some(rec) = rec {
            batch.insert(&objects, key, rec);
            alive += 1;
        }
    }
    if oldest > 1 {
        batch.insert(&meta, "oldest", oldest.to_be_bytes());
    }
    batch.commit()?;
    db.persist(PersistMode::SyncAll)?;
    Ok(Replayed {
        events: copied,
        head,
        objects: alive,
    })
}
