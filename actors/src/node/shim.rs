//! The container shim (`orca shim`): runs one container command as its child (its stdin the
//! container's FIFO when the spec asks for stdin), survives the agent, and records the exit code in
//! a file so that a restarted agent can still read it.

use std::path::Path;
use std::process::Command;

use nix::sys::signal::{SigSet, Signal};

/// The exit code of a status, or 128 + signal when killed by a signal.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 255,
    }
}

/// The FIFO a container with `stdin: true` reads (in the container's directory).
pub fn stdin_path(container_dir: &Path) -> std::path::PathBuf {
    container_dir.join("stdin")
}

/// Runs `argv` and writes its exit code to `exit_file`; returns the code. SIGTERM, SIGINT and SIGHUP
/// reach the child through the process group; the shim blocks them and waits for the child.
pub fn run(exit_file: &Path, argv: &[String]) -> std::io::Result<i32> {
    let Some((cmd, args)) = argv.split_first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command"));
    };
    let mounts = exit_file.with_file_name("mounts.json");
    if mounts.exists() {
        let list: Vec<crate::node::runtime::Mount> = serde_json::from_slice(&std::fs::read(&mounts)?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        super::shim_mounts::enter(&list)?;
    }
    let mut command = Command::new(cmd);
    command.args(args);
    // A container with `stdin: true` reads the FIFO next to its exit file. Opened for reading and
    // writing, it never ends while the container runs, as an attached stdin stays open.
    let fifo = stdin_path(exit_file.parent().unwrap_or(Path::new(".")));
    if fifo.exists() {
        let f = std::fs::OpenOptions::new().read(true).write(true).open(&fifo)?;
        command.stdin(std::process::Stdio::from(f));
    }
    let mut child = command.spawn()?;
    // The child started with the default mask; from here on the shim ignores termination requests.
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    let _ = set.thread_block();
    let status = child.wait()?;
    let code = exit_code(status);
    let tmp = exit_file.with_extension("tmp");
    std::fs::write(&tmp, code.to_string())?;
    std::fs::rename(&tmp, exit_file)?;
    Ok(code)
}
