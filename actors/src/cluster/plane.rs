//! The control plane: event log, API core, the API server actor on NATS, and the HTTP front.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::api_server::server::ApiServer;
use crate::api_server::{http, ApiCore};
use crate::eventlog::{EventLog, LogOptions};

/// Settings of a control plane.
#[derive(Debug, Clone)]
pub struct PlaneOptions {
    /// Data directory of the log.
    pub data_dir: PathBuf,
    /// HTTP listen address.
    pub listen: String,
    /// NATS URL to join.
    pub nats_url: String,
    /// Keep at most this many events (None: whole history).
    pub retain_events: Option<u64>,
    /// Drop events older than this.
    pub retain_age: Option<std::time::Duration>,
    /// Keep the log's events within about this many bytes on disk.
    pub retain_bytes: Option<u64>,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// A node silent this long is marked Ready=Unknown.
    pub node_grace: std::time::Duration,
    /// Seconds a pod stays on an unreachable or not-ready node when it does not say otherwise.
    pub default_toleration_seconds: u64,
    /// Plain HTTP, every caller without credentials an admin (development on loopback only);
    /// otherwise TLS with client certificates and bearer tokens, and RBAC.
    pub insecure_http: bool,
    /// Static bearer tokens (`token,user,uid,"groups"` lines).
    pub token_auth_file: Option<PathBuf>,
    /// How the control plane connects to NATS.
    pub nats_credentials: crate::bus::Credentials,
    /// The users of the private nats-server and its pid, when nodes join it with a token.
    pub join: Option<(super::nats_auth::NatsAuth, u32)>,
    /// The members of a replicated control plane, by name (empty: this is the only member).
    pub peers: Vec<String>,
    /// This member's name among `peers`.
    pub member: String,
}

