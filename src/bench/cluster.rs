//! A throwaway `orca up` child process for benchmarks (temp data dir, free port, stopped on drop),
//! and a hollow-node agent process beside it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A running `orca up` child.
pub struct BenchCluster {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    /// The join token `orca up` printed (`orca agent --join TOKEN`).
    join: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl BenchCluster {
    /// Starts `orca up` and waits for `/readyz`; returns it and the time to ready.
    pub fn start() -> Result<(BenchCluster, Duration)> {
        BenchCluster::start_with(&[])
    }

    /// Starts `orca up` with extra flags: plain HTTP, unless they hold `--secure` (this harness's
    /// own flag), which keeps the default: TLS, authentication and RBAC.
    pub fn start_with(extra: &[&str]) -> Result<(BenchCluster, Duration)> {
        let dir = std::env::temp_dir().join(format!("orca-bench-{}", uuid_like()));
        std::fs::create_dir_all(&dir)?;
        let port = orca_actors::cluster::natsd::free_port()?;
        let secure = extra.contains(&"--secure");
        let extra: Vec<&str> = extra.iter().copied().filter(|a| *a != "--secure").collect();
        let url = format!("{}://127.0.0.1:{port}", if secure { "https" } else { "http" });
        let exe = std::env::current_exe().context("cannot find the orca binary")?;
        let started = Instant::now();
        let child = Command::new(exe)
            .arg("up")
            .args((!secure).then_some("--insecure-http"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.join("data"))
            .args(&extra)
            .env("ORCA_HOME", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("failed to start orca up")?;
        let join = std::sync::Arc::default();
        let mut cluster = BenchCluster { child, url, dir, join };
        if let Some(out) = cluster.child.stdout.take() {
            let join = cluster.join.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(token) = line.strip_prefix("join a node: orca agent --join ") {
                        let token = token.split_whitespace().next().unwrap_or_default().to_string();
                        *join.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
                    }
                }
            });
        }
        let probe = format!("{}/readyz", cluster.url);
        // Readiness is open to anyone; the CA exists only once the server has started.
        let prober = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()?;
        loop {
            if let Ok(r) = prober.get(&probe).send() {
                if r.status().is_success() {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(20) || cluster.child.try_wait()?.is_some() {
                bail!("orca up did not become ready");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let ready = started.elapsed();
        Ok((cluster, ready))
    }

    /// A client of the cluster: the admin's certificate for a secure one.
    pub fn client(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::Client> {
        if !self.url.starts_with("https://") {
            return Ok(builder.build()?);
        }
        let pki = self.dir.join("data/pki");
        let read = |n: &str| std::fs::read(pki.join(n)).with_context(|| format!("reading {n}"));
        let mut identity = read("admin.crt")?;
        identity.extend(read("admin.key")?);
        Ok(builder
            .add_root_certificate(reqwest::Certificate::from_pem(&read("ca.crt")?)?)
            .identity(reqwest::Identity::from_pem(&identity)?)
            .build()?)
    }

    /// The token that joins an `orca agent` to this cluster.
    pub fn join_token(&self) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(t) = self.join.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Ok(t);
            }
            if Instant::now() > deadline {
                bail!("orca up printed no join token");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident memory of the child in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
    }
}

impl Drop for BenchCluster {
    fn drop(&mut self) {
        // SIGTERM first so that the child stops its nats-server.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
    )
}

/// An `orca agent --hollow` child with `count` nodes (32 CPUs, 256Gi, 110 pods each), killed on
/// drop.
pub struct Hollow(pub Child);

impl Hollow {
    /// Starts the hollow nodes `hollow-0..` joining `nats_url`.
    pub fn start(nats_url: &str, count: usize) -> Result<Hollow> {
        Hollow::start_range(nats_url, 0, count)
    }

    /// Starts the hollow nodes `hollow-FIRST..` joining `nats_url`.
    pub fn start_range(nats_url: &str, first: usize, count: usize) -> Result<Hollow> {
        let exe = std::env::current_exe().context("cannot find the orca binary")?;
        let child = Command::new(exe)
            .args(["agent", "--hollow", "--name", "hollow", "--nats", nats_url])
            .args(["--first", &first.to_string()])
            .args([
                "--cpu",
                "32",
                "--memory",
                "256Gi",
                "--max-pods",
                "110",
                "--count",
                &count.to_string(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("failed to start the hollow agent")?;
        Ok(Hollow(child))
    }
}

impl Drop for Hollow {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A NATS cluster of `n` nats-servers on this machine joined by routes (one per "host"),
/// stopped on drop.
pub struct NatsCluster {
    /// The servers; clients may join any.
    pub servers: Vec<orca_actors::cluster::natsd::NatsServer>,
    dir: PathBuf,
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl NatsCluster {
    /// Starts `n` servers and waits until each has routes to all the others.
    pub fn start(n: usize) -> Result<NatsCluster> {
        use orca_actors::cluster::natsd::{free_port, NatsServer};
        let dir = std::env::temp_dir().join(format!("orca-bench-nats-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let ports: Vec<(u16, u16)> = (0..n)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<Result<_, std::io::Error>>()?;
        let mut servers = Vec::new();
        for (i, (client, route)) in ports.iter().enumerate() {
            let routes: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, r))| format!("\"nats://127.0.0.1:{r}\""))
                .collect();
            let conf = dir.join(format!("nats-{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: host{i}\nhttp: \"127.0.0.1:0\"\ncluster {{\n  name: bench\n  listen: \"127.0.0.1:{route}\"\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                ),
            )?;
            servers.push(NatsServer::start_with_config(*client, &conf).context("starting a clustered nats-server")?);
        }
        let cluster = NatsCluster { servers, dir };
        cluster.wait_routed(n)?;
        Ok(cluster)
    }

    /// Waits until a message published on each server reaches a subscriber on every other.
    fn wait_routed(&self, n: usize) -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            let mut clients = Vec::new();
            for s in &self.servers {
                clients.push(orca_actors::bus::connect(&s.url(), "orca-bench").await?);
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            for (i, from) in clients.iter().enumerate() {
                for (j, to) in clients.iter().enumerate().filter(|(j, _)| *j != i) {
                    loop {
                        let subject = format!("bench.route.{i}.{j}");
                        let mut sub = to.subscribe(subject.clone()).await?;
                        to.flush().await?;
                        from.publish(subject, "x".into()).await?;
                        from.flush().await?;
                        let got =
                            tokio::time::timeout(Duration::from_millis(200), futures::StreamExt::next(&mut sub)).await;
                        if matches!(got, Ok(Some(_))) {
                            break;
                        }
                        if std::time::Instant::now() > deadline {
                            anyhow::bail!("the {n} nats-servers did not form a cluster within 30 s");
                        }
                    }
                }
            }
            Ok(())
        })
    }
}
