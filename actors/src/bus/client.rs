//! The API over NATS for in-cluster actors: calls whose large answers arrive in parts, paged lists,
//! and watches that detect gaps by sequence number and resume from the last revision.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;

use super::envelope::{self, ApiAnswer, ApiCall, PartAnswer, PartRequest, WatchFrame, WatchOpen};
use super::{subjects, Error, Result};

/// How long a call waits for its answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A watch with no frame (event or bookmark) for this long is re-opened.
pub const WATCH_IDLE: Duration = Duration::from_secs(15);
/// Pause before re-opening a failed watch.
pub const RESUME_BACKOFF: Duration = Duration::from_millis(200);
/// Longest pause between retries of a failing list or watch.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Items per page when a client lists.
pub const PAGE_SIZE: usize = 500;
const NO_API: &str = "no API server is connected to this NATS; start `orca server` or `orca up`";

/// A client of the API over NATS.
#[derive(Clone)]
pub struct ApiClient {
    nats: async_nats::Client,
    actor: String,
}

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

/// A list: items as JSON bytes and the revision they show.
#[derive(Debug, Clone, Default)]
pub struct RawList {
    /// Each item's JSON.
    pub items: Vec<Bytes>,
    /// The list's resourceVersion.
    pub revision: u64,
}

#[derive(Deserialize)]
struct ListView<'a> {
    #[serde(default)]
    metadata: ListMetaView,
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct ListMetaView {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
    #[serde(rename = "continue", default)]
    continue_token: String,
}

#[derive(Deserialize)]
struct LineView<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(borrow)]
    object: &'a RawValue,
}

/// The part of `whole` that `part` (a slice of it) covers, shared without a copy.
fn sub_bytes(whole: &Bytes, part: &str) -> Bytes {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    whole.slice(start..start + part.len())
}

/// The next pause after `d`, doubling up to [`MAX_BACKOFF`].
pub fn next_backoff(d: Duration) -> Duration {
    (d * 2).min(MAX_BACKOFF)
}

impl ApiClient {
    /// A client acting as `actor`.
    pub fn new(nats: async_nats::Client, actor: &str) -> ApiClient {
        ApiClient {
            nats,
            actor: actor.to_string(),
        }
    }

    /// The NATS connection.
    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    /// Calls the API: `method path?query` with a JSON body.
    pub async fn call(&self, method: &str, path: &str, query: &str, body: Option<&Value>) -> Result<ApiAnswer> {
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default();
        self.call_bytes(method, path, query, body).await
    }

    /// Calls the API with a body already encoded as JSON; fetches the parts of a large answer.
    pub async fn call_bytes(&self, method: &str, path: &str, query: &str, body: Vec<u8>) -> Result<ApiAnswer> {
        let call = ApiCall {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            content_type: "application/json".into(),
            actor: self.actor.clone(),
            body,
        };
        let msg = super::request(&self.nats, subjects::API, envelope::encode(&call), CALL_TIMEOUT, NO_API).await?;
        let mut answer: ApiAnswer = envelope::decode(&msg.payload)?;
        if let Some(more) = answer.more.take() {
            answer.body.reserve(more.part_size as usize * more.parts as usize);
            for index in 1..more.parts {
                let req = envelope::encode(&PartRequest { id: more.id, index });
                let msg = super::request(
                    &self.nats,
                    &more.subject,
                    req,
                    CALL_TIMEOUT,
                    "the API server that began this answer has gone",
                )
                .await?;
                let part: PartAnswer = envelope::decode(&msg.payload)?;
                if !part.error.is_empty() {
                    return Err(Error::Request {
                        subject: more.subject,
                        reason: part.error,
                    });
                }
                answer.body.extend_from_slice(&part.body);
            }
        }
        Ok(answer)
    }

    /// One page of a list (`limit` items after `continue_token`): the page and the next token.
    pub async fn list_page(
        &self,
        path: &str,
        query: &str,
        limit: usize,
        continue_token: &str,
    ) -> Result<(RawList, String)> {
        let mut q = format!("limit={limit}");
        if !continue_token.is_empty() {
            q.push_str("&continue=");
            q.push_str(continue_token);
        }
        if !query.is_empty() {
            q.push('&');
            q.push_str(query);
        }
        let a = self.call_bytes("GET", path, &q, Vec::new()).await?;
        if a.status != 200 {
            return Err(Error::Api {
                status: a.status,
                message: status_message(&a.body),
            });
        }
        let body = Bytes::from(a.body);
        let view: ListView =
            serde_json::from_slice(&body).map_err(|e| Error::Decode(format!("list of {path}: {e}")))?;
        let revision = view.metadata.resource_version.parse().unwrap_or(0);
        let items = view.items.iter().map(|raw| sub_bytes(&body, raw.get())).collect();
        Ok((RawList { items, revision }, view.metadata.continue_token))
    }

    /// A whole list, page by page, all pages from one revision; an expired token starts over.
    pub async fn list_raw(&self, path: &str, query: &str) -> Result<RawList> {
        'again: loop {
            let mut out = RawList::default();
            let mut token = String::new();
            loop {
                match self.list_page(path, query, PAGE_SIZE, &token).await {
                    Ok((page, next)) => {
                        out.revision = page.revision;
                        out.items.extend(page.items);
                        if next.is_empty() {
                            return Ok(out);
                        }
                        token = next;
                    }
                    Err(Error::Api { status: 410, .. }) if !token.is_empty() => continue 'again,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Lists `path?query` until the API answers: the items and the list's revision.
    pub async fn list(&self, path: &str, query: &str) -> (Vec<Value>, u64) {
        let mut pause = RESUME_BACKOFF;
        let mut warned = false;
        loop {
            match self.list_raw(path, query).await {
                Ok(list) => {
                    let items = list
                        .items
                        .iter()
                        .filter_map(|b| serde_json::from_slice(b).ok())
                        .collect();
                    return (items, list.revision);
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!("listing {path}: {e}; retrying with back-off");
                        warned = true;
                    } else {
                        tracing::debug!("listing {path}: {e}; retrying");
                    }
                    tokio::time::sleep(pause).await;
                    pause = next_backoff(pause);
                }
            }
        }
    }

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
        let deliver = subjects::watch_stream(&uuid::Uuid::new_v4().simple().to_string());
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
        let reply = super::request(
            &self.nats,
            subjects::API_WATCH,
            envelope::encode(&open),
            CALL_TIMEOUT,
            NO_API,
        )
        .await?;
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

/// The message of a `Status` body, or the body itself.
pub fn status_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}
