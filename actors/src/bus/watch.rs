//! Watches over NATS: frames checked by sequence number, lines reassembled across frames, resumed
//! from the last revision after a gap, an idle spell or an error; an expired revision is reported so
//! that the owner lists again.

use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;

use super::client::{
    next_backoff, status_message, sub_bytes, ApiClient, CALL_TIMEOUT, NO_API, RESUME_BACKOFF, WATCH_IDLE,
};
use super::envelope::{self, ApiAnswer, WatchFrame, WatchOpen};
use super::{Error, Result};

/// One event delivered by a watch, its object decoded into a tree.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// Revision of the event.
    pub revision: u64,
    /// `ADDED`, `MODIFIED`, `DELETED` (bookmarks are not passed on).
    pub event_type: String,
    /// The object.
    pub object: Value,
}

/// One event delivered by a watch, its object as the JSON bytes the server sent.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// Revision of the event.
    pub revision: u64,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub event_type: String,
    /// The object's JSON.
    pub object: Bytes,
}

/// What a raw watch delivers.
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// A change.
    Event(RawEvent),
    /// Every event up to this revision has been delivered (a bookmark).
    Progress(u64),
    /// The revision to resume from has been compacted: list again. The stream ends after this.
    Expired(String),
}

#[derive(Deserialize)]
struct LineView<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(borrow)]
    object: &'a RawValue,
}

impl ApiClient {
    /// Follows `path` from after revision `from`, re-opening the stream on gaps, idle periods,
    /// stream ends and errors. Changes arrive once each, in revision order. When the revision to
    /// resume from is compacted the stream delivers `Expired` and ends: list again.
    pub fn watch_raw(&self, path: &str, query: &str, from: u64) -> mpsc::Receiver<WatchItem> {
        let (tx, rx) = mpsc::channel(1024);
        let (client, path, query) = (self.clone(), path.to_string(), query.to_string());
        tokio::spawn(async move {
            let mut last = from;
            let mut pause = RESUME_BACKOFF;
            let mut warned = false;
            loop {
                match client.follow(&path, &query, &mut last, &tx).await {
                    Ok(true) => {
                        pause = RESUME_BACKOFF;
                        warned = false;
                    }
                    Ok(false) => {}
                    Err(Error::Api { status: 410, message }) => {
                        let _ = tx.send(WatchItem::Expired(message)).await;
                        return;
                    }
                    Err(e) if !warned => {
                        tracing::warn!("watch {path} from {last}: {e}; resuming with back-off");
                        warned = true;
                    }
                    Err(e) => tracing::debug!("watch {path} from {last}: {e}; resuming"),
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = next_backoff(pause);
            }
        });
        rx
    }

    /// Follows `path` with each object decoded into a tree. After an expiry it resumes from the
    /// newest revision, so events below it are lost: actors use an informer, which relists.
    pub fn watch(&self, path: &str, query: &str, from: u64) -> mpsc::Receiver<WatchEvent> {
        let (tx, rx) = mpsc::channel(1024);
        let (client, path, query) = (self.clone(), path.to_string(), query.to_string());
        tokio::spawn(async move {
            let mut from = from;
            loop {
                let mut raw = client.watch_raw(&path, &query, from);
                while let Some(item) = raw.recv().await {
                    match item {
                        WatchItem::Event(ev) => {
                            from = ev.revision;
                            let Ok(object) = serde_json::from_slice(&ev.object) else {
                                tracing::warn!("watch {path}: an object at revision {} is not JSON", ev.revision);
                                continue;
                            };
                            let out = WatchEvent {
                                revision: ev.revision,
                                event_type: ev.event_type,
                                object,
                            };
                            if tx.send(out).await.is_err() {
                                return;
                            }
                        }
                        WatchItem::Progress(rev) => from = from.max(rev),
                        WatchItem::Expired(why) => {
                            tracing::warn!("watch {path}: {why}; events were lost, resuming from the newest revision");
                            from = 0;
                        }
                    }
                }
                if tx.is_closed() {
                    return;
                }
                if from == 0 {
                    from = client
                        .list_page(&path, "", 1, "")
                        .await
                        .map(|(l, _)| l.revision)
                        .unwrap_or(0);
                }
            }
        });
        rx
    }

    /// One stream: returns Ok(delivered anything) when it should be re-opened from `last`.
    async fn follow(&self, path: &str, query: &str, last: &mut u64, tx: &mpsc::Sender<WatchItem>) -> Result<bool> {
        let (open_subject, deliver) = self.watch_subjects();
        let mut sub = self
            .nats
            .subscribe(deliver.clone())
            .await
            .map_err(|e| Error::Subscribe {
                subject: deliver.clone(),
                reason: e.to_string(),
            })?;
        let q = format!(
            "watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion={}{}{}",
            last,
            if query.is_empty() { "" } else { "&" },
            query
        );
        let open = WatchOpen {
            path: path.into(),
            query: q,
            deliver: deliver.clone(),
            actor: self.actor.clone(),
        };
        let reply = super::request(&self.nats, &open_subject, envelope::encode(&open), CALL_TIMEOUT, NO_API).await?;
        let answer: ApiAnswer = envelope::decode(&reply.payload)?;
        if answer.status != 200 {
            return Err(Error::Api {
                status: answer.status,
                message: status_message(&answer.body),
            });
        }
        let mut expected = 1u64;
        let mut pending: Vec<u8> = Vec::new();
        let mut delivered = false;
        loop {
            let msg = match tokio::time::timeout(WATCH_IDLE, sub.next()).await {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => return Ok(delivered),
            };
            let frame: WatchFrame = envelope::decode(&msg.payload)?;
            if frame.seq != expected {
                // A frame was lost: resume from the last revision delivered.
                return Ok(delivered);
            }
            expected += 1;
            if frame.end {
                return Ok(delivered);
            }
            let line = if frame.more || !pending.is_empty() {
                pending.extend_from_slice(&frame.line);
                if frame.more {
                    continue;
                }
                Bytes::from(std::mem::take(&mut pending))
            } else {
                Bytes::from(frame.line)
            };
            let view: LineView = serde_json::from_slice(&line)
                .map_err(|e| Error::Decode(format!("watch line at revision {}: {e}", frame.revision)))?;
            match view.event_type {
                "ERROR" => {
                    let status: Value = serde_json::from_str(view.object.get()).unwrap_or(Value::Null);
                    let code = status["code"].as_u64().unwrap_or(500) as u16;
                    return Err(Error::Api {
                        status: code,
                        message: status["message"].as_str().unwrap_or("watch error").to_string(),
                    });
                }
                "BOOKMARK" => {
                    *last = (*last).max(frame.revision);
                    if tx.send(WatchItem::Progress(*last)).await.is_err() {
                        return Ok(delivered);
                    }
                    continue;
                }
                _ => {}
            }
            if frame.revision <= *last {
                continue;
            }
            *last = frame.revision;
            delivered = true;
            let ev = RawEvent {
                revision: frame.revision,
                event_type: view.event_type.to_string(),
                object: sub_bytes(&line, view.object.get()),
            };
            if tx.send(WatchItem::Event(ev)).await.is_err() {
                return Ok(delivered);
            }
        }
    }
}
