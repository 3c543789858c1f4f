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
            ("GET", "log") => {
                let (text, offset) = pods::logs(&self.log, self.nats.as_ref(), &ns, &name, q).await?;
                let mut resp = ApiResponse::json(200, text);
                resp.warnings.clear();
                resp.offset = Some(offset);
                Ok(Reply::Done(resp))
            }
            ("POST", "exec") => {
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
                        write::patch(st, rt, &ns, &name, PatchType::Merge, &change, false, actor)
                    })
                    .await??;
                let obj: Value = serde_json::from_slice(&ev.json).map_err(|e| ApiError::bad_request(e.to_string()))?;
                done(200, Bytes::from(scale::of(&obj).to_string()))
            }
            (m, _) => Err(ApiError::method_not_allowed(m)),
        }
    }
}
