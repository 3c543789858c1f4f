//! Probes (exec, httpGet, tcpSocket) and the schedule that runs them: startup gates the others,
//! liveness failures restart the container, readiness sets Ready.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use orca_schemas::kinds::pod::Probe;
use orca_schemas::meta::IntOrString;

/// Where and how probes reach the container.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// Host to connect to (the pod IP; loopback for the process runtime).
    pub host: String,
    /// Named container ports.
    pub ports: HashMap<String, i64>,
    /// Environment for exec probes.
    pub env: Vec<(String, String)>,
    /// Working directory for exec probes.
    pub cwd: PathBuf,
    /// Host command that runs a command inside the container (empty: run it on the host).
    pub exec_prefix: Vec<String>,
}

fn port(p: &IntOrString, t: &ProbeTarget) -> Option<u16> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::Str(name) => t.ports.get(name).and_then(|n| u16::try_from(*n).ok()),
    }
}

/// Runs a probe once; true on success.
pub async fn probe_once(p: &Probe, t: &ProbeTarget) -> bool {
    let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64);
    let attempt = async {
        if let Some(e) = &p.exec {
            if e.command.is_empty() {
                return false;
            }
            // Inside the container when the runtime has one (`runc exec`), never on the host:
            // a pod's probe is the pod's code.
            let argv: Vec<&String> = t.exec_prefix.iter().chain(&e.command).collect();
            let (cmd, args) = argv.split_first().expect("the command is not empty");
            let mut command = tokio::process::Command::new(cmd);
            command.args(args).kill_on_drop(true);
            if t.exec_prefix.is_empty() {
                command.envs(t.env.iter().cloned()).current_dir(if t.cwd.is_dir() {
                    t.cwd.as_path()
                } else {
                    std::path::Path::new("/")
                });
            }
            let out = command.output().await;
            return out.is_ok_and(|o| o.status.success());
        }
        if let Some(h) = &p.http_get {
            let Some(port) = port(&h.port, t) else { return false };
            let host = h.host.clone().unwrap_or_else(|| t.host.clone());
            let Ok(mut s) = tokio::net::TcpStream::connect((host.as_str(), port)).await else {
                return false;
            };
            let path = h.path.clone().unwrap_or_else(|| "/".into());
            let req = format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: orca-probe\r\n\r\n");
            if s.write_all(req.as_bytes()).await.is_err() {
                return false;
            }
            let mut buf = [0u8; 32];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let line = String::from_utf8_lossy(&buf[..n]);
            let code: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            return (200..400).contains(&code);
        }
        if let Some(tcp) = &p.tcp_socket {
            let Some(port) = port(&tcp.port, t) else { return false };
            let host = tcp.host.clone().unwrap_or_else(|| t.host.clone());
            return tokio::net::TcpStream::connect((host.as_str(), port)).await.is_ok();
        }
        false
    };
    tokio::time::timeout(timeout, attempt).await.unwrap_or(false)
}

/// One probe's schedule and counters.
#[derive(Debug, Clone)]
struct Track {
    probe: Probe,
    next: Instant,
    successes: i64,
    failures: i64,
}

impl Track {
    fn new(probe: &Probe, started: Instant) -> Track {
        let delay = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
        Track {
            probe: probe.clone(),
            next: started + delay,
            successes: 0,
            failures: 0,
        }
    }
    fn period(&self) -> Duration {
        Duration::from_secs(self.probe.period_seconds.unwrap_or(10).max(1) as u64)
    }
    /// Records a result; returns Some(true) on reaching the success threshold, Some(false) on the
    /// failure threshold.
    fn record(&mut self, ok: bool, now: Instant) -> Option<bool> {
        self.next = now + self.period();
        if ok {
            self.failures = 0;
            self.successes += 1;
            (self.successes >= self.probe.success_threshold.unwrap_or(1).max(1)).then_some(true)
        } else {
            self.successes = 0;
            self.failures += 1;
            (self.failures >= self.probe.failure_threshold.unwrap_or(3).max(1)).then_some(false)
        }
    }
}

/// What the supervisor must do after a round of probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing changed.
    Nothing,
    /// Readiness changed.
    Ready(bool),
    /// Kill and restart the container, with this message.
    Restart(String),
}

/// The probes of one container run.
pub struct Probes {
    startup: Option<Track>,
    liveness: Option<Track>,
    readiness: Option<Track>,
    started: bool,
    ready: bool,
}

