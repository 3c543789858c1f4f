//! A private nats-server child process on a free loopback port, stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for nats-server to accept connections.
pub const NATS_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Failures starting nats-server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binary is not installed.
    #[error("nats-server was not found on PATH; install it with `apt-get install -y nats-server`, or pass --nats URL to use a running NATS server")]
    NotInstalled,
    /// It could not be started.
    #[error("failed to start nats-server: {0}")]
    Spawn(#[source] std::io::Error),
    /// It did not start listening in time.
    #[error("nats-server did not accept connections on port {port} within {timeout:?}")]
    NotReady {
        /// Port it was told to use.
        port: u16,
        /// How long we waited.
        timeout: Duration,
    },
}

/// A running nats-server child.
pub struct NatsServer {
    child: Child,
    port: u16,
}

/// A free TCP port on loopback.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds an executable on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
        .or_else(|| {
            ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin"]
                .iter()
                .map(|d| PathBuf::from(d).join(name))
                .find(|p| p.is_file())
        })
}

impl NatsServer {
    /// Starts nats-server on `port` (a free one when `None`), listening on loopback only.
    pub fn start(port: Option<u16>) -> Result<NatsServer, Error> {
        NatsServer::spawn(port, None)
    }

    /// Starts nats-server on `port` with the configuration file `config` (users and permissions),
    /// ended by the kernel when the calling thread's process dies however it dies (util-linux's
    /// `setpriv --pdeathsig`, when installed): call it from the thread that lives as long as the
    /// process.
    pub fn start_with_config(port: u16, config: &std::path::Path) -> Result<NatsServer, Error> {
        NatsServer::spawn(Some(port), Some(config))
    }

    fn spawn(port: Option<u16>, config: Option<&std::path::Path>) -> Result<NatsServer, Error> {
        let bin = find_on_path("nats-server").ok_or(Error::NotInstalled)?;
        let port = match port {
            Some(p) => p,
            None => free_port().map_err(Error::Spawn)?,
        };
        let mut cmd = match (config.is_some(), find_on_path("setpriv")) {
            (true, Some(setpriv)) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "TERM", "--"]).arg(bin);
                c
            }
            _ => Command::new(bin),
        };
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(c) = config {
            cmd.arg("-c").arg(c);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(Error::Spawn)?;
        let mut server = NatsServer { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > NATS_START_TIMEOUT || server.child.try_wait().ok().flatten().is_some() {
                server.stop();
                return Err(Error::NotReady {
                    port,
                    timeout: NATS_START_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The process id of the nats-server child.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes the server read its configuration file again (SIGHUP): new users take effect.
    pub fn reload(&self) -> std::io::Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).map_err(std::io::Error::from)
    }

    /// Stops the child and reaps it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
