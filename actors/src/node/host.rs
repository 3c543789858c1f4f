//! What an agent does to its own machine: pick the container runtime, remove what belongs to no
//! pod, and stop every container when `orca up` ends.

use std::sync::Arc;
use std::time::Duration;

use super::agent::AgentOptions;
use super::images::ImageStore;
use super::runtime::process::ProcessRuntime;
use super::runtime::runc::RuncRuntime;
use super::runtime::ContainerRuntime;

/// Stops and removes the containers of pods that are no longer bound to this node.
pub(crate) fn cleanup_orphans(
    pods_dir: &std::path::Path,
    keep: &std::collections::HashSet<String>,
    runtime: &dyn ContainerRuntime,
) {
    let Ok(entries) = std::fs::read_dir(pods_dir) else {
        return;
    };
    for e in entries.flatten() {
        let uid = e.file_name().to_string_lossy().into_owned();
        if keep.contains(&uid) {
            continue;
        }
        for c in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
            let state: Option<crate::pod::container::SavedState> = std::fs::read(c.path().join("state.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if let Some(pid) = state.and_then(|s| s.pid) {
                let started = super::runtime::Started { pid };
                // Only our own shim is signalled, never whatever process has its old pid now.
                if super::runtime::shim_process::owned(pid, &c.path()) && runtime.alive(started) {
                    runtime.signal(started, &c.path(), true);
                }
                runtime.cleanup(&c.path());
            }
        }
        super::network::teardown(&uid);
        crate::pod::volumes::release(&e.path());
        let _ = std::fs::remove_dir_all(e.path());
    }
}

/// The runtime the options ask for; every runtime needs the monitor binary, runc needs root and
/// the runc binary.
pub(crate) fn make_runtime(opts: &AgentOptions) -> Result<Arc<dyn ContainerRuntime>, String> {
    super::runtime::shim_process::check(&opts.shim_bin)?;
    match opts.runtime.as_str() {
        "process" => Ok(Arc::new(ProcessRuntime {
            shim_bin: opts.shim_bin.clone(),
        })),
        "runc" => {
            if !nix::unistd::geteuid().is_root() {
                return Err("the runc runtime needs root (network namespaces, bridges and mounts); run the agent as root or use --runtime process".into());
            }
            let runc_bin = crate::cluster::natsd::find_on_path("runc")
                .ok_or("runc was not found on PATH; install it with `apt-get install -y runc`")?;
            Ok(Arc::new(RuncRuntime {
                shim_bin: opts.shim_bin.clone(),
                runc_bin,
                store: ImageStore::new(opts.image_dir.clone()),
                state_root: opts.data_dir.join("runc"),
            }))
        }
        other => Err(format!("unknown runtime {other:?}: use process or runc")),
    }
}

/// How long containers get after SIGTERM when their node stops with `orca up`.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Stops every container started under `data_dir` (SIGTERM, then SIGKILL after `STOP_GRACE`), for
/// `orca up`, whose containers should not outlive it. They start again, by their restart policy, when
/// an agent on the same data directory comes back.
pub fn stop_containers(data_dir: &std::path::Path) {
    let mut running = Vec::new();
    for pod in std::fs::read_dir(data_dir.join("pods")).into_iter().flatten().flatten() {
        for c in std::fs::read_dir(pod.path()).into_iter().flatten().flatten() {
            let state: Option<crate::pod::container::SavedState> = std::fs::read(c.path().join("state.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if let Some(pid) = state
                .and_then(|s| s.pid)
                .filter(|p| super::runtime::shim_process::owned(*p, &c.path()))
            {
                running.push((pid, c.path()));
            }
        }
    }
    let runc_root = data_dir.join("runc");
    let runc = |args: &[&str]| {
        if runc_root.is_dir() {
            let _ = std::process::Command::new("runc")
                .arg("--root")
                .arg(&runc_root)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    };
    for (pid, dir) in &running {
        runc(&["kill", "--all", &super::runtime::container_id(dir), "TERM"]);
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGTERM);
    }
    let deadline = std::time::Instant::now() + STOP_GRACE;
    while std::time::Instant::now() < deadline && running.iter().any(|(p, _)| super::runtime::shim_process::alive(*p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for (pid, dir) in &running {
        runc(&["kill", "--all", &super::runtime::container_id(dir), "KILL"]);
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
        runc(&["delete", "-f", &super::runtime::container_id(dir)]);
    }
}
