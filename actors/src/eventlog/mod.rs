//! The append-only event log on fjall: records, group-commit writer, projections, watches, recovery.

pub mod crypto;
pub mod event;
pub mod portable;
pub mod projection;
pub mod reader;
pub mod record;
pub mod recovery;
pub mod replay;
pub mod replicated;
pub mod staging;
pub mod watch;
pub mod writer;

pub use event::{Event, EventType, StoredObject};
pub use recovery::{EventLog, LogOptions};
pub use staging::{Change, Staging};

/// What can go wrong in the event log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// fjall failed to read, write or persist.
    #[error("event log storage failed: {0}")]
    Storage(#[from] fjall::Error),
    /// A record failed its checksum or did not decode.
    #[error("event log record {revision} is corrupt: {reason}")]
    Corrupt {
        /// Revision (or 0 for a projection record).
        revision: u64,
        /// What did not check out.
        reason: String,
    },
    /// A record was written by a newer orca.
    #[error("event log record {revision} has format version {version}, newer than this orca understands")]
    UnknownVersion {
        /// Revision of the record.
        revision: u64,
        /// The version byte found.
        version: u8,
    },
    /// The secret key could not be read or created.
    #[error("failed to use secret key file {path}: {source}")]
    Key {
        /// Key file path.
        path: String,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Sealing or opening a secret failed (wrong key or tampered record).
    #[error("failed to decrypt secret in record {revision}: wrong key or tampered record")]
    Decrypt {
        /// Revision of the record.
        revision: u64,
    },
    /// The requested revision is older than the oldest one the log holds.
    #[error("revision {requested} has been compacted; the oldest revision held is {oldest}")]
    Compacted {
        /// Revision asked for.
        requested: u64,
        /// Oldest revision still held.
        oldest: u64,
    },
    /// The writer has stopped (shutdown or an earlier storage failure).
    #[error("event log writer is not running")]
    WriterGone,
    /// Opening the data directory failed.
    #[error("failed to open event log at {path}: {source}")]
    Open {
        /// Directory path.
        path: String,
        /// Underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result with the event log's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Current time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
