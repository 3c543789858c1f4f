//! API errors as Kubernetes `Status` objects (400, 404, 409, 410, 413, 422 with causes, ...).

use serde_json::{json, Value};

use orca_schemas::FieldError;

/// An API failure carrying everything its `Status` object says.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Kubernetes reason (`NotFound`, `Invalid`, ...).
    pub reason: &'static str,
    /// Human-readable message saying what failed and what to do.
    pub message: String,
    /// `details` (name, kind, causes) when there are any.
    pub details: Option<Box<Value>>,
    /// `metadata.continue` of the Status (a token to go on after an expired one).
    pub list_continue: Option<String>,
}

/// Result with an API error.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            list_continue: None,
        }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }
    /// 404 for an object.
    pub fn not_found(plural: &str, name: &str) -> ApiError {
        let mut e = ApiError::new(404, "NotFound", format!("{plural} \"{name}\" not found"));
        e.details = Some(Box::new(json!({"name": name, "kind": plural})));
        e
    }
    /// 404 for a path that names nothing.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }
    /// 405.
    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method ({method}) on the requested resource"),
        )
    }
    /// 405 from a read-only server.
    pub fn read_only(method: &str) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", format!("this server is read-only (it serves a replayed log for inspection); {method} is refused: get, list, watch, history and time travel work"))
    }
    /// 409 AlreadyExists.
    pub fn already_exists(plural: &str, name: &str) -> ApiError {
        let mut e = ApiError::new(409, "AlreadyExists", format!("{plural} \"{name}\" already exists"));
        e.details = Some(Box::new(json!({"name": name, "kind": plural})));
        e
    }
    /// 409 Conflict on a stale resourceVersion.
    pub fn conflict(plural: &str, name: &str) -> ApiError {
        let mut e = ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"),
        );
        e.details = Some(Box::new(json!({"name": name, "kind": plural})));
        e
    }
    /// 422 for request options that are not valid.
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(422, "Invalid", message)
    }
    /// 409 Conflict with a specific message.
    pub fn conflict_message(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "Conflict", message)
    }
    /// 429: try again later (an eviction a disruption budget does not allow now).
    pub fn too_many_requests(message: impl Into<String>) -> ApiError {
        ApiError::new(429, "TooManyRequests", message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "Forbidden", message)
    }
    /// 410 below the compaction horizon.
    pub fn gone(requested: u64, oldest: u64) -> ApiError {
        ApiError::new(
            410,
            "Expired",
            format!("too old resource version: {requested} (the oldest revision held is {oldest}); list again to get a current resourceVersion"),
        )
    }
    /// 410 for a continue token whose revision is gone, with a token to go on from the current state.
    pub fn expired_continue(inconsistent: &str) -> ApiError {
        let mut e = ApiError::new(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
        e.list_continue = Some(inconsistent.to_string());
        e
    }
    /// 413.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("request entity too large: the body is over the limit of {limit} bytes"),
        )
    }
    /// 415.
    pub fn unsupported_media(ct: &str) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format ({ct}); accepted: application/json, application/yaml, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json"))
    }
    /// 422 with one cause per field error.
    pub fn invalid(kind: &str, name: &str, errors: &[FieldError]) -> ApiError {
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.reason(), "message": e.message, "field": e.field}))
            .collect();
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let shown = if name.is_empty() {
            String::new()
        } else {
            format!(" \"{name}\"")
        };
        let mut e = ApiError::new(422, "Invalid", format!("{kind}{shown} is invalid: {}", list.join(", ")));
        e.details = Some(Box::new(json!({"name": name, "kind": kind, "causes": causes})));
        e
    }
    /// 500.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }
    /// 503.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.as_ref().clone();
        }
        if let Some(c) = &self.list_continue {
            s["metadata"]["continue"] = Value::String(c.clone());
        }
        s
    }
}

impl From<crate::eventlog::Error> for ApiError {
    fn from(e: crate::eventlog::Error) -> ApiError {
        match e {
            crate::eventlog::Error::Compacted { requested, oldest } => ApiError::gone(requested, oldest),
            other => ApiError::internal(format!("event log: {other}")),
        }
    }
}