/// Failures starting the control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log would not open.
    #[error(transparent)]
    Log(#[from] crate::eventlog::Error),
    /// NATS connection or subscription failed.
    #[error(transparent)]
    Bus(#[from] crate::bus::Error),
    /// The PKI, token file or TLS configuration could not be set up.
    #[error("security setup failed: {0}")]
    Security(String),
    /// The HTTP listener would not bind.
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        /// Address asked for.
        addr: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A running control plane.
pub struct Plane {
    /// The API logic (and through it the log).
    pub core: ApiCore,
    /// The HTTP server; await it, or stop it through its handle.
    pub http: actix_web::dev::Server,
    /// Where HTTP listens.
    pub addrs: Vec<SocketAddr>,
    /// The NATS actor.
    pub actor: actix::Addr<ApiServer>,
    /// The NATS connection.
    pub nats: async_nats::Client,
    /// Where the cluster DNS server answers (behind the `kube-system/kube-dns` Service); on a
    /// replicated control plane, the leader serves it.
    pub dns: Option<SocketAddr>,
    /// This member's Raft member, on a replicated control plane.
    pub replica: Option<std::sync::Arc<crate::api_server::forward::Replica>>,
    /// The cluster's certificates.
    pub pki: crate::auth::pki::Pki,
    /// Whether the API is served over TLS.
    pub tls: bool,
}

/// The PKI (made on first start), the authenticator and, unless insecure, the TLS configuration.
fn security(
    opts: &PlaneOptions,
) -> Result<
    (
        crate::auth::pki::Pki,
        std::sync::Arc<crate::auth::Auth>,
        Option<rustls::ServerConfig>,
    ),
    Error,
> {
    let fail = |e: String| Error::Security(e);
    if opts.insecure_http {
        let loopback = opts.listen.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback())
            || opts.listen.starts_with("localhost:");
        if !loopback {
            return Err(fail(format!(
                "--insecure-http serves plain HTTP without authentication and only on loopback, not {}",
                opts.listen
            )));
        }
    }
    let pki = crate::auth::pki::Pki::ensure(
        &opts.data_dir.join("pki"),
        &crate::auth::pki::server_hosts(&opts.listen),
    )
    .map_err(fail)?;
    let tokens = match &opts.token_auth_file {
        Some(p) => crate::auth::tokens::StaticTokens::load(p).map_err(fail)?,
        None => Default::default(),
    };
    let auth = crate::auth::Auth::new(pki.token_key().map_err(fail)?, tokens, opts.insecure_http);
    let tls = if opts.insecure_http {
        None
    } else {
        Some(crate::auth::tls::server_config(&pki).map_err(fail)?)
    };
    Ok((pki, auth, tls))
}

/// What a new log needs before the API serves it: the system namespaces, default classes and
/// roles, and the cluster CA for pods.
pub(crate) async fn bootstrap(core: &ApiCore, ca: &str) -> Result<(), Error> {
    core.bootstrap().await?;
    core.publish_root_ca(ca).await.map_err(Error::Security)
}

/// What one member of the control plane runs: the scheduler, the node lifecycle, the controllers
/// and the cluster DNS; returns where the DNS server answers.
pub(crate) async fn lead(core: &ApiCore, nats: &async_nats::Client, opts: &PlaneOptions) -> Result<SocketAddr, Error> {
    let scheduler_api = crate::bus::client::ApiClient::new(nats.clone(), "orca-scheduler");
    let scheduler = crate::scheduler::Scheduler::start(scheduler_api);
    let lifecycle = crate::bus::client::ApiClient::new(nats.clone(), "orca-node-lifecycle");
    let lifecycle = crate::controllers::node_lifecycle::NodeLifecycle::start(lifecycle, opts.node_grace);
    let checks = &core.checks;
    checks.add("scheduler", runs(move || scheduler.running()));
    checks.add("node-lifecycle-controller", runs(move || lifecycle.running()));
    crate::controllers::start_all(nats, checks, opts.default_toleration_seconds);
    let dns_api = crate::bus::client::ApiClient::new(nats.clone(), "orca-dns");
    let (dns, dns_addr) = crate::dns::ClusterDns::start(dns_api, "orca")
        .await
        .map_err(|source| Error::Listen {
            addr: "cluster DNS (UDP and TCP)".into(),
            source,
        })?;
    checks.add("cluster-dns", runs(move || dns.running()));
    Ok(dns_addr)
}

/// A readiness check that an actor runs.
pub(crate) fn runs(alive: impl Fn() -> bool + Send + Sync + 'static) -> crate::api_server::health::Check {
    std::sync::Arc::new(move || if alive() { Ok(()) } else { Err("stopped".to_string()) })
}

impl Plane {
    /// Starts everything; must run inside an actix System.
    pub async fn start(opts: &PlaneOptions) -> Result<Plane, Error> {
        let mut log_opts = LogOptions::new(&opts.data_dir);
        log_opts.retain_events = opts.retain_events;
        log_opts.retain_age = opts.retain_age;
        log_opts.retain_bytes = opts.retain_bytes;
        let (log, replicated) = if opts.peers.is_empty() {
            (EventLog::open(&log_opts)?, None)
        } else {
            let (log, machine, replication) = EventLog::open_replicated(&log_opts)?;
            (log, Some((machine, replication)))
        };
        let nats = crate::bus::connect_as(&opts.nats_url, "orca-control-plane", &opts.nats_credentials).await?;
        if let Some((users, pid)) = &opts.join {
            let pid = nix::unistd::Pid::from_raw(*pid as i32);
            let reload = std::sync::Arc::new(move || {
                nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).map_err(std::io::Error::from)
            });
            super::join::JoinService::start(users.clone(), nats.clone(), reload)
                .await
                .map_err(Error::Security)?;
        }
        let (pki, auth, tls) = security(opts)?;
        let mut core = ApiCore::new(log).with_nats(nats.clone()).with_auth(auth);
        let ca = pki.ca_pem().map_err(Error::Security)?;
        let replica = match replicated {
            None => {
                bootstrap(&core, &ca).await?;
                None
            }
            Some((machine, replication)) => {
                let r = super::members::join(opts, machine, &replication).await?;
                core = core.with_replica(r.clone());
                crate::api_server::forward::serve(core.clone(), r.clone())
                    .await
                    .map_err(|e| Error::Security(format!("control-plane member: {e}")))?;
                Some(r)
            }
        };
        let actor = ApiServer::start(core.clone(), nats.clone()).await?;
        let checks = &core.checks;
        let nc = nats.clone();
        checks.add(
            "nats",
            std::sync::Arc::new(move || match nc.connection_state() {
                async_nats::connection::State::Connected => Ok(()),
                other => Err(format!("NATS connection is {other}")),
            }),
        );
        let api_actor = actor.clone();
        checks.add("api-server-actor", runs(move || api_actor.connected()));
        let dns_addr = match &replica {
            None => Some(lead(&core, &nats, opts).await?),
            Some(r) => {
                super::members::lead_when_elected(r.clone(), core.clone(), nats.clone(), opts.clone(), ca);
                None
            }
        };
        // The OpenAPI documents are built once, off the start-up path, before kubectl asks.
        std::thread::spawn(|| {
            let _ = crate::api_server::openapi::root();
        });
        let secure = tls.is_some();
        let (http, addrs) =
            http::serve(core.clone(), &opts.listen, opts.http_workers, tls).map_err(|source| Error::Listen {
                addr: opts.listen.clone(),
                source,
            })?;
        Ok(Plane {
            core,
            http,
            addrs,
            actor,
            nats,
            dns: dns_addr,
            replica,
            pki,
            tls: secure,
        })
    }

    /// `https://ADDR` (`http://` when insecure) of the first listen address.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        self.addrs
            .first()
            .map(|a| format!("{scheme}://{a}"))
            .unwrap_or_default()
    }
}
