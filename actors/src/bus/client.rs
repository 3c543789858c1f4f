//! The API over NATS for in-cluster actors: request/reply calls, and watches that detect gaps by
//! sequence number and resume from the last revision (across API server and NATS restarts).

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::envelope::{self, ApiAnswer, ApiCall, WatchFrame, WatchOpen};
use super::{subjects, Error, Result};

/// How long a call waits for its answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A watch with no frame (event or bookmark) for this long is re-opened.
pub const WATCH_IDLE: Duration = Duration::from_secs(15);
/// Pause before re-opening a failed watch.
pub const RESUME_BACKOFF: Duration = Duration::from_millis(200);

/// A client of the API over NATS.
#[derive(Clone)]
pub struct ApiClient {
    nats: async_nats::Client,
    actor: String,
}

/// One event delivered by a watch.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// Revision of the event.
    pub revision: u64,
    /// `ADDED`, `MODIFIED`, `DELETED` (bookmarks are not passed on).
    pub event_type: String,
    /// The object.
    pub object: Value,
}

impl ApiClient {
    /// A client acting as `actor`.
    pub fn new(nats: async_nats::Client, actor: &str) -> ApiClient {
        ApiClient {
            nats,
            actor: actor.to_string(),
        }
    }

    /// Calls the API: `method path?query` with a JSON body.
    pub async fn call(&self, method: &str, path: &str, query: &str, body: Option<&Value>) -> Result<ApiAnswer> {
        let call = ApiCall {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            content_type: "application/json".into(),
            actor: self.actor.clone(),
            body: body
                .map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default(),
        };
        let req = async_nats::client::Request::new()
            .payload(envelope::encode(&call).into())
            .timeout(Some(CALL_TIMEOUT));
        let msg = self
            .nats
            .send_request(subjects::API, req)
            .await
            .map_err(|e| Error::Request {
                subject: subjects::API.into(),
                reason: e.to_string(),
            })?;
        envelope::decode(&msg.payload)
    }

    /// Lists `path?query` until the API answers: the items and the list's revision.
    pub async fn list(&self, path: &str, query: &str) -> (Vec<Value>, u64) {
        loop {
            match self.call("GET", path, query, None).await {
                Ok(a) if a.status == 200 => {
                    let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
                    let rv = v
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    return (v["items"].as_array().cloned().unwrap_or_default(), rv);
                }
                other => {
                    tracing::debug!("listing {path}: {:?}; retrying", other.map(|a| a.status));
                    tokio::time::sleep(RESUME_BACKOFF).await;
                }
            }
        }
    }

    /// Follows `path` from after revision `from`, forever, re-opening the stream on gaps, idle
    /// periods, stream ends and errors. Events arrive once each, in revision order.
    pub fn watch(&self, path: &str, query: &str, from: u64) -> mpsc::Receiver<WatchEvent> {
        let (tx, rx) = mpsc::channel(1024);
        let (client, path, query) = (self.clone(), path.to_string(), query.to_string());
        tokio::spawn(async move {
            let mut last = from;
            loop {
                match client.follow(&path, &query, &mut last, &tx).await {
                    Ok(()) if tx.is_closed() => return,
                    Ok(()) => {}
                    Err(e) => tracing::debug!("watch {path} from {last}: {e}; resuming"),
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(RESUME_BACKOFF).await;
            }
        });
        rx
    }

    /// One stream: returns Ok when it should be re-opened from `last`.
    async fn follow(&self, path: &str, query: &str, last: &mut u64, tx: &mpsc::Sender<WatchEvent>) -> Result<()> {
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
        let req = async_nats::client::Request::new()
            .payload(envelope::encode(&open).into())
            .timeout(Some(CALL_TIMEOUT));
        let reply = self
            .nats
            .send_request(subjects::API_WATCH, req)
            .await
            .map_err(|e| Error::Request {
                subject: subjects::API_WATCH.into(),
                reason: e.to_string(),
            })?;
        let answer: ApiAnswer = envelope::decode(&reply.payload)?;
        if answer.status != 200 {
            return Err(Error::Request {
                subject: subjects::API_WATCH.into(),
                reason: String::from_utf8_lossy(&answer.body).into_owned(),
            });
        }
        let mut expected = 1u64;
        loop {
            let msg = match tokio::time::timeout(WATCH_IDLE, sub.next()).await {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => return Ok(()),
            };
            let frame: WatchFrame = envelope::decode(&msg.payload)?;
            if frame.seq != expected {
                // A frame was lost: resume from the last revision delivered.
                return Ok(());
            }
            expected += 1;
            if frame.end {
                return Ok(());
            }
            let Ok(line) = serde_json::from_slice::<Value>(&frame.line) else {
                continue;
            };
            let event_type = line.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
            if event_type == "ERROR" {
                return Err(Error::Request {
                    subject: deliver,
                    reason: line["object"]["message"].as_str().unwrap_or("watch error").to_string(),
                });
            }
            if event_type == "BOOKMARK" {
                *last = (*last).max(frame.revision);
                continue;
            }
            if frame.revision <= *last {
                continue;
            }
            *last = frame.revision;
            let object = line.get("object").cloned().unwrap_or(Value::Null);
            if tx
                .send(WatchEvent {
                    revision: frame.revision,
                    event_type,
                    object,
                })
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
}
