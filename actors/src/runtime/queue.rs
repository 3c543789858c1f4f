//! A work queue of keys: repeats collapse, a key is never worked on twice at once, and failures
//! back off per key exponentially.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

/// First retry delay after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_millis(5);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Keys waiting for work.
#[derive(Debug)]
pub struct WorkQueue<K: Eq + Hash + Clone> {
    order: VecDeque<K>,
    queued: HashSet<K>,
    active: HashSet<K>,
    again: HashSet<K>,
    failures: HashMap<K, u32>,
}

impl<K: Eq + Hash + Clone> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            order: VecDeque::new(),
            queued: HashSet::new(),
            active: HashSet::new(),
            again: HashSet::new(),
            failures: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> WorkQueue<K> {
    /// Adds a key; a key already waiting is not added twice, one being worked on runs again after.
    pub fn add(&mut self, key: K) {
        if self.active.contains(&key) {
            self.again.insert(key);
        } else if self.queued.insert(key.clone()) {
            self.order.push_back(key);
        }
    }

    /// The next key to work on, marked active.
    pub fn take(&mut self) -> Option<K> {
        let key = self.order.pop_front()?;
        self.queued.remove(&key);
        self.active.insert(key.clone());
        Some(key)
    }

    /// Work on a key has finished; if it was added meanwhile, it waits again.
    pub fn done(&mut self, key: &K) {
        self.active.remove(key);
        if self.again.remove(key) {
            self.add(key.clone());
        }
    }

    /// Records a failure of a key and returns how long to wait before retrying it.
    pub fn failed(&mut self, key: &K) -> Duration {
        let n = self.failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        backoff(*n)
    }

    /// Forgets a key's failures after a success.
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// Keys waiting.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The delay after `failures` failures in a row: 5 ms doubling, at most a minute.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    (BACKOFF_BASE * 2u32.pow(exp)).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_collapse_and_active_keys_wait() {
        let mut q = WorkQueue::default();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.take(), Some("a"));
        q.add("a");
        assert_eq!(q.take(), Some("b"), "an active key is not handed out again");
        assert_eq!(q.take(), None);
        q.done(&"a");
        assert_eq!(q.take(), Some("a"), "added while active: runs again after");
        q.done(&"a");
        q.done(&"b");
        assert!(q.is_empty());
    }

    #[test]
    fn failures_back_off_per_key() {
        let mut q: WorkQueue<&str> = WorkQueue::default();
        assert_eq!(q.failed(&"a"), Duration::from_millis(5));
        assert_eq!(q.failed(&"a"), Duration::from_millis(10));
        assert_eq!(q.failed(&"b"), Duration::from_millis(5));
        q.forget(&"a");
        assert_eq!(q.failed(&"a"), Duration::from_millis(5));
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
