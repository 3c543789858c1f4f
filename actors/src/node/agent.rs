//! The node agent actor: register, heartbeat, follow the pods bound to this node through an
//! informer, run a pod actor per pod, clean up what no longer belongs here.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;

use super::host;
use super::register::{self, Capacity};
use super::runtime::ContainerRuntime;
use super::serve::{self, PodEntry, Registry};
use crate::bus::client::ApiClient;
use crate::bus::subjects;
use crate::pod::actor::{DeleteRequested, Kill, PodActor, PodCtx};
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::Store;

/// Interval between heartbeats on NATS.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// Pause between registration attempts.
pub const REGISTER_RETRY: Duration = Duration::from_millis(500);

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Node name.
    pub name: String,
    /// Where pod state and logs live.
    pub data_dir: PathBuf,
    /// Extra node labels.
    pub labels: BTreeMap<String, String>,
    /// What the node offers.
    pub capacity: Capacity,
    /// First crash-loop back-off delay (Kubernetes: 10 s).
    pub backoff_base: Duration,
    /// Bytes of each container's output kept with a deleted pod's final status.
    pub log_tail_bytes: u64,
    /// The per-container monitor, `orca-shim` (next to the `orca` binary).
    pub shim_bin: PathBuf,
    /// The node's address.
    pub host_ip: String,
    /// `process` or `runc`.
    pub runtime: String,
    /// The node's image store (runc).
    pub image_dir: PathBuf,
    /// Where the Ingress controller listens (None: no Ingress on this node).
    pub ingress: Option<crate::ingress::IngressOptions>,
    /// The node's pod range: learned from its Node's `spec.podCIDR` when the agent starts.
    pub pod_net: Option<super::network::PodNet>,
}

struct Running {
    pod: Addr<PodActor>,
    deleting: bool,
}

/// The node agent actor: registers its Node, heartbeats, follows the pods bound to it through an
/// informer and runs a pod actor for each.
pub struct NodeAgent {
    api: ApiClient,
    opts: AgentOptions,
    runtime: Arc<dyn ContainerRuntime>,
    registry: Registry,
    /// Pod actors by uid; kept outside the agent so that an agent built again after a panic finds
    /// the pod actors that still run instead of starting second ones.
    running: Arc<parking_lot::Mutex<HashMap<String, Running>>>,
    pods: Store,
    cleaned: Arc<std::sync::atomic::AtomicBool>,
}

/// Pods bound to this node changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PodsChanged(pub InformerEvent);

impl Actor for NodeAgent {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (nats, subject) = (self.api.nats().clone(), subjects::node_heartbeat(&self.opts.name));
        ctx.run_interval(HEARTBEAT_INTERVAL, move |_, _| {
            let (nats, subject) = (nats.clone(), subject.clone());
            actix::spawn(async move {
                let _ = nats.publish(subject, now_ms().to_string().into()).await;
            });
        });
        let (api, store) = (self.api.clone(), self.opts.data_dir.join("local-path"));
        ctx.run_interval(LOCAL_PATH_SWEEP, move |_, _| {
            let (api, store) = (api.clone(), store.clone());
            actix::spawn(async move { sweep_local_paths(&api, &store).await });
        });
    }
}

/// How often this node looks for local-path directories whose volume was deleted.
pub const LOCAL_PATH_SWEEP: Duration = Duration::from_secs(5);

/// Removes local-path directories whose PersistentVolume is gone (a claim deleted under the
/// Delete reclaim policy); a directory younger than a minute may be a volume being made.
async fn sweep_local_paths(api: &ApiClient, store: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(store) else { return };
    let dirs: Vec<std::fs::DirEntry> = entries.flatten().collect();
    if dirs.is_empty() {
        return;
    }
    let Ok(list) = api.list_raw("/api/v1/persistentvolumes", "").await else {
        return;
    };
    let live: std::collections::HashSet<String> = list
        .items
        .iter()
        .filter_map(|b| orca_schemas::stored::read_header(b).ok().map(|(id, _)| id.name))
        .collect();
    for d in dirs {
        let name = d.file_name().to_string_lossy().into_owned();
        let old = d
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(60));
        if !live.contains(&name) && old {
            tracing::info!("removing local-path volume {name}: its PersistentVolume is gone");
            let _ = std::fs::remove_dir_all(d.path());
        }
    }
}

