//! The API over NATS for in-cluster actors: calls whose large answers arrive in parts, and paged
//! lists (watches are in `watch.rs`).

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::envelope::{self, ApiAnswer, ApiCall, PartAnswer, PartRequest};
pub use super::watch::{RawEvent, WatchEvent, WatchItem};
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
pub(super) const NO_API: &str = "no API server is connected to this NATS; start `orca server` or `orca up`";

/// A client of the API over NATS.
#[derive(Clone)]
pub struct ApiClient {
    pub(super) nats: async_nats::Client,
    pub(super) actor: String,
    /// The node whose agent calls (on its own subjects, as `system:node:NAME`); None for the
    /// control plane's own components.
    pub(super) node: Option<String>,
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

/// The part of `whole` that `part` (a slice of it) covers, shared without a copy.
pub(super) fn sub_bytes(whole: &Bytes, part: &str) -> Bytes {
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
            node: None,
        }
    }

    /// The client of node `name`'s agent: its calls travel on the node's own subjects, and the
    /// API server authorizes them as that node.
    pub fn for_node(nats: async_nats::Client, name: &str) -> ApiClient {
        ApiClient {
            nats,
            actor: format!("system:node:{name}"),
            node: Some(name.to_string()),
        }
    }

    /// Where this client's calls go.
    pub(super) fn call_subject(&self) -> String {
        match &self.node {
            Some(n) => subjects::api_node(n),
            None => subjects::API.to_string(),
        }
    }

    /// Where this client's watches are opened, and a new delivery subject for one.
    pub(super) fn watch_subjects(&self) -> (String, String) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match &self.node {
            Some(n) => (subjects::api_node_watch(n), subjects::node_watch_stream(n, &id)),
            None => (subjects::API_WATCH.to_string(), subjects::watch_stream(&id)),
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
        let msg = super::request(
            &self.nats,
            &self.call_subject(),
            envelope::encode(&call),
            CALL_TIMEOUT,
            NO_API,
        )
        .await?;
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
}

/// The message of a `Status` body, or the body itself.
pub fn status_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}
