//! `orca bench pods`: pod startup latency, create -> Running, on one node agent (its own process,
//! joined to an `orca up` without one), and what the node's pods cost in memory: the agent, the
//! per-container monitors, runc and the containers, each on its own.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

use super::cluster::BenchCluster;
use super::node_memory;
use super::percentile;

/// Options of `orca bench pods`.
#[derive(Args, Debug)]
pub struct PodsArgs {
    /// Pods to start
    #[arg(long, default_value_t = 100)]
    pods: usize,
    /// Pods created per second (0: all at once)
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// Runtime of the node agent: process or runc
    #[arg(long, default_value = "process", value_parser = ["process", "runc"])]
    runtime: String,
}

/// An `orca agent` process joined to the bench's cluster, stopped on drop.
struct BenchAgent {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl BenchAgent {
    fn start(cluster: &BenchCluster, runtime: &str, max_pods: usize) -> Result<BenchAgent> {
        let exe = std::env::current_exe()?;
        let dir = cluster.dir.join("agent");
        let child = std::process::Command::new(exe)
            .args([
                "agent",
                "--join",
                &cluster.join_token()?,
                "--name",
                NODE,
                "--runtime",
                runtime,
            ])
            .args(["--max-pods", &max_pods.to_string(), "--data-dir"])
            .arg(&dir)
            .env("ORCA_HOME", &cluster.dir)
            .stdout(std::process::Stdio::null())
            .spawn()?;
        Ok(BenchAgent { child, dir })
    }
}

impl Drop for BenchAgent {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const NODE: &str = "bench-node";

fn wait_node_ready(http: &reqwest::blocking::Client, url: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let node: Value = http.get(format!("{url}/api/v1/nodes/{NODE}")).send()?.json()?;
        let ready = node["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
        if ready && node.pointer("/spec/podCIDR").is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("node {NODE} did not become Ready");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run(args: PodsArgs) -> Result<()> {
    let (cluster, _) = BenchCluster::start_with(&["--no-agent"])?;
    let http = reqwest::blocking::Client::new();
    let agent = BenchAgent::start(&cluster, &args.runtime, args.pods.max(110))?;
    wait_node_ready(&http, &cluster.url)?;
    let base = format!("{}/api/v1/namespaces/default/pods", cluster.url);
    let rv = http.get(&base).send()?.json::<Value>()?["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let running: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    {
        let (running, url) = (running.clone(), format!("{base}?watch=true&resourceVersion={rv}"));
        std::thread::spawn(move || {
            let Ok(resp) = reqwest::blocking::Client::builder()
                .timeout(None)
                .build()
                .and_then(|c| c.get(url).send())
            else {
                return;
            };
            for line in BufReader::new(resp).lines().map_while(Result::ok) {
                let Ok(ev) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if ev.pointer("/object/status/phase") == Some(&json!("Running")) {
                    let name = ev
                        .pointer("/object/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    running
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(name)
                        .or_insert_with(Instant::now);
                }
            }
        });
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut created = HashMap::new();
    for i in 0..args.pods {
        let name = format!("p{i}");
        let pod = json!({"metadata": {"name": name}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "300"]}]}});
        let t = Instant::now();
        let r = http.post(&base).json(&pod).send()?;
        if r.status().as_u16() != 201 {
            bail!("create {name}: {}", r.text()?);
        }
        created.insert(name, t);
        if let Some(gap) = 1_000_000u64.checked_div(args.rate) {
            std::thread::sleep(Duration::from_micros(gap));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60 + args.pods as u64 / 10);
    while running.lock().unwrap_or_else(|e| e.into_inner()).len() < args.pods {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} pods reached Running",
                running.lock().unwrap_or_else(|e| e.into_inner()).len(),
                args.pods
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = running.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut lat: Vec<f64> = created
        .iter()
        .filter_map(|(n, t)| seen.get(n).map(|r| r.duration_since(*t).as_secs_f64() * 1000.0))
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "runtime {}  pods {}  rate {}/s  create -> Running: p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
        args.runtime,
        args.pods,
        args.rate,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    if let (Some(first), Some(last)) = (created.values().min(), seen.values().max()) {
        println!(
            "all Running {:.2} s after the first create",
            last.duration_since(*first).as_secs_f64()
        );
    }
    // Let start-up garbage settle before reading memory.
    std::thread::sleep(Duration::from_secs(1));
    let mem = node_memory::node(agent.child.id(), &agent.dir);
    println!("{}", node_memory::report(&mem));
    // What the running pods cost the agent while nothing happens to them.
    let before = cpu_ticks(agent.child.id());
    std::thread::sleep(IDLE_WINDOW);
    let used = cpu_ticks(agent.child.id()).saturating_sub(before) as f64 / 100.0;
    println!(
        "agent CPU with {} pods running, nothing changing: {:.1}% of a core",
        args.pods,
        100.0 * used / IDLE_WINDOW.as_secs_f64()
    );
    let nats = nats_server_of(cluster.child.id());
    println!(
        "control plane (orca up, no agent) RSS {:.1} MiB; nats-server RSS {:.1} MiB",
        node_memory::mib(node_memory::of(cluster.child.id()).unwrap_or_default().rss),
        node_memory::mib(nats.and_then(node_memory::of).unwrap_or_default().rss),
    );
    // Graceful deletes, so that the agent stops every container before the cluster goes away.
    let t = Instant::now();
    for i in 0..args.pods {
        let _ = http.delete(format!("{base}/p{i}")).send();
    }
    let deadline = Instant::now() + Duration::from_secs(60 + args.pods as u64 / 10);
    while Instant::now() < deadline {
        let left = http.get(&base).send()?.json::<Value>()?["items"]
            .as_array()
            .map_or(0, Vec::len);
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = node_memory::node(agent.child.id(), &agent.dir);
    println!(
        "deleted in {:.2} s; monitors left {}",
        t.elapsed().as_secs_f64(),
        after.monitors.len()
    );
    drop(agent);
    drop(cluster);
    Ok(())
}

/// The nats-server `orca up` (pid `parent`) runs.
fn nats_server_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = node_memory::Stat::read(pid)?;
        (stat.comm == "nats-server" && stat.field(node_memory::PPID) == u64::from(parent)).then_some(pid)
    })
}

/// How long the agent's CPU is read while the pods run undisturbed.
const IDLE_WINDOW: Duration = Duration::from_secs(5);

/// User and system CPU of a process so far, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    node_memory::Stat::read(pid).map_or(0, |s| s.field(node_memory::UTIME) + s.field(node_memory::STIME))
}
