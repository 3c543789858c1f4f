//! A container's `lifecycle.preStop` handler, run before it is sent SIGTERM and within its grace
//! period: `sleep` (the usual way to let endpoints drain), `exec` (inside the container, through
//! the runtime) or `httpGet`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::probe::{probe_once, ProbeTarget};

/// Runs `handler` (the `preStop` object) until it ends or `deadline` passes.
pub async fn pre_stop(handler: &Value, target: &ProbeTarget, exec_argv: Vec<String>, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    if let Some(secs) = handler["sleep"]["seconds"].as_u64() {
        tokio::time::sleep(Duration::from_secs(secs).min(left)).await;
        return;
    }
    if handler["exec"].is_object() {
        let Some((cmd, args)) = exec_argv.split_first() else {
            return;
        };
        let run = tokio::process::Command::new(cmd)
            .args(args)
            .envs(target.env.iter().cloned())
            .current_dir(if target.cwd.is_dir() {
                target.cwd.as_path()
            } else {
                std::path::Path::new("/")
            })
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let _ = tokio::time::timeout(left, run).await;
        return;
    }
    if handler["httpGet"].is_object() {
        let mut probe = serde_json::json!({"httpGet": handler["httpGet"].clone()});
        probe["timeoutSeconds"] = left.as_secs().max(1).into();
        if let Ok(p) = serde_json::from_value(probe) {
            let _ = tokio::time::timeout(left, probe_once(&p, target)).await;
        }
    }
}

/// The command an `exec` handler runs (empty when the handler is not `exec`).
pub fn exec_command(handler: &Value) -> Vec<String> {
    handler["exec"]["command"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}
