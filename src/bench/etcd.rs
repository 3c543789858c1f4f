//! An etcd 3.4 (Debian `etcd-server`) started on loopback for `orca bench api --vs-etcd`, driven through
//! its JSON gateway with the same transaction Kubernetes uses to create an object (put if the key does
//! not exist yet), the same value sizes and the same client counts.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use orca_actors::cluster::natsd::{find_on_path, free_port};
use orca_schemas::validate::other::base64_encode;

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

/// Creates keys for `dur` with `clients` concurrent clients; returns (done, latencies ms, errors, seconds).
pub async fn level(
    url: &str,
    clients: usize,
    dur: Duration,
    value: &[u8],
    round: usize,
) -> Result<(usize, Vec<f64>, usize, f64)> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let endpoint = Arc::new(format!("{url}/v3/kv/txn"));
    let value = Arc::new(base64_encode(value));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, endpoint, value) = (http.clone(), endpoint.clone(), value.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, 0usize);
            while start.elapsed() < dur {
                let key = base64_encode(format!("/registry/configmaps/bench-{round}/c{c}-{i}").as_bytes());
                i += 1;
                let txn = json!({
                    "compare": [{"key": key, "result": "EQUAL", "target": "CREATE", "create_revision": "0"}],
                    "success": [{"request_put": {"key": key, "value": *value}}],
                });
                let t = Instant::now();
                match http.post(endpoint.as_str()).json(&txn).send().await {
                    Ok(r) if r.status().is_success() => match r.json::<serde_json::Value>().await {
                        Ok(v) if v["succeeded"] == true => lat.push(t.elapsed().as_secs_f64() * 1000.0),
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
