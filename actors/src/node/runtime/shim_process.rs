//! Starting `orca-shim`, the per-container monitor (its own small binary, built from `shim/`), as
//! the leader of a new process group; telling whether a saved pid is still our monitor; reading
//! the exit code and time it records. Shared by every runtime.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::{Error, Mount, Started};

/// The file name of the monitor binary, next to `orca`.
pub const SHIM_NAME: &str = "orca-shim";
/// A container's log past this size is rotated to `current.log.1` by its monitor.
pub const MAX_LOG_BYTES: u64 = 10 * 1024 * 1024;

/// The monitor at `path`, or what to do when it is missing.
pub fn check(path: &Path) -> Result<(), String> {
    if path.is_file() {
        return Ok(());
    }
    Err(format!(
        "the container monitor {} is missing: it is built with orca and belongs next to the orca binary (`cargo build` puts it there; after `cargo install --path .` run `cargo install --path shim --target x86_64-unknown-linux-musl`)",
        path.display()
    ))
}

/// The FIFO a container with `stdin: true` reads (in the container's directory).
pub fn stdin_path(container_dir: &Path) -> PathBuf {
    container_dir.join("stdin")
}

/// Writes the volumes a process container's monitor mounts (NUL-terminated fields: host path,
/// container path, `ro`/`rw`), or removes the list when there are none.
pub fn write_mounts(dir: &Path, mounts: &[Mount]) -> std::io::Result<()> {
    let file = dir.join("mounts");
    if mounts.is_empty() {
        return match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut out = Vec::new();
    for m in mounts {
        out.extend_from_slice(m.source.as_os_str().as_encoded_bytes());
        out.push(0);
        out.extend_from_slice(m.destination.as_bytes());
        out.push(0);
        out.extend_from_slice(if m.read_only { b"ro\0" } else { b"rw\0" });
    }
    std::fs::write(file, out)
}

/// Spawns `SHIM ... --dir DIR --log-max N [-- ARGV]` from `cmd` (a command for the monitor
/// binary, already given its environment, working directory and any mode flags). The container's
/// output goes through the monitor into DIR/current.log; the monitor's own errors are appended
/// there too.
pub fn spawn_monitor(mut cmd: Command, dir: &Path, argv: Option<&[String]>) -> Result<Started, Error> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("current.log"))?;
    let _ = std::fs::remove_file(dir.join("exit"));
    cmd.arg("--dir")
        .arg(dir)
        .arg("--log-max")
        .arg(MAX_LOG_BYTES.to_string());
    if let Some(argv) = argv {
        cmd.arg("--").args(argv);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Start(format!("{}: {e}", cmd.get_program().to_string_lossy())))?;
    let pid = child.id() as i32;
    reap_later(child);
    Ok(Started { pid })
}

/// How often the reaper looks for monitors that ended.
const REAP_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// Hands a monitor to the agent's one reaper thread, which waits for it so that it never lingers
/// as a zombie (a zombie already counts as ended: see `alive`). One thread for every monitor, not
/// one each: a thousand threads cost the agent some 80 MB. Adopted monitors are not our children
/// and are watched through their pid.
fn reap_later(child: std::process::Child) {
    static STARTED: std::sync::Mutex<Vec<std::process::Child>> = std::sync::Mutex::new(Vec::new());
    static REAPER: std::sync::Once = std::sync::Once::new();
    STARTED.lock().unwrap_or_else(|e| e.into_inner()).push(child);
    REAPER.call_once(|| {
        let _ = std::thread::Builder::new().name("orca-reaper".into()).spawn(|| loop {
            std::thread::sleep(REAP_INTERVAL);
            STARTED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        });
    });
}

/// Whether `pid` is the monitor of the container in `dir`: alive, its executable an `orca-shim`
/// and its command line `orca-shim --dir DIR ...`. A saved pid alone is no proof: after a reboot,
/// or once the monitor is gone, the number may belong to any process, and signalling its group as
/// root would hit someone else's. The executable is checked as well as the command line, which any
/// process can rewrite.
pub fn owned(pid: i32, dir: &Path) -> bool {
    if pid <= 0 || !alive(pid) {
        return false;
    }
    let exe_ok =
        std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.file_name().is_some_and(|n| n == SHIM_NAME));
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    exe_ok
        && args
            .windows(2)
            .any(|w| w[0] == b"--dir" && w[1] == dir.as_os_str().as_encoded_bytes())
}

/// A descriptor that turns readable when the process `pid` ends (a pidfd), so that a container's
/// supervisor sleeps until then instead of polling; None where the kernel has no pidfds or the
/// process is gone already.
#[allow(unsafe_code)]
pub fn exit_notifier(pid: i32) -> Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    let pid = rustix::process::Pid::from_raw(pid)?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK).ok()?;
    // SAFETY: the AsyncFd owns the descriptor (an OwnedFd moved into it), which nothing else can
    // close or replace while it is registered.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()
}

/// Whether the process runs (a zombie does not).
pub fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"))
            .unwrap_or(false)
}

/// How the last run in `dir` ended, as its monitor recorded it: the exit code and the time (an
/// RFC 3339 timestamp), if it recorded one.
pub fn exit_status(dir: &Path) -> Option<(i64, Option<String>)> {
    let text = std::fs::read_to_string(dir.join("exit")).ok()?;
    let mut lines = text.lines();
    let code = lines.next()?.trim().parse().ok()?;
    let at = lines.next().and_then(|t| {
        let (secs, nanos) = t.trim().split_once('.')?;
        let ts = jiff::Timestamp::new(secs.parse().ok()?, nanos.parse().ok()?).ok()?;
        Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    });
    Some((code, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_monitor_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = check(&dir.path().join(SHIM_NAME)).unwrap_err();
        assert!(err.contains("is missing"), "{err}");
        assert!(err.contains("cargo install --path shim"), "{err}");
        std::fs::write(dir.path().join(SHIM_NAME), "").unwrap();
        assert!(check(&dir.path().join(SHIM_NAME)).is_ok());
    }

    #[test]
    fn exit_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(exit_status(dir.path()), None);
        std::fs::write(dir.path().join("exit"), "143\n1795986815.787113549\n").unwrap();
        assert_eq!(
            exit_status(dir.path()),
            Some((143, Some("2026-11-29T21:13:35Z".to_string())))
        );
        std::fs::write(dir.path().join("exit"), "3").unwrap();
        assert_eq!(exit_status(dir.path()), Some((3, None)));
    }

    #[test]
    fn mount_lists() {
        let dir = tempfile::tempdir().unwrap();
        let m = |s: &str, d: &str, ro| Mount {
            source: s.into(),
            destination: d.into(),
            read_only: ro,
        };
        write_mounts(dir.path(), &[m("/a", "/b", true), m("/c", "/d", false)]).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("mounts")).unwrap(),
            b"/a\0/b\0ro\0/c\0/d\0rw\0"
        );
        write_mounts(dir.path(), &[]).unwrap();
        assert!(!dir.path().join("mounts").exists());
        write_mounts(dir.path(), &[]).unwrap();
    }

    #[test]
    fn a_saved_pid_is_ours_only_when_it_is_our_monitor() {
        let dir = tempfile::tempdir().unwrap();
        // A process whose command line names this container, as a monitor's does, but whose
        // executable is not the monitor.
        let mut forged = Command::new("sh")
            .args(["-c", "sleep 5; true", "orca-shim", "--dir"])
            .arg(dir.path())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!owned(forged.id() as i32, dir.path()), "a forged command line");
        let _ = forged.kill();
        let _ = forged.wait();
    }
}