/// Milliseconds since the epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl NodeAgent {
    /// Registers the node (retrying until the API answers), then starts the actor; must run in an
    /// actix System.
    pub async fn start(nats: async_nats::Client, opts: AgentOptions) -> Result<Supervised<NodeAgent>, String> {
        let api = ApiClient::for_node(nats.clone(), &opts.name);
        let runtime = host::make_runtime(&opts)?;
        let status = register::node_status(&opts.capacity, &opts.name, &opts.host_ip, runtime.name());
        let proxy = super::proxy::available();
        if proxy {
            // Before the node is announced: the service range is refused, never routed out.
            if let Err(e) = super::proxy::prepare_table(&opts.name, &opts.data_dir) {
                tracing::warn!("service proxy: {e}");
            }
        }
        let mut pause = REGISTER_RETRY;
        let mut warned = false;
        while let Err(e) = register::register(&api, &opts.name, &opts.labels, &status).await {
            if !warned {
                tracing::warn!("{e}; retrying with back-off");
                warned = true;
            }
            tokio::time::sleep(pause).await;
            pause = crate::bus::client::next_backoff(pause);
        }
        let mut opts = opts;
        if runtime.pod_network() {
            let net = register::wait_for_pod_cidr(&api, &opts.name).await;
            super::routes::NodeRoutes::start(api.clone(), &opts.name, net, &opts.host_ip);
            opts.pod_net = Some(net);
        }
        let registry: Registry = Default::default();
        {
            let (nats, node, reg, rt) = (nats.clone(), opts.name.clone(), registry.clone(), runtime.clone());
            tokio::spawn(async move {
                if let Err(e) = serve::serve(nats, node, reg, rt).await {
                    tracing::warn!("serving logs and exec: {e}");
                }
            });
        }
        if proxy {
            // The proxy lives as long as the process; its handle is not needed.
            let _ = super::proxy::ServiceProxy::start(api.clone(), &opts.name, &opts.data_dir);
        } else {
            tracing::warn!("service proxy off: `nft` does not run here (needs root and `apt-get install -y nftables`)");
        }
        if let Some(ing) = &opts.ingress {
            match crate::ingress::IngressController::start(api.clone(), ing.clone()).await {
                Ok((_, http, https)) => tracing::info!(
                    "ingress serves HTTP on port {http}{}",
                    https.map(|p| format!(" and HTTPS on port {p}")).unwrap_or_default()
                ),
                Err(e) => tracing::warn!("ingress off: {e}"),
            }
        }
        let _ = std::fs::create_dir_all(opts.data_dir.join("pods"));
        let running: Arc<parking_lot::Mutex<HashMap<String, Running>>> = Arc::default();
        let cleaned: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        Ok(supervise("node-agent", move |ctx: &mut Context<NodeAgent>| {
            let pods = Store::default();
            let spec = InformerSpec::new("/api/v1/pods", &format!("fieldSelector=spec.nodeName%3D{}", opts.name));
            let changes = informer::start(api.clone(), spec, pods.clone());
            ctx.add_message_stream(futures::StreamExt::map(changes, PodsChanged));
            NodeAgent {
                api: api.clone(),
                opts: opts.clone(),
                runtime: runtime.clone(),
                registry: registry.clone(),
                running: running.clone(),
                pods,
                cleaned: cleaned.clone(),
            }
        }))
    }
}

