//! `SelfSubjectAccessReview` and `SelfSubjectReview` (`kubectl auth can-i`, `kubectl auth whoami`):
//! the caller's authenticated identity, and what RBAC decides for the attributes it asks about.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{request, ApiCore, ApiError, ApiRequest, ApiResponse, ApiResult};
use crate::auth::{Attributes, Identity};

fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").to_string()
}

/// The attributes a review's `spec` asks about.
fn attributes(spec: &Value) -> Attributes {
    if let Some(r) = spec.get("resourceAttributes").filter(|r| r.is_object()) {
        return Attributes {
            verb: s(r, "verb"),
            resource_request: true,
            api_group: s(r, "group"),
            resource: s(r, "resource"),
            subresource: s(r, "subresource"),
            namespace: s(r, "namespace"),
            name: s(r, "name"),
            path: String::new(),
        };
    }
    let n = &spec["nonResourceAttributes"];
    Attributes {
        verb: s(n, "verb"),
        path: s(n, "path"),
        ..Default::default()
    }
}

/// Path of access reviews.
pub const ACCESS: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
/// Path of identity reviews.
pub const IDENTITY: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// The answer to a review at `req.path`, or None when the path is not a review.
pub fn answer(req: &ApiRequest, core: &ApiCore) -> Option<ApiResult<ApiResponse>> {
    let path = req.path.trim_end_matches('/');
    if path != ACCESS && path != IDENTITY {
        return None;
    }
    if req.method != "POST" {
        return Some(Err(ApiError::method_not_allowed(&req.method)));
    }
    let mut review = if req.body.is_empty() {
        json!({})
    } else {
        match request::decode_body(&req.content_type, &req.body) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        }
    };
    // Callers inside the control plane (over NATS) are trusted components.
    let who = req.identity.clone().unwrap_or_else(Identity::insecure_admin);
    if path == ACCESS {
        review["apiVersion"] = json!("authorization.k8s.io/v1");
        review["kind"] = json!("SelfSubjectAccessReview");
        let what = attributes(&review["spec"]);
        let decision = match core.auth() {
            Some(auth) => auth.policy.get(&core.log().projection()).decide(&who, &what),
            None => Ok("this server does not authorize requests".to_string()),
        };
        review["status"] = match decision {
            Ok(reason) => json!({"allowed": true, "reason": reason}),
            // As Kubernetes: a denial carries no reason (kubectl prints a bare "no").
            Err(_) => json!({"allowed": false}),
        };
    } else {
        review["apiVersion"] = json!("authentication.k8s.io/v1");
        review["kind"] = json!("SelfSubjectReview");
        let mut info = json!({"username": who.user, "groups": who.groups});
        if !who.uid.is_empty() {
            info["uid"] = json!(who.uid);
        }
        review["status"] = json!({"userInfo": info});
    }
    if !review["metadata"].is_object() {
        review["metadata"] = Value::Object(Default::default());
    }
    Some(Ok(ApiResponse::json(201, Bytes::from(review.to_string()))))
}

/// The discovery entries of the two review groups: (group, version, plural, kind).
pub const GROUPS: &[(&str, &str, &str, &str)] = &[
    (
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
    ),
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview"),
];
