//! `serviceaccounts/token` (TokenRequest, what `kubectl create token` asks for): a token for the
//! ServiceAccount, signed with the cluster's token key, valid for `spec.expirationSeconds`
//! (default one hour, at least ten minutes) and only while the ServiceAccount exists.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{ApiCore, ApiError, ApiResult};
use crate::auth::tokens::{issue, ServiceAccountClaim};

const DEFAULT_SECONDS: u64 = 3600;
const MIN_SECONDS: u64 = 600;

/// Answers a TokenRequest for `ns/name`.
pub fn token_request(core: &ApiCore, ns: &str, name: &str, mut body: Value) -> ApiResult<Bytes> {
    let auth = core
        .auth()
        .ok_or_else(|| ApiError::bad_request("this server issues no tokens (it does not authenticate)"))?;
    let sa = core
        .log()
        .projection()
        .get("ServiceAccount", ns, name)
        .ok_or_else(|| ApiError::not_found("serviceaccounts", name))?;
    let seconds = body
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_SECONDS);
    if seconds < MIN_SECONDS {
        return Err(ApiError::unprocessable(format!(
            "TokenRequest.authentication.k8s.io \"{name}\" is invalid: spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes"
        )));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claim = ServiceAccountClaim {
        namespace: ns.to_string(),
        name: name.to_string(),
        uid: sa.uid.clone(),
        expires: now + seconds,
    };
    let token = issue(&auth.token_key, &claim);
    body["apiVersion"] = json!("authentication.k8s.io/v1");
    body["kind"] = json!("TokenRequest");
    body["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": super::write::rfc3339(now * 1000)});
    body["spec"]["expirationSeconds"] = json!(seconds);
    body["status"] = json!({"token": token, "expirationTimestamp": super::write::rfc3339(claim.expires * 1000)});
    Ok(Bytes::from(body.to_string()))
}
