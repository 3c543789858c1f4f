//! A pod's sandbox on the node: its network namespace (runc pods), the files exec needs, the output
//! tails kept with its final status, and cleaning up after it.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{json, Value};

use orca_schemas::kinds::pod::PodSpec;

use super::container;
use super::launch::CONFIG_RETRY;
use crate::bus::client::ApiClient;
use crate::node::network;

/// What `exec` in a container needs: its environment and (process containers) host working
/// directory, kept in one file (0600: the environment may hold secrets).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ExecContext {
    pub env: Vec<(String, String)>,
    pub workdir: std::path::PathBuf,
}

/// The file that keeps a container's `ExecContext`.
pub(crate) fn exec_context_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("exec.json")
}

/// Keeps the container's environment and working directory for `exec`.
pub(crate) fn remember_for_exec(dir: &std::path::Path, env: &[(String, String)], work: &std::path::Path) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::create_dir_all(dir);
    let ctx = ExecContext {
        env: env.to_vec(),
        workdir: work.to_path_buf(),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(exec_context_path(dir))
    {
        let _ = f.write_all(&serde_json::to_vec(&ctx).unwrap_or_default());
    }
}

/// Removes the pod's files and, for runc pods, its network namespace.
pub(crate) fn release(pod_network: bool, dir: &std::path::Path, uid: &str) {
    release_sandbox(pod_network, uid);
    super::volumes::release(dir);
    let _ = std::fs::remove_dir_all(dir);
}

/// Removes a runc pod's network namespace and cgroups: done before the pod's object is deleted,
/// so that a pod gone from the API has left nothing on the node.
pub(crate) fn release_sandbox(pod_network: bool, uid: &str) {
    if pod_network {
        network::teardown(uid);
        crate::node::runtime::limits::remove_pod_cgroups(uid);
    }
}

/// Sets up the pod's network namespace, reporting failures in the status and retrying; `None` when
/// `cancelled` is set meanwhile (the pod is being deleted or is gone).
pub(crate) async fn pod_network(
    net: network::PodNet,
    api: &ApiClient,
    dir: &std::path::Path,
    uid: &str,
    status_path: &str,
    cancelled: &AtomicBool,
) -> Option<String> {
    let pods_dir = dir.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    loop {
        let (d, id) = (pods_dir.clone(), uid.to_string());
        let outcome = tokio::task::spawn_blocking(move || network::setup(net, &d, &id))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        match outcome {
            Ok(ip) => return Some(ip.to_string()),
            Err(e) => {
                let patch = json!({"status": {"phase": "Pending", "reason": "CreatePodSandboxError", "message": format!("failed to set up the pod network: {e}")}});
                let _ = api.call("PATCH", status_path, "", Some(&patch)).await;
                for _ in 0..20 {
                    if cancelled.load(Ordering::SeqCst) {
                        return None;
                    }
                    tokio::time::sleep(CONFIG_RETRY / 20).await;
                }
            }
        }
    }
}

/// The last `max` bytes of each container's current log, cut at a line start when possible.
pub fn log_tails(dir: &std::path::Path, spec: &PodSpec, max: u64) -> Value {
    let mut tails = serde_json::Map::new();
    for c in &spec.containers {
        let Ok(data) = std::fs::read(container::log_path(&dir.join(&c.name))) else {
            continue;
        };
        let start = data.len().saturating_sub(max as usize);
        let mut tail = &data[start..];
        if start > 0 {
            if let Some(nl) = tail.iter().position(|b| *b == b'\n') {
                tail = &tail[nl + 1..];
            }
        }
        tails.insert(
            c.name.clone(),
            Value::String(String::from_utf8_lossy(tail).into_owned()),
        );
    }
    Value::Object(tails)
}
