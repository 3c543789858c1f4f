//! `orca up` and `orca server`: start the control plane, write the server file, stop cleanly on Ctrl-C.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use orca_actors::cluster::natsd::NatsServer;
use orca_actors::cluster::plane::{Plane, PlaneOptions};

/// Default HTTP listen address (loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:6780";

/// orca's home: `$ORCA_HOME`, else `~/.orca`.
pub fn orca_home() -> PathBuf {
    std::env::var_os("ORCA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".orca"))
}

/// Arguments shared by `up` and `server`.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// The members of a replicated control plane and this one's name (set by `orca server`).
    #[arg(skip)]
    members: (Vec<String>, String),
    /// Data directory of the event log [default: $ORCA_HOME/data, ORCA_HOME defaults to ~/.orca]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP listen address (loopback by default)
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: String,
    /// Keep at most this many events in the log (default: the whole history)
    #[arg(long)]
    retain_events: Option<u64>,
    /// Drop events older than this age, e.g. 7d or 12h (default: the whole history)
    #[arg(long, value_parser = humantime::parse_duration)]
    retain_age: Option<std::time::Duration>,
    /// Keep the log's events within about this size on disk, e.g. 512Mi or 2G (default: no limit)
    #[arg(long, value_parser = parse_bytes)]
    retain_bytes: Option<u64>,
    /// Seconds without a heartbeat before a node's Ready condition becomes Unknown
    #[arg(long, default_value_t = 20)]
    node_grace_seconds: u64,
    /// Seconds pods stay on an unreachable or not-ready node before they are evicted, unless
    /// their tolerations say otherwise
    #[arg(long, default_value_t = 300)]
    default_toleration_seconds: u64,
    /// Serve plain HTTP on loopback with no authentication: every local user is an admin.
    /// For development only; the default is TLS with client certificates, tokens and RBAC
    #[arg(long)]
    insecure_http: bool,
    /// Static bearer tokens, one `token,user,uid,"group1,group2"` line each (as Kubernetes reads them)
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
}

/// `orca up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Join this NATS server instead of starting a private one
    #[arg(long)]
    nats: Option<String>,
    /// Apply the embedded sample (Namespace, ConfigMap, Secret, Deployment, Services, a pod, an Ingress) once ready
    #[arg(long)]
    sample: bool,
    /// Name of the node agent `orca up` runs
    #[arg(long, default_value = "orca-node")]
    node_name: String,
    /// Run no node agent in this process
    #[arg(long)]
    no_agent: bool,
    #[command(flatten)]
    node: crate::agent::NodeArgs,
}

/// `orca server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// NATS server or cluster to join (not with --read-only)
    #[arg(long, required_unless_present = "read_only")]
    nats: Option<String>,
    /// Serve a (replayed) data directory for inspection: reads only, no scheduler, controllers or NATS
    #[arg(long)]
    read_only: bool,
    /// Run as one member of a replicated control plane of these members (names, comma-separated,
    /// the same list on every member): the log is replicated with Raft over NATS, writes are
    /// acknowledged once a majority holds them, and the cluster survives the loss of a minority.
    /// Members share the CA (pki/ca.*) and the secret key (secret.key) of their data directories
    #[arg(long, value_delimiter = ',', conflicts_with = "read_only")]
    peers: Vec<String>,
    /// This member's name among --peers [default: the host's name]
    #[arg(long, requires = "peers")]
    member: Option<String>,
}

pub fn up(args: UpArgs) -> Result<()> {
    let started = Instant::now();
    let data_dir = args.common.data_dir.clone().unwrap_or_else(|| orca_home().join("data"));
    let agent = if args.no_agent {
        None
    } else {
        Some(crate::agent::options(
            &args.node_name,
            data_dir.join("agent"),
            &args.node.clone().with_ingress_defaults(),
        )?)
    };
    let (nats, security) = match &args.nats {
        Some(_) => (None, crate::private_nats::NatsSecurity::default()),
        None => {
            let local = agent.as_ref().map(|a| (a.name.as_str(), a.data_dir.as_path()));
            let (n, s) = crate::private_nats::start(&data_dir, local)?;
            (Some(n), s)
        }
    };
    let url = args
        .nats
        .clone()
        .or_else(|| nats.as_ref().map(NatsServer::url))
        .unwrap_or_default();
    let result = run(args.common, url, true, args.sample, agent, started, security);
    drop(nats);
    result
}

