//! Paged lists (`limit`/`continue`): a continue token pins the list's revision, and every page of
//! one list comes from the same snapshot, held briefly or rebuilt from the history index.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use orca_schemas::ResourceType;

use super::read::{list_body, Filter, ListMeta};
use super::status::{ApiError, ApiResult};
use crate::eventlog::{Event, EventLog};

/// How long a list's snapshot is kept for its next page.
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(60);
/// How many snapshots are held at once; the oldest goes first.
pub const MAX_SNAPSHOTS: usize = 64;

/// What a continue token carries (base64url of this JSON, as Kubernetes does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinueToken {
    /// Revision the list is pinned to; 0 continues on the current state (an inconsistent list).
    pub rv: u64,
    /// Namespace of the last item returned.
    pub ns: String,
    /// Name of the last item returned.
    pub name: String,
}

impl ContinueToken {
    /// Encodes the token.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a token a client sent back.
    pub fn decode(text: &str) -> ApiResult<ContinueToken> {
        let bad = || ApiError::bad_request(format!("continue key is not valid: {text:?}"));
        let raw = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|_| bad())?;
        serde_json::from_slice(&raw).map_err(|_| bad())
    }
}

type SnapshotKey = (&'static str, Option<String>, u64);
type Items = Arc<Vec<Arc<Event>>>;

/// Recent list snapshots, so the pages of one list agree without a walk of the history index.
#[derive(Default)]
pub struct Snapshots {
    held: Mutex<HashMap<SnapshotKey, (Instant, Items)>>,
}

impl Snapshots {
    fn get(&self, key: &SnapshotKey) -> Option<Items> {
        let mut held = self.held.lock();
        let entry = held.get_mut(key)?;
        entry.0 = Instant::now();
        Some(entry.1.clone())
    }

    fn put(&self, key: SnapshotKey, items: Items) {
        let mut held = self.held.lock();
        held.retain(|_, (t, _)| t.elapsed() < SNAPSHOT_TTL);
        while held.len() >= MAX_SNAPSHOTS {
            let Some(oldest) = held.iter().min_by_key(|(_, (t, _))| *t).map(|(k, _)| k.clone()) else {
                break;
            };
            held.remove(&oldest);
        }
        held.insert(key, (Instant::now(), items));
    }
}

/// One page of a list: at most `limit` items after the token's position, all from one revision.
pub fn page(
    log: &EventLog,
    snapshots: &Snapshots,
    rt: &'static ResourceType,
    ns: Option<&str>,
    filter: &Filter,
    limit: usize,
    token: Option<&str>,
) -> ApiResult<Bytes> {
    let token = token.map(ContinueToken::decode).transpose()?;
    let (items, rev) = match &token {
        None | Some(ContinueToken { rv: 0, .. }) => {
            let p = log.projection();
            (Arc::new(p.list(rt.kind, ns)), p.head)
        }
        Some(t) => {
            let key = (rt.kind, ns.map(str::to_string), t.rv);
            match snapshots.get(&key) {
                Some(items) => (items, t.rv),
                None => (Arc::new(pinned(log, rt, ns, t)?), t.rv),
            }
        }
    };
    let start = match &token {
        None => 0,
        Some(t) => {
            items.partition_point(|e| (e.namespace.as_str(), e.name.as_str()) <= (t.ns.as_str(), t.name.as_str()))
        }
    };
    let mut chosen = Vec::with_capacity(limit.min(items.len()));
    let mut next = None;
    for (i, ev) in items[start..].iter().enumerate() {
        if !filter.matches(&ev.header) {
            continue;
        }
        if chosen.len() == limit {
            next = Some(start + i);
            break;
        }
        chosen.push(ev.clone());
    }
    let mut meta = ListMeta::at(rev);
    if next.is_some() {
        let last = chosen
            .last()
            .ok_or_else(|| ApiError::internal("a page ended before its first item"))?;
        meta.continue_token = Some(
            ContinueToken {
                rv: if token.as_ref().is_some_and(|t| t.rv == 0) {
                    0
                } else {
                    rev
                },
                ns: last.namespace.clone(),
                name: last.name.clone(),
            }
            .encode(),
        );
        if filter.is_empty() {
            meta.remaining = next.map(|n| items.len() - n);
        }
        if token.as_ref().is_none_or(|t| t.rv != 0) {
            snapshots.put((rt.kind, ns.map(str::to_string), rev), items.clone());
        }
    }
    Ok(list_body(rt, &chosen, &Filter::default(), &meta))
}

/// The list as of the token's revision, rebuilt from the history index; 410 with a token to go on
/// inconsistently when that revision has been compacted.
fn pinned(log: &EventLog, rt: &ResourceType, ns: Option<&str>, t: &ContinueToken) -> ApiResult<Vec<Arc<Event>>> {
    if t.rv + 1 < log.oldest() || t.rv > log.head() {
        let inconsistent = ContinueToken { rv: 0, ..t.clone() }.encode();
        return Err(ApiError::expired_continue(&inconsistent));
    }
    let mut items = log.reader().list_at(rt.kind, ns, t.rv)?;
    items.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = ContinueToken {
            rv: 42,
            ns: "default".into(),
            name: "web-1".into(),
        };
        assert_eq!(ContinueToken::decode(&t.encode()).unwrap(), t);
        let e = ContinueToken::decode("not a token!").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e.message.contains("continue key is not valid"), "{}", e.message);
    }
}
