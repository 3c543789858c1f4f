//! `orca bench pods`: pod startup latency, create -> Running, on the node agent of `orca up`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

use super::cluster::BenchCluster;
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

pub fn run(args: PodsArgs) -> Result<()> {
    let (cluster, _) = BenchCluster::start_with(&["--runtime", &args.runtime])?;
    let http = reqwest::blocking::Client::new();
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
    let deadline = Instant::now() + Duration::from_secs(60);
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
    // Graceful deletes, so that the agent stops every container before the cluster goes away.
    for i in 0..args.pods {
        let _ = http.delete(format!("{base}/p{i}")).send();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let left = http.get(&base).send()?.json::<Value>()?["items"]
            .as_array()
            .map_or(0, Vec::len);
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(cluster);
    Ok(())
}
