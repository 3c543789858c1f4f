//! The API server: Kubernetes verbs over the event log, served over HTTP and over NATS.

pub mod apply;
pub mod attach;
pub mod authorize;
pub mod bindings;
pub mod bootstrap;
pub mod cluster_ip;
pub mod delete;
pub mod discovery;
pub mod escalation;
pub mod events_v1;
pub mod eviction;
pub mod exec_ws;
pub mod fieldset;
pub mod forward;
pub mod guard;
pub mod health;
pub mod history;
pub mod http;
pub mod managed;
pub mod members;
pub mod node_proxy;
pub mod openapi;
pub mod openapi_v2;
pub mod paging;
pub mod patch;
pub mod pod_status;
pub mod pods;
pub mod portforward;
pub mod portforward_spdy;
pub mod read;
pub mod request;
pub mod reviews;
pub mod routes;
pub mod scale;
pub mod server;
pub mod spdy;
pub mod status;
pub mod strategic;
pub mod subresources;
pub mod timeline;
pub mod tokens;
pub mod watch;
pub mod websocket;
pub mod write;
pub mod write_options;

use write_options::{answer_of, field_validation, ignore_unknown};

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

pub use request::{ApiRequest, ApiResponse, Query};
pub use status::{ApiError, ApiResult};

use crate::eventlog::EventLog;
use read::Filter;
use write::PatchType;

/// What an API call produces: a response, or a stream of watch lines (each with its revision).
pub enum Reply {
    /// A complete response.
    Done(ApiResponse),
    /// A watch stream.
    Watch(watch::WatchStream),
}

/// The API logic shared by the HTTP front and the NATS actor. Cheap to clone.
#[derive(Clone)]
pub struct ApiCore {
    log: EventLog,
    read_only: bool,
    nats: Option<async_nats::Client>,
    snapshots: std::sync::Arc<paging::Snapshots>,
    /// Readiness checks beyond the log's own.
    pub checks: health::Checks,
    /// Interval between watch bookmarks.
    pub bookmark_interval: Duration,
    auth: Option<std::sync::Arc<crate::auth::Auth>>,
    /// This member's place in a replicated control plane (None: the only member).
    replica: Option<std::sync::Arc<forward::Replica>>,
}

pub use bootstrap::{DEFAULT_STORAGE_CLASS, SYSTEM_NAMESPACES};

impl ApiCore {
    /// An API over an open log.
    pub fn new(log: EventLog) -> ApiCore {
        ApiCore {
            log,
            read_only: false,
            nats: None,
            snapshots: Default::default(),
            checks: Default::default(),
            bookmark_interval: watch::BOOKMARK_INTERVAL,
            auth: None,
            replica: None,
        }
    }

    /// The outcomes of the liveness checks (the log writer).
    pub fn live(&self) -> Vec<(String, Result<(), String>)> {
        vec![("log".to_string(), self.log.writer_health())]
    }

    /// The outcomes of the readiness checks: the log writer, then every registered check.
    pub fn ready(&self) -> Vec<(String, Result<(), String>)> {
        let mut out = self.live();
        out.extend(self.checks.run());
        out
    }

    /// The log behind the API.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Serves one API call.
    pub async fn handle(&self, req: ApiRequest) -> Reply {
        if let Some(replica) = self.forward_to_leader(&req) {
            return self.forward(&replica, req).await;
        }
        if let Some(path) = events_v1::core_path(&req.path) {
            return self.handle_events_v1(req, path).await;
        }
        if let Err(e) = self.check_escalation(&req).await {
            return Reply::Done(ApiResponse::error(&e));
        }
        match self.dispatch(req).await {
            Ok(r) => r,
            Err(e) => Reply::Done(ApiResponse::error(&e)),
        }
    }

