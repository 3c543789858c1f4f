//! A container supervisor: starts (or adopts) the container, waits for it, applies the restart policy
//! with back-off, rotates its log, and terminates it gracefully when told to.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use std::collections::HashMap;

use orca_schemas::kinds::pod::Probe;

use super::backoff;
use super::probe::{ProbeTarget, Probes, Verdict};
use super::status::ContainerView;
use crate::node::runtime::{ContainerConfig, ContainerRuntime, Started};

/// How often a running container is checked where its end cannot be waited for (no pidfd).
pub const POLL: Duration = Duration::from_millis(50);
/// How often a container whose end is waited for through a pidfd is looked at anyway.
pub const IDLE_CHECK: Duration = Duration::from_secs(2);
/// How long a killed container has to disappear.
pub const KILL_WAIT: Duration = Duration::from_secs(5);

/// Whether a container's saved state says it finished with exit code 0.
pub fn succeeded(dir: &Path) -> bool {
    let st = load(dir);
    st.done && st.final_state.pointer("/terminated/exitCode").and_then(Value::as_i64) == Some(0)
}

/// What is kept on disk so that a restarted agent adopts the container instead of running it twice.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SavedState {
    /// Shim pid of the current run, if one was started.
    pub pid: Option<i32>,
    /// Restarts so far.
    pub restart_count: u32,
    /// When the current run started.
    pub started_at: String,
    /// The previous run's terminated state.
    pub last_state: Value,
    /// Whether the container will not run again.
    pub done: bool,
    /// The final state when done.
    pub final_state: Value,
}

/// Everything a supervisor needs.
pub struct ContainerCtx {
    /// Container name.
    pub name: String,
    /// Image (recorded).
    pub image: String,
    /// Directory of this container's files.
    pub dir: PathBuf,
    /// What the runtime needs to start a run (command, args, image, env, netns, ...).
    pub config: ContainerConfig,
    /// Environment.
    pub env: Vec<(String, String)>,
    /// Host working directory (exec probes of the process runtime).
    pub working_dir: PathBuf,
    /// Pod IP that probes connect to.
    pub pod_ip: String,
    /// `Always`, `OnFailure` or `Never`.
    pub restart_policy: String,
    /// First back-off delay.
    pub backoff_base: Duration,
    /// The runtime.
    pub runtime: Arc<dyn ContainerRuntime>,
    /// Where views go.
    pub updates: mpsc::Sender<ContainerView>,
    /// `Some(grace seconds)` once the pod is stopping.
    pub stop: watch::Receiver<Option<u64>>,
    /// Startup, liveness and readiness probes.
    pub probes: [Option<Probe>; 3],
    /// Named container ports, for probes.
    pub ports: HashMap<String, i64>,
    /// Grace period when a liveness failure kills the container.
    pub grace: u64,
    /// An init container: once done, its supervisor returns at once so the next one can start.
    pub init: bool,
    /// `lifecycle.preStop`, run before SIGTERM (null when none).
    pub pre_stop: Value,
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn load(dir: &Path) -> SavedState {
    std::fs::read(dir.join("state.json"))
        .ok()
        .and_then(|b| first_json(&b))
        .unwrap_or_default()
}

/// The first JSON value in `bytes`: bytes after it are what a longer earlier state left before
/// the file was cut to size (see `save`).
pub(crate) fn first_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::Deserializer::from_slice(bytes).into_iter().next()?.ok()
}

/// Writes the state in place, in one `pwrite` at offset 0, then cuts the file to size. A temporary
/// file renamed over the old one would cost the file system a fresh inode (and a freed one) per
/// save, which on ext4 makes every later file creation on the node slower for a while; killed
/// between the two calls, the file holds the new state followed by the old one's tail, which
/// `load` skips.
fn save(dir: &Path, st: &SavedState) {
    use std::os::unix::fs::FileExt;
    let Ok(bytes) = serde_json::to_vec(st) else {
        return;
    };
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("state.json"));
    if let Ok(f) = opened {
        if f.write_all_at(&bytes, 0).is_ok() {
            let _ = f.set_len(bytes.len() as u64);
        }
    }
}

/// The log file of the current run.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join("current.log")
}

/// The log file of the previous run.
pub fn previous_log_path(dir: &Path) -> PathBuf {
    dir.join("previous.log")
}

