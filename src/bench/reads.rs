//! `orca bench reads`: what kubectl's reads cost. Discovery plus OpenAPI as kubectl fetches them on
//! a cold cache (right after start, then warm), and a LIST of N pods as JSON and as a
//! `meta.k8s.io` Table, alternating, timed from before each request is sent to the last byte.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use serde_json::{json, Value};

use super::cluster::BenchCluster;
use super::percentile;

/// Options of `orca bench reads`.
#[derive(Args, Debug)]
pub struct ReadsArgs {
    /// Pods to create before the LISTs
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// LISTs of each kind
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// kubectl's cold-cache sequence: aggregated discovery of both roots, the OpenAPI root, and the
/// documents of the core and apps groups. Milliseconds.
fn discovery(http: &reqwest::blocking::Client, base: &str) -> Result<f64> {
    let started = Instant::now();
    for path in ["/api", "/apis"] {
        http.get(format!("{base}{path}"))
            .header("Accept", AGGREGATED)
            .send()?
            .bytes()?;
    }
    let root: Value = http.get(format!("{base}/openapi/v3")).send()?.json()?;
    for gv in ["api/v1", "apis/apps/v1"] {
        let url = root["paths"][gv]["serverRelativeURL"].as_str().unwrap_or("");
        if url.is_empty() {
            bail!("/openapi/v3 lists no {gv}");
        }
        http.get(format!("{base}{url}")).send()?.bytes()?;
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

fn create_pods(base: &str, n: usize) -> Result<()> {
    let threads = 8;
    let mut handles = Vec::new();
    for t in 0..threads {
        let base = base.to_string();
        handles.push(std::thread::spawn(move || -> Result<()> {
            let http = reqwest::blocking::Client::new();
            for i in (t..n).step_by(threads) {
                let pod = json!({"metadata": {"name": format!("r-{i}"), "labels": {"bench": "reads"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"]}]}});
                let r = http
                    .post(format!("{base}/api/v1/namespaces/default/pods"))
                    .json(&pod)
                    .send()?;
                if r.status().as_u16() != 201 {
                    bail!("creating pod {i}: {}", r.text()?);
                }
            }
            Ok(())
        }));
    }
    for h in handles {
        h.join().map_err(|_| anyhow::anyhow!("a creating thread panicked"))??;
    }
    Ok(())
}

pub fn run(a: ReadsArgs) -> Result<()> {
    let (cluster, _) = BenchCluster::start_with(&["--no-agent", "--ingress-listen", "none"])?;
    let http = reqwest::blocking::Client::new();
    let base = cluster.url.clone();
    let cold = discovery(&http, &base)?;
    let mut warm: Vec<f64> = (0..10).map(|_| discovery(&http, &base)).collect::<Result<_>>()?;
    warm.sort_by(f64::total_cmp);
    println!(
        "discovery + OpenAPI (kubectl's cold-cache requests): first {cold:.1} ms, then p50 {:.1} ms",
        percentile(&warm, 0.5)
    );
    create_pods(&base, a.pods)?;
    let (mut as_json, mut as_table) = (Vec::new(), Vec::new());
    let mut bytes = (0, 0);
    for _ in 0..a.runs {
        for (accept, out) in [("application/json", &mut as_json), (TABLE, &mut as_table)] {
            let started = Instant::now();
            let body = http
                .get(format!("{base}/api/v1/pods"))
                .header("Accept", accept)
                .send()?
                .bytes()?;
            out.push(started.elapsed().as_secs_f64() * 1000.0);
            if accept == TABLE {
                bytes.1 = body.len();
            } else {
                bytes.0 = body.len();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    as_json.sort_by(f64::total_cmp);
    as_table.sort_by(f64::total_cmp);
    println!(
        "LIST of {} pods as JSON ({:.1} MB): p50 {:.1} ms, p99 {:.1} ms ({} runs)",
        a.pods,
        bytes.0 as f64 / 1e6,
        percentile(&as_json, 0.5),
        percentile(&as_json, 0.99),
        a.runs
    );
    println!(
        "LIST of {} pods as a Table ({:.1} MB): p50 {:.1} ms, p99 {:.1} ms",
        a.pods,
        bytes.1 as f64 / 1e6,
        percentile(&as_table, 0.5),
        percentile(&as_table, 0.99)
    );
    Ok(())
}
