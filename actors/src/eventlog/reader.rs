//! Reads of the log on disk: event ranges for watches and replays, and whole-log verification.

use std::sync::Arc;

use super::crypto::SecretBox;
use super::{record, Error, Event, Result};

/// Reads events from the `log` keyspace.
#[derive(Clone)]
pub struct Reader {
    pub(crate) log: fjall::Keyspace,
    pub(crate) history: fjall::Keyspace,
    /// Each object's last version below the compaction horizon.
    pub(crate) base: fjall::Keyspace,
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

    /// Stored record bytes of `from..=to`, at most `max`, undecoded.
    pub fn raw_range(&self, from: u64, to: u64, max: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        for guard in self.log.range(from.to_be_bytes()..=to.to_be_bytes()).take(max) {
            let (key, value) = guard.into_inner()?;
            out.push((key_revision(&key), value.to_vec()));
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

impl Reader {
    /// One event by revision; `None` when compacted (or never written).
    pub fn event(&self, revision: u64) -> Result<Option<Arc<Event>>> {
        match self.log.get(revision.to_be_bytes())? {
            Some(v) => Ok(Some(Arc::new(record::decode(&v, revision, &self.secrets)?))),
            None => Ok(None),
        }
    }

    /// Every revision that touched an object (all its lives), oldest first, from the history index.
    pub fn history(&self, kind: &str, namespace: &str, name: &str) -> Result<Vec<u64>> {
        let mut prefix = super::writer::object_key(kind, namespace, name);
        prefix.push(0);
        let mut out = Vec::new();
        for guard in self.history.prefix(&prefix) {
            let key = guard.key()?;
            out.push(key_revision(&key[key.len().saturating_sub(8)..]));
        }
        Ok(out)
    }

    /// Every record kept at the compaction horizon.
    pub fn base_records(&self) -> Result<Vec<Vec<u8>>> {
        self.base.iter().map(|g| Ok(g.into_inner()?.1.to_vec())).collect()
    }

    /// The object's last version below the compaction horizon, if it was alive there.
    pub fn base(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<Arc<Event>>> {
        match self.base.get(super::writer::object_key(kind, namespace, name))? {
            Some(v) => Ok(Some(Arc::new(record::decode(&v, 0, &self.secrets)?))),
            None => Ok(None),
        }
    }

    /// The object as it was at `revision` (at or above the horizon): the newest event at or below
    /// it, unless that was a delete; the version kept at the horizon when none is held.
    pub fn at(&self, kind: &str, namespace: &str, name: &str, revision: u64) -> Result<Option<Arc<Event>>> {
        let Some(rev) = self
            .history(kind, namespace, name)?
            .into_iter()
            .filter(|r| *r <= revision)
            .max()
        else {
            return Ok(self.base(kind, namespace, name)?.filter(|e| e.revision <= revision));
        };
        Ok(self.event(rev)?.filter(|e| e.event_type != super::EventType::Deleted))
    }

    /// Every object of a kind (in one namespace or all) as it was at `revision`, from the index.
    pub fn list_at(&self, kind: &str, namespace: Option<&str>, revision: u64) -> Result<Vec<Arc<Event>>> {
        let mut prefix = kind.as_bytes().to_vec();
        prefix.push(0);
        if let Some(ns) = namespace {
            prefix.extend_from_slice(ns.as_bytes());
            prefix.push(0);
        }
        let mut newest: Vec<(Vec<u8>, u64, u8)> = Vec::new();
        for guard in self.history.prefix(&prefix) {
            let (key, value) = guard.into_inner()?;
            if key.len() < 9 {
                continue;
            }
            let (object, rev) = key.split_at(key.len() - 8);
            let rev = key_revision(rev);
            if rev > revision {
                continue;
            }
            let kind_byte = value.first().copied().unwrap_or(0);
            match newest.last_mut() {
                Some(last) if last.0 == object => {
                    last.1 = rev;
                    last.2 = kind_byte;
                }
                _ => newest.push((object.to_vec(), rev, kind_byte)),
            }
        }
        let mut out: Vec<(Vec<u8>, Arc<Event>)> = Vec::new();
        let seen: std::collections::HashSet<Vec<u8>> = newest.iter().map(|n| n.0.clone()).collect();
        for (object, rev, kind_byte) in newest {
            if kind_byte == super::EventType::Deleted as u8 {
                continue;
            }
            if let Some(ev) = self.event(rev)? {
                out.push((object, ev));
            }
        }
        // Objects unchanged since the horizon: their version kept there.
        // (History keys hold the object's key and a NUL before the revision.)
        for guard in self.base.prefix(&prefix) {
            let (object, raw) = guard.into_inner()?;
            let mut object = object.to_vec();
            object.push(0);
            if seen.contains(&object) {
                continue;
            }
            let ev = record::decode(&raw, 0, &self.secrets)?;
            if ev.revision <= revision {
                out.push((object, Arc::new(ev)));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().map(|(_, ev)| ev).collect())
    }
}

/// The revision a log key encodes (big-endian u64).
pub fn key_revision(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[8 - n..].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}
