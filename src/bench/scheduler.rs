//! `orca bench scheduler`: the real control plane (durable log, API, scheduler over NATS), N hollow
//! nodes in an agent process, M pods created as a controller would; throughput, latency, control-plane
//! CPU and memory, and a check from the event log that every pod was bound once to a node that fits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use futures::StreamExt;
use serde_json::{json, Value};

use super::cluster::{BenchCluster, Hollow, NatsCluster};
use super::{percentile, svg};

/// Options of `orca bench scheduler`.
#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// Hollow nodes
    #[arg(long, default_value_t = 500)]
    nodes: usize,
    /// Pods to schedule
    #[arg(long, default_value_t = 5000)]
    pods: usize,
    /// What the pods ask for: basic, spread, affinity, taints or mixed
    #[arg(long, default_value = "basic", value_parser = ["basic", "spread", "affinity", "taints", "mixed"])]
    profile: String,
    /// Concurrent creating clients
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// "Hosts": nats-servers clustered by routes, the control plane on the first, the hollow
    /// nodes split evenly over all of them
    #[arg(long, default_value_t = 1)]
    hosts: usize,
    /// Hollow-node agent processes, the nodes split evenly, agent i on host i mod hosts
    /// [default: one per host]
    #[arg(long)]
    agents: Option<usize>,
    /// Write the results as JSON here
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Write an SVG plot of throughput over time here
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
}

/// The pod a profile creates for index `i`; `owners` are the uids of real objects the spread
/// profile names as controllers (the garbage collector deletes pods whose owners do not exist).
fn pod(profile: &str, i: usize, owners: &[String]) -> Value {
    let kind = match profile {
        "mixed" => ["basic", "spread", "affinity", "taints"][i % 4],
        p => p,
    };
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("pod-{i}"), "labels": {"bench": "scheduler"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"], "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}});
    match kind {
        "spread" if !owners.is_empty() => {
            let owner = i % owners.len();
            p["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": format!("spread-owner-{owner}"), "uid": owners[owner], "controller": true}]);
        }
        "affinity" => {
            p["spec"]["affinity"] = json!({"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["zone-0", "zone-1"]}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["zone-1"]}]}}]}});
        }
        "taints" if i.is_multiple_of(2) => {
            p["spec"]["tolerations"] =
                json!([{"key": "dedicated", "operator": "Equal", "value": "bench", "effect": "NoSchedule"}]);
        }
        _ => {}
    }
    p
}

pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn name_in(line: &[u8]) -> Option<(String, bool)> {
    const NAME: &[u8] = b"\"name\":\"";
    let start = line.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let end = start + line[start..].iter().position(|b| *b == b'"')?;
    let bound = line.windows(12).any(|w| w == b"\"nodeName\":\"");
    Some((String::from_utf8_lossy(&line[start..end]).into_owned(), bound))
}

pub fn run(args: SchedulerArgs) -> Result<()> {
    if args.hosts == 0 {
        bail!("--hosts takes 1 or more");
    }
    let nats = NatsCluster::start(args.hosts).context("the scheduler bench needs nats-server")?;
    let first = nats.servers[0].url();
    let (cluster, _) = BenchCluster::start_with(&["--nats", &first, "--no-agent"])?;
    let agents = args.agents.unwrap_or(args.hosts).max(1);
    let mut hollow = Vec::new();
    for a in 0..agents {
        let (from, to) = (args.nodes * a / agents, args.nodes * (a + 1) / agents);
        hollow.push(Hollow::start_range(
            &nats.servers[a % args.hosts].url(),
            from,
            to - from,
        )?);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut others: Vec<(String, u32)> = Vec::new();
    for (h, agent) in hollow.iter().enumerate() {
        others.push((format!("hollow agent {}", h + 1), agent.0.id()));
    }
    for (h, server) in nats.servers.iter().enumerate() {
        others.push((format!("nats-server {}", h + 1), server.pid()));
    }
    let others: Vec<(&str, u32)> = others.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let result = rt.block_on(measure(&cluster, &args, &others));
    drop(hollow);
    let report = result?;
    println!("{}", report.table());
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_vec_pretty(&report.json)?)?;
    }
    if let Some(p) = &args.plot {
        std::fs::write(
            p,
            svg::line_chart(
                &format!(
                    "orca scheduler: {} pods on {} nodes ({})",
                    args.pods, args.nodes, args.profile
                ),
                "seconds",
                "pods bound per second",
                &report.samples,
            ),
        )?;
    }
    if !report.errors.is_empty() {
        bail!("correctness check failed:\n  {}", report.errors.join("\n  "));
    }
    Ok(())
}

