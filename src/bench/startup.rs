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
    /// Then run this many pods (process runtime) and read resident memory again
    #[arg(long, default_value_t = 100)]
    pods: usize,
}

/// Starts `n` sleeping pods on the cluster's node, waits until all run, returns the orca RSS.
fn run_pods(cluster: &BenchCluster, n: usize) -> Result<u64> {
    let http = reqwest::blocking::Client::new();
    let base = format!("{}/api/v1/namespaces/default/pods", cluster.url);
    for i in 0..n {
        let pod = serde_json::json!({"metadata": {"name": format!("idle-{i}")}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}});
        http.post(&base).json(&pod).send()?;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list: serde_json::Value = http.get(&base).send()?.json()?;
        let running = list["items"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|p| p["status"]["phase"] == "Running").count());
        if running == n {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "only {running} of {n} pods running"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let rss = cluster.rss_bytes().unwrap_or(0);
    for i in 0..n {
        let _ = http.delete(format!("{base}/idle-{i}")).send();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let left = http.get(&base).send()?.json::<serde_json::Value>()?["items"]
            .as_array()
            .map_or(0, Vec::len);
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(rss)
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
            if args.pods > 0 {
                let with_pods = run_pods(&cluster, args.pods)?;
                println!(
                    "resident memory of the orca process with {} pods running: {:.1} MB",
                    args.pods,
                    with_pods as f64 / 1e6
                );
            }
        }
    }
    Ok(())
}
