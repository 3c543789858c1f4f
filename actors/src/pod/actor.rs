//! The pod actor: resolves each container's environment, runs a supervisor per container, reports the
//! pod's status through the API, and on deletion terminates gracefully and confirms the delete.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use orca_schemas::kinds::pod::PodSpec;

use super::container::{self, ContainerCtx};
use super::env;
use super::sandbox::{log_tails, pod_network, release, remember_for_exec};
use super::status::{pod_status, ContainerView};
use crate::bus::client::ApiClient;
use crate::node::network;
use crate::node::runtime::{ContainerConfig, ContainerRuntime};

/// Messages from the node agent.
#[derive(Debug)]
pub enum PodMsg {
    /// The pod is being deleted: terminate with this grace period, then confirm.
    Delete(u64),
    /// The pod object is gone: stop at once.
    Kill,
}

/// What a pod actor needs.
pub struct PodCtx {
    /// API client (over NATS).
    pub api: ApiClient,
    /// The pod as first seen.
    pub pod: Value,
    /// Directory of the pod's files.
    pub dir: PathBuf,
    /// The node's address (host network).
    pub host_ip: String,
    /// The runtime.
    pub runtime: Arc<dyn ContainerRuntime>,
    /// First crash-loop back-off delay.
    pub backoff_base: Duration,
    /// Bytes of each container's output kept with the pod's final status.
    pub log_tail_bytes: u64,
}

/// Pause between attempts to build a container's environment.
pub const CONFIG_RETRY: Duration = Duration::from_secs(2);

