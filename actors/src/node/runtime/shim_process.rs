//! Starting an `orca shim` as the leader of a new process group, output appended to the container's
//! log, and telling whether a shim still runs: shared by every runtime.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::{Error, Started};

/// Spawns `orca shim --exit-file EXIT -- ARGV` from `cmd` (already given its environment and working
/// directory); stdout and stderr go to `log_path`.
pub fn spawn(
    mut cmd: Command,
    orca_bin: &Path,
    exit_file: &Path,
    argv: &[String],
    log_path: &Path,
) -> Result<Started, Error> {
    let log = OpenOptions::new().create(true).append(true).open(log_path)?;
    let _ = std::fs::remove_file(exit_file);
    let child = cmd
        .arg("shim")
        .arg("--exit-file")
        .arg(exit_file)
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Start(format!("{}: {e}", orca_bin.display())))?;
    let pid = child.id() as i32;
    // The shim is reaped by a thread so that it never lingers as a zombie; adopted shims are watched
    // through their pid.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(Started { pid })
}

/// Whether the process runs (a zombie does not).
pub fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
            .unwrap_or(false)
}
