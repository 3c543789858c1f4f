//! Opening the log: keyspaces, secret key, projection loaded from its keyspace (no replay of the log),
//! and the handle the API server writes and reads through.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot, watch};

use super::crypto::SecretBox;
use super::projection::Projection;
use super::reader::{key_revision, Reader};
use super::watch::WatchHub;
use super::writer::{self, Ack, Job, WriterState};
use super::{record, Error, Event, Result, Staging};

/// Journal kept before memtables are flushed: bounds how much a restart has to recover.
pub const JOURNAL_BYTES: u64 = 64 * 1024 * 1024;
/// Largest memtable of the log, object and history keyspaces: what is written stays in memory
/// until flushed, so this bounds the log's share of the resident memory.
pub const MEMTABLE_BYTES: u64 = 16 * 1024 * 1024;

/// How to open the log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Data directory; the log lives in `DIR/log`, the secret key in `DIR/secret.key`.
    pub data_dir: PathBuf,
    /// Keep at most this many events (None: keep the whole history).
    pub retain_events: Option<u64>,
    /// Drop events older than this (None: keep the whole history).
    pub retain_age: Option<std::time::Duration>,
    /// Keep the log's events within about this many bytes on disk.
    pub retain_bytes: Option<u64>,
    /// Recent events kept in memory for watchers.
    pub watch_cache: usize,
    /// fjall block cache in bytes.
    pub cache_bytes: u64,
}