struct Report {
    json: Value,
    samples: Vec<(f64, f64)>,
    errors: Vec<String>,
}

impl Report {
    fn table(&self) -> String {
        let j = &self.json;
        let procs: String = j["processes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "\n  {:<30} {:.2} CPU cores, peak RSS {:.0} MB",
                    p["process"].as_str().unwrap_or(""),
                    p["cpu_cores"].as_f64().unwrap_or(0.0),
                    p["peak_rss_mb"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        let table = format!(
            "nodes {}  hosts {}  pods {}  profile {}\nthroughput: average {:.0} pods/s  per-second p50 {:.0}  p90 {:.0}  p99 {:.0}\nlatency created -> bound: p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms\ncontrol plane: {:.2} CPU cores, peak RSS {:.0} MB\ncheck: {}",
            j["nodes"], j["hosts"], j["pods"], j["profile"].as_str().unwrap_or(""),
            j["throughput"]["average"].as_f64().unwrap_or(0.0), j["throughput"]["p50"].as_f64().unwrap_or(0.0), j["throughput"]["p90"].as_f64().unwrap_or(0.0), j["throughput"]["p99"].as_f64().unwrap_or(0.0),
            j["latency_ms"]["p50"].as_f64().unwrap_or(0.0), j["latency_ms"]["p90"].as_f64().unwrap_or(0.0), j["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
            j["control_plane"]["cpu_cores"].as_f64().unwrap_or(0.0), j["control_plane"]["peak_rss_mb"].as_f64().unwrap_or(0.0),
            if self.errors.is_empty() { "every pod bound exactly once, to a node that passes the filters, within capacity".to_string() } else { format!("{} problems", self.errors.len()) }
        );
        format!("{table}\nby process:{procs}")
    }
}

async fn measure(cluster: &BenchCluster, args: &SchedulerArgs, others: &[(&str, u32)]) -> Result<Report> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients + 4)
        .build()?;
    let base = cluster.url.clone();
    // Wait for the hollow nodes, then taint a third of them for the taints profiles.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let nodes: Value = http.get(format!("{base}/api/v1/nodes")).send().await?.json().await?;
        if nodes["items"].as_array().map_or(0, Vec::len) >= args.nodes {
            break;
        }
        if Instant::now() > deadline {
            bail!("the hollow nodes did not register in time");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if args.profile == "taints" || args.profile == "mixed" {
        for i in (0..args.nodes).step_by(3) {
            http.patch(format!("{base}/api/v1/nodes/hollow-{i}"))
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"spec":{"taints":[{"key":"dedicated","value":"bench","effect":"NoSchedule"}]}}"#)
                .send()
                .await?;
        }
    }
    // Spreading groups pods by controller: ten inert owners that exist.
    let mut owners = Vec::new();
    if args.profile == "spread" || args.profile == "mixed" {
        for o in 0..10 {
            let cm =
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("spread-owner-{o}")}});
            let r: Value = http
                .post(format!("{base}/api/v1/namespaces/default/configmaps"))
                .json(&cm)
                .send()
                .await?
                .json()
                .await?;
            owners.push(r["metadata"]["uid"].as_str().unwrap_or_default().to_string());
        }
    }
    let owners = Arc::new(owners);
    let pods_url = format!("{base}/api/v1/namespaces/default/pods");
    let rv = http.get(&pods_url).send().await?.json::<Value>().await?["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let bound: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let watcher = {
        let (bound, url, http) = (
            bound.clone(),
            format!("{pods_url}?watch=true&resourceVersion={rv}"),
            http.clone(),
        );
        tokio::spawn(async move {
            let Ok(resp) = http.get(url).send().await else { return };
            let mut stream = resp.bytes_stream();
            let mut buf = Vec::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buf.extend_from_slice(&chunk);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    if let Some((name, true)) = name_in(&line) {
                        bound
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .entry(name)
                            .or_insert_with(Instant::now);
                    }
                }
            }
        })
    };
    let pid = cluster.child.id();
    let cpu0 = cpu_seconds(pid);
    let others_cpu0: Vec<f64> = others.iter().map(|(_, p)| cpu_seconds(*p)).collect();
    let bench_cpu0 = cpu_seconds(std::process::id());
    let mut others_peak = vec![0f64; others.len()];
    let start = Instant::now();
    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut creators = Vec::new();
    for _ in 0..args.clients {
        let (http, url, created, next, profile, total, owners) = (
            http.clone(),
            pods_url.clone(),
            created.clone(),
            next.clone(),
            args.profile.clone(),
            args.pods,
            owners.clone(),
        );
        creators.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = pod(&profile, i, &owners);
                let t = Instant::now();
                let r = http.post(&url).json(&body).send().await?;
                if r.status().as_u16() != 201 {
                    bail!("creating pod-{i}: {}", r.text().await?);
                }
                created
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(format!("pod-{i}"), t);
            }
        }));
    }
    let mut peak_rss: f64 = 0.0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while bound.lock().unwrap_or_else(|e| e.into_inner()).len() < args.pods {
        peak_rss = peak_rss.max(rss_mb(pid));
        for (i, (_, p)) in others.iter().enumerate() {
            others_peak[i] = others_peak[i].max(rss_mb(*p));
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {} pods bound after 10 minutes",
                bound.lock().unwrap_or_else(|e| e.into_inner()).len(),
                args.pods
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for c in creators {
        c.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(pid) - cpu0) / elapsed;
    let mut processes = vec![json!({"process": "control plane", "cpu_cores": cpu, "peak_rss_mb": peak_rss})];
    for (i, (name, p)) in others.iter().enumerate() {
        processes.push(json!({"process": name, "cpu_cores": (cpu_seconds(*p) - others_cpu0[i]) / elapsed, "peak_rss_mb": others_peak[i]}));
    }
    processes.push(json!({"process": "bench (creators and watcher)", "cpu_cores": (cpu_seconds(std::process::id()) - bench_cpu0) / elapsed, "peak_rss_mb": rss_mb(std::process::id())}));
    watcher.abort();
    let bound = bound.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let created = created.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut lat: Vec<f64> = created
        .iter()
        .filter_map(|(n, t)| {
            bound
                .get(n)
                .map(|b| b.saturating_duration_since(*t).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let secs = elapsed.ceil().max(1.0) as usize;
    let mut per_second = vec![0f64; secs];
    for t in bound.values() {
        let s = (t.saturating_duration_since(start).as_secs_f64() as usize).min(secs - 1);
        per_second[s] += 1.0;
    }
    let samples: Vec<(f64, f64)> = per_second
        .iter()
        .enumerate()
        .map(|(i, n)| (i as f64 + 1.0, *n))
        .collect();
    let mut sorted = per_second.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let errors = super::sched_check::check(&http, &base, args.pods).await?;
    let json = json!({
        "nodes": args.nodes, "hosts": args.hosts, "pods": args.pods, "profile": args.profile, "seconds": elapsed,
        "throughput": {"average": args.pods as f64 / elapsed, "p50": percentile(&sorted, 0.5), "p90": percentile(&sorted, 0.9), "p99": percentile(&sorted, 0.99), "per_second": per_second},
        "latency_ms": {"p50": percentile(&lat, 0.5), "p90": percentile(&lat, 0.9), "p99": percentile(&lat, 0.99)},
        "control_plane": {"cpu_cores": cpu, "peak_rss_mb": peak_rss},
        "processes": processes,
        "check": {"passed": errors.is_empty(), "problems": errors},
    });
    Ok(Report { json, samples, errors })
}
