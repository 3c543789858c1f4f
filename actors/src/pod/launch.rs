//! Starting a pod's containers: the pod's volumes are set up once, each container resolves its
//! mounts and environment (waiting on missing ConfigMaps, Secrets and claims), then runs under its
//! own supervisor task, reporting its state to the pod actor; file volumes follow updates.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use orca_schemas::kinds::pod::PodSpec;

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

/// Starts a supervisor per container; a finished pod found again is not run again. Returns how many
/// were started; `up` closes when all of them have ended.
pub fn start(l: &Launch, finished: bool, up: mpsc::Sender<ContainerView>, stop: watch::Receiver<Option<u64>>) -> usize {
    let name = l
        .pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let policy = l.spec.restart_policy.clone().unwrap_or_else(|| "Always".into());
    let grace = l.spec.termination_grace_period_seconds.unwrap_or(30).max(0) as u64;
    let mut started = 0;
    let volumes: Arc<tokio::sync::OnceCell<volumes::Prepared>> = Arc::default();
    let has_file_volumes = l.pod["spec"]["volumes"].as_array().is_some_and(|vs| {
        vs.iter().any(|v| {
            ["configMap", "secret", "downwardAPI", "projected"]
                .iter()
                .any(|k| v.get(*k).is_some())
        })
    });
    if has_file_volumes && !finished {
        let (api, pod, dir, ip, mut stop) = (
            l.api.clone(),
            l.pod.clone(),
            l.dir.clone(),
            l.pod_ip.clone(),
            stop.clone(),
        );
        let ready = volumes.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(VOLUME_REFRESH) => {}
                    _ = stop.changed() => return,
                }
                if ready.initialized() {
                    volumes::refresh(&api, &pod, &dir, &ip).await;
                }
            }
        });
    }
    for (index, c) in l.spec.containers.iter().enumerate() {
        let cdir = l.dir.join(&c.name);
        if finished && !cdir.join("state.json").exists() {
            continue;
        }
        started += 1;
        let (api, pod, c2, runtime, up, stop) = (
            l.api.clone(),
            l.pod.clone(),
            c.clone(),
            l.runtime.clone(),
            up.clone(),
            stop.clone(),
        );
        let (base, netns, pod_name, pod_ip, policy) = (
            l.backoff_base,
            l.netns.clone(),
            name.clone(),
            l.pod_ip.clone(),
            policy.clone(),
        );
        let (vols, pod_dir, raw_container) = (
            volumes.clone(),
            l.dir.clone(),
            l.pod["spec"]["containers"][index].clone(),
        );
        tokio::spawn(async move {
            let image = c2.image.clone().unwrap_or_default();
            let mounts = loop {
                let prepared = vols
                    .get_or_try_init(|| volumes::prepare(&api, &pod, &pod_dir, &pod_ip))
                    .await;
                match prepared.and_then(|p| volumes::mounts(&raw_container, p)) {
                    Ok(m) => break m,
                    Err(msg) => {
                        let view = ContainerView {
                            name: c2.name.clone(),
                            state: json!({"waiting": {"reason": "CreateContainerConfigError", "message": msg}}),
                            image: image.clone(),
                            ..Default::default()
                        };
                        let _ = up.send(view).await;
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
                        let view = ContainerView {
                            name: c2.name.clone(),
                            state: json!({"waiting": {"reason": "CreateContainerConfigError", "message": msg}}),
                            image: image.clone(),
                            ..Default::default()
                        };
                        let _ = up.send(view).await;
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
            let probes = [
                c2.startup_probe.clone(),
                c2.liveness_probe.clone(),
                c2.readiness_probe.clone(),
            ];
            let config = ContainerConfig {
                dir: cdir.clone(),
                command: c2.command.clone().unwrap_or_default(),
                args: c2.args.clone().unwrap_or_default(),
                env: env.clone(),
                working_dir: c2.working_dir.clone(),
                log_path: container::log_path(&cdir),
                image: image.clone(),
                netns,
                hostname: pod_name,
                mounts,
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
                backoff_base: base,
                runtime,
                updates: up,
                stop,
                probes,
                ports,
                grace,
            };
            container::supervise(cctx).await;
        });
    }
    started
}
