//! Subresources other than `status`: `pods/binding`, `pods/log`, `pods/exec`, `pods/eviction` and
//! `scale` (Deployments, ReplicaSets, StatefulSets).

use bytes::Bytes;
use serde_json::Value;

use orca_schemas::ResourceType;

use super::read;
use super::write::{self, PatchType};
use super::{
    eviction, patch, pods, request, scale, ApiCore, ApiError, ApiRequest, ApiResponse, ApiResult, Query, Reply,
};

impl ApiCore {
    /// Serves subresource `sub` of object `name`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn subresource(
        &self,
        req: &ApiRequest,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
        sub: &str,
        q: &Query,
        dry: bool,
        actor: String,
    ) -> ApiResult<Reply> {
        let done = |status: u16, body: Bytes| Ok(Reply::Done(ApiResponse::json(status, body)));
        let (ns, name) = (ns.to_string(), name.to_string());
        match (req.method.as_str(), sub) {
            ("POST", "token") if rt.kind == "ServiceAccount" => {
                let body = request::decode_body(&req.content_type, &req.body)?;
                done(201, super::tokens::token_request(self, &ns, &name, body)?)
            }
            ("POST", "binding") => {
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
                done(201, ev.json.clone())
            }
            ("GET", "log") if q.flag("follow") => Ok(Reply::Watch(self.follow_log(&ns, &name, q)?)),
            ("GET", "log") => {
                let (mut text, offset) = pods::logs(&self.log, self.nats.as_ref(), &ns, &name, q).await?;
                if let Some(limit) = q.number("limitBytes")? {
                    text.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                }
                let mut resp = ApiResponse::json(200, text);
                resp.warnings = log_option_warnings(q);
                resp.offset = Some(offset);
                Ok(Reply::Done(resp))
            }
            ("POST", "exec") => {
                // The pod first: a missing one is a 404 whatever the body says.
                if self.log.projection().get("Pod", &ns, &name).is_none() {
                    return Err(ApiError::not_found("pods", &name));
                }
                let body = request::decode_body(&req.content_type, &req.body)?;
                let out = pods::exec(&self.log, self.nats.as_ref(), &ns, &name, &body).await?;
                done(200, Bytes::from(serde_json::to_vec(&out).unwrap_or_default()))
            }
            ("POST", "eviction") => {
                let body = if req.body.is_empty() {
                    Value::Null
                } else {
                    request::decode_body(&req.content_type, &req.body)?
                };
                let grace = body
                    .pointer("/deleteOptions/gracePeriodSeconds")
                    .and_then(Value::as_u64);
                self.commit(dry, move |st| eviction::evict(st, &ns, &name, grace, actor))
                    .await??;
                let ok = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
                done(201, Bytes::from(ok.to_string()))
            }
            ("GET", "scale") => {
                let obj: Value = serde_json::from_slice(&read::get(&self.log, rt, &ns, &name)?.json)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                done(200, Bytes::from(scale::of(&obj).to_string()))
            }
            ("PUT" | "PATCH", "scale") => {
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
                    .commit(dry, move |st| {
                        write::patch(st, rt, &ns, &name, PatchType::Merge, &change, false, actor, None)
                    })
                    .await??;
                let obj: Value = serde_json::from_slice(&ev.json).map_err(|e| ApiError::bad_request(e.to_string()))?;
                done(200, Bytes::from(scale::of(&obj).to_string()))
            }
            (m, _) => Err(ApiError::method_not_allowed(m)),
        }
    }

    /// `log?follow=true`: the output so far, then new output as it comes, until the container ends.
    pub fn follow_log(&self, ns: &str, name: &str, q: &Query) -> ApiResult<super::watch::WatchStream> {
        let first = crate::bus::envelope::LogRequest {
            namespace: ns.into(),
            pod: name.into(),
            container: q.get("container").unwrap_or("").into(),
            tail_lines: q.number("tailLines")?,
            previous: q.flag("previous"),
            since_bytes: None,
        };
        let (log, nats) = (self.log.clone(), self.nats.clone());
        let stream = futures::stream::unfold(Some((first, false)), move |state| {
            let (log, nats) = (log.clone(), nats.clone());
            async move {
                let (req, mut ended) = state?;
                {
                    let container = req.container.clone();
                    let (text, offset) = match pods::logs_of(&log, nats.as_ref(), req.clone()).await {
                        Ok(x) => x,
                        Err(_) => return None,
                    };
                    let next = crate::bus::envelope::LogRequest {
                        tail_lines: None,
                        since_bytes: Some(offset),
                        ..req.clone()
                    };
                    if !text.is_empty() {
                        return Some(((0, text), Some((next, ended))));
                    }
                    if ended {
                        return None;
                    }
                    // One more read after the end, for what the container wrote last.
                    ended = pods::container_ended(&log, &req.namespace, &req.pod, &container);
                    if !ended {
                        tokio::time::sleep(FOLLOW_POLL).await;
                    }
                    Some(((0, Bytes::new()), Some((next, ended))))
                }
            }
        });
        Ok(Box::pin(futures::StreamExt::filter(stream, |(_, b)| {
            futures::future::ready(!b.is_empty())
        })))
    }
}

/// Log options orca cannot honour yet, said rather than failed: the container's log file carries
/// no time per line.
fn log_option_warnings(q: &Query) -> Vec<String> {
    let mut out = Vec::new();
    for (option, what) in [
        ("sinceSeconds", "sinceSeconds is not applied"),
        ("sinceTime", "sinceTime is not applied"),
        ("timestamps", "timestamps are not added"),
    ] {
        if q.get(option).is_some_and(|v| !v.is_empty() && v != "false") {
            out.push(format!(
                "{what}: orca's container logs carry no time per line; the whole log is shown"
            ));
        }
    }
    out
}

/// How often a followed log is read again.
pub const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(250);
