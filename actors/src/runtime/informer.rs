//! The reflector: a paged list, then a watch from the list's revision; resume on a gap, relist on
//! 410. It keeps a [`Store`] current and hands each change to its owner.

use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;

use super::store::{Cached, Delta, Store};
use crate::bus::client::{next_backoff, ApiClient, WatchItem, RESUME_BACKOFF};

/// What an informer tells its owner.
#[derive(Debug, Clone)]
pub enum InformerEvent {
    /// The cache was (re)filled from a list; the deltas are what the list changed.
    Synced(Vec<Delta>),
    /// One object changed.
    Changed(Delta),
}

impl InformerEvent {
    /// The changes it carries, one or many.
    pub fn into_deltas(self) -> Vec<Delta> {
        match self {
            InformerEvent::Synced(d) => d,
            InformerEvent::Changed(d) => vec![d],
        }
    }
}

/// What to follow: a collection path and an optional selector query.
#[derive(Debug, Clone)]
pub struct InformerSpec {
    /// Collection path (`/api/v1/pods`).
    pub path: String,
    /// `labelSelector=..&fieldSelector=..`, or empty.
    pub query: String,
    /// Keep each object in the store; without it the store holds keys, uids and revisions only
    /// (enough to tell what a relist changed), and the owner keeps what it needs from the deltas,
    /// which carry the whole object.
    pub keep_objects: bool,
}

impl InformerSpec {
    /// Follows `path` (with `query`), keeping whole objects.
    pub fn new(path: &str, query: &str) -> InformerSpec {
        InformerSpec {
            path: path.into(),
            query: query.into(),
            keep_objects: true,
        }
    }

    /// Keeps keys, uids and revisions only in the store.
    pub fn keys_only(mut self) -> InformerSpec {
        self.keep_objects = false;
        self
    }
}

/// The copy of `c` the store keeps.
fn kept(c: &Cached, keep_objects: bool) -> Cached {
    if keep_objects {
        return c.clone();
    }
    Cached {
        key: c.key.clone(),
        uid: c.uid.clone(),
        revision: c.revision,
        header: Default::default(),
        json: bytes::Bytes::new(),
    }
}

/// Starts an informer filling `store`; its events come out of the returned stream.
pub fn start(api: ApiClient, spec: InformerSpec, store: Store) -> impl Stream<Item = InformerEvent> + Unpin {
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(run(api, spec, store, tx));
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (e, rx))
    }))
}

fn decode_all(path: &str, items: Vec<Bytes>) -> Vec<Cached> {
    items
        .into_iter()
        .filter_map(|b| match Cached::from_json(b) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("informer {path}: skipping an item: {e}");
                None
            }
        })
        .collect()
}

async fn run(api: ApiClient, spec: InformerSpec, store: Store, tx: mpsc::Sender<InformerEvent>) {
    let mut pause = RESUME_BACKOFF;
    let mut warned = false;
    loop {
        let list = match api.list_raw(&spec.path, &spec.query).await {
            Ok(l) => l,
            Err(e) => {
                if !warned {
                    tracing::warn!("informer {}: list failed: {e}; retrying with back-off", spec.path);
                    warned = true;
                }
                tokio::time::sleep(pause).await;
                pause = next_backoff(pause);
                if tx.is_closed() {
                    return;
                }
                continue;
            }
        };
        pause = RESUME_BACKOFF;
        warned = false;
        let items = decode_all(&spec.path, list.items);
        let mut deltas = store.replace(
            items.iter().map(|c| kept(c, spec.keep_objects)).collect(),
            list.revision,
        );
        if !spec.keep_objects {
            let full: std::collections::HashMap<_, _> = items.into_iter().map(|c| (c.key.clone(), c)).collect();
            for d in &mut deltas {
                if let Some(c) = d.new.as_ref().and_then(|_| full.get(&d.key)) {
                    d.new = Some(std::sync::Arc::new(c.clone()));
                }
            }
        }
        if tx.send(InformerEvent::Synced(deltas)).await.is_err() {
            return;
        }
        let mut watch = api.watch_raw(&spec.path, &spec.query, list.revision);
        while let Some(item) = watch.recv().await {
            match item {
                WatchItem::Event(ev) => match Cached::from_json(ev.object) {
                    Ok(c) => {
                        let mut delta = store.apply(&ev.event_type, kept(&c, spec.keep_objects), ev.revision);
                        if !spec.keep_objects && delta.new.is_some() {
                            delta.new = Some(std::sync::Arc::new(c));
                        }
                        if tx.send(InformerEvent::Changed(delta)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!("informer {}: revision {}: {e}", spec.path, ev.revision),
                },
                WatchItem::Progress(rev) => store.advance(rev),
                WatchItem::Expired(why) => {
                    tracing::warn!("informer {}: {why}; listing again", spec.path);
                    break;
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