impl Probes {
    /// Probes for a run that started at `started`.
    pub fn new(
        startup: Option<&Probe>,
        liveness: Option<&Probe>,
        readiness: Option<&Probe>,
        started: Instant,
    ) -> Probes {
        Probes {
            startup: startup.map(|p| Track::new(p, started)),
            liveness: liveness.map(|p| Track::new(p, started)),
            readiness: readiness.map(|p| Track::new(p, started)),
            started: startup.is_none(),
            ready: false,
        }
    }

    /// Readiness as it stands: without a readiness probe a started container is ready.
    pub fn ready(&self) -> bool {
        if self.readiness.is_none() {
            self.started
        } else {
            self.ready && self.started
        }
    }

    /// When the next probe is due (None: no probe to run).
    pub fn next_due(&self) -> Option<Instant> {
        let active = if self.started {
            [self.liveness.as_ref(), self.readiness.as_ref()]
        } else {
            [self.startup.as_ref(), None]
        };
        active.into_iter().flatten().map(|t| t.next).min()
    }

    /// Runs whatever probe is due.
    pub async fn tick(&mut self, target: &ProbeTarget) -> Verdict {
        let now = Instant::now();
        if !self.started {
            if let Some(t) = self.startup.as_mut().filter(|t| now >= t.next) {
                match t.record(probe_once(&t.probe, target).await, now) {
                    Some(true) => {
                        self.started = true;
                        if self.readiness.is_none() {
                            return Verdict::Ready(true);
                        }
                    }
                    Some(false) => return Verdict::Restart("Startup probe failed".into()),
                    None => {}
                }
            }
            return Verdict::Nothing;
        }
        if let Some(t) = self.liveness.as_mut().filter(|t| now >= t.next) {
            if t.record(probe_once(&t.probe, target).await, now) == Some(false) {
                return Verdict::Restart("Liveness probe failed".into());
            }
        }
        if let Some(t) = self.readiness.as_mut().filter(|t| now >= t.next) {
            if let Some(ok) = t.record(probe_once(&t.probe, target).await, now) {
                if ok != self.ready {
                    self.ready = ok;
                    return Verdict::Ready(ok);
                }
            }
        }
        Verdict::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orca_schemas::kinds::pod::ExecAction;

    fn exec(cmd: &str) -> Probe {
        Probe {
            exec: Some(ExecAction {
                command: vec!["sh".into(), "-c".into(), cmd.into()],
            }),
            period_seconds: Some(1),
            failure_threshold: Some(2),
            ..Default::default()
        }
    }

    fn target() -> ProbeTarget {
        ProbeTarget {
            host: "127.0.0.1".into(),
            ports: HashMap::new(),
            env: vec![("X".into(), "1".into())],
            cwd: std::env::temp_dir(),
            exec_prefix: Vec::new(),
        }
    }

    #[tokio::test]
    async fn exec_and_tcp_probes() {
        assert!(probe_once(&exec("test \"$X\" = 1"), &target()).await);
        assert!(!probe_once(&exec("exit 1"), &target()).await);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port() as i64;
        let tcp = Probe {
            tcp_socket: Some(orca_schemas::kinds::pod::TcpSocketAction {
                port: IntOrString::Int(port),
                host: None,
            }),
            ..Default::default()
        };
        assert!(probe_once(&tcp, &target()).await);
        drop(listener);
        // Port 1 (tcpmux) has no listener here; a freed ephemeral port could be taken by another test.
        let closed = Probe {
            tcp_socket: Some(orca_schemas::kinds::pod::TcpSocketAction {
                port: IntOrString::Int(1),
                host: None,
            }),
            ..Default::default()
        };
        assert!(!probe_once(&closed, &target()).await);
    }

    #[tokio::test]
    async fn liveness_restarts_after_the_failure_threshold() {
        let live = exec("exit 1");
        let mut p = Probes::new(None, Some(&live), None, Instant::now());
        assert!(p.ready(), "no readiness probe: ready once started");
        assert_eq!(p.tick(&target()).await, Verdict::Nothing);
        if let Some(t) = p.liveness.as_mut() {
            t.next = Instant::now();
        }
        assert_eq!(
            p.tick(&target()).await,
            Verdict::Restart("Liveness probe failed".into())
        );
    }
}
