//! runc containers: the monitor becomes a child subreaper and runs `runc run --detach` (the
//! container's init inherits the output pipe and, when runc exits, becomes the monitor's child),
//! then waits for the container itself. No runc process stays beside the container.

use std::ffi::{c_int, c_ulong, OsString};
use std::path::{Path, PathBuf};

use crate::child::{pump, spawn, Output};
use crate::output::Rotating;
use crate::sys;

/// What `--runc` mode needs.
pub struct Runc {
    pub bin: OsString,
    pub root: OsString,
    pub id: OsString,
    pub bundle: OsString,
}

fn argv(r: &Runc, tail: &[&std::ffi::OsStr]) -> Vec<OsString> {
    let mut v = vec![r.bin.clone(), "--root".into(), r.root.clone()];
    v.extend(tail.iter().map(|a| a.to_os_string()));
    v
}

/// Creates and starts the container, then waits for it; returns its wait status, or runc's when
/// it failed (runc's message is then in the log).
pub fn run(r: &Runc, dir: &Path, input: Option<c_int>, out: &Output, log: &mut Rotating) -> std::io::Result<c_int> {
    const PR_SET_CHILD_SUBREAPER: c_int = 36;
    // SAFETY: prctl with an integer argument.
    sys::check(unsafe {
        sys::prctl(
            PR_SET_CHILD_SUBREAPER,
            1 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        )
    })?;
    let pid_file: PathBuf = dir.join("container.pid");
    let _ = std::fs::remove_file(&pid_file);
    // `run --detach` creates and starts the container in one runc process and returns once it
    // runs: one runc start-up per container instead of two (`create`, then `start`).
    let run = argv(
        r,
        &[
            "run".as_ref(),
            "--detach".as_ref(),
            "--bundle".as_ref(),
            r.bundle.as_ref(),
            "--pid-file".as_ref(),
            pid_file.as_os_str(),
            r.id.as_ref(),
        ],
    );
    let status = pump(spawn(&run, input, out)?, out, log);
    if status != 0 {
        return Ok(status);
    }
    let container: c_int = std::fs::read_to_string(&pid_file)?
        .trim()
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", pid_file.display())))?;
    Ok(pump(container, out, log))
}
