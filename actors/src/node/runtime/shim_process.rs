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

/// Whether `pid` is the shim of the container in `dir`: alive, and its command line is
/// `orca shim --exit-file DIR/exit ...`. A saved pid alone is no proof: after a reboot, or once
/// the shim is gone, the number may belong to any process, and signalling its group as root would
/// hit someone else's.
pub fn owned(pid: i32, dir: &Path) -> bool {
    if pid <= 0 || !alive(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let exit_file = dir.join("exit");
    args.windows(2)
        .any(|w| w[0] == b"--exit-file" && w[1] == exit_file.as_os_str().as_encoded_bytes())
        && args.iter().any(|a| *a == b"shim")
}

/// Whether the process runs (a zombie does not).
pub fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_pid_is_ours_only_when_it_is_our_shim() {
        let dir = tempfile::tempdir().unwrap();
        let exit = dir.path().join("exit");
        // A process whose command line names this container's exit file, as a shim's does.
        let mut ours = Command::new("sh")
            .args(["-c", "sleep 5; true", "shim", "--exit-file"])
            .arg(&exit)
            .spawn()
            .unwrap();
        let mut other = Command::new("sleep").arg("5").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(owned(ours.id() as i32, dir.path()));
        assert!(
            !owned(other.id() as i32, dir.path()),
            "a live process that is not our shim"
        );
        assert!(
            !owned(ours.id() as i32, &dir.path().join("elsewhere")),
            "another container's shim"
        );
        let _ = ours.kill();
        let _ = other.kill();
        let _ = ours.wait();
        let _ = other.wait();
        assert!(!owned(ours.id() as i32, dir.path()), "gone");
    }
}