impl ContainerCtx {
    /// Runs a runtime call that may block (runc runs as a process of its own: `kill`, `delete`)
    /// off the agent's two worker threads, which every pod's actor and I/O share.
    async fn blocking(&self, f: impl FnOnce(&dyn ContainerRuntime, &Path) + Send + 'static) {
        let (runtime, dir) = (self.runtime.clone(), self.dir.clone());
        let _ = tokio::task::spawn_blocking(move || f(runtime.as_ref(), &dir)).await;
    }

    async fn send(&self, st: &SavedState, state: Value, done: bool) {
        self.send_ready(st, state, false, done).await
    }

    async fn send_ready(&self, st: &SavedState, state: Value, ready: bool, done: bool) {
        let view = ContainerView {
            name: self.name.clone(),
            ready: ready && state.get("running").is_some(),
            state,
            last_state: st.last_state.clone(),
            restart_count: st.restart_count,
            image: self.image.clone(),
            done,
            init: self.init,
        };
        let _ = self.updates.send(view).await;
    }

    fn stopping(&self) -> Option<u64> {
        *self.stop.borrow()
    }

    /// Waits until the stop signal is raised.
    async fn wait_stop(&mut self) -> u64 {
        loop {
            if let Some(g) = self.stopping() {
                return g;
            }
            if self.stop.changed().await.is_err() {
                return 0;
            }
        }
    }