pub fn server(args: ServerArgs) -> Result<()> {
    if args.read_only {
        let dir = args.common.data_dir.clone().unwrap_or_else(|| orca_home().join("data"));
        return serve_read_only(&dir, &args.common.listen);
    }
    let mut common = args.common;
    if !args.peers.is_empty() {
        let member = match args.member {
            Some(m) => m,
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .context("cannot read the host's name: give --member")?,
        };
        common.members = (args.peers, member);
    }
    run(
        common,
        args.nats.unwrap_or_default(),
        false,
        false,
        None,
        Instant::now(),
        crate::private_nats::NatsSecurity::default(),
    )
}

/// Serves a data directory read-only: the API and its history, nothing acting on it.
pub fn serve_read_only(dir: &std::path::Path, listen: &str) -> Result<()> {
    if !dir.join("log").is_dir() {
        anyhow::bail!("{} holds no event log", dir.display());
    }
    let system = actix::System::new();
    system.block_on(async move {
        let log = orca_actors::eventlog::EventLog::open(&orca_actors::eventlog::LogOptions::new(dir))
            .with_context(|| format!("failed to open {}", dir.display()))?;
        let head = log.head();
        let core = orca_actors::api_server::ApiCore::new(log).read_only();
        let (http, addrs) = orca_actors::api_server::http::serve(core, listen, 2, None)
            .with_context(|| format!("failed to listen on {listen}"))?;
        let url = addrs.first().map(|a| format!("http://{a}")).unwrap_or_default();
        println!(
            "orca is serving {} read-only at revision {head}: API {url}",
            dir.display()
        );
        let handle = http.handle();
        tokio::select! {
            r = http => r.context("HTTP server failed")?,
            _ = shutdown_signal() => handle.stop(true).await,
        }
        Ok::<_, anyhow::Error>(())
    })
}

fn run(
    common: CommonArgs,
    nats_url: String,
    write_server_file: bool,
    sample: bool,
    agent: Option<orca_actors::node::AgentOptions>,
    started: Instant,
    security: crate::private_nats::NatsSecurity,
) -> Result<()> {
    let join_hint = security
        .join
        .as_ref()
        .and_then(|(users, _)| users.join_secret().ok())
        .map(|secret| orca_actors::cluster::nats_auth::join_token(&secret, &nats_url));
    let data_dir = common.data_dir.unwrap_or_else(|| orca_home().join("data"));
    let opts = PlaneOptions {
        data_dir: data_dir.clone(),
        listen: common.listen,
        nats_url: nats_url.clone(),
        retain_events: common.retain_events,
        retain_age: common.retain_age,
        retain_bytes: common.retain_bytes,
        http_workers: 2,
        node_grace: std::time::Duration::from_secs(common.node_grace_seconds),
        default_toleration_seconds: common.default_toleration_seconds,
        insecure_http: common.insecure_http,
        token_auth_file: common.token_auth_file,
        nats_credentials: security.plane,
        join: security.join,
        peers: common.members.0,
        member: common.members.1,
    };
    let agent_creds = security.agent;
    if opts.insecure_http {
        eprintln!("warning: --insecure-http: the API is plain HTTP without authentication; every user of this machine is a cluster admin");
    }
    let system = actix::System::new();
    system.block_on(async move {
        let plane = Plane::start(&opts)
            .await
            .with_context(|| format!("failed to start the control plane (data dir {})", data_dir.display()))?;
        let url = plane.url();
        let agent_dir = agent.as_ref().map(|a| a.data_dir.clone());
        let agent_proxy = agent.as_ref().map(|a| (a.name.clone(), a.data_dir.clone()));
        if let Some(opts) = agent {
            // The agent gets its own runtime, as it would in its own process.
            let nats_url = nats_url.clone();
            std::thread::Builder::new().name("orca-agent".into()).spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => return eprintln!("node agent: {e}"),
                };
                // The agent actor runs on its own actix System over that runtime.
                actix::System::with_tokio_rt(move || rt).block_on(async move {
                    let name = format!("orca-agent-{}", opts.name);
                    let nats = match orca_actors::bus::connect_as(&nats_url, &name, &agent_creds).await {
                        Ok(n) => n,
                        Err(e) => return eprintln!("node agent: {e}"),
                    };
                    if let Err(e) = orca_actors::node::run(nats, opts).await {
                        eprintln!("node agent stopped: {e}");
                    }
                });
            })?;
        }
        let server_file = orca_home().join("server");
        if write_server_file {
            std::fs::create_dir_all(orca_home()).ok();
            std::fs::write(&server_file, format!("{url}\n"))
                .with_context(|| format!("failed to write {}", server_file.display()))?;
        }
        println!(
            "orca is ready in {} ms: API {url}, NATS {nats_url}, data {}",
            started.elapsed().as_millis(),
            data_dir.display()
        );
        if let Some(token) = &join_hint {
            println!("join a node: orca agent --join {token} --name NAME");
        }
        if write_server_file {
            println!("orcactl finds this server through {}", server_file.display());
            let kubeconfig = orca_home().join("kubeconfig");
            let text = kubeconfig_text(&url, (plane.tls).then_some(&plane.pki));
            match text.and_then(|t| orca_actors::auth::pki::write_private(&kubeconfig, &t)) {
                Ok(()) => println!("kubectl: export KUBECONFIG={}", kubeconfig.display()),
                Err(e) => eprintln!("could not write {}: {e}", kubeconfig.display()),
            }
        }
        if sample {
            apply_sample(&plane.core).await?;
        }
        let handle = plane.http.handle();
        let http = plane.http;
        tokio::select! {
            r = http => r.context("HTTP server failed")?,
            _ = shutdown_signal() => {
                eprintln!("shutting down");
                handle.stop(true).await;
            }
        }
        if write_server_file {
            let _ = std::fs::remove_file(&server_file);
        }
        // `orca up`'s containers do not outlive it; they start again with the next `orca up`.
        if let Some(dir) = agent_dir {
            orca_actors::node::host::stop_containers(&dir);
        }
        if let Some((node, dir)) = agent_proxy {
            orca_actors::node::proxy::remove_table(&node, &dir);
        }
        Ok::<_, anyhow::Error>(())
    })
}

