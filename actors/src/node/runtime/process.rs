//! The `process` runtime: each container is a host process group (host network) under an `orca shim`,
//! with its own working directory and its output appended to a log file. The image is recorded but not
//! used.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::{ContainerConfig, ContainerRuntime, Error, Started};

/// Runs containers as host processes through `orca shim`.
pub struct ProcessRuntime {
    /// The `orca` binary that provides the shim.
    pub orca_bin: PathBuf,
}

impl ContainerRuntime for ProcessRuntime {
    fn start(&self, cfg: &ContainerConfig) -> Result<Started, Error> {
        if cfg.command.is_empty() {
            return Err(Error::Config("the process runtime runs spec.containers[].command and args (the image is not used); this container has no command".into()));
        }
        let argv: Vec<String> = cfg.command.iter().chain(cfg.args.iter()).cloned().collect();
        let working_dir = cfg
            .working_dir
            .as_ref()
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| cfg.dir.join("work"));
        std::fs::create_dir_all(&working_dir)?;
        let log = OpenOptions::new().create(true).append(true).open(&cfg.log_path)?;
        let exit_file = cfg.dir.join("exit");
        let _ = std::fs::remove_file(&exit_file);
        let child = Command::new(&self.orca_bin)
            .arg("shim")
            .arg("--exit-file")
            .arg(&exit_file)
            .arg("--")
            .args(&argv)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH")
                    .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()),
            )
            .envs(cfg.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&working_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::Start(format!("{}: {e}", self.orca_bin.display())))?;
        let pid = child.id() as i32;
        // The shim is reaped by a thread so that it never lingers as a zombie; adopted shims are
        // watched through their pid.
        std::thread::spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
        Ok(Started { pid })
    }

    fn alive(&self, started: Started) -> bool {
        if kill(Pid::from_raw(started.pid), None).is_err() {
            return false;
        }
        // A zombie is not alive.
        std::fs::read_to_string(format!("/proc/{}/stat", started.pid))
            .map(|s| s.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
            .unwrap_or(false)
    }

    fn signal(&self, started: Started, _dir: &std::path::Path, hard: bool) {
        let sig = if hard { Signal::SIGKILL } else { Signal::SIGTERM };
        let _ = killpg(Pid::from_raw(started.pid), sig);
    }

    fn name(&self) -> &'static str {
        "process"
    }
}
