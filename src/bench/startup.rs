//! `orca bench startup`: `orca up` start to ready (median of runs) and idle resident memory.

use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::cluster::BenchCluster;
use super::percentile;

/// Options of `orca bench startup`.
#[derive(Args, Debug)]
pub struct StartupArgs {
    /// Number of start-ups to time
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seconds to idle before reading resident memory
    #[arg(long, default_value_t = 10)]
    idle_seconds: u64,
}

pub fn run(args: StartupArgs) -> Result<()> {
    let mut times = Vec::new();
    for i in 0..args.runs {
        let (cluster, ready) = BenchCluster::start()?;
        times.push(ready.as_secs_f64() * 1000.0);
        if i + 1 == args.runs {
            std::thread::sleep(Duration::from_secs(args.idle_seconds));
            let rss = cluster.rss_bytes().unwrap_or(0);
            times.sort_by(|a, b| a.total_cmp(b));
            println!(
                "start to ready: median {:.0} ms over {} runs (min {:.0}, max {:.0})",
                percentile(&times, 0.5),
                args.runs,
                times[0],
                times[times.len() - 1]
            );
            println!(
                "idle resident memory of the orca process after {} s: {:.1} MB",
                args.idle_seconds,
                rss as f64 / 1e6
            );
        }
    }
    Ok(())
}