    /// Runs a write on the log, or, for `dryRun=All`, against a throwaway copy of the state.
    async fn commit<T: Send + 'static>(
        &self,
        dry: bool,
        f: impl FnOnce(&mut crate::eventlog::Staging) -> T + Send + 'static,
    ) -> crate::eventlog::Result<T> {
        if dry {
            Ok(self.log.dry_run(f))
        } else {
            self.log.write(f).await
        }
    }

    async fn dispatch(&self, req: ApiRequest) -> ApiResult<Reply> {
        if self.read_only && req.method != "GET" {
            return Err(ApiError::read_only(&req.method));
        }
        if let Some(answer) = reviews::answer(&req, self) {
            return Ok(Reply::Done(answer?));
        }
        if req.path == timeline::PATH {
            return Ok(Reply::Done(ApiResponse::json(
                200,
                timeline::entries(&self.log, &Query::parse(&req.query))?,
            )));
        }
        if let Some(answer) = members::answer(&req, self.replica.as_deref(), self.log.head()).await {
            return Ok(Reply::Done(answer?));
        }
        if req.path == history::PATH {
            return Ok(Reply::Done(ApiResponse::json(
                200,
                history::history(&self.log, &Query::parse(&req.query))?,
            )));
        }
        if req.path == bindings::PATH {
            if req.method != "POST" {
                return Err(ApiError::method_not_allowed(&req.method));
            }
            let body = request::decode_body(&req.content_type, &req.body)?;
            if !body["items"].is_array() {
                return Err(ApiError::bad_request(
                    "a bulk binding is {\"items\": [{\"namespace\": NS, \"name\": POD, \"node\": NODE}, ...]}",
                ));
            }
            let actor = if req.actor.is_empty() {
                "anonymous".to_string()
            } else {
                req.actor.clone()
            };
            let out = self.log.write(move |st| bindings::bind_all(st, &body, &actor)).await?;
            return Ok(Reply::Done(ApiResponse::json(
                200,
                Bytes::from(serde_json::to_vec(&out).unwrap_or_default()),
            )));
        }
        let q = Query::parse(&req.query);
        let route = routes::parse(&req.path)?;
        let rt = route.rt;
        let ns = route.namespace.clone().unwrap_or_default();
        let status_only = route.subresource.as_deref() == Some("status");
        let dry = match q.get("dryRun") {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
                )))
            }
        };
        let actor = if req.actor.is_empty() {
            "anonymous".to_string()
        } else {
            req.actor.clone()
        };
        let done = |status: u16, body: Bytes| Ok(Reply::Done(ApiResponse::json(status, body)));
        let sub = route.subresource.as_deref();
        if let Some(name) = route
            .name
            .clone()
            .filter(|_| sub.is_some_and(|s| s != "status" && s != "finalize"))
        {
            return self
                .subresource(&req, rt, &ns, &name, sub.unwrap_or_default(), &q, dry, actor)
                .await;
        }
        match (req.method.as_str(), route.name.clone()) {
            ("GET", None) | ("GET", Some(_)) if q.flag("watch") => {
                let spec = watch::WatchSpec {
                    rt,
                    namespace: route.namespace.clone(),
                    name: route.name.clone(),
                    filter: Filter::from_query(&q)?,
                    since: q.number("resourceVersion")?.filter(|rv| *rv > 0),
                    bookmarks: q.flag("allowWatchBookmarks"),
                    bookmark_interval: self.bookmark_interval,
                    timeout: q
                        .number("timeoutSeconds")?
                        .map(Duration::from_secs)
                        .unwrap_or(watch::DEFAULT_WATCH_TIMEOUT),
                };
                Ok(Reply::Watch(watch::start(self.log.clone(), spec)?))
            }
            ("GET", None) if history::exact(&self.log, &q)?.is_some() => {
                let rev = history::exact(&self.log, &q)?.unwrap_or(0);
                done(
                    200,
                    history::list_at(&self.log, rt, route.namespace.as_deref(), &Filter::from_query(&q)?, rev)?,
                )
            }
            ("GET", Some(name)) if history::exact(&self.log, &q)?.is_some() => {
                let rev = history::exact(&self.log, &q)?.unwrap_or(0);
                done(200, history::get_at(&self.log, rt, &ns, &name, rev)?)
            }
            ("GET", None) => {
                // resourceVersion without Exact means "not older than": the current state serves
                // any revision already reached; a revision not reached yet is waited for briefly.
                let not_older = match q.get("resourceVersionMatch") {
                    None | Some("") => true,
                    Some("NotOlderThan") => {
                        if q.get("resourceVersion").is_none_or(str::is_empty) {
                            return Err(ApiError::unprocessable(
                                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                            ));
                        }
                        true
                    }
                    Some(other) => {
                        return Err(ApiError::bad_request(format!(
                            "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
                        )))
                    }
                };
                if let Some(rv) = q.number("resourceVersion")?.filter(|rv| *rv > 0 && not_older) {
                    read::wait_for_revision(&self.log, rv).await?;
                }
                let filter = Filter::from_query(&q)?;
                let limit = q.number("limit")?.filter(|l| *l > 0);
                let token = q.get("continue").filter(|c| !c.is_empty());
                if limit.is_none() && token.is_none() {
                    return done(200, read::list(&self.log, rt, route.namespace.as_deref(), &filter));
                }
                let limit = limit.map_or(usize::MAX, |l| l as usize);
                done(
                    200,
                    paging::page(
                        &self.log,
                        &self.snapshots,
                        rt,
                        route.namespace.as_deref(),
                        &filter,
                        limit,
                        token,
                    )?,
                )
            }
            ("GET", Some(name)) => done(200, read::get(&self.log, rt, &ns, &name)?.json.clone()),
            ("POST", None) => {
                let obj = write_options::prepare(rt, route.namespace.as_deref(), None, &req, &q)?;
                let warnings = obj.1;
                let manager = q.get("fieldManager").map(str::to_string);
                let ev = self
                    .commit(dry, move |st| write::create(st, rt, obj.0, actor, manager.as_deref()))
                    .await??;
                Ok(Reply::Done(ApiResponse {
                    status: 201,
                    body: answer_of(&ev, dry),
                    warnings,
                    offset: None,
                }))
            }
            ("PUT", Some(name)) => {
                let (obj, warnings) = if status_only {
                    let mut v = request::decode_body(&req.content_type, &req.body)?;
                    request::fill_identity(&mut v, rt, route.namespace.as_deref(), Some(&name))?;
                    (v, Vec::new())
                } else {
                    write_options::prepare(rt, route.namespace.as_deref(), Some(&name), &req, &q)?
                };
                let manager = q.get("fieldManager").map(str::to_string);
                let ev = self
                    .commit(dry, move |st| {
                        write::update(st, rt, &ns, &name, obj, status_only, actor, manager.as_deref())
                    })
                    .await??;
                Ok(Reply::Done(ApiResponse {
                    status: 200,
                    body: answer_of(&ev, dry),
                    warnings,
                    offset: None,
                }))
            }
            ("PATCH", Some(name)) => {
                let ct = req.content_type.split(';').next().unwrap_or("").trim().to_string();
                if ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json" {
                    return self.apply(rt, ns, name, &req, &q, dry, actor, status_only).await;
                }
                let kind = match ct.as_str() {
                    "application/strategic-merge-patch+json" => PatchType::Strategic,
                    "application/merge-patch+json" | "application/yaml" | "application/json" | "" => PatchType::Merge,
                    "application/json-patch+json" => PatchType::Json,
                    other => return Err(ApiError::unsupported_media(other)),
                };
                let body = request::decode_body(
                    if ct.contains("yaml") {
                        "application/yaml"
                    } else {
                        "application/json"
                    },
                    &req.body,
                )?;
                if kind != PatchType::Json {
                    field_validation(rt, &q, &body)?;
                }
                let manager = q.get("fieldManager").map(str::to_string);
                let (ev, mut warnings) = self
                    .commit(dry, move |st| {
                        write::patch(st, rt, &ns, &name, kind, &body, status_only, actor, manager.as_deref())
                    })
                    .await??;
                ignore_unknown(&q, &mut warnings);
                Ok(Reply::Done(ApiResponse {
                    status: 200,
                    body: answer_of(&ev, dry),
                    warnings,
                    offset: None,
                }))
            }
            ("DELETE", Some(name)) => {
                let mut grace = q.number("gracePeriodSeconds")?;
                let mut policy = q.get("propagationPolicy").map(str::to_string);
                let mut preconditions = Value::Null;
                if !req.body.is_empty() {
                    let opts = request::decode_body(&req.content_type, &req.body)?;
                    preconditions = opts.get("preconditions").cloned().unwrap_or(Value::Null);
                    grace = grace.or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_u64));
                    policy = policy.or_else(|| {
                        opts.get("propagationPolicy")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    });
                    if policy.is_none() && opts.get("orphanDependents") == Some(&Value::Bool(true)) {
                        policy = Some("Orphan".into());
                    }
                }
                let policy = write::Propagation::parse(policy.as_deref())?;
                let ev = self
                    .commit(dry, move |st| {
                        write::check_preconditions(st, rt, &ns, &name, &preconditions)?;
                        write::delete(st, rt, &ns, &name, grace, policy, actor)
                    })
                    .await??;
                done(200, answer_of(&ev, dry))
            }
            (m, _) => Err(ApiError::method_not_allowed(m)),
        }
    }
}

impl From<crate::eventlog::Error> for Reply {
    fn from(e: crate::eventlog::Error) -> Reply {
        Reply::Done(ApiResponse::error(&ApiError::from(e)))
    }
}
