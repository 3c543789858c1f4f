//! The on-disk record: a version byte, flags, a CRC-32 and a bincode body carrying the object as JSON.

use serde::{Deserialize, Serialize};

use super::crypto::SecretBox;
use super::event::EventMeta;
use super::{Error, Event, EventType, Result};

/// Current record format version.
pub const RECORD_VERSION: u8 = 1;
const FLAG_SEALED: u8 = 1;
const HEADER: usize = 6;

#[derive(Serialize, Deserialize)]
struct Body {
    revision: u64,
    time_ms: u64,
    actor: String,
    kind: String,
    namespace: String,
    name: String,
    uid: String,
    event_type: EventType,
    create_revision: u64,
    prev_revision: u64,
    object: Vec<u8>,
}

/// Whether a kind's objects are sealed at rest.
pub fn is_sealed_kind(kind: &str) -> bool {
    kind == "Secret"
}

/// Encodes an event as a record, sealing Secret objects.
pub fn encode(ev: &Event, secrets: &SecretBox) -> Result<Vec<u8>> {
    let sealed = is_sealed_kind(&ev.kind);
    let object = if sealed {
        secrets.seal(&ev.json)
    } else {
        ev.json.to_vec()
    };
    let body = Body {
        revision: ev.revision,
        time_ms: ev.time_ms,
        actor: ev.actor.clone(),
        kind: ev.kind.clone(),
        namespace: ev.namespace.clone(),
        name: ev.name.clone(),
        uid: ev.uid.clone(),
        event_type: ev.event_type,
        create_revision: ev.create_revision,
        prev_revision: ev.prev_revision,
        object,
    };
    let payload = bincode::serde::encode_to_vec(&body, bincode::config::standard()).map_err(|e| Error::Corrupt {
        revision: ev.revision,
        reason: format!("encode: {e}"),
    })?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(RECORD_VERSION);
    out.push(if sealed { FLAG_SEALED } else { 0 });
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Who a record is about, read without parsing or unsealing the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Revision.
    pub revision: u64,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Added, Modified or Deleted.
    pub event_type: EventType,
}

/// Checks a record's length, version and checksum, and decodes its body; returns the flags too.
fn checked_body(bytes: &[u8], hint: u64) -> Result<(u8, Body)> {
    if bytes.len() < HEADER {
        return Err(Error::Corrupt {
            revision: hint,
            reason: "record shorter than its header".into(),
        });
    }
    if bytes[0] != RECORD_VERSION {
        return Err(Error::UnknownVersion {
            revision: hint,
            version: bytes[0],
        });
    }
    let crc = u32::from_le_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
    let payload = &bytes[HEADER..];
    if crc32fast::hash(payload) != crc {
        return Err(Error::Corrupt {
            revision: hint,
            reason: "checksum mismatch".into(),
        });
    }
    // Bounded like NATS envelopes: a forged length never becomes a huge allocation.
    let config = bincode::config::standard().with_limit::<{ crate::bus::envelope::DECODE_LIMIT }>();
    let (body, _): (Body, usize) = bincode::serde::decode_from_slice(payload, config).map_err(|e| Error::Corrupt {
        revision: hint,
        reason: format!("decode: {e}"),
    })?;
    Ok((bytes[1], body))
}

/// Checks a record's version and checksum and reads its header only.
pub fn decode_header(bytes: &[u8], hint: u64) -> Result<Header> {
    let (_, body) = checked_body(bytes, hint)?;
    Ok(Header {
        revision: body.revision,
        kind: body.kind,
        namespace: body.namespace,
        name: body.name,
        event_type: body.event_type,
    })
}

/// Checks the header and checksum of a record and decodes it (`hint` names it in errors).
pub fn decode(bytes: &[u8], hint: u64, secrets: &SecretBox) -> Result<Event> {
    let (flags, body) = checked_body(bytes, hint)?;
    let json = if flags & FLAG_SEALED != 0 {
        secrets.open(&body.object).ok_or(Error::Decrypt {
            revision: body.revision,
        })?
    } else {
        body.object
    };
    let meta = EventMeta {
        revision: body.revision,
        time_ms: body.time_ms,
        actor: body.actor,
        kind: body.kind,
        namespace: body.namespace,
        name: body.name,
        uid: body.uid,
        event_type: body.event_type,
        create_revision: body.create_revision,
        prev_revision: body.prev_revision,
    };
    Event::from_json(meta, &json).map_err(|e| Error::Corrupt {
        revision: body.revision,
        reason: format!("object is not JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> Event {
        let obj = serde_json::json!({"kind": kind, "metadata": {"name": "a"}, "data": {"k": "c2VjcmV0"}});
        let meta = EventMeta {
            revision: 7,
            time_ms: 1,
            actor: "test".into(),
            kind: kind.into(),
            namespace: "default".into(),
            name: "a".into(),
            uid: "u".into(),
            event_type: EventType::Added,
            create_revision: 7,
            prev_revision: 0,
        };
        Event::new(meta, &obj)
    }

    #[test]
    fn round_trips_and_detects_corruption() {
        let secrets = SecretBox::from_key([7; 32]);
        for kind in ["ConfigMap", "Secret"] {
            let ev = event(kind);
            let rec = encode(&ev, &secrets).unwrap();
            let back = decode(&rec, 7, &secrets).unwrap();
            assert_eq!(back.object(), ev.object());
            assert_eq!(back.header, ev.header);
            assert_eq!(back.revision, 7);
            let mut bad = rec.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x40;
            assert!(matches!(
                decode(&bad, 7, &secrets),
                Err(Error::Corrupt { revision: 7, .. })
            ));
        }
    }

    #[test]
    fn secrets_are_not_stored_in_plaintext() {
        let secrets = SecretBox::from_key([9; 32]);
        let rec = encode(&event("Secret"), &secrets).unwrap();
        assert!(!rec.windows(8).any(|w| w == b"c2VjcmV0"));
        let other = SecretBox::from_key([1; 32]);
        assert!(matches!(decode(&rec, 7, &other), Err(Error::Decrypt { .. })));
    }
}
