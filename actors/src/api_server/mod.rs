//! The API server: Kubernetes verbs over the event log, served over HTTP and over NATS.

pub mod bindings;
pub mod bootstrap;
pub mod cluster_ip;
pub mod delete;
pub mod discovery;
pub mod eviction;
pub mod health;
pub mod history;
pub mod http;
pub mod openapi;
pub mod paging;
pub mod patch;
pub mod pods;
pub mod portforward;
pub mod read;
pub mod request;
pub mod routes;
pub mod scale;
pub mod server;
pub mod status;
pub mod strategic;
pub mod timeline;
pub mod watch;
pub mod write;

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use orca_schemas::{admit, ResourceType};

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
        }
    }

    /// Serves reads only (a replayed data directory): every write gets 405.
    pub fn read_only(mut self) -> ApiCore {
        self.read_only = true;
        self
    }

    /// Gives the API the NATS connection it proxies pod logs and exec through.
    pub fn with_nats(mut self, nats: async_nats::Client) -> ApiCore {
        self.nats = Some(nats);
        self
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
        match self.dispatch(req).await {
            Ok(r) => r,
            Err(e) => Reply::Done(ApiResponse::error(&e)),
        }
    }

    async fn dispatch(&self, req: ApiRequest) -> ApiResult<Reply> {
        if self.read_only && req.method != "GET" {
            return Err(ApiError::read_only(&req.method));
        }
        if req.path == timeline::PATH {
            return Ok(Reply::Done(ApiResponse::json(
                200,
                timeline::entries(&self.log, &Query::parse(&req.query))?,
            )));
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
        let actor = if req.actor.is_empty() {
            "anonymous".to_string()
        } else {
            req.actor.clone()
        };
        let done = |status: u16, body: Bytes| Ok(Reply::Done(ApiResponse::json(status, body)));
        let sub = route.subresource.as_deref();
        match (req.method.as_str(), route.name.clone(), sub) {
            ("POST", Some(name), Some("binding")) => {
                let body = request::decode_body(&req.content_type, &req.body)?;
                let node = body
                    .pointer("/target/name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| ApiError::bad_request("a Binding needs target.name"))?
                    .to_string();
                let ev = self
                    .log
                    .write(move |st| pods::bind(st, &ns, &name, &node, actor))
                    .await??;
                return done(201, ev.json.clone());
            }
            ("GET", Some(name), Some("log")) => {
                let (text, offset) = pods::logs(&self.log, self.nats.as_ref(), &ns, &name, &q).await?;
                let mut resp = ApiResponse::json(200, text);
                resp.warnings.clear();
                resp.offset = Some(offset);
                return Ok(Reply::Done(resp));
            }
            ("POST", Some(name), Some("exec")) => {
                let body = request::decode_body(&req.content_type, &req.body)?;
                let out = pods::exec(&self.log, self.nats.as_ref(), &ns, &name, &body).await?;
                return done(200, Bytes::from(serde_json::to_vec(&out).unwrap_or_default()));
            }
            ("POST", Some(name), Some("eviction")) => {
                let body = if req.body.is_empty() {
                    Value::Null
                } else {
                    request::decode_body(&req.content_type, &req.body)?
                };
                let grace = body
                    .pointer("/deleteOptions/gracePeriodSeconds")
                    .and_then(Value::as_u64);
                self.log
                    .write(move |st| eviction::evict(st, &ns, &name, grace, actor))
                    .await??;
                let ok = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
                return done(201, Bytes::from(ok.to_string()));
            }
            ("GET", Some(name), Some("scale")) => {
                let obj: Value = serde_json::from_slice(&read::get(&self.log, rt, &ns, &name)?.json)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                return done(200, Bytes::from(scale::of(&obj).to_string()));
            }
            ("PUT" | "PATCH", Some(name), Some("scale")) => {
                let body = request::decode_body(
                    if req.method == "PATCH" {
                        "application/json"
                    } else {
                        &req.content_type
                    },
                    &req.body,
                )?;
                let current: Value = serde_json::from_slice(&read::get(&self.log, rt, &ns, &name)?.json)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                let mut wanted = scale::of(&current);
                if req.method == "PATCH" {
                    if req.content_type.starts_with("application/json-patch+json") {
                        patch::json_patch(&mut wanted, &body).map_err(ApiError::bad_request)?;
                    } else {
                        patch::merge_patch(&mut wanted, &body);
                    }
                } else {
                    wanted = body;
                }
                let n = scale::replicas(&wanted)?;
                let change = serde_json::json!({"spec": {"replicas": n}});
                let (ev, _) = self
                    .log
                    .write(move |st| write::patch(st, rt, &ns, &name, PatchType::Merge, &change, false, actor))
                    .await??;
                let obj: Value = serde_json::from_slice(&ev.json).map_err(|e| ApiError::bad_request(e.to_string()))?;
                return done(200, Bytes::from(scale::of(&obj).to_string()));
            }
            (_, _, Some("binding" | "log" | "exec" | "eviction" | "scale")) => {
                return Err(ApiError::method_not_allowed(&req.method))
            }
            _ => {}
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
                if let Some(rv) = q.number("resourceVersion")?.filter(|rv| *rv > 0) {
                    if rv + 1 < self.log.oldest() {
                        return Err(ApiError::gone(rv, self.log.oldest()));
                    }
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
                let obj = self.prepare(rt, route.namespace.as_deref(), None, &req)?;
                let warnings = obj.1;
                let ev = self.log.write(move |st| write::create(st, rt, obj.0, actor)).await??;
                Ok(Reply::Done(ApiResponse {
                    status: 201,
                    body: ev.json.clone(),
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
                    self.prepare(rt, route.namespace.as_deref(), Some(&name), &req)?
                };
                let ev = self
                    .log
                    .write(move |st| write::update(st, rt, &ns, &name, obj, status_only, actor))
                    .await??;
                Ok(Reply::Done(ApiResponse {
                    status: 200,
                    body: ev.json.clone(),
                    warnings,
                    offset: None,
                }))
            }
            ("PATCH", Some(name)) => {
                let ct = req.content_type.split(';').next().unwrap_or("").trim().to_string();
                let kind = match ct.as_str() {
                    "application/strategic-merge-patch+json" => PatchType::Strategic,
                    "application/merge-patch+json"
                    | "application/apply-patch+yaml"
                    | "application/yaml"
                    | "application/json"
                    | "" => PatchType::Merge,
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
                let (ev, warnings) = self
                    .log
                    .write(move |st| write::patch(st, rt, &ns, &name, kind, &body, status_only, actor))
                    .await??;
                Ok(Reply::Done(ApiResponse {
                    status: 200,
                    body: ev.json.clone(),
                    warnings,
                    offset: None,
                }))
            }
            ("DELETE", Some(name)) => {
                let mut grace = q.number("gracePeriodSeconds")?;
                let mut policy = q.get("propagationPolicy").map(str::to_string);
                if !req.body.is_empty() {
                    let opts = request::decode_body(&req.content_type, &req.body)?;
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
                    .log
                    .write(move |st| write::delete(st, rt, &ns, &name, grace, policy, actor))
                    .await??;
                done(200, ev.json.clone())
            }
            (m, _) => Err(ApiError::method_not_allowed(m)),
        }
    }

    /// Decodes, checks identity against the path, admits, and stamps uid for a create.
    fn prepare(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: Option<&str>,
        req: &ApiRequest,
    ) -> ApiResult<(Value, Vec<String>)> {
        let mut v = request::decode_body(&req.content_type, &req.body)?;
        request::fill_identity(&mut v, rt, ns, name)?;
        let display = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut admitted = admit(rt, v).map_err(|errs| ApiError::invalid(rt.kind, &display, &errs))?;
        if name.is_none() {
            if let Some(meta) = admitted.object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("uid".into(), Value::String(uuid::Uuid::new_v4().to_string()));
                meta.remove("resourceVersion");
                meta.remove("deletionTimestamp");
                meta.remove("deletionGracePeriodSeconds");
            }
        }
        Ok((admitted.object, admitted.warnings))
    }
}

impl From<crate::eventlog::Error> for Reply {
    fn from(e: crate::eventlog::Error) -> Reply {
        Reply::Done(ApiResponse::error(&ApiError::from(e)))
    }
}
