//! Messages kept under the server's `max_payload`: large answers are held by the server and fetched
//! part by part, large watch lines are carried by several frames.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

/// Room left in each message for the envelope around a part.
pub const ENVELOPE_MARGIN: usize = 4096;
/// How long a large answer is held for its caller to fetch the rest.
pub const PART_TTL: Duration = Duration::from_secs(60);

/// The largest body one message may carry on this connection.
pub fn body_limit(nats: &async_nats::Client) -> usize {
    part_size(nats.max_payload())
}

/// The body size that fits a message of `max_payload` bytes with its envelope.
pub fn part_size(max_payload: usize) -> usize {
    max_payload.saturating_sub(ENVELOPE_MARGIN).max(1024)
}

/// How many parts a body of `len` bytes takes.
pub fn part_count(len: usize, size: usize) -> u32 {
    len.div_ceil(size.max(1)).max(1) as u32
}

/// The `index`th part of `body`.
pub fn part(body: &Bytes, index: u32, size: usize) -> Option<Bytes> {
    let start = index as usize * size;
    (start < body.len()).then(|| body.slice(start..(start + size).min(body.len())))
}

/// Large answers waiting for their callers to fetch the remaining parts.
#[derive(Default)]
pub struct PartStore {
    next: AtomicU64,
    held: Mutex<HashMap<u64, (Instant, Bytes)>>,
}

impl PartStore {
    /// Holds a body; returns its id.
    pub fn put(&self, body: Bytes) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut held = self.held.lock();
        held.retain(|_, (t, _)| t.elapsed() < PART_TTL);
        held.insert(id, (Instant::now(), body));
        id
    }

    /// The `index`th part of body `id`; the body is let go with its last part.
    pub fn take_part(&self, id: u64, index: u32, size: usize) -> Option<Bytes> {
        let mut held = self.held.lock();
        let (_, body) = held.get(&id)?;
        let out = part(body, index, size)?;
        if index + 1 >= part_count(body.len(), size) {
            held.remove(&id);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_body_once() {
        let body = Bytes::from((0..10_000u32).map(|i| i as u8).collect::<Vec<_>>());
        for size in [1024, 3000, 9_999, 10_000, 20_000] {
            let n = part_count(body.len(), size);
            let joined: Vec<u8> = (0..n).flat_map(|i| part(&body, i, size).unwrap().to_vec()).collect();
            assert_eq!(joined, body.to_vec(), "size {size}");
            assert!(part(&body, n, size).is_none());
        }
        assert_eq!(part_count(0, 1024), 1);
    }

    #[test]
    fn store_lets_go_after_the_last_part() {
        let store = PartStore::default();
        let id = store.put(Bytes::from(vec![7u8; 2500]));
        assert_eq!(store.take_part(id, 0, 1024).unwrap().len(), 1024);
        assert_eq!(store.take_part(id, 2, 1024).unwrap().len(), 452);
        assert!(store.take_part(id, 1, 1024).is_none(), "gone after the last part");
        assert!(store.take_part(99, 0, 1024).is_none());
    }
}
