//! Container runtimes behind one trait.

pub mod process;

use std::path::PathBuf;

/// What a runtime needs to start a container.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    /// Directory of this container's state (exit file, logs, working dir).
    pub dir: PathBuf,
    /// Command and arguments.
    pub argv: Vec<String>,
    /// Environment.
    pub env: Vec<(String, String)>,
    /// Working directory (created when missing).
    pub working_dir: PathBuf,
    /// Log file (stdout and stderr, appended).
    pub log_path: PathBuf,
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
    /// Sends SIGTERM (or SIGKILL when `kill`) to the container's process group.
    fn signal(&self, started: Started, kill: bool);
    /// The name of the runtime.
    fn name(&self) -> &'static str;
}
