//! The `process` runtime: each container is a host process group (host network) under an `orca-shim`,
//! with its own working directory and its output appended to a log file. The image is recorded but not
//! used.

use std::path::PathBuf;
use std::process::Command;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::{shim_process, ContainerConfig, ContainerRuntime, Error, Started};

/// Runs containers as host processes under `orca-shim`.
pub struct ProcessRuntime {
    /// The per-container monitor.
    pub shim_bin: PathBuf,
}

impl ContainerRuntime for ProcessRuntime {
    fn start(&self, cfg: &ContainerConfig) -> Result<Started, Error> {
        // The image is not used, so it has no entrypoint: `args` alone (what `kubectl run NAME
        // --image=I -- CMD...` sends) run as the command, as they do for an image without one.
        if cfg.command.is_empty() && cfg.args.is_empty() {
            return Err(Error::Config("the process runtime runs spec.containers[].command and args (the image is not used); this container has no command and no args".into()));
        }
        let argv: Vec<String> = cfg.command.iter().chain(cfg.args.iter()).cloned().collect();
        let working_dir = cfg
            .working_dir
            .as_ref()
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| cfg.dir.join("work"));
        std::fs::create_dir_all(&working_dir)?;
        let mut cmd = Command::new(&self.shim_bin);
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var("PATH")
                    .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()),
            )
            .envs(cfg.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&working_dir);
        // The monitor mounts them in a mount namespace of the container's own.
        shim_process::write_mounts(&cfg.dir, &cfg.mounts)?;
        shim_process::spawn_monitor(cmd, &cfg.dir, Some(&argv))
    }

    fn alive(&self, started: Started) -> bool {
        shim_process::alive(started.pid)
    }

    fn signal(&self, started: Started, _dir: &std::path::Path, hard: bool) {
        let sig = if hard { Signal::SIGKILL } else { Signal::SIGTERM };
        let _ = killpg(Pid::from_raw(started.pid), sig);
    }

    fn name(&self) -> &'static str {
        "process"
    }
}
