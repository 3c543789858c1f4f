//! Reads of the log on disk: event ranges for watches and replays, and whole-log verification.

use std::sync::Arc;

use super::crypto::SecretBox;
use super::{record, Error, Event, Result};

/// Reads events from the `log` keyspace.
#[derive(Clone)]
pub struct Reader {
    pub(crate) log: fjall::Keyspace,
    pub(crate) secrets: SecretBox,
}

impl Reader {
    /// Events with revisions in `from..=to`, at most `max` of them, in order.
    pub fn range(&self, from: u64, to: u64, max: usize) -> Result<Vec<Arc<Event>>> {
        let mut out = Vec::new();
        for guard in self.log.range(from.to_be_bytes()..=to.to_be_bytes()).take(max) {
            let (key, value) = guard.into_inner()?;
            let rev = key_revision(&key);
            out.push(Arc::new(record::decode(&value, rev, &self.secrets)?));
        }
        Ok(out)
    }

    /// Checks every record: checksum, decoding, and revisions gapless from the oldest held.
    /// Returns the number of records checked and the last revision.
    pub fn verify(&self) -> Result<(u64, u64)> {
        let (mut count, mut expected) = (0u64, None::<u64>);
        for guard in self.log.iter() {
            let (key, value) = guard.into_inner()?;
            let rev = key_revision(&key);
            if let Some(want) = expected {
                if rev != want {
                    return Err(Error::Corrupt {
                        revision: want,
                        reason: format!("gap: next record is {rev}"),
                    });
                }
            }
            let ev = record::decode(&value, rev, &self.secrets)?;
            if ev.revision != rev {
                return Err(Error::Corrupt {
                    revision: rev,
                    reason: format!("record says revision {}", ev.revision),
                });
            }
            count += 1;
            expected = Some(rev + 1);
        }
        Ok((count, expected.map_or(0, |e| e - 1)))
    }
}

/// The revision a log key encodes (big-endian u64).
pub fn key_revision(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[8 - n..].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}
