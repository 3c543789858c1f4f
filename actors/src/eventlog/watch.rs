//! The watch hub: a ring of recent events shared by every watcher, and the head revision to wait on.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::watch;

use super::Event;

/// Recent events in revision order plus a head-revision signal.
pub struct WatchHub {
    ring: RwLock<VecDeque<Arc<Event>>>,
    capacity: usize,
    head: watch::Sender<u64>,
}

impl WatchHub {
    /// A hub keeping up to `capacity` recent events, starting at `head`.
    pub fn new(capacity: usize, head: u64) -> WatchHub {
        let (tx, _) = watch::channel(head);
        WatchHub {
            ring: RwLock::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity,
            head: tx,
        }
    }

    /// Publishes committed events (in revision order) and wakes the watchers.
    pub fn publish(&self, events: &[Arc<Event>]) {
        let Some(last) = events.last() else { return };
        {
            let mut ring = self.ring.write();
            for ev in events {
                if ring.len() == self.capacity {
                    ring.pop_front();
                }
                ring.push_back(ev.clone());
            }
        }
        self.head.send_replace(last.revision);
    }

    /// A receiver of the head revision.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// The newest published revision.
    pub fn head(&self) -> u64 {
        *self.head.borrow()
    }

    /// Events with revision in `(after, after+max]` from the ring, or `None` when the ring no longer
    /// holds `after + 1` (the caller then reads the log on disk).
    pub fn after(&self, after: u64, max: usize) -> Option<Vec<Arc<Event>>> {
        let ring = self.ring.read();
        let first = ring.front()?.revision;
        if after + 1 < first {
            return None;
        }
        let start = (after + 1 - first) as usize;
        Some(ring.iter().skip(start).take(max).cloned().collect())
    }
}
