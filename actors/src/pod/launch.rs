//! Starting a pod's containers: the pod's volumes are set up once, each container resolves its
//! mounts and environment (waiting on missing ConfigMaps, Secrets and claims), then runs under its
//! own supervisor task, reporting its state to the pod actor; file volumes follow updates.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use orca_schemas::kinds::pod::{Container, PodSpec};

use super::container::{self, ContainerCtx};
use super::sandbox::remember_for_exec;
use super::status::ContainerView;
use super::{env, volumes};
use crate::bus::client::ApiClient;
use crate::node::runtime::{ContainerConfig, ContainerRuntime};

/// Pause between attempts to build a container's environment.
pub const CONFIG_RETRY: Duration = Duration::from_secs(2);
/// How often file volumes (configMap, secret, downwardAPI, projected) are written again.
pub const VOLUME_REFRESH: Duration = Duration::from_secs(3);

/// What starting the containers needs.
pub struct Launch {
    /// API client.
    pub api: ApiClient,
    /// The pod object.
    pub pod: Value,
    /// Its spec.
    pub spec: PodSpec,
    /// Directory of the pod's files.
    pub dir: PathBuf,
    /// The runtime.
    pub runtime: Arc<dyn ContainerRuntime>,
    /// First crash-loop back-off delay.
    pub backoff_base: Duration,
    /// The pod's IP.
    pub pod_ip: String,
    /// Its network namespace (runc pods).
    pub netns: Option<PathBuf>,
}

/// What every container of the pod shares.
#[derive(Clone)]
struct Shared {
    api: ApiClient,
    pod: Value,
    dir: PathBuf,
    runtime: Arc<dyn ContainerRuntime>,
    backoff_base: Duration,
    pod_ip: String,
    netns: Option<PathBuf>,
    pod_name: String,
    grace: u64,
    volumes: Arc<tokio::sync::OnceCell<volumes::Prepared>>,
    etc: Arc<tokio::sync::OnceCell<Vec<crate::node::runtime::Mount>>>,
}

/// Starts the pod's containers: init containers one after another, each to success (a failure is
/// retried unless restartPolicy is Never, which fails the pod), then every app container under its
/// own supervisor. A finished pod found again is not run again. Returns how many containers will
/// run; `up` closes when all of them have ended.
pub fn start(l: &Launch, finished: bool, up: mpsc::Sender<ContainerView>, stop: watch::Receiver<Option<u64>>) -> usize {
    let shared = Shared {
        api: l.api.clone(),
        pod: l.pod.clone(),
        dir: l.dir.clone(),
        runtime: l.runtime.clone(),
        backoff_base: l.backoff_base,
        pod_ip: l.pod_ip.clone(),
        netns: l.netns.clone(),
        pod_name: l.pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
        grace: l.spec.termination_grace_period_seconds.unwrap_or(30).max(0) as u64,
        volumes: Arc::default(),
        etc: Arc::default(),
    };
    let has_file_volumes = l.pod["spec"]["volumes"].as_array().is_some_and(|vs| {
        vs.iter().any(|v| {
            ["configMap", "secret", "downwardAPI", "projected"]
                .iter()
                .any(|k| v.get(*k).is_some())
        })
    });
    if has_file_volumes && !finished {
        let (sh, mut stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(VOLUME_REFRESH) => {}
                    _ = stop.changed() => return,
                }
                if sh.volumes.initialized() {
                    volumes::refresh(&sh.api, &sh.pod, &sh.dir, &sh.pod_ip).await;
                }
            }
        });
    }
    let policy = l.spec.restart_policy.clone().unwrap_or_else(|| "Always".into());
    let init_policy = if policy == "Never" { "Never" } else { "OnFailure" }.to_string();
    let runs = |c: &Container| !finished || l.dir.join(&c.name).join("state.json").exists();
    let inits: Vec<(Container, Value)> = l
        .spec
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| runs(c))
        .map(|(i, c)| (c.clone(), l.pod["spec"]["initContainers"][i].clone()))
        .collect();
    let apps: Vec<(Container, Value)> = l
        .spec
        .containers
        .iter()
        .enumerate()
        .filter(|(_, c)| runs(c))
        .map(|(i, c)| (c.clone(), l.pod["spec"]["containers"][i].clone()))
        .collect();
    let count = inits.len() + apps.len();
    let limited = apps
        .iter()
        .chain(&inits)
        .any(|(_, raw)| raw["resources"]["limits"].is_object());
    if limited && !l.runtime.pod_network() && !finished {
        // The process runtime runs host processes without cgroups of their own: say so.
        let (api, pod) = (l.api.clone(), l.pod.clone());
        tokio::spawn(async move {
            let msg = "resources.limits are not enforced by the process runtime; run the node with --runtime runc to enforce them";
            crate::events::record(&api, &pod, "Pod", "Warning", "LimitsNotEnforced", msg, "orca-agent").await;
        });
    }
    tokio::spawn(async move {
        for (c, raw) in inits {
            let dir = shared.dir.join(&c.name);
            run_container(
                shared.clone(),
                c,
                raw,
                init_policy.clone(),
                true,
                up.clone(),
                stop.clone(),
            )
            .await;
            if stop.borrow().is_some() || !container::succeeded(&dir) {
                // Stopping, or an init container failed for good: the app containers never start.
                return;
            }
        }
        for (c, raw) in apps {
            tokio::spawn(run_container(
                shared.clone(),
                c,
                raw,
                policy.clone(),
                false,
                up.clone(),
                stop.clone(),
            ));
        }
    });
    count
}

