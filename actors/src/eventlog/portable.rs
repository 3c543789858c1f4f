//! Portable logs: `orca log export` writes records as they are stored (Secrets stay sealed with the
//! source's key) or with Secret data redacted; `orca log import` rebuilds a data directory from them,
//! record for record, checking every checksum on the way.
//!
//! Format: `ORCALOG1`, a flags byte (1 = redacted, followed by the 32-byte key the redacted Secret
//! records are sealed with; 2 = a compacted log's state at its horizon follows, as a count u64 BE
//! and that many (0 u64, length u32 BE, record bytes)), then records as (revision u64 BE, length
//! u32 BE, record bytes).

use std::io::{Read, Write};
use std::path::Path;

use rand::RngCore;
use serde_json::{json, Value};

use super::crypto::SecretBox;
use super::replay::{FreshLog, Replayed};
use super::{record, Error, Event, EventLog, LogOptions, Result};

const MAGIC: &[u8; 8] = b"ORCALOG1";
const FLAG_REDACTED: u8 = 1;
const FLAG_BASE: u8 = 2;
const CHUNK: usize = 10_000;

fn io(e: std::io::Error) -> Error {
    Error::Open {
        path: "log export".into(),
        source: Box::new(e),
    }
}

fn redacted(ev: &Event) -> Event {
    let mut obj: Value = ev.object();
    if let Some(data) = obj.get_mut("data").and_then(Value::as_object_mut) {
        for v in data.values_mut() {
            *v = json!("");
        }
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(a) = meta.entry("annotations").or_insert_with(|| json!({})).as_object_mut() {
            a.insert("orca.dev/redacted".into(), json!("true"));
        }
    }
    Event::new(ev.meta.clone(), &obj)
}

/// Writes the records of `from..=to` to `out`; returns how many.
pub fn export(
    data_dir: &Path,
    from: Option<u64>,
    to: Option<u64>,
    redact_secrets: bool,
    out: &mut dyn Write,
) -> Result<u64> {
    let log = EventLog::open(&LogOptions::new(data_dir))?;
    let from = from.unwrap_or(log.oldest()).max(log.oldest());
    let to = to.unwrap_or(log.head()).min(log.head());
    let source = SecretBox::load_or_create(&data_dir.join("secret.key"))?;
    let mut key = [0u8; 32];
    // From the horizon of a compacted log: the objects kept there come first, so that an import
    // holds every object, not only those changed since.
    let base = if from == log.oldest() && log.oldest() > 1 {
        log.reader().base_records()?
    } else {
        Vec::new()
    };
    let flags = if redact_secrets { FLAG_REDACTED } else { 0 } | if base.is_empty() { 0 } else { FLAG_BASE };
    out.write_all(MAGIC).map_err(io)?;
    out.write_all(&[flags]).map_err(io)?;
    if redact_secrets {
        rand::rng().fill_bytes(&mut key);
        out.write_all(&key).map_err(io)?;
    }
    let export_box = SecretBox::from_key(key);
    let sealed = |rev: u64, raw: Vec<u8>| -> Result<Vec<u8>> {
        if !redact_secrets {
            return Ok(raw);
        }
        let ev = record::decode(&raw, rev, &source)?;
        if record::is_sealed_kind(&ev.kind) {
            record::encode(&redacted(&ev), &export_box)
        } else {
            Ok(raw)
        }
    };
    if !base.is_empty() {
        out.write_all(&(base.len() as u64).to_be_bytes()).map_err(io)?;
        for raw in base {
            let bytes = sealed(0, raw)?;
            out.write_all(&0u64.to_be_bytes()).map_err(io)?;
            out.write_all(&(bytes.len() as u32).to_be_bytes()).map_err(io)?;
            out.write_all(&bytes).map_err(io)?;
        }
    }
    let (mut next, mut count) = (from, 0u64);
    while next <= to {
        let raws = log.reader().raw_range(next, to, CHUNK)?;
        let Some((last, _)) = raws.last() else { break };
        next = last + 1;
        for (rev, raw) in raws {
            let bytes = sealed(rev, raw)?;
            out.write_all(&rev.to_be_bytes()).map_err(io)?;
            out.write_all(&(bytes.len() as u32).to_be_bytes()).map_err(io)?;
            out.write_all(&bytes).map_err(io)?;
            count += 1;
        }
    }
    out.flush().map_err(io)?;
    Ok(count)
}

