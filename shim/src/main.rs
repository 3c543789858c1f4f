//! `orca-shim --dir DIR [--log-max BYTES] -- COMMAND [ARGS...]`: the per-container monitor. It
//! starts the command as its child (in a mount namespace of its own with the container's volumes
//! when DIR/mounts lists any, its stdin the FIFO DIR/stdin when there is one), writes the child's
//! output to DIR/current.log (rotated to DIR/current.log.1 past BYTES), outlives the agent that
//! started it, and records the exit code and time in DIR/exit atomically. Standard library only.

mod child;
mod exit;
mod mounts;
mod output;
mod runc;
mod sys;

use std::ffi::{c_ulong, OsString};
use std::path::PathBuf;

/// Rotation size when `--log-max` is not given.
const DEFAULT_LOG_MAX: u64 = 10 * 1024 * 1024;

struct Args {
    dir: PathBuf,
    log_max: u64,
    /// The command (`-- ARGV`), or the runc container to create, start and wait for.
    what: What,
}

enum What {
    Command(Vec<OsString>),
    Runc(runc::Runc),
}

fn parse(mut it: impl Iterator<Item = OsString>) -> Result<Args, String> {
    let (mut dir, mut log_max) = (None, DEFAULT_LOG_MAX);
    let mut runc: [Option<OsString>; 4] = Default::default();
    let mut argv = None;
    while let Some(a) = it.next() {
        let slot = match a.to_str() {
            Some("--dir") => {
                dir = it.next().map(PathBuf::from);
                continue;
            }
            Some("--log-max") => {
                log_max = it
                    .next()
                    .and_then(|v| v.to_str().and_then(|v| v.parse().ok()))
                    .ok_or("--log-max takes a number of bytes")?;
                continue;
            }
            Some("--runc") => 0,
            Some("--root") => 1,
            Some("--id") => 2,
            Some("--bundle") => 3,
            Some("--") => {
                argv = Some(it.by_ref().collect::<Vec<_>>());
                break;
            }
            _ => return Err(format!("unexpected argument {a:?}")),
        };
        runc[slot] = Some(it.next().ok_or(format!("{a:?} takes a value"))?);
    }
    let dir = dir.ok_or("--dir DIR is required")?;
    let what = match (argv, runc) {
        (Some(argv), [None, None, None, None]) if !argv.is_empty() => What::Command(argv),
        (None, [Some(bin), Some(root), Some(id), Some(bundle)]) => What::Runc(runc::Runc { bin, root, id, bundle }),
        _ => return Err(USAGE.into()),
    };
    Ok(Args { dir, log_max, what })
}

const USAGE: &str = "usage: orca-shim --dir DIR [--log-max BYTES] (-- COMMAND [ARGS...] | --runc RUNC --root ROOT --id ID --bundle BUNDLE)";

fn run(args: Args) -> std::io::Result<i32> {
    // The agent runs without transparent huge pages; the container gets the machine's setting.
    const PR_SET_THP_DISABLE: std::ffi::c_int = 41;
    // SAFETY: prctl with integer arguments.
    unsafe {
        sys::prctl(
            PR_SET_THP_DISABLE,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        )
    };
    let list = mounts::read(&args.dir.join("mounts"))?;
    if !list.is_empty() {
        mounts::enter(&list)?;
    }
    let mut log = output::Rotating::open(args.dir.join("current.log"), args.log_max)?;
    let out = child::Output::new()?;
    let input = child::stdin(&args.dir.join("stdin"))?;
    // Termination requests go to the process group, not to the monitor: it stays to record how the
    // container ended.
    for sig in [sys::SIGTERM, sys::SIGINT, sys::SIGHUP] {
        // SAFETY: installs SIG_IGN, no handler runs.
        unsafe { sys::signal(sig, sys::SIG_IGN) };
    }
    let status = match &args.what {
        What::Command(argv) => child::pump(child::spawn(argv, input, &out)?, &out, &mut log),
        What::Runc(r) => runc::run(r, &args.dir, input, &out, &mut log)?,
    };
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
        assert!(matches!(a.what, What::Command(v) if v == vec![OsString::from("sleep"), OsString::from("1")]));
        let r = args(&[
            "--dir", "/d", "--runc", "/r", "--root", "/s", "--id", "c", "--bundle", "/b",
        ])
        .unwrap();
        assert!(matches!(r.what, What::Runc(r) if r.id == "c" && r.bundle == "/b"));
        assert!(args(&["--dir", "/d", "--runc", "/r", "--", "true"]).is_err(), "both");
        assert!(args(&["--dir", "/d", "--runc", "/r"]).is_err(), "runc without the rest");
        assert!(args(&["--dir", "/d", "--"]).is_err(), "no command");
        assert!(args(&["--", "true"]).is_err(), "no dir");
        assert!(args(&["--dir", "/d", "--log-max", "x", "--", "true"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }
}
