//! A transport-independent API request and response (the HTTP front and the NATS actor both use them).

use bytes::Bytes;
use serde_json::Value;

use super::status::{ApiError, ApiResult};

/// Request bodies larger than this get 413 (as Kubernetes' 3 MiB limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// One API call.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// HTTP verb.
    pub method: String,
    /// URL path.
    pub path: String,
    /// Raw query string (without `?`).
    pub query: String,
    /// Content-Type of the body.
    pub content_type: String,
    /// Who is calling (recorded in the log as the event's actor).
    pub actor: String,
    /// The authenticated caller, when the request came through an authenticating front.
    pub identity: Option<crate::auth::Identity>,
    /// Request body.
    pub body: Bytes,
}

/// The answer to an API call: status, JSON body, warnings.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status code.
    pub status: u16,
    /// JSON body.
    pub body: Bytes,
    /// Warnings for the client (fields kept but not acted on).
    pub warnings: Vec<String>,
    /// For pod logs: the byte offset the text ends at (sent as `X-Orca-Log-Offset`).
    pub offset: Option<u64>,
}

impl ApiResponse {
    /// A response with a JSON body.
    pub fn json(status: u16, body: Bytes) -> ApiResponse {
        ApiResponse {
            status,
            body,
            warnings: Vec::new(),
            offset: None,
        }
    }
    /// The `Status` response of an error.
    pub fn error(e: &ApiError) -> ApiResponse {
        ApiResponse::json(
            e.code,
            Bytes::from(serde_json::to_vec(&e.to_status()).unwrap_or_default()),
        )
    }
}

/// Query parameters, percent-decoded.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `a=b&c=d`.
    pub fn parse(raw: &str) -> Query {
        Query(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }
    /// The value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    /// Every value of a repeated parameter (`command=ls&command=-l`).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// Whether a boolean parameter is true, spelled as Go's `strconv.ParseBool` reads it (`true`,
    /// `True`, `TRUE`, `t`, `T`, `1`; the Python client sends `True`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "True" | "TRUE" | "t" | "T" | "1"))
    }
    /// An unsigned number parameter; a malformed one is a 400.
    pub fn number(&self, key: &str) -> ApiResult<Option<u64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("query parameter {key}={v:?} is not a non-negative integer"))
            }),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes a request body as JSON or YAML (by content type, else by sniffing).
pub fn decode_body(content_type: &str, body: &[u8]) -> ApiResult<Value> {
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large(MAX_BODY));
    }
    let ct = content_type.split(';').next().unwrap_or("").trim();
    if ct == "application/vnd.kubernetes.protobuf" {
        return orca_schemas::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("the protobuf body could not be read: {e}")));
    }
    // JSON, YAML and Kubernetes protobuf only; anything else (text/plain) is refused.
    if !ct.is_empty() && !ct.contains("json") && !ct.contains("yaml") {
        return Err(ApiError::unsupported_media(ct));
    }
    let yaml = ct.contains("yaml")
        || (ct.is_empty()
            && !body
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'{' || *b == b'['));
    if yaml {
        serde_yaml_ng::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not valid YAML: {e}")))
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
    }
}

/// Sets the namespace from the path and checks name and namespace agree with it.
pub(crate) fn fill_identity(
    v: &mut Value,
    rt: &orca_schemas::ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
) -> ApiResult<()> {
    let obj = v
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body must be an object"))?;
    let meta = obj.entry("metadata").or_insert_with(|| serde_json::json!({}));
    let meta = meta
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    if rt.namespaced {
        let path_ns = ns.unwrap_or("default");
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("namespace".into(), Value::String(path_ns.to_string()));
            }
            Some(body_ns) if body_ns != path_ns => {
                return Err(ApiError::bad_request(format!("the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({path_ns})")));
            }
            Some(_) => {}
        }
    } else {
        meta.remove("namespace");
    }
    if let Some(name) = name {
        match meta.get("name").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("name".into(), Value::String(name.to_string()));
            }
            Some(n) if n != name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Query::parse("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=true&resourceVersion=12");
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch"));
        assert_eq!(q.number("resourceVersion").unwrap(), Some(12));
        assert!(Query::parse("limit=x").number("limit").is_err());
    }

    #[test]
    fn body_formats() {
        assert_eq!(decode_body("application/json", br#"{"a":1}"#).unwrap()["a"], 1);
        assert_eq!(decode_body("application/yaml", b"a: 1\n").unwrap()["a"], 1);
        assert_eq!(decode_body("", b"a: 1\n").unwrap()["a"], 1);
        assert_eq!(decode_body("application/json", b"{nope").unwrap_err().code, 400);
    }
}
