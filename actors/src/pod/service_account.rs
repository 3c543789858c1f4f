//! The ServiceAccount token of a runc pod at `/var/run/secrets/kubernetes.io/serviceaccount`
//! (`token`, `ca.crt`, `namespace`), from the token Secret of the pod's ServiceAccount, unless the
//! pod says `automountServiceAccountToken: false`. Process pods share the host's filesystem and
//! get none.

use std::path::Path;

use serde_json::Value;

use crate::bus::client::ApiClient;
use crate::node::runtime::Mount;

/// Where containers find it.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The pod's ServiceAccount (`default` when it names none).
pub fn account(pod: &Value) -> &str {
    pod["spec"]["serviceAccountName"]
        .as_str()
        .or_else(|| pod["spec"]["serviceAccount"].as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

/// Writes the token files under `pod_dir/serviceaccount` and returns the mount; an error (the
/// Secret not made yet) is retried by the caller.
pub async fn prepare(api: &ApiClient, pod: &Value, pod_dir: &Path) -> Result<Vec<Mount>, String> {
    if pod["spec"]["automountServiceAccountToken"] == false {
        return Ok(Vec::new());
    }
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let sa = account(pod);
    let secret = crate::controllers::service_accounts::token_secret(sa);
    let path = format!("/api/v1/namespaces/{ns}/secrets/{secret}");
    let a = api
        .call("GET", &path, "", None)
        .await
        .map_err(|e| format!("reading {path}: {e}"))?;
    if a.status != 200 {
        return Err(format!(
            "waiting for the token of ServiceAccount {ns}/{sa} (Secret {secret}: status {})",
            a.status
        ));
    }
    let v: Value = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    let mut files = super::volume_files::Files::new();
    for key in ["token", "ca.crt", "namespace"] {
        let data = v["data"][key]
            .as_str()
            .and_then(orca_schemas::validate::other::base64_decode)
            .ok_or_else(|| format!("Secret {ns}/{secret} has no {key}"))?;
        files.insert(key.to_string(), (data, 0o644));
    }
    let dir = pod_dir.join("serviceaccount");
    super::volume_files::write_atomic(&dir, &files).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(vec![Mount {
        source: dir,
        destination: MOUNT_PATH.into(),
        read_only: true,
    }])
}