    async fn terminate(&self, started: Started, grace: u64, target: &ProbeTarget) {
        let deadline = Instant::now() + Duration::from_secs(grace);
        if self.pre_stop.is_object() {
            let argv = self
                .runtime
                .exec_argv(&self.dir, &super::lifecycle::exec_command(&self.pre_stop));
            super::lifecycle::pre_stop(&self.pre_stop, target, argv, deadline).await;
        }
        self.blocking(move |rt, dir| rt.signal(started, dir, false)).await;
        while self.runtime.alive(started) && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        if self.runtime.alive(started) {
            self.blocking(move |rt, dir| rt.signal(started, dir, true)).await;
            let deadline = Instant::now() + KILL_WAIT;
            while self.runtime.alive(started) && Instant::now() < deadline {
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Supervises one container until the pod stops (or the container is done for good).
pub async fn supervise(mut ctx: ContainerCtx) {
    let _ = std::fs::create_dir_all(&ctx.dir);
    let mut st = load(&ctx.dir);
    if st.done {
        ctx.send(&st, st.final_state.clone(), true).await;
        if !ctx.init {
            ctx.wait_stop().await;
        }
        return;
    }
    loop {
        if ctx.stopping().is_some() {
            return;
        }
        // Adopt a run that survived an agent restart, or start a new one.
        let adopted = st.pid.map(|pid| Started { pid }).filter(|s| {
            crate::node::runtime::shim_process::owned(s.pid, &ctx.dir)
                && ctx.runtime.alive(*s)
                && !ctx.dir.join("exit").exists()
        });
        let started = match adopted {
            Some(s) => s,
            None if st.pid.is_some() => Started {
                pid: st.pid.unwrap_or(0),
            },
            None => {
                if st.restart_count > 0 || st.last_state.is_object() {
                    let _ = std::fs::rename(log_path(&ctx.dir), previous_log_path(&ctx.dir));
                }
                let cfg = ctx.config.clone();
                let runtime = ctx.runtime.clone();
                let spawned = tokio::task::spawn_blocking(move || runtime.start(&cfg))
                    .await
                    .unwrap_or_else(|e| Err(crate::node::runtime::Error::Start(e.to_string())));
                match spawned {
                    Ok(s) => {
                        st.pid = Some(s.pid);
                        st.started_at = now();
                        save(&ctx.dir, &st);
                        s
                    }
                    Err(e) => {
                        let reason = match e {
                            crate::node::runtime::Error::ImageMissing(_) => "ErrImageNeverPull",
                            _ => "CreateContainerError",
                        };
                        ctx.send(
                            &st,
                            json!({"waiting": {"reason": reason, "message": e.to_string()}}),
                            false,
                        )
                        .await;
                        tokio::select! {
                            _ = tokio::time::sleep(ctx.backoff_base) => continue,
                            _ = ctx.wait_stop() => return,
                        }
                    }
                }
            }
        };
        let run_start = Instant::now();
        let [startup, liveness, readiness] = &ctx.probes;
        let mut probes = Probes::new(startup.as_ref(), liveness.as_ref(), readiness.as_ref(), run_start);
        let target = ProbeTarget {
            host: ctx.pod_ip.clone(),
            ports: ctx.ports.clone(),
            env: ctx.env.clone(),
            cwd: ctx.working_dir.clone(),
            exec_prefix: ctx.runtime.exec_argv(&ctx.dir, &[]),
        };
        let running = json!({"running": {"startedAt": st.started_at}});
        ctx.send_ready(&st, running.clone(), probes.ready(), false).await;
        let mut stopped_by_us = false;
        // The supervisor sleeps until the monitor ends, the pod stops or a probe is due: a
        // thousand idle containers cost no wake-ups.
        let exited = crate::node::runtime::shim_process::exit_notifier(started.pid);
        while ctx.runtime.alive(started) {
            if let Some(grace) = ctx.stopping() {
                ctx.terminate(started, grace, &target).await;
                stopped_by_us = true;
                break;
            }
            match probes.tick(&target).await {
                Verdict::Nothing => {}
                Verdict::Ready(r) => {
                    tracing::debug!("container {} at {}: ready {r} (readiness probe)", ctx.name, target.host);
                    ctx.send_ready(&st, running.clone(), r, false).await
                }
                Verdict::Restart(why) => {
                    tracing::info!("container {}: {why}, restarting", ctx.name);
                    ctx.terminate(started, ctx.grace, &target).await;
                    break;
                }
            }
            let nap = match (&exited, probes.next_due()) {
                (None, _) => POLL,
                (Some(_), None) => IDLE_CHECK,
                (Some(_), Some(due)) => due
                    .saturating_duration_since(Instant::now())
                    .clamp(Duration::from_millis(10), IDLE_CHECK),
            };
            let ended = async {
                match &exited {
                    Some(fd) => drop(fd.readable().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = ctx.stop.changed() => {}
                _ = ended => {}
            }
        }
        ctx.blocking(|rt, dir| rt.cleanup(dir)).await;
        // No exit file: the monitor itself was killed (SIGKILL to the process group).
        let (code, finished_at) = crate::node::runtime::shim_process::exit_status(&ctx.dir).unwrap_or((137, None));
        let reason = match code {
            0 => "Completed",
            137 if ctx.runtime.oom_killed(&ctx.dir) => "OOMKilled",
            _ => "Error",
        };
        let terminated = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": st.started_at, "finishedAt": finished_at.unwrap_or_else(now)}});
        st.pid = None;
        let restart = match ctx.restart_policy.as_str() {
            "Always" => true,
            "OnFailure" => code != 0,
            _ => false,
        };
        if stopped_by_us || ctx.stopping().is_some() || !restart {
            st.done = true;
            st.final_state = terminated.clone();
            save(&ctx.dir, &st);
            ctx.send(&st, terminated, true).await;
            if !stopped_by_us && !ctx.init {
                ctx.wait_stop().await;
            }
            return;
        }
        let delay = backoff::delay(ctx.backoff_base, st.restart_count, run_start.elapsed());
        st.last_state = terminated;
        save(&ctx.dir, &st);
        let msg = format!(
            "back-off {}s restarting failed container={}",
            delay.as_secs().max(1),
            ctx.name
        );
        ctx.send(
            &st,
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": msg}}),
            false,
        )
        .await;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = ctx.wait_stop() => return,
        }
        st.restart_count += 1;
        save(&ctx.dir, &st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_saved_in_place_and_a_cut_short_save_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let long = SavedState {
            pid: Some(123456),
            restart_count: 7,
            started_at: "2026-11-29T21:00:00Z".into(),
            ..Default::default()
        };
        save(dir.path(), &long);
        let short = SavedState {
            pid: Some(1),
            ..Default::default()
        };
        save(dir.path(), &short);
        assert_eq!(load(dir.path()).pid, Some(1));
        assert_eq!(load(dir.path()).restart_count, 0);
        // Killed between the write and the cut: the new state, then the old one's tail.
        let mut bytes = serde_json::to_vec(&short).unwrap();
        let old = serde_json::to_vec(&long).unwrap();
        bytes.extend_from_slice(&old[bytes.len()..]);
        std::fs::write(dir.path().join("state.json"), bytes).unwrap();
        assert_eq!(load(dir.path()).pid, Some(1));
        assert_eq!(load(dir.path()).restart_count, 0);
    }
}
