//! `orca bench watch`: open many HTTP watches, make changes, measure the time from sending each
//! write to its delivery on every watch.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::cluster::BenchCluster;
use super::percentile;

/// Options of `orca bench watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Number of watchers
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Number of changes to deliver
    #[arg(long, default_value_t = 20)]
    changes: usize,
}

pub fn run(args: WatchArgs) -> Result<()> {
    let (cluster, _) = BenchCluster::start()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(args.watchers + 4)
            .build()?;
        let base = format!("{}/api/v1/namespaces/default/configmaps", cluster.url);
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
        let head: serde_json::Value = http.get(&base).send().await?.json().await?;
        let rv = head["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
        for _ in 0..args.watchers {
            let resp = http
                .get(format!("{base}?watch=true&resourceVersion={rv}"))
                .send()
                .await?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut stream = resp.bytes_stream();
                let mut buf = Vec::new();
                while let Some(Ok(chunk)) = stream.next().await {
                    buf.extend_from_slice(&chunk);
                    while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=pos).collect();
                        let _ = tx.send((object_name(&line), Instant::now()));
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut lat = Vec::new();
        for i in 0..args.changes {
            let name = format!("w{i}");
            // The clock starts before the write is sent: a delivery can come before the response.
            let sent = Instant::now();
            let r = http
                .post(&base)
                .json(&json!({"metadata": {"name": name}, "data": {"k": "v"}}))
                .send()
                .await?;
            if r.status().as_u16() != 201 {
                bail!("create failed: {}", r.status());
            }
            let mut got = 0;
            while got < args.watchers {
                let Ok(Some((n, at))) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await else {
                    bail!("only {got} of {} watchers saw change {i}", args.watchers)
                };
                if n == name {
                    got += 1;
                    lat.push(at.saturating_duration_since(sent).as_secs_f64() * 1000.0);
                }
            }
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        println!(
            "watchers {}  changes {}  deliveries {}",
            args.watchers,
            args.changes,
            lat.len()
        );
        println!(
            "from sending the write to delivery: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            percentile(&lat, 1.0)
        );
        drop(cluster);
        Ok(())
    })
}

/// The first `"name":"..."` of a watch line: the object's metadata.name (kept cheap so that the
/// bench measures delivery, not the client's JSON parsing).
fn object_name(line: &[u8]) -> String {
    const KEY: &[u8] = b"\"name\":\"";
    let Some(start) = line.windows(KEY.len()).position(|w| w == KEY).map(|p| p + KEY.len()) else {
        return String::new();
    };
    let end = line[start..]
        .iter()
        .position(|b| *b == b'"')
        .map_or(line.len(), |e| start + e);
    String::from_utf8_lossy(&line[start..end]).into_owned()
}