/// The error of an export that ends inside the objects kept at its horizon.
fn cut_off() -> Error {
    Error::Corrupt {
        revision: 0,
        reason: "the export ends inside the objects kept at its horizon (the file is cut off)".into(),
    }
}

/// A Secret that cannot be opened says what to pass.
fn sealed_hint(e: Error) -> Error {
    match e {
        Error::Decrypt { revision } => Error::Corrupt {
            revision,
            reason:
                "a sealed Secret: pass --key with the source's DATA_DIR/secret.key, or export with --redact-secrets"
                    .into(),
        },
        other => other,
    }
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Rebuilds `dst` from an export. `key` is the source's secret key, needed for an unredacted export
/// that holds Secrets.
pub fn import(input: &mut dyn Read, dst: &Path, key: Option<&[u8]>) -> Result<Replayed> {
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic).map_err(io)?;
    if &magic != MAGIC {
        return Err(Error::Corrupt {
            revision: 0,
            reason: "not an orca log export (bad magic)".into(),
        });
    }
    let mut flags = [0u8; 1];
    input.read_exact(&mut flags).map_err(io)?;
    let key: Vec<u8> = if flags[0] & FLAG_REDACTED != 0 {
        let mut k = vec![0u8; 32];
        input.read_exact(&mut k).map_err(io)?;
        k
    } else {
        match key {
            Some(k) => k.to_vec(),
            None => {
                let mut k = vec![0u8; 32];
                rand::rng().fill_bytes(&mut k);
                k
            }
        }
    };
    let mut arr = [0u8; 32];
    if key.len() == 32 {
        arr.copy_from_slice(&key);
    } else {
        return Err(Error::Key {
            path: "--key".into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "expected 32 bytes"),
        });
    }
    let secrets = SecretBox::from_key(arr);
    let mut fresh = FreshLog::create(dst, &key)?;
    if flags[0] & FLAG_BASE != 0 {
        let mut count = [0u8; 8];
        input.read_exact(&mut count).map_err(|_| cut_off())?;
        for _ in 0..u64::from_be_bytes(count) {
            let mut head = [0u8; 12];
            input.read_exact(&mut head).map_err(|_| cut_off())?;
            let len = u32::from_be_bytes(head[8..].try_into().unwrap_or_default()) as usize;
            let mut raw = vec![0u8; len];
            input.read_exact(&mut raw).map_err(|_| cut_off())?;
            // Checked as every record is (checksum, and a sealed Secret needs the key).
            record::decode(&raw, 0, &secrets).map_err(sealed_hint)?;
            fresh.add_base(raw)?;
        }
    }
    let mut previous: Option<u64> = None;
    loop {
        let mut head = [0u8; 12];
        // The export ends cleanly only between records: a partial header is a cut-off file.
        match read_full(input, &mut head).map_err(io)? {
            0 => break,
            12 => {}
            _ => {
                return Err(Error::Corrupt {
                    revision: previous.map_or(0, |p| p + 1),
                    reason: "the export ends inside a record header (the file is cut off)".into(),
                })
            }
        }
        let rev = u64::from_be_bytes(head[..8].try_into().unwrap_or_default());
        if let Some(p) = previous {
            if rev != p + 1 {
                return Err(Error::Corrupt {
                    revision: rev,
                    reason: format!("a gap: revision {rev} follows {p} (revisions are gapless)"),
                });
            }
        }
        previous = Some(rev);
        let len = u32::from_be_bytes(head[8..].try_into().unwrap_or_default()) as usize;
        let mut raw = vec![0u8; len];
        input.read_exact(&mut raw).map_err(|_| Error::Corrupt {
            revision: rev,
            reason: "the export ends inside this record".into(),
        })?;
        let ev = record::decode(&raw, rev, &secrets).map_err(sealed_hint)?;
        if ev.revision != rev {
            return Err(Error::Corrupt {
                revision: rev,
                reason: format!("record says revision {}", ev.revision),
            });
        }
        fresh.add(ev, raw)?;
    }
    fresh.finish()
}
