//! `SelfSubjectAccessReview` and `SelfSubjectReview` (`kubectl auth can-i`, `kubectl auth whoami`).
//! orca does not authenticate or authorize callers yet, so every review says what is true today:
//! the caller is anonymous and may do anything.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{request, ApiError, ApiRequest, ApiResponse, ApiResult};

/// Path of access reviews.
pub const ACCESS: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
/// Path of identity reviews.
pub const IDENTITY: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// The answer to a review at `req.path`, or None when the path is not a review.
pub fn answer(req: &ApiRequest) -> Option<ApiResult<ApiResponse>> {
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
    if path == ACCESS {
        review["apiVersion"] = json!("authorization.k8s.io/v1");
        review["kind"] = json!("SelfSubjectAccessReview");
        review["status"] = json!({"allowed": true,
            "reason": "orca does not authorize requests yet: every caller may do everything"});
    } else {
        review["apiVersion"] = json!("authentication.k8s.io/v1");
        review["kind"] = json!("SelfSubjectReview");
        review["status"] = json!({"userInfo": {"username": "system:anonymous", "groups": ["system:unauthenticated"]}});
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