/// Sets up and supervises one container until it will not run again.
async fn run_container(
    sh: Shared,
    c2: Container,
    raw_container: Value,
    policy: String,
    init: bool,
    up: mpsc::Sender<ContainerView>,
    stop: watch::Receiver<Option<u64>>,
) {
    let cdir = sh.dir.join(&c2.name);
    let (api, pod, pod_ip) = (sh.api.clone(), sh.pod.clone(), sh.pod_ip.clone());
    let image = c2.image.clone().unwrap_or_default();
    let waiting = |msg: String| ContainerView {
        name: c2.name.clone(),
        state: json!({"waiting": {"reason": "CreateContainerConfigError", "message": msg}}),
        image: image.clone(),
        init,
        ..Default::default()
    };
    let mounts = loop {
        let prepared = sh
            .volumes
            .get_or_try_init(|| volumes::prepare(&api, &pod, &sh.dir, &pod_ip))
            .await;
        // runc pods get their own resolv.conf and hosts, bound first so volumes may replace them,
        // and their ServiceAccount's token.
        let etc = match sh.runtime.pod_network() {
            true => sh
                .etc
                .get_or_try_init(|| async {
                    let mut m = super::dns_files::prepare(&api, &pod, &sh.dir, &pod_ip).await?;
                    m.extend(super::service_account::prepare(&api, &pod, &sh.dir).await?);
                    Ok::<_, String>(m)
                })
                .await
                .cloned(),
            false => Ok(Vec::new()),
        };
        let all = etc.and_then(|mut etc| {
            etc.extend(prepared.and_then(|p| volumes::mounts(&raw_container, p))?);
            Ok(etc)
        });
        match all {
            Ok(m) => break m,
            Err(msg) => {
                let _ = up.send(waiting(msg)).await;
                let mut stop = stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(CONFIG_RETRY) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    };
    let env = loop {
        match env::resolve(&api, &pod, &c2, &pod_ip).await {
            Ok(e) => break e,
            Err(env::EnvError(msg)) => {
                let _ = up.send(waiting(msg)).await;
                let mut stop = stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(CONFIG_RETRY) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    };
    let working_dir = c2
        .working_dir
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| cdir.join("work"));
    remember_for_exec(&cdir, &env, &working_dir);
    let ports = c2
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.name.clone().map(|n| (n, p.container_port)))
        .collect();
    let probes = if init {
        [None, None, None]
    } else {
        [
            c2.startup_probe.clone(),
            c2.liveness_probe.clone(),
            c2.readiness_probe.clone(),
        ]
    };
    // `stdin: true`: the container's stdin is a FIFO in its directory, which `kubectl attach -i`
    // writes into (through the agent); the shim opens it for the container.
    let stdin = crate::node::runtime::shim_process::stdin_path(&cdir);
    if raw_container["stdin"] == true && !init {
        let _ = std::fs::create_dir_all(&cdir);
        if !stdin.exists() {
            if let Err(e) = nix::unistd::mkfifo(&stdin, nix::sys::stat::Mode::from_bits_truncate(0o600)) {
                tracing::warn!("container {}: no stdin FIFO: {e}", c2.name);
            }
        }
    } else {
        let _ = std::fs::remove_file(&stdin);
    }
    let config = ContainerConfig {
        dir: cdir.clone(),
        command: c2.command.clone().unwrap_or_default(),
        args: c2.args.clone().unwrap_or_default(),
        env: env.clone(),
        working_dir: c2.working_dir.clone(),
        image: image.clone(),
        netns: sh.netns.clone(),
        hostname: sh.pod_name.clone(),
        mounts,
        limits: limits_of(&raw_container, &pod),
        host_network: pod["spec"]["hostNetwork"] == true,
    };
    let cctx = ContainerCtx {
        name: c2.name.clone(),
        image,
        dir: cdir,
        config,
        env,
        working_dir,
        pod_ip,
        restart_policy: policy,
        backoff_base: sh.backoff_base,
        runtime: sh.runtime.clone(),
        updates: up,
        stop,
        probes,
        ports,
        grace: sh.grace,
        init,
        pre_stop: raw_container["lifecycle"]["preStop"].clone(),
    };
    container::supervise(cctx).await;
}

/// The limits and identity a container asks for (its securityContext over the pod's).
fn limits_of(c: &Value, pod: &Value) -> crate::node::runtime::limits::Limits {
    let q = |v: &Value| v.as_str().and_then(orca_schemas::quantity::parse_milli);
    let id = |k: &str| {
        c["securityContext"][k]
            .as_u64()
            .or_else(|| pod["spec"]["securityContext"][k].as_u64())
            .map(|u| u as u32)
    };
    crate::node::runtime::limits::Limits {
        memory: q(&c["resources"]["limits"]["memory"]).map(|m| (m / 1000) as i64),
        cpu_milli: q(&c["resources"]["limits"]["cpu"]).map(|m| m as i64),
        cpu_request_milli: q(&c["resources"]["requests"]["cpu"]).map(|m| m as i64),
        run_as_user: id("runAsUser"),
        run_as_group: id("runAsGroup"),
    }
}