impl Handler<PodsChanged> for NodeAgent {
    type Result = ();
    fn handle(&mut self, PodsChanged(ev): PodsChanged, _: &mut Context<Self>) {
        let deltas = match ev {
            InformerEvent::Synced(d) => {
                let listed: std::collections::HashSet<String> =
                    self.pods.list(None).iter().map(|c| c.uid.clone()).collect();
                if !self.cleaned.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    // The first list says what belongs here: containers of other pods go.
                    host::cleanup_orphans(&self.opts.data_dir.join("pods"), &listed, self.runtime.as_ref());
                }
                // Pods that went away while no watch was open are stopped.
                let mut running = self.running.lock();
                let gone: Vec<String> = running.keys().filter(|u| !listed.contains(*u)).cloned().collect();
                for uid in gone {
                    if let Some(r) = running.remove(&uid) {
                        r.pod.do_send(Kill);
                    }
                }
                d
            }
            InformerEvent::Changed(d) => vec![d],
        };
        for d in deltas {
            let Some(obj) = d.new.as_ref().or(d.old.as_ref()) else {
                continue;
            };
            let pod: Value = match serde_json::from_slice(&obj.json) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!("pod {}/{} does not decode: {e}", d.key.0, d.key.1);
                    continue;
                }
            };
            let event_type = if d.new.is_some() { "MODIFIED" } else { "DELETED" };
            let mut running = self.running.lock();
            on_pod(
                &self.api,
                &self.opts,
                &self.runtime,
                &self.registry,
                &mut running,
                event_type,
                &pod,
            );
        }
    }
}

/// Runs the agent (restarted after a panic) until the process stops; must run in an actix System.
pub async fn run(nats: async_nats::Client, opts: AgentOptions) -> Result<(), String> {
    let _agent = NodeAgent::start(nats, opts).await?;
    futures::future::pending::<()>().await;
    Ok(())
}

fn on_pod(
    api: &ApiClient,
    opts: &AgentOptions,
    runtime: &Arc<dyn ContainerRuntime>,
    registry: &Registry,
    running: &mut HashMap<String, Running>,
    event_type: &str,
    pod: &Value,
) {
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ns = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let key = format!("{ns}/{name}");
    if uid.is_empty() {
        return;
    }
    if event_type == "DELETED" {
        if let Some(r) = running.remove(&uid) {
            r.pod.do_send(Kill);
        }
        registry.lock().remove(&key);
        return;
    }
    if !running.contains_key(&uid) {
        let dir = opts.data_dir.join("pods").join(&uid);
        let containers = ["containers", "initContainers"]
            .iter()
            .flat_map(|k| pod["spec"][k].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        registry.lock().insert(
            key,
            PodEntry {
                dir: dir.clone(),
                containers,
            },
        );
        let ctx = PodCtx {
            api: api.clone(),
            pod: pod.clone(),
            dir,
            host_ip: opts.host_ip.clone(),
            pod_net: opts.pod_net,
            runtime: runtime.clone(),
            backoff_base: opts.backoff_base,
            log_tail_bytes: opts.log_tail_bytes,
        };
        match PodActor::start(ctx) {
            Ok(addr) => {
                running.insert(
                    uid.clone(),
                    Running {
                        pod: addr,
                        deleting: false,
                    },
                );
            }
            Err(e) => {
                // A pod whose spec cannot be read is not run with defaults: it is reported.
                tracing::warn!("{e}");
                let (api, pod) = (api.clone(), pod.clone());
                actix::spawn(async move {
                    crate::events::record(
                        &api,
                        &pod,
                        "Pod",
                        "Warning",
                        "Failed",
                        &format!("Error: {e}"),
                        "orca-agent",
                    )
                    .await;
                });
                return;
            }
        }
    }
    if let (Some(r), Some(phase)) = (running.get(&uid), pod["status"]["phase"].as_str()) {
        if phase == "Unknown" {
            r.pod.do_send(crate::pod::actor::Observed(phase.to_string()));
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        if let Some(r) = running.get_mut(&uid) {
            if !r.deleting {
                r.deleting = true;
                let grace = pod
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(30);
                r.pod.do_send(DeleteRequested(grace));
            }
        }
    }
}
