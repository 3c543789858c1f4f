//! An etcd 3.4 (Debian `etcd-server`) started on loopback for `orca bench api --vs-etcd`, driven through
//! its native gRPC API (HTTP/2, `etcdserverpb.KV/Txn`) with the transaction Kubernetes uses to create an
//! object (put if the key does not exist yet), the same value sizes and the same client counts.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use orca_actors::cluster::natsd::{find_on_path, free_port};

use super::grpc;

/// A throwaway etcd, removed on drop.
pub struct Etcd {
    child: Child,
    dir: std::path::PathBuf,
    /// Client URL.
    pub url: String,
}

impl Etcd {
    /// Starts etcd with a fresh data dir and waits for `/health`.
    pub fn start() -> Result<Etcd> {
        let bin =
            find_on_path("etcd").context("etcd was not found; install it with `apt-get install -y etcd-server`")?;
        let (client, peer) = (free_port()?, free_port()?);
        let dir = std::env::temp_dir().join(format!("orca-bench-etcd-{}-{client}", std::process::id()));
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new(bin)
            .args(["--name", "bench", "--data-dir"])
            .arg(&dir)
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args([
                "--initial-cluster",
                &format!("bench={peer_url}"),
                "--log-level",
                "error",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("failed to start etcd")?;
        let etcd = Etcd { child, dir, url };
        let start = Instant::now();
        loop {
            if reqwest::blocking::get(format!("{}/health", etcd.url)).is_ok_and(|r| r.status().is_success()) {
                return Ok(etcd);
            }
            if start.elapsed() > Duration::from_secs(20) {
                bail!("etcd did not become healthy");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates keys for `dur` with `clients` concurrent gRPC clients (one HTTP/2 connection each, as
/// separate Kubernetes API servers would have); returns (done, latencies ms, errors, seconds).
pub async fn level(
    url: &str,
    clients: usize,
    dur: Duration,
    value: &[u8],
    round: usize,
) -> Result<(usize, Vec<f64>, usize, f64)> {
    let endpoint = Arc::new(format!("{url}/etcdserverpb.KV/Txn"));
    let value = Arc::new(value.to_vec());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = reqwest::Client::builder().http2_prior_knowledge().build()?;
        let (endpoint, value) = (endpoint.clone(), value.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, 0usize);
            while start.elapsed() < dur {
                let key = format!("/registry/configmaps/bench-{round}/c{c}-{i}");
                i += 1;
                let body = grpc::frame(&grpc::create_txn(key.as_bytes(), &value));
                let t = Instant::now();
                let sent = http
                    .post(endpoint.as_str())
                    .header("content-type", "application/grpc")
                    .header("te", "trailers")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) if grpc::txn_succeeded(&b) == Some(true) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => errors += 1,
                    },
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
    Ok((all.len(), all, errors, start.elapsed().as_secs_f64()))
}
