//! `orca bench api`: durable ConfigMap creates through HTTP at several client counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use super::cluster::BenchCluster;
use super::percentile;

/// Options of `orca bench api`.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Concurrent clients, comma-separated
    #[arg(long, default_value = "1,16,64")]
    clients: String,
    /// Seconds to run each level
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Bytes of data in each object
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Use a running server instead of starting one
    #[arg(long)]
    server: Option<String>,
    /// Drive an etcd 3.4 (Debian etcd-server) the same way and print the orca/etcd ratio
    #[arg(long)]
    vs_etcd: bool,
    /// Write the results as JSON here
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Also run every level against a second cluster serving TLS with authentication and RBAC
    /// (the default `orca up`), and print the TLS/plain ratio
    #[arg(long)]
    vs_tls: bool,
}

pub fn run(args: ApiArgs) -> Result<()> {
    let levels: Vec<usize> = args
        .clients
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let cluster = match &args.server {
        Some(_) => None,
        None => Some(BenchCluster::start()?.0),
    };
    let url = args
        .server
        .clone()
        .or_else(|| cluster.as_ref().map(|c| c.url.clone()))
        .unwrap_or_default();
    let secure = if args.vs_tls {
        Some(BenchCluster::start_with(&["--secure"])?.0)
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let etcd = if args.vs_etcd {
        Some(super::etcd::Etcd::start()?)
    } else {
        None
    };
    // etcd stores what Kubernetes stores: the object's serialized form, of the same size.
    let sample = serde_json::to_vec(
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c0-0", "namespace": "bench"}, "data": {"v": "x".repeat(args.value_size)}}),
    )?;
    if etcd.is_some() {
        println!(
            "{:>8} {:>12} {:>9} {:>9} {:>12} {:>9} {:>9} {:>8}",
            "CLIENTS", "ORCA/S", "P50 MS", "P99 MS", "ETCD/S", "P50 MS", "P99 MS", "RATIO"
        );
    } else {
        println!(
            "{:>8} {:>12} {:>10} {:>10} {:>10}",
            "CLIENTS", "CREATES/S", "P50 MS", "P99 MS", "ERRORS"
        );
    }
    let mut rows = Vec::new();
    for (round, clients) in levels.into_iter().enumerate() {
        let builder = || reqwest::Client::builder().pool_max_idle_per_host(clients);
        let http = match &cluster {
            Some(c) => c.client(builder())?,
            None => builder().build()?,
        };
        let (done, mut lat, errors, elapsed) = rt.block_on(level(
            &http,
            &url,
            clients,
            Duration::from_secs(args.seconds),
            args.value_size,
            round,
        ))?;
        lat.sort_by(|a, b| a.total_cmp(b));
        if done == 0 {
            bail!("no create succeeded at {clients} clients ({errors} errors)");
        }
        let orca_rate = done as f64 / elapsed;
        match &etcd {
            Some(e) => {
                let (edone, mut elat, eerr, eelapsed) = rt.block_on(super::etcd::level(
                    &e.url,
                    clients,
                    Duration::from_secs(args.seconds),
                    &sample,
                    round,
                ))?;
                elat.sort_by(|a, b| a.total_cmp(b));
                if edone == 0 {
                    bail!("no etcd create succeeded at {clients} clients ({eerr} errors)");
                }
                let etcd_rate = edone as f64 / eelapsed;
                rows.push(json!({"clients": clients,
                    "orca": {"creates_per_s": orca_rate, "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99), "errors": errors},
                    "etcd": {"creates_per_s": etcd_rate, "p50_ms": percentile(&elat, 0.5), "p99_ms": percentile(&elat, 0.99), "errors": eerr, "protocol": "gRPC (etcdserverpb.KV/Txn over HTTP/2)"},
                    "ratio": orca_rate / etcd_rate}));
                println!(
                    "{:>8} {:>12.0} {:>9.2} {:>9.2} {:>12.0} {:>9.2} {:>9.2} {:>8.2}",
                    clients,
                    orca_rate,
                    percentile(&lat, 0.5),
                    percentile(&lat, 0.99),
                    etcd_rate,
                    percentile(&elat, 0.5),
                    percentile(&elat, 0.99),
                    orca_rate / etcd_rate
                );
            }
            None => {
                rows.push(json!({"clients": clients,
                    "orca": {"creates_per_s": orca_rate, "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99), "errors": errors}}));
                println!(
                    "{:>8} {:>12.0} {:>10.2} {:>10.2} {:>10}",
                    clients,
                    orca_rate,
                    percentile(&lat, 0.5),
                    percentile(&lat, 0.99),
                    errors
                )
            }
        }
        if let Some(s) = &secure {
            // The same level over TLS, with client-certificate authentication and RBAC.
            let (tdone, mut tlat, terr, telapsed) = rt.block_on(level(
                &s.client(builder())?,
                &s.url,
                clients,
                Duration::from_secs(args.seconds),
                args.value_size,
                round,
            ))?;
            tlat.sort_by(|a, b| a.total_cmp(b));
            let tls_rate = tdone as f64 / telapsed;
            println!(
                "{:>8} {:>12.0} {:>10.2} {:>10.2} {:>10}   TLS+RBAC, {:.2} of plain",
                clients,
                tls_rate,
                percentile(&tlat, 0.5),
                percentile(&tlat, 0.99),
                terr,
                tls_rate / orca_rate
            );
            rows.push(
                json!({"clients": clients, "tls": {"creates_per_s": tls_rate, "p50_ms": percentile(&tlat, 0.5),
                "p99_ms": percentile(&tlat, 0.99), "errors": terr, "of_plain": tls_rate / orca_rate}}),
            );
        }
    }
    if let Some(path) = &args.json {
        let out =
            json!({"bench": "api", "seconds_per_level": args.seconds, "value_size": args.value_size, "levels": rows});
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(())
}

pub async fn level(
    http: &reqwest::Client,
    url: &str,
    clients: usize,
    dur: Duration,
    size: usize,
    round: usize,
) -> Result<(usize, Vec<f64>, usize, f64)> {
    let ns = format!("bench-{round}-{}", std::process::id());
    let ns_url = format!("{url}/api/v1/namespaces");
    http.post(&ns_url)
        .json(&json!({"metadata": {"name": ns}}))
        .send()
        .await?;
    let endpoint = Arc::new(format!("{url}/api/v1/namespaces/{ns}/configmaps"));
    let payload = "x".repeat(size);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, endpoint, payload) = (http.clone(), endpoint.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, 0usize);
            while start.elapsed() < dur {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{c}-{i}")}, "data": {"v": payload}});
                i += 1;
                let t = Instant::now();
                match http.post(endpoint.as_str()).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 201 => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok((all.len(), all, errors, elapsed))
}