/// Runs the pod until it is deleted.
pub async fn run(ctx: PodCtx, mut rx: mpsc::Receiver<PodMsg>) {
    let ns = ctx
        .pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    let name = ctx
        .pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let spec: PodSpec = ctx
        .pod
        .get("spec")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let policy = spec.restart_policy.clone().unwrap_or_else(|| "Always".into());
    let _ = std::fs::create_dir_all(&ctx.dir);
    let _ = std::fs::write(
        ctx.dir.join("pod.json"),
        json!({"namespace": ns, "name": name}).to_string(),
    );
    let start_file = ctx.dir.join("start_time");
    let start_time = std::fs::read_to_string(&start_file).unwrap_or_else(|_| {
        let t = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let _ = std::fs::write(&start_file, &t);
        t
    });
    let status_path = format!("/api/v1/namespaces/{ns}/pods/{name}/status");
    let (up_tx, mut up_rx) = mpsc::channel::<ContainerView>(64);
    let (stop_tx, stop_rx) = watch::channel::<Option<u64>>(None);
    let mut views: BTreeMap<String, ContainerView> = BTreeMap::new();
    let mut last_sent = Value::Null;
    let mut delete_requested = false;
    let mut tasks = Vec::new();
    let finished = matches!(
        ctx.pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );

    let uid = ctx
        .pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (pod_ip, netns) = if ctx.runtime.pod_network() {
        match pod_network(&ctx, &uid, &status_path, &mut rx).await {
            Some(ip) => (ip, Some(network::netns_path(&uid))),
            None => return,
        }
    } else {
        (ctx.host_ip.clone(), None)
    };
    for c in &spec.containers {
        let cdir = ctx.dir.join(&c.name);
        let image = c.image.clone().unwrap_or_default();
        views.insert(
            c.name.clone(),
            ContainerView {
                name: c.name.clone(),
                state: json!({"waiting": {"reason": "ContainerCreating"}}),
                image: image.clone(),
                ..Default::default()
            },
        );
        // A finished pod found again (agent restart) is not run again.
        if finished && !cdir.join("state.json").exists() {
            continue;
        }
        let (api, pod, c2, runtime, up, stop) = (
            ctx.api.clone(),
            ctx.pod.clone(),
            c.clone(),
            ctx.runtime.clone(),
            up_tx.clone(),
            stop_rx.clone(),
        );
        let grace = spec.termination_grace_period_seconds.unwrap_or(30).max(0) as u64;
        let base = ctx.backoff_base;
        let (netns, pod_name, pod_ip2, pod_ip3) = (netns.clone(), name.clone(), pod_ip.clone(), pod_ip.clone());
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            let env = loop {
                match env::resolve(&api, &pod, &c2, &pod_ip3).await {
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
                netns: netns.clone(),
                hostname: pod_name.clone(),
            };
            let cctx = ContainerCtx {
                name: c2.name.clone(),
                image,
                dir: cdir,
                config,
                env,
                working_dir,
                pod_ip: pod_ip2,
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
        }));
    }
    drop(up_tx);

    let mut all_done = tasks.is_empty();
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(PodMsg::Delete(grace)) => {
                    delete_requested = true;
                    for c in &spec.containers {
                        crate::events::record(&ctx.api, &ctx.pod, "Pod", "Normal", "Killing", &format!("Stopping container {}", c.name), "orca-agent").await;
                    }
                    let _ = stop_tx.send(Some(grace));
                }
                Some(PodMsg::Kill) | None => {
                    let _ = stop_tx.send(Some(0));
                    for t in tasks.drain(..) {
                        let _ = t.await;
                    }
                    release(&ctx, &uid);
                    return;
                }
            },
            view = up_rx.recv(), if !all_done => match view {
                Some(v) => {
                    let mut batch = vec![v];
                    while let Ok(v) = up_rx.try_recv() {
                        batch.push(v);
                    }
                    for v in batch {
                        announce(&ctx, views.get(&v.name), &v).await;
                        views.insert(v.name.clone(), v);
                    }
                    if !delete_requested {
                        let list: Vec<ContainerView> = views.values().cloned().collect();
                        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
                        let status = pod_status(&list, &policy, &ctx.host_ip, &pod_ip, &start_time, &now);
                        if strip_times(&status) != strip_times(&last_sent) {
                            let patch = json!({"status": status});
                            if ctx.api.call("PATCH", &status_path, "", Some(&patch)).await.is_ok() {
                                last_sent = patch["status"].clone();
                            }
                        }
                    }
                }
                None => all_done = true,
            },
        }
        if delete_requested && (all_done || tasks.iter().all(|t| t.is_finished())) {
            for t in tasks.drain(..) {
                let _ = t.await;
            }
            // The tail of each container's output stays with the pod's final status, in the log.
            let tails = log_tails(&ctx.dir, &spec, ctx.log_tail_bytes);
            let _ = ctx
                .api
                .call("PATCH", &status_path, "", Some(&json!({"status": {"logTails": tails}})))
                .await;
            let path = format!("/api/v1/namespaces/{ns}/pods/{name}");
            for _ in 0..20 {
                match ctx.api.call("DELETE", &path, "gracePeriodSeconds=0", None).await {
                    Ok(a) if a.status == 200 || a.status == 404 => break,
                    _ => tokio::time::sleep(Duration::from_millis(250)).await,
                }
            }
            release(&ctx, &uid);
            // Wait for the agent to drop us once the object is gone.
            while let Some(msg) = rx.recv().await {
                if matches!(msg, PodMsg::Kill) {
                    break;
                }
            }
            return;
        }
    }
}

fn strip_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(conds) = v.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conds {
            if let Some(o) = c.as_object_mut() {
                o.remove("lastTransitionTime");
            }
        }
    }
    v
}

/// Records Started, BackOff and failure events when a container's state changes kind.
async fn announce(ctx: &PodCtx, before: Option<&ContainerView>, after: &ContainerView) {
    let kind = |v: &ContainerView| {
        v.state
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default()
    };
    let reason = |v: &ContainerView| {
        v.state
            .pointer("/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let changed = before
        .is_none_or(|b| kind(b) != kind(after) || reason(b) != reason(after) || b.restart_count != after.restart_count);
    if !changed {
        return;
    }
    let (t, r, m) = match (kind(after).as_str(), reason(after).as_str()) {
        ("running", _) => ("Normal", "Started", format!("Started container {}", after.name)),
        ("waiting", "CrashLoopBackOff") => (
            "Warning",
            "BackOff",
            format!("Back-off restarting failed container {}", after.name),
        ),
        ("waiting", r @ ("CreateContainerConfigError" | "CreateContainerError")) => (
            "Warning",
            "Failed",
            format!(
                "Error: {r}: {}",
                after
                    .state
                    .pointer("/waiting/message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        ),
        _ => return,
    };
    crate::events::record(&ctx.api, &ctx.pod, "Pod", t, r, &m, "orca-agent").await;
}
