//! `orca bench workloads`: a Deployment scaled from 0 to N replicas on hollow nodes (time until all
//! are available), then a rolling update of all of them (time until done), with the rollout's
//! bounds checked from the event log's record of every pod change.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use orca_actors::cluster::natsd::NatsServer;
use orca_actors::controllers::rollout_check::replay;

use super::cluster::{BenchCluster, Hollow};

/// Options of `orca bench workloads`.
#[derive(Args, Debug)]
pub struct WorkloadsArgs {
    /// Hollow nodes
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Replicas of the Deployment
    #[arg(long, default_value_t = 1000)]
    replicas: usize,
    /// Write the results as JSON here
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments/bench";

fn deployment(replicas: usize, version: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "c", "image": "busybox",
                "command": ["sleep", "3600"], "env": [{"name": "VERSION", "value": version}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}})
}

/// Waits until the Deployment's status satisfies `done`; returns the time taken.
fn until(
    http: &reqwest::blocking::Client,
    base: &str,
    started: Instant,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Duration> {
    loop {
        let d: Value = http.get(format!("{base}{DEPLOY}")).send()?.json()?;
        if done(&d) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("{what} did not finish in 300 s; status: {}", d["status"]);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn list(http: &reqwest::blocking::Client, base: &str) -> Result<(Vec<Value>, String)> {
    let l: Value = http
        .get(format!(
            "{base}/api/v1/namespaces/default/pods?labelSelector=app%3Dbench"
        ))
        .send()?
        .json()?;
    let rv = l["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    Ok((l["items"].as_array().cloned().unwrap_or_default(), rv))
}

/// Every pod change since `rv`, read from a watch that ends after a second of quiet.
fn changes_since(http: &reqwest::blocking::Client, base: &str, rv: &str) -> Result<Vec<Value>> {
    let url = format!("{base}/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dbench&resourceVersion={rv}&timeoutSeconds=2");
    let text = http.get(url).send()?.text()?;
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

pub fn run(args: WorkloadsArgs) -> Result<()> {
    let nats = NatsServer::start(None).context("the workloads bench needs nats-server")?;
    let (cluster, _) = BenchCluster::start_with(&["--nats", &nats.url(), "--no-agent"])?;
    let _hollow = Hollow::start(&nats.url(), args.nodes)?;
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let base = cluster.url.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let nodes: Value = http.get(format!("{base}/api/v1/nodes")).send()?.json()?;
        if nodes["items"].as_array().map_or(0, Vec::len) >= args.nodes {
            break;
        }
        if Instant::now() > deadline {
            bail!("the hollow nodes did not register in time");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let n = args.replicas as i64;
    let r = http
        .post(format!("{base}/apis/apps/v1/namespaces/default/deployments"))
        .json(&deployment(0, "1"))
        .send()?;
    if r.status().as_u16() != 201 {
        bail!("creating the Deployment: {}", r.text()?);
    }
    until(&http, &base, Instant::now(), "the empty rollout", |d| {
        d["status"]["observedGeneration"] == 1
    })?;

    let started = Instant::now();
    let patch = json!({"spec": {"replicas": n}});
    http.patch(format!("{base}{DEPLOY}"))
        .header("content-type", "application/merge-patch+json")
        .json(&patch)
        .send()?;
    let scale = until(&http, &base, started, "scaling up", |d| {
        d["status"]["availableReplicas"] == n && d["status"]["updatedReplicas"] == n
    })?;

    let (before, rv) = list(&http, &base)?;
    let started = Instant::now();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
        "env": [{"name": "VERSION", "value": "2"}], "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}});
    http.patch(format!("{base}{DEPLOY}"))
        .header("content-type", "application/merge-patch+json")
        .json(&patch)
        .send()?;
    let roll = until(&http, &base, started, "the rolling update", |d| {
        let s = &d["status"];
        s["observedGeneration"].as_i64() >= Some(3)
            && s["updatedReplicas"] == n
            && s["availableReplicas"] == n
            && s["replicas"] == n
    })?;
    let events = changes_since(&http, &base, &rv)?;
    let bounds = replay(&before, &events);
    let (surge, unavailable) = ((n + 3) / 4, n / 4);
    let mut errors = Vec::new();
    if bounds.most_pods as i64 > n + surge {
        errors.push(format!(
            "{} pods at once, more than replicas + maxSurge = {}",
            bounds.most_pods,
            n + surge
        ));
    }
    if (bounds.fewest_available as i64) < n - unavailable {
        errors.push(format!(
            "{} available at one point, fewer than replicas - maxUnavailable = {}",
            bounds.fewest_available,
            n - unavailable
        ));
    }
    let report = json!({"nodes": args.nodes, "replicas": n, "scale_up_seconds": scale.as_secs_f64(), "rolling_update_seconds": roll.as_secs_f64(),
        "pod_changes_replayed": events.len(), "most_pods": bounds.most_pods, "fewest_available": bounds.fewest_available});
    println!(
        "nodes {}  replicas {n}\nscale 0 -> {n}, all available: {:.2} s\nrolling update of {n} (maxSurge 25%, maxUnavailable 25%): {:.2} s\ncheck from the event log ({} pod changes): at most {} pods (bound {}), at least {} available (bound {}): {}",
        args.nodes,
        scale.as_secs_f64(),
        roll.as_secs_f64(),
        events.len(),
        bounds.most_pods,
        n + surge,
        bounds.fewest_available,
        n - unavailable,
        if errors.is_empty() { "within bounds" } else { "VIOLATED" }
    );
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_vec_pretty(&report)?)?;
    }
    if !errors.is_empty() {
        bail!("rollout bounds violated:\n  {}", errors.join("\n  "));
    }
    Ok(())
}
