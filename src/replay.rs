//! `orca replay --data-dir DIR --until REV|TIME --into DIR2 [--serve]`: rebuilds the state as of that
//! point into a new data directory, optionally serving it read-only.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use orca_actors::eventlog::replay::{replay, revision_at_time};
use orca_actors::eventlog::{EventLog, LogOptions};

/// `orca replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Data directory of the log to replay (its server stopped)
    #[arg(long)]
    data_dir: PathBuf,
    /// Last revision to include, or a time (RFC 3339)
    #[arg(long)]
    until: Option<String>,
    /// New, empty data directory to rebuild into
    #[arg(long, required_unless_present = "step")]
    into: Option<PathBuf>,
    /// Instead of rebuilding, print each event (and what it changed) as a JSON line
    #[arg(long)]
    step: bool,
    /// With --step: the first revision
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Then serve it read-only
    #[arg(long)]
    serve: bool,
    /// Listen address with --serve
    #[arg(long, default_value = "127.0.0.1:6781")]
    listen: String,
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let until = match &args.until {
        None => u64::MAX,
        Some(u) => match u.parse::<u64>() {
            Ok(rev) => rev,
            Err(_) => {
                let t = humantime::parse_rfc3339_weak(u)
                    .with_context(|| format!("--until {u:?} is neither a revision nor an RFC 3339 time"))?;
                let ms = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let log = EventLog::open(&LogOptions::new(&args.data_dir))
                    .map_err(|e| crate::logcmd::open_error(&args.data_dir, e))?;
                revision_at_time(&log, ms)?
            }
        },
    };
    if args.step {
        return crate::step::run(&args.data_dir, args.from, until);
    }
    let into = args.into.clone().unwrap_or_default();
    let done = replay(&args.data_dir, until, &into).map_err(|e| match e.to_string().contains("Locked") {
        true => crate::logcmd::open_error(&args.data_dir, e),
        false => anyhow::anyhow!(
            "failed to replay {} into {}: {e}",
            args.data_dir.display(),
            into.display()
        ),
    })?;
    println!(
        "replayed {} events up to revision {} into {}: {} objects",
        done.events,
        done.head,
        into.display(),
        done.objects
    );
    if args.serve {
        crate::serve::serve_read_only(&into, &args.listen)?;
    }
    Ok(())
}