impl LogOptions {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> LogOptions {
        LogOptions {
            data_dir: data_dir.into(),
            retain_events: None,
            retain_age: None,
            retain_bytes: None,
            watch_cache: 8192,
            cache_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The open event log: submit writes, read the projection, follow the log.
#[derive(Clone)]
pub struct EventLog {
    jobs: mpsc::UnboundedSender<Job>,
    projection: Arc<RwLock<Projection>>,
    hub: Arc<WatchHub>,
    reader: Reader,
    broken: Arc<parking_lot::Mutex<Option<String>>>,
}

impl EventLog {
    /// Opens (or creates) the log and starts its writer thread.
    pub fn open(opts: &LogOptions) -> Result<EventLog> {
        let (state, log) = EventLog::open_state(opts)?;
        log.start_writer(opts, move |rx| writer::run(state, rx))
    }

    /// Starts the writer thread running `run`.
    pub(crate) fn start_writer(
        mut self,
        opts: &LogOptions,
        run: impl FnOnce(mpsc::UnboundedReceiver<Job>) + Send + 'static,
    ) -> Result<EventLog> {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("orca-log-writer".into())
            .spawn(move || run(rx))
            .map_err(|e| Error::Open {
                path: opts.data_dir.display().to_string(),
                source: Box::new(e),
            })?;
        self.jobs = tx;
        Ok(self)
    }

    /// Opens (or creates) the log: the writer's state and the log without a writer yet.
    pub(crate) fn open_state(opts: &LogOptions) -> Result<(WriterState, EventLog)> {
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| Error::Open {
            path: opts.data_dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&opts.data_dir).map_err(|e| open_err(Box::new(e)))?;
        let secrets = SecretBox::load_or_create(&opts.data_dir.join("secret.key"))?;
        let db = fjall::Database::builder(opts.data_dir.join("log"))
            .cache_size(opts.cache_bytes)
            .worker_threads(1)
            .max_journaling_size(JOURNAL_BYTES)
            .open()
            .map_err(|e| open_err(Box::new(e)))?;
        let small = || fjall::KeyspaceCreateOptions::default().max_memtable_size(MEMTABLE_BYTES);
        let log = db.keyspace("log", small)?;
        let objects = db.keyspace("objects", small)?;
        let meta = db.keyspace("meta", fjall::KeyspaceCreateOptions::default)?;
        let history = db.keyspace("history", small)?;
        // Each object's last version below the compaction horizon (see `writer::compact_to`).
        let base = db.keyspace("base", small)?;

        let mut projection = Projection::default();
        for guard in objects.iter() {
            let (_, value) = guard.into_inner()?;
            let ev = record::decode(&value, 0, &secrets)?;
            projection.apply(&Arc::new(ev));
        }
        let head = match log.last_key_value() {
            Some(g) => key_revision(&g.key()?),
            None => 0,
        };
        // A member restored from a snapshot holds no events up to the snapshot's head.
        let restored = meta
            .get(super::replicated::SNAPSHOT_HEAD)?
            .map_or(0, |v| key_revision(&v));
        projection.head = projection.head.max(head).max(restored);
        projection.oldest = match meta.get("oldest")? {
            Some(v) => key_revision(&v),
            None => 1,
        };
        let head = projection.head;
        let projection = Arc::new(RwLock::new(projection));
        let hub = Arc::new(WatchHub::new(opts.watch_cache, head));
        let reader = Reader {
            log: log.clone(),
            history: history.clone(),
            base: base.clone(),
            secrets: secrets.clone(),
        };
        let broken = Arc::new(parking_lot::Mutex::new(None));
        let state = WriterState {
            broken: broken.clone(),
            db,
            log,
            objects,
            history: history.clone(),
            base,
            meta,
            secrets,
            projection: projection.clone(),
            hub: hub.clone(),
            retain_events: opts.retain_events,
            retain_age: opts.retain_age,
            retain_bytes: opts.retain_bytes,
            last_size_check: None,
            held_bytes: std::cell::Cell::new(None),
            last_age_check: None,
        };
        // No writer until one is started: a closed channel.
        let (jobs, _) = mpsc::unbounded_channel();
        Ok((
            state,
            EventLog {
                jobs,
                projection,
                hub,
                reader,
                broken,
            },
        ))
    }

    /// Runs `f` on the writer against the staged state; resolves once its changes are durable.
    pub async fn write<T: Send + 'static>(&self, f: impl FnOnce(&mut Staging) -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |st: &mut Staging| {
            let out = f(st);
            let ack: Ack = Box::new(move |durable| {
                let _ = tx.send(durable.map(|_| out));
            });
            ack
        });
        self.jobs.send(job).map_err(|_| Error::WriterGone)?;
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(reason)) => Err(Error::Open {
                path: "event log".into(),
                source: reason.into(),
            }),
            Err(_) => Err(Error::WriterGone),
        }
    }

    /// Runs `f` against a throwaway staging of the current state: every check runs, nothing is
    /// written (`dryRun=All`).
    pub fn dry_run<T>(&self, f: impl FnOnce(&mut Staging) -> T) -> T {
        let mut st = Staging::new(self.projection.clone(), super::now_ms());
        f(&mut st)
    }

    /// Whether the writer runs and accepts writes; otherwise why not.
    pub fn writer_health(&self) -> std::result::Result<(), String> {
        if self.jobs.is_closed() {
            return Err("the log writer thread has stopped".into());
        }
        match self.broken.lock().clone() {
            Some(reason) => Err(format!(
                "the log writer refuses writes after a storage failure: {reason}"
            )),
            None => Ok(()),
        }
    }

    /// Read access to the projection.
    pub fn projection(&self) -> parking_lot::RwLockReadGuard<'_, Projection> {
        self.projection.read()
    }

    /// Newest committed revision.
    pub fn head(&self) -> u64 {
        self.projection.read().head
    }

    /// Oldest revision held.
    pub fn oldest(&self) -> u64 {
        self.projection.read().oldest
    }

    /// A receiver woken when the head revision moves.
    pub fn head_signal(&self) -> watch::Receiver<u64> {
        self.hub.subscribe()
    }

    /// Events after `after`, up to `max`, from memory or disk. `Compacted` when `after` is below the
    /// horizon.
    pub fn events_after(&self, after: u64, max: usize) -> Result<Vec<Arc<Event>>> {
        let (head, oldest) = {
            let p = self.projection.read();
            (self.hub.head().min(p.head), p.oldest)
        };
        if after + 1 < oldest {
            return Err(Error::Compacted {
                requested: after,
                oldest,
            });
        }
        if after >= head {
            return Ok(Vec::new());
        }
        if let Some(evs) = self.hub.after(after, max) {
            return Ok(evs.into_iter().filter(|e| e.revision <= head).collect());
        }
        self.reader.range(after + 1, head, max)
    }

    /// Waits until the head passes `after`, then returns the next events (or `Compacted`).
    pub async fn next_events(
        &self,
        after: u64,
        signal: &mut watch::Receiver<u64>,
        max: usize,
    ) -> Result<Vec<Arc<Event>>> {
        loop {
            let head = *signal.borrow_and_update();
            if head > after {
                let evs = self.events_after(after, max)?;
                // Revisions are gapless: a first event past `after + 1` means a compaction ran
                // between the horizon check and the read, and the events between are gone.
                if evs.first().is_some_and(|e| e.revision != after + 1) {
                    return Err(Error::Compacted {
                        requested: after,
                        oldest: self.oldest(),
                    });
                }
                if !evs.is_empty() {
                    return Ok(evs);
                }
            } else if after + 1 < self.oldest() {
                return Err(Error::Compacted {
                    requested: after,
                    oldest: self.oldest(),
                });
            }
            if signal.changed().await.is_err() {
                return Err(Error::WriterGone);
            }
        }
    }

    /// Reader of the log on disk.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// The directory layout of a data dir's log.
    pub fn log_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("log")
    }
}
