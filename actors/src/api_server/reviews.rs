//! `SelfSubjectAccessReview` and `SelfSubjectReview` (`kubectl auth can-i`, `kubectl auth whoami`),
//! and `SubjectAccessReview` / `LocalSubjectAccessReview` about another user: the identity, and
//! what RBAC decides for the attributes asked about.

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

/// Path of access reviews about another subject.
pub const SUBJECT_ACCESS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

/// The namespace of a `LocalSubjectAccessReview` path.
fn local_review_namespace(path: &str) -> Option<&str> {
    path.strip_prefix("/apis/authorization.k8s.io/v1/namespaces/")?
        .strip_suffix("/localsubjectaccessreviews")
        .filter(|ns| !ns.is_empty() && !ns.contains('/'))
}

/// The subject a (Local)SubjectAccessReview asks about: exactly the user, uid and groups given.
fn subject(spec: &Value) -> Identity {
    Identity {
        user: s(spec, "user"),
        uid: s(spec, "uid"),
        groups: serde_json::from_value(spec["groups"].clone()).unwrap_or_default(),
    }
}

/// The answer to a review at `req.path`, or None when the path is not a review.
pub fn answer(req: &ApiRequest, core: &ApiCore) -> Option<ApiResult<ApiResponse>> {
    let path = req.path.trim_end_matches('/');
    let local = local_review_namespace(path);
    if path != ACCESS && path != IDENTITY && path != SUBJECT_ACCESS && local.is_none() {
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
    let caller = req.identity.clone().unwrap_or_else(Identity::insecure_admin);
    if path == ACCESS || path == SUBJECT_ACCESS || local.is_some() {
        let (kind, who) = match (path == ACCESS, local) {
            (true, _) => ("SelfSubjectAccessReview", caller),
            (false, None) => ("SubjectAccessReview", subject(&review["spec"])),
            (false, Some(_)) => ("LocalSubjectAccessReview", subject(&review["spec"])),
        };
        if path != ACCESS
            && s(&review["spec"], "user").is_empty()
            && review["spec"]["groups"].as_array().is_none_or(Vec::is_empty)
        {
            return Some(Err(ApiError::invalid(
                kind,
                "",
                &[orca_schemas::FieldError {
                    kind: orca_schemas::validate::ErrorType::Invalid,
                    field: "spec.user".into(),
                    message: "Invalid value: \"\": at least one of user or group must be specified".into(),
                }],
            )));
        }
        if let Some(ns) = local {
            let asked = review["spec"]["resourceAttributes"]["namespace"].as_str().unwrap_or("");
            if review["spec"]["resourceAttributes"].is_object() && !asked.is_empty() && asked != ns {
                return Some(Err(ApiError::bad_request(format!(
                    "spec.resourceAttributes.namespace must match namespace: {ns}"
                ))));
            }
            review["spec"]["resourceAttributes"]["namespace"] = json!(ns);
        }
        review["apiVersion"] = json!("authorization.k8s.io/v1");
        review["kind"] = json!(kind);
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
        let mut info = json!({"username": caller.user, "groups": caller.groups});
        if !caller.uid.is_empty() {
            info["uid"] = json!(caller.uid);
        }
        review["status"] = json!({"userInfo": info});
    }
    if !review["metadata"].is_object() {
        review["metadata"] = Value::Object(Default::default());
    }
    Some(Ok(ApiResponse::json(201, Bytes::from(review.to_string()))))
}

/// The discovery entries of the reviews: (group, version, plural, kind, namespaced).
pub const GROUPS: &[(&str, &str, &str, &str, bool)] = &[
    (
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        true,
    ),
    (
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        false,
    ),
];

/// The review groups, each once.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (g, v, ..) in GROUPS {
        if !out.contains(&(*g, *v)) {
            out.push((*g, *v));
        }
    }
    out
}
