//! `orca-shim --dir DIR [--log-max BYTES] -- COMMAND [ARGS...]`: the per-container monitor. It
//! starts the command as its child (in a mount namespace of its own with the container's volumes
//! when DIR/mounts lists any, its stdin the FIFO DIR/stdin when there is one), writes the child's
//! output to DIR/current.log (rotated to DIR/current.log.1 past BYTES), outlives the agent that
//! started it, and records the exit code and time in DIR/exit atomically. Standard library only.

mod child;
mod exit;
mod mounts;
mod output;
mod sys;

use std::ffi::OsString;
use std::path::PathBuf;

/// Rotation size when `--log-max` is not given.
const DEFAULT_LOG_MAX: u64 = 10 * 1024 * 1024;

struct Args {
    dir: PathBuf,
    log_max: u64,
    argv: Vec<OsString>,
}

fn parse(mut it: impl Iterator<Item = OsString>) -> Result<Args, String> {
    let (mut dir, mut log_max) = (None, DEFAULT_LOG_MAX);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--dir") => dir = it.next().map(PathBuf::from),
            Some("--log-max") => {
                log_max = it
                    .next()
                    .and_then(|v| v.to_str().and_then(|v| v.parse().ok()))
                    .ok_or("--log-max takes a number of bytes")?
            }
            Some("--") => {
                let argv: Vec<OsString> = it.collect();
                if argv.is_empty() {
                    return Err("no command after --".into());
                }
                let dir = dir.ok_or("--dir DIR is required")?;
                return Ok(Args { dir, log_max, argv });
            }
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Err("usage: orca-shim --dir DIR [--log-max BYTES] -- COMMAND [ARGS...]".into())
}

fn run(args: Args) -> std::io::Result<i32> {
    let list = mounts::read(&args.dir.join("mounts"))?;
    if !list.is_empty() {
        mounts::enter(&list)?;
    }
    let mut out = output::Rotating::open(args.dir.join("current.log"), args.log_max)?;
    let child = child::spawn(&args.argv, &args.dir.join("stdin"))?;
    // From here on termination requests go to the process group, not to the monitor: it stays to
    // record how the container ended.
    for sig in [sys::SIGTERM, sys::SIGINT, sys::SIGHUP] {
        // SAFETY: installs SIG_IGN, no handler runs.
        unsafe { sys::signal(sig, sys::SIG_IGN) };
    }
    let status = child::pump(&child, &mut out);
    let code = exit::code(status);
    exit::record(&args.dir.join("exit"), code)?;
    Ok(code)
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("orca-shim: {info}");
        std::process::abort()
    }));
    let args = match parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("orca-shim: {e}");
            std::process::exit(2);
        }
    };
    match run(args) {
        Ok(code) => std::process::exit(code.clamp(0, 255)),
        Err(e) => {
            eprintln!("orca-shim: {e}");
            std::process::exit(125);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Args, String> {
        parse(v.iter().map(OsString::from))
    }

    #[test]
    fn arguments() {
        let a = args(&["--dir", "/d", "--log-max", "5", "--", "sleep", "1"]).unwrap();
        assert_eq!(a.dir, PathBuf::from("/d"));
        assert_eq!(a.log_max, 5);
        assert_eq!(a.argv, vec![OsString::from("sleep"), OsString::from("1")]);
        assert!(args(&["--dir", "/d", "--"]).is_err(), "no command");
        assert!(args(&["--", "true"]).is_err(), "no dir");
        assert!(args(&["--dir", "/d", "--log-max", "x", "--", "true"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }
}
