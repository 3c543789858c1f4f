//! `orca bench members`: durable creates/s of a three-member control plane against one member, at
//! several client counts, and how long writes stop when the leader is killed (`kill -9`), over a
//! number of trials. Every member is an `orca server` process on this machine, joined through one
//! nats-server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use orca_actors::cluster::natsd::{free_port, NatsServer};

use super::percentile;

/// Options of `orca bench members`.
#[derive(Args, Debug)]
pub struct MembersArgs {
    /// Concurrent clients, comma-separated
    #[arg(long, default_value = "1,16,64")]
    clients: String,
    /// Seconds to run each level
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Times the leader is killed
    #[arg(long, default_value_t = 10)]
    trials: usize,
    /// Write the results as JSON here
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One `orca server` child.
struct Server {
    child: Child,
    argv: Vec<String>,
    url: String,
}

impl Server {
    fn spawn(argv: Vec<String>, url: String) -> Result<Server> {
        let child = Command::new(std::env::current_exe()?)
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting orca server")?;
        Ok(Server { child, argv, url })
    }

    fn restart(&mut self) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Server::spawn(self.argv.clone(), self.url.clone())?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `names.len()` members (one: a single control plane) in `root`, joined through `nats`.
fn start_plane(root: &Path, nats: &str, names: &[&str]) -> Result<Vec<Server>> {
    if names.len() > 1 {
        // Members share the key sealing Secrets.
        let first = root.join(names[0]);
        std::fs::create_dir_all(&first)?;
        orca_actors::eventlog::crypto::SecretBox::load_or_create(&first.join("secret.key"))?;
        for n in &names[1..] {
            std::fs::create_dir_all(root.join(n))?;
            std::fs::copy(first.join("secret.key"), root.join(n).join("secret.key"))?;
        }
    }
    let mut out = Vec::new();
    for n in names {
        let port = free_port()?;
        let mut argv: Vec<String> = [
            "server",
            "--nats",
            nats,
            "--insecure-http",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.push(root.join(n).display().to_string());
        if names.len() > 1 {
            argv.extend(["--peers".into(), names.join(","), "--member".into(), n.to_string()]);
        }
        out.push(Server::spawn(argv, format!("http://127.0.0.1:{port}"))?);
    }
    Ok(out)
}

/// The leader's URL once one member leads and every member answers.
fn wait_leader(http: &reqwest::blocking::Client, servers: &[Server], within: Duration) -> Result<usize> {
    let deadline = Instant::now() + within;
    loop {
        for s in servers {
            let members: Option<Value> = http
                .get(format!("{}/apis/orca.dev/v1/members", s.url))
                .send()
                .ok()
                .filter(|r| r.status().is_success())
                .and_then(|r| r.json().ok());
            let leader = members.as_ref().and_then(|m| m["leader"].as_str().map(str::to_string));
            if let Some(l) = leader {
                let all_up = servers.iter().all(|s| {
                    http.get(format!("{}/readyz", s.url))
                        .send()
                        .is_ok_and(|r| r.status().is_success())
                });
                let index = if servers.len() == 1 {
                    Some(0)
                } else {
                    servers.iter().position(|s| s.argv.last() == Some(&l))
                };
                if let (true, Some(i)) = (all_up, index) {
                    return Ok(i);
                }
            }
        }
        if Instant::now() > deadline {
            bail!("no leader with every member up within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run(args: MembersArgs) -> Result<()> {
    let levels: Vec<usize> = args
        .clients
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let nats = NatsServer::start(None).context("the members bench needs nats-server")?;
    let root = std::env::temp_dir().join(format!("orca-bench-members-{}", std::process::id()));
    let result = measure(&args, &levels, (&nats.url(), nats.pid()), &root);
    let _ = std::fs::remove_dir_all(&root);
    let out = result?;
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(())
}

fn measure(args: &MembersArgs, levels: &[usize], (nats, nats_pid): (&str, u32), root: &Path) -> Result<Value> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rates: Vec<Vec<(f64, f64, f64)>> = Vec::new();
    for names in [&["one"][..], &["m1", "m2", "m3"][..]] {
        let servers = start_plane(&root.join(names.len().to_string()), nats, names)?;
        let leader = wait_leader(&http, &servers, Duration::from_secs(30))?;
        let mut row = Vec::new();
        // CPU of every process the figure needs: the members and the nats-server.
        let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).chain([nats_pid]).collect();
        let cpu = || pids.iter().map(|p| super::scheduler::cpu_seconds(*p)).sum::<f64>();
        for (round, clients) in levels.iter().enumerate() {
            let before = cpu();
            let client = reqwest::Client::builder().pool_max_idle_per_host(*clients).build()?;
            let (done, mut lat, _errors, elapsed) = rt.block_on(super::api::level(
                &client,
                &servers[leader].url,
                *clients,
                Duration::from_secs(args.seconds),
                256,
                round,
            ))?;
            lat.sort_by(|a, b| a.total_cmp(b));
            let cpu_ms = (cpu() - before) * 1000.0 / done.max(1) as f64;
            row.push((done as f64 / elapsed, percentile(&lat, 0.99), cpu_ms));
        }
        rates.push(row);
    }
    println!(
        "{:>8} {:>12} {:>9} {:>9} {:>14} {:>9} {:>9} {:>8}",
        "CLIENTS", "1 MEMBER/S", "P99 MS", "CPU MS", "3 MEMBERS/S", "P99 MS", "CPU MS", "RATIO"
    );
    let mut rows = Vec::new();
    for (i, clients) in levels.iter().enumerate() {
        let ((one, p1, c1), (three, p3, c3)) = (rates[0][i], rates[1][i]);
        println!(
            "{clients:>8} {one:>12.0} {p1:>9.2} {c1:>9.3} {three:>14.0} {p3:>9.2} {c3:>9.3} {:>8.2}",
            three / one
        );
        rows.push(
            json!({"clients": clients, "one_member": {"creates_per_s": one, "p99_ms": p1, "cpu_ms_per_create": c1},
            "three_members": {"creates_per_s": three, "p99_ms": p3, "cpu_ms_per_create": c3}, "ratio": three / one}),
        );
    }
    println!("(CPU MS: CPU time of the members and the nats-server per create, all on this machine)");

    // Leader loss: kill -9 the leader, then create through the other members until one is
    // accepted; the clock starts before the kill.
    let mut servers = start_plane(&root.join("loss"), nats, &["m1", "m2", "m3"])?;
    let mut gaps = Vec::new();
    for trial in 0..args.trials {
        let leader = wait_leader(&http, &servers, Duration::from_secs(30))?;
        let started = Instant::now();
        let _ = servers[leader].child.kill();
        let _ = servers[leader].child.wait();
        let others: Vec<String> = (0..servers.len())
            .filter(|i| *i != leader)
            .map(|i| servers[i].url.clone())
            .collect();
        let mut n = 0;
        loop {
            let url = &others[n % others.len()];
            let body = json!({"metadata": {"name": format!("loss-{trial}-{n}")}});
            n += 1;
            let ok = http
                .post(format!("{url}/api/v1/namespaces/default/configmaps"))
                .json(&body)
                .send()
                .is_ok_and(|r| r.status().as_u16() == 201);
            if ok {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("trial {trial}: no write accepted within 30 s of the leader's loss");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let gap = started.elapsed().as_secs_f64() * 1000.0;
        println!("trial {trial}: leader killed, writes accepted again after {gap:.0} ms");
        gaps.push(gap);
        servers[leader].restart()?;
    }
    gaps.sort_by(|a, b| a.total_cmp(b));
    println!(
        "leader loss to writes accepted again over {} trials: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        gaps.len(),
        percentile(&gaps, 0.5),
        percentile(&gaps, 0.99),
        gaps.last().copied().unwrap_or(0.0)
    );
    Ok(
        json!({"bench": "members", "seconds_per_level": args.seconds, "levels": rows,
        "leader_loss_ms": {"trials": gaps.len(), "p50": percentile(&gaps, 0.5), "p99": percentile(&gaps, 0.99), "all": gaps}}),
    )
}