/// A kubeconfig whose current context points at `url` with the cluster CA and the admin's client
/// certificate (none for an insecure server).
pub fn kubeconfig_text(url: &str, pki: Option<&orca_actors::auth::pki::Pki>) -> Result<String, String> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (ca, user) = match pki {
        Some(p) => {
            let admin = p.admin()?;
            (
                format!("\n    certificate-authority-data: {}", b64(&p.ca_pem()?)),
                format!(
                    "\n    client-certificate-data: {}\n    client-key-data: {}",
                    b64(&admin.cert_pem),
                    b64(&admin.key_pem)
                ),
            )
        }
        None => (String::new(), " {}".to_string()),
    };
    Ok(format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: orca\n  cluster:\n    server: {url}{ca}\ncontexts:\n- name: orca\n  context:\n    cluster: orca\n    user: orca-admin\n    namespace: default\ncurrent-context: orca\nusers:\n- name: orca-admin\n  user:{user}\npreferences: {{}}\n"
    ))
}

/// A size: bytes, or with K, M, G (powers of 1000) or Ki, Mi, Gi (of 1024).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 512Mi, 2G, 1000000)"))?;
    let factor = match unit {
        "" => 1,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}: use K, M, G, Ki, Mi or Gi")),
    };
    n.checked_mul(factor).ok_or_else(|| format!("{text:?} is too large"))
}

pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The sample `orca up --sample` applies.
const SAMPLE: &str = include_str!("../tests/manifests/quickstart.yaml");

async fn apply_sample(core: &orca_actors::api_server::ApiCore) -> Result<()> {
    use orca_actors::api_server::{ApiRequest, Reply};
    use serde::Deserialize;
    println!("applying the sample:");
    for doc in serde_yaml_ng::Deserializer::from_str(SAMPLE) {
        let obj = serde_json::Value::deserialize(doc).context("the embedded sample is not valid YAML")?;
        let kind = obj["kind"].as_str().unwrap_or_default();
        let rt =
            orca_schemas::registry::by_kind(kind).with_context(|| format!("sample kind {kind} is not registered"))?;
        let ns = obj.pointer("/metadata/namespace").and_then(|v| v.as_str());
        let name = obj
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let req = ApiRequest {
            method: "POST".into(),
            path: rt.collection_path(ns),
            content_type: "application/json".into(),
            actor: "orca-sample".into(),
            body: serde_json::to_vec(&obj)?.into(),
            ..Default::default()
        };
        let outcome = match core.handle(req).await {
            Reply::Done(r) if r.status == 201 => "created".to_string(),
            Reply::Done(r) if r.status == 409 => "unchanged".to_string(),
            Reply::Done(r) => format!("failed: {}", String::from_utf8_lossy(&r.body)),
            Reply::Watch(_) => "failed: unexpected watch".to_string(),
        };
        println!("  {}/{name} {outcome}", rt.singular);
    }
    println!("see it with: orcactl get all -n demo (or kubectl, with KUBECONFIG set as shown above)");
    Ok(())
}
