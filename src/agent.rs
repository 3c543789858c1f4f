//! `orca agent`: a node joined through NATS (or hollow nodes for benchmarks).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use orca_actors::node::register::Capacity;
use orca_actors::node::AgentOptions;

/// Node settings shared by `orca agent` and the agent inside `orca up`.
#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// Container runtime: process (host processes; the image is recorded but not used) or runc (OCI
    /// containers from the node's image store, each pod with its own network namespace and IP; root)
    #[arg(long, default_value = "process", value_parser = ["process", "runc"])]
    pub runtime: String,
    /// The node's image store, filled by `orcactl image load` [default: $ORCA_HOME/images]
    #[arg(long)]
    pub image_dir: Option<PathBuf>,
    /// Extra node labels, `k=v,k2=v2`
    #[arg(long, default_value = "")]
    pub labels: String,
    /// CPUs the node offers [default: this machine's]
    #[arg(long)]
    pub cpu: Option<String>,
    /// Memory the node offers, e.g. 4Gi [default: this machine's]
    #[arg(long)]
    pub memory: Option<String>,
    /// Pods the node takes
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// First crash-loop back-off in milliseconds (Kubernetes uses 10 s)
    #[arg(long, default_value_t = 10_000)]
    pub backoff_base_ms: u64,
    /// KiB of each container's output kept with a deleted pod's final status
    #[arg(long, default_value_t = 16)]
    pub log_tail_kib: u64,
    /// The address this node reports as its InternalIP, where its process pods and probes are
    /// reached (a host's address on a network of several)
    #[arg(long, default_value = HOST_IP)]
    pub node_ip: String,
    /// Where the node's Ingress controller serves HTTP (`none`: no Ingress on this node)
    /// [default: `orca up`: 0.0.0.0:80; `orca agent`: none]
    #[arg(long)]
    pub ingress_listen: Option<String>,
    /// Where it serves HTTPS for Ingresses with `spec.tls` [default: `orca up`: 0.0.0.0:443]
    #[arg(long)]
    pub ingress_tls_listen: Option<String>,
}

impl NodeArgs {
    /// `orca up` serves Ingress on the usual ports unless told otherwise.
    pub fn with_ingress_defaults(mut self) -> NodeArgs {
        self.ingress_listen.get_or_insert_with(|| "0.0.0.0:80".into());
        self.ingress_tls_listen.get_or_insert_with(|| "0.0.0.0:443".into());
        self
    }
}

/// `orca agent`.
#[derive(Args, Debug)]
pub struct AgentArgs {
    /// NATS server or cluster to join (an open one; a cluster `orca up` runs takes --join)
    #[arg(long, required_unless_present = "join")]
    nats: Option<String>,
    /// The join token `orca up` prints: the node gets its own NATS user on first start and keeps
    /// it in its data directory
    #[arg(long, env = "ORCA_JOIN", conflicts_with = "hollow")]
    join: Option<String>,
    /// Node name (with --hollow: the prefix of the node names)
    #[arg(long)]
    name: String,
    /// Register --count hollow nodes that report their pods Running without running anything
    #[arg(long)]
    hollow: bool,
    /// Number of hollow nodes
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Index of the first hollow node (names run NAME-FIRST ..)
    #[arg(long, default_value_t = 0, requires = "hollow")]
    first: usize,
    /// Where pod state and logs live [default: $ORCA_HOME/agent-NAME]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    node: NodeArgs,
}

/// The address a node reports for itself.
pub const HOST_IP: &str = "127.0.0.1";

/// Builds the agent's options.
pub fn options(name: &str, data_dir: PathBuf, node: &NodeArgs) -> Result<AgentOptions> {
    let mut labels = BTreeMap::new();
    for pair in node.labels.split(',').filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("--labels takes k=v pairs separated by commas; got {pair:?}")
        };
        labels.insert(k.trim().to_string(), v.trim().to_string());
    }
    let mut capacity = Capacity::detect();
    if let Some(c) = &node.cpu {
        capacity.cpu = c.clone();
    }
    if let Some(m) = &node.memory {
        capacity.memory = m.clone();
    }
    capacity.pods = node.max_pods;
    Ok(AgentOptions {
        name: name.to_string(),
        data_dir,
        labels,
        capacity,
        backoff_base: Duration::from_millis(node.backoff_base_ms),
        log_tail_bytes: node.log_tail_kib * 1024,
        shim_bin: std::env::current_exe()
            .context("cannot find the orca binary, next to which orca-shim lives")?
            .with_file_name("orca-shim"),
        host_ip: node.node_ip.clone(),
        runtime: node.runtime.clone(),
        image_dir: node
            .image_dir
            .clone()
            .unwrap_or_else(|| crate::serve::orca_home().join("images")),
        ingress: node
            .ingress_listen
            .clone()
            .filter(|l| l != "none")
            .map(|http| orca_actors::ingress::IngressOptions {
                http,
                https: node.ingress_tls_listen.clone().filter(|l| l != "none"),
                host_ip: node.node_ip.clone(),
            }),
        pod_net: None,
    })
}

pub fn agent(args: AgentArgs) -> Result<()> {
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| crate::serve::orca_home().join(format!("agent-{}", args.name)));
    let opts = options(&args.name, data_dir, &args.node)?;
    let (nats_url, secret) = match (&args.join, &args.nats) {
        (Some(token), _) => orca_actors::cluster::nats_auth::parse_join_token(token)
            .map(|(url, secret)| (url, Some(secret)))
            .context("the join token is SECRET@HOST:PORT, as `orca up` prints it")?,
        (None, Some(url)) => (url.clone(), None),
        (None, None) => bail!("pass --join TOKEN (printed by `orca up`) or --nats URL"),
    };
    if args.hollow {
        return hollow(nats_url, args.name, (args.first, args.count), opts);
    }
    // The agent actor runs on an actix System; pod actors and I/O run on its two tokio workers.
    let system = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the agent's runtime starts")
    });
    system.block_on(async move {
        let join = secret.as_deref().map(|s| (nats_url.as_str(), s));
        let creds = orca_actors::cluster::join::node_credentials(&opts.data_dir, &args.name, join)
            .await
            .map_err(anyhow::Error::msg)?;
        let nats = orca_actors::bus::connect_as(&nats_url, &format!("orca-agent-{}", args.name), &creds).await?;
        println!("orca agent {} joined {nats_url}", args.name);
        let (node, dir) = (opts.name.clone(), opts.data_dir.clone());
        let out = tokio::select! {
            r = orca_actors::node::run(nats, opts) => r.map_err(anyhow::Error::msg),
            _ = crate::serve::shutdown_signal() => Ok(()),
        };
        // A stopped agent's service rules go with it (a killed one's stay until it returns).
        orca_actors::node::proxy::remove_table(&node, &dir);
        out
    })
}

fn hollow(nats_url: String, prefix: String, (first, count): (usize, usize), opts: AgentOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let nats = orca_actors::bus::connect(&nats_url, &format!("orca-hollow-{prefix}")).await?;
        let hollow = orca_actors::node::hollow::HollowOptions {
            prefix: prefix.clone(),
            first,
            count,
            capacity: opts.capacity,
            labels: opts.labels,
        };
        println!(
            "orca agent: {count} hollow nodes {prefix}-{first}..{} joining {nats_url}",
            (first + count).saturating_sub(1)
        );
        tokio::select! {
            r = orca_actors::node::hollow::run(nats, hollow) => r.map_err(anyhow::Error::msg),
            _ = crate::serve::shutdown_signal() => Ok(()),
        }
    })
}
