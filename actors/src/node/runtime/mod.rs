//! Container runtimes behind one trait: `process` (host processes) and `runc` (OCI containers).

pub mod image_user;
pub mod limits;
pub mod process;
pub mod runc;
pub mod seccomp;
pub mod shim_process;

use std::path::{Path, PathBuf};

/// What a runtime needs to start a container.
#[derive(Debug, Clone, Default)]
pub struct ContainerConfig {
    /// Directory of this container's state (exit file, `current.log`, bundle).
    pub dir: PathBuf,
    /// `command` of the spec (overrides the image's entrypoint).
    pub command: Vec<String>,
    /// `args` of the spec (overrides the image's cmd).
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<(String, String)>,
    /// `workingDir` of the spec.
    pub working_dir: Option<String>,
    /// Image reference.
    pub image: String,
    /// Network namespace to join (runc pods).
    pub netns: Option<PathBuf>,
    /// Hostname (the pod name).
    pub hostname: String,
    /// Volumes to mount.
    pub mounts: Vec<Mount>,
    /// Resource limits and the user to run as (runc).
    pub limits: limits::Limits,
    /// `hostNetwork`: no network namespace of its own.
    pub host_network: bool,
}

/// A host path mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// Host path.
    pub source: PathBuf,
    /// Path in the container.
    pub destination: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A started (or adopted) container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// Process id of the shim (leader of the container's process group).
    pub pid: i32,
}

/// Failures of a runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container could not be started.
    #[error("failed to start container: {0}")]
    Start(String),
    /// The image is not in the node's store.
    #[error("{0}")]
    ImageMissing(String),
    /// The spec lacks what the runtime needs.
    #[error("{0}")]
    Config(String),
    /// I/O on the container's files failed.
    #[error("container files: {0}")]
    Io(#[from] std::io::Error),
}

/// Starts, signals and watches containers.
pub trait ContainerRuntime: Send + Sync {
    /// Starts the container; returns its process.
    fn start(&self, cfg: &ContainerConfig) -> Result<Started, Error>;
    /// Whether the container's process still runs.
    fn alive(&self, started: Started) -> bool;
    /// Sends SIGTERM (or SIGKILL when `hard`) to the container in `dir`.
    fn signal(&self, started: Started, dir: &Path, hard: bool);
    /// Releases what the runtime keeps for an exited container.
    fn cleanup(&self, _dir: &Path) {}
    /// The host command that runs `argv` inside the container in `dir` (exec and exec probes).
    fn exec_argv(&self, _dir: &Path, argv: &[String]) -> Vec<String> {
        argv.to_vec()
    }
    /// The same for a command that runs on a terminal (the runtime gives it one of its own
    /// inside the container, sized like the caller's).
    fn exec_tty_argv(&self, dir: &Path, argv: &[String]) -> Vec<String> {
        self.exec_argv(dir, argv)
    }
    /// Whether the run in `dir` that died by SIGKILL was killed for using too much memory.
    fn oom_killed(&self, _dir: &Path) -> bool {
        false
    }
    /// Whether containers get their own network namespace and pod IP.
    fn pod_network(&self) -> bool {
        false
    }
    /// The name of the runtime.
    fn name(&self) -> &'static str;
}

/// The id a container of the pod directory `dir` has in runtimes that name containers.
pub fn container_id(dir: &Path) -> String {
    let container = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pod = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("orca-{pod}-{container}")
}
