//! The pod actor: one per pod on a node. It sets up the sandbox, starts a supervisor per container,
//! feeds what happens into the pure [`PodState`] and carries out the effects: status writes (one at
//! a time, newest last), Events, graceful termination and the confirmed delete.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use orca_schemas::kinds::pod::PodSpec;

use super::launch::{self, Launch};
use super::sandbox::{log_tails, pod_network, release, release_sandbox};
use super::state::{creating, Effect, PodEvent, PodState};
use super::status::ContainerView;
use crate::bus::client::ApiClient;
use crate::node::network;
use crate::node::runtime::ContainerRuntime;

/// Attempts to confirm a delete before giving up.
pub const DELETE_ATTEMPTS: usize = 20;
/// Pause before a status write that failed is sent again.
pub const STATUS_RETRY: Duration = Duration::from_secs(1);
/// Pause between attempts to confirm a delete.
pub const DELETE_RETRY: Duration = Duration::from_millis(250);

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
    /// The node's pod range (runtimes with pod networks).
    pub pod_net: Option<crate::node::network::PodNet>,
    /// The runtime.
    pub runtime: Arc<dyn ContainerRuntime>,
    /// First crash-loop back-off delay.
    pub backoff_base: Duration,
    /// Bytes of each container's output kept with the pod's final status.
    pub log_tail_bytes: u64,
}

/// The pod is being deleted: terminate with this grace period, then confirm.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeleteRequested(pub u64);

/// The pod object is gone: stop at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kill;

/// The stored pod changed: its phase as the log has it (a node that was lost may find it rewritten).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Observed(pub String);

/// A container's state changed (from its supervisor).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ContainerChanged(pub ContainerView);

/// The pod actor.
pub struct PodActor {
    ctx: PodCtx,
    spec: PodSpec,
    ns: String,
    name: String,
    uid: String,
    /// When the node took the pod (`status.startTime`), kept in pod.json.
    start_time: String,
    status_path: String,
    state: Option<PodState>,
    /// Events that came before the sandbox was ready.
    early: Vec<PodEvent>,
    stop_tx: watch::Sender<Option<u64>>,
    cancelled: Arc<AtomicBool>,
    writing_status: bool,
    next_status: Option<Value>,
    /// Statuses queued so far: a failed write is retried only while no newer one was queued.
    statuses_queued: u64,
    /// When the agent took the pod, until its containers run (the start latency metric).
    taken: Option<std::time::Instant>,
}

impl PodActor {
    /// Starts the actor for a pod; a spec that does not decode is an error, never an empty pod.
    pub fn start(ctx: PodCtx) -> Result<Addr<PodActor>, String> {
        let meta = |k: &str| ctx.pod["metadata"][k].as_str().unwrap_or("").to_string();
        let (ns, name, uid) = (meta("namespace"), meta("name"), meta("uid"));
        let spec: PodSpec = serde_json::from_value(ctx.pod.get("spec").cloned().unwrap_or(Value::Null))
            .map_err(|e| format!("pod {ns}/{name}: spec does not decode: {e}"))?;
        let status_path = format!("/api/v1/namespaces/{ns}/pods/{name}/status");
        // A pod already running (an agent restart adopting it) is not a start to time.
        let running = ctx.pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
        let (stop_tx, _) = watch::channel(None);
        Ok(PodActor {
            ctx,
            spec,
            ns,
            name,
            uid,
            start_time: String::new(),
            status_path,
            state: None,
            early: Vec::new(),
            stop_tx,
            cancelled: Arc::default(),
            writing_status: false,
            next_status: None,
            statuses_queued: 0,
            taken: (!running).then(std::time::Instant::now),
        }
        .start())
    }

    /// Whether the pod gets a network namespace of its own (runc, without hostNetwork).
    fn own_network(&self) -> bool {
        self.ctx.runtime.pod_network() && self.spec.host_network != Some(true)
    }

    fn now() -> String {
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
    }

    /// The sandbox is ready (or setting it up was abandoned): build the state and start containers.
    fn launch(&mut self, pod_ip: Option<String>, ctx: &mut Context<Self>) {
        let start_time = self.start_time.clone();
        let views = self
            .spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| ContainerView {
                init: true,
                ..creating(&c.name, c.image.as_deref().unwrap_or(""))
            })
            .chain(self.spec.containers.iter().map(|c| {
                let mut v = creating(&c.name, c.image.as_deref().unwrap_or(""));
                if self.spec.init_containers.as_ref().is_some_and(|i| !i.is_empty()) {
                    v.state = serde_json::json!({"waiting": {"reason": "PodInitializing"}});
                }
                v
            }))
            .collect();
        let policy = self.spec.restart_policy.clone().unwrap_or_else(|| "Always".into());
        let ip = pod_ip.clone().unwrap_or_default();
        self.state = Some(PodState::new(views, &policy, &self.ctx.host_ip, &ip, &start_time));
        let (up_tx, up_rx) = mpsc::channel::<ContainerView>(64);
        if pod_ip.is_some() && !self.cancelled.load(Ordering::SeqCst) {
            let finished = matches!(
                self.ctx.pod.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            let l = Launch {
                api: self.ctx.api.clone(),
                pod: self.ctx.pod.clone(),
                spec: self.spec.clone(),
                dir: self.ctx.dir.clone(),
                runtime: self.ctx.runtime.clone(),
                backoff_base: self.ctx.backoff_base,
                pod_ip: ip,
                netns: self.own_network().then(|| network::netns_path(&self.uid)),
            };
            launch::start(&l, finished, up_tx, self.stop_tx.subscribe());
        } else {
            drop(up_tx);
        }
        // The stream ends when every supervisor has ended: that is ContainersStopped.
        ctx.add_stream(futures::stream::unfold(up_rx, |mut rx| async move {
            rx.recv().await.map(|v| (ContainerChanged(v), rx))
        }));
        for ev in std::mem::take(&mut self.early) {
            self.apply(ev, ctx);
        }
        if let Some(deadline) = self.spec.active_deadline_seconds.filter(|d| *d > 0) {
            let started = humantime::parse_rfc3339_weak(&start_time).unwrap_or_else(|_| std::time::SystemTime::now());
            let at = started + std::time::Duration::from_secs(deadline as u64);
            let left = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
            let grace = self.spec.termination_grace_period_seconds.unwrap_or(30).max(0) as u64;
            ctx.run_later(left, move |act, ctx| act.apply(PodEvent::DeadlineExceeded(grace), ctx));
        }
    }

    fn apply(&mut self, ev: PodEvent, ctx: &mut Context<Self>) {
        let Some(state) = self.state.as_mut() else {
            if matches!(ev, PodEvent::DeleteRequested(_) | PodEvent::Killed) {
                self.cancelled.store(true, Ordering::SeqCst);
            }
            self.early.push(ev);
            return;
        };
        for effect in state.on(ev, &Self::now()) {
            self.carry_out(effect, ctx);
        }
    }

    fn carry_out(&mut self, effect: Effect, ctx: &mut Context<Self>) {
        match effect {
            Effect::Event { kind, reason, message } => {
                let (api, pod) = (self.ctx.api.clone(), self.ctx.pod.clone());
                actix::spawn(async move {
                    crate::events::record(&api, &pod, "Pod", kind, reason, &message, "orca-agent").await;
                });
            }
            Effect::WriteStatus(status) => {
                if status["phase"] == "Running" {
                    if let Some(taken) = self.taken.take() {
                        crate::metrics::node::pod_started(taken.elapsed().as_secs_f64());
                    }
                }
                self.next_status = Some(status);
                self.statuses_queued += 1;
                self.write_next_status(ctx);
            }
            Effect::StopContainers(grace) => {
                let _ = self.stop_tx.send(Some(grace));
            }
            Effect::ConfirmDelete => self.confirm_delete(ctx),
            Effect::Release => {
                self.release_later();
                ctx.stop();
            }
        }
    }

    /// Sends the newest pending status when no write is in flight.
    fn write_next_status(&mut self, ctx: &mut Context<Self>) {
        if self.writing_status {
            return;
        }
        let Some(status) = self.next_status.take() else { return };
        self.writing_status = true;
        let (retry, queued) = (status.clone(), self.statuses_queued);
        let (api, path) = (self.ctx.api.clone(), self.status_path.clone());
        let write = async move {
            let mut status = status;
            // A merge patch keeps keys it does not name: clear what another writer may have set.
            for k in ["reason", "message"] {
                if status.get(k).is_none() {
                    status[k] = Value::Null;
                }
            }
            let patch = json!({"status": status});
            matches!(api.call("PATCH", &path, "", Some(&patch)).await, Ok(a) if a.status == 200)
        };
        ctx.spawn(write.into_actor(self).map(move |ok, act, ctx| {
            act.writing_status = false;
            if !ok {
                act.apply(PodEvent::StatusWriteFailed, ctx);
                // Written again until it lands, unless a newer status comes first: a pod whose
                // containers change no more (a readiness that stays false) would otherwise keep
                // the last status the API accepted.
                ctx.run_later(STATUS_RETRY, move |act, ctx| {
                    if act.statuses_queued == queued && act.next_status.is_none() {
                        act.next_status = Some(retry);
                        act.write_next_status(ctx);
                    }
                });
            }
            act.write_next_status(ctx);
        }));
    }

    /// Removes the pod's files and network on a blocking thread (`ip` and runc run as processes of
    /// their own; the agent's two worker threads serve every pod).
    fn release_later(&self) {
        let (pod_network, dir, uid) = (self.ctx.runtime.pod_network(), self.ctx.dir.clone(), self.uid.clone());
        tokio::task::spawn_blocking(move || release(pod_network, &dir, &uid));
    }

    /// Keeps the output tails with the final status, deletes the object, then releases.
    fn confirm_delete(&mut self, ctx: &mut Context<Self>) {
        let tails = log_tails(&self.ctx.dir, &self.spec, self.ctx.log_tail_bytes);
        let (pod_network, sandbox) = (self.ctx.runtime.pod_network(), self.uid.clone());
        let (api, status_path) = (self.ctx.api.clone(), self.status_path.clone());
        let path = format!("/api/v1/namespaces/{}/pods/{}", self.ns, self.name);
        // Both writes name this pod's uid: a new pod of the same name (created as soon as this one
        // is gone) is never the one patched or deleted.
        let uid = self.uid.clone();
        let confirm = async move {
            // The network goes first (`ip` runs off the worker threads).
            let _ = tokio::task::spawn_blocking(move || release_sandbox(pod_network, &sandbox)).await;
            let tails_patch = json!({"metadata": {"uid": uid}, "status": {"logTails": tails}});
            let _ = api.call("PATCH", &status_path, "", Some(&tails_patch)).await;
            let options = json!({"preconditions": {"uid": uid}});
            for _ in 0..DELETE_ATTEMPTS {
                match api.call("DELETE", &path, "gracePeriodSeconds=0", Some(&options)).await {
                    Ok(a) if a.status == 200 || a.status == 404 || a.status == 409 => return,
                    _ => tokio::time::sleep(DELETE_RETRY).await,
                }
            }
            tracing::warn!("could not confirm the delete of pod {path}");
        };
        ctx.spawn(confirm.into_actor(self).map(|_, act, ctx| {
            act.release_later();
            ctx.stop();
        }));
    }
}

impl Actor for PodActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        crate::metrics::node::pods(1);
        // pod.json names the pod and keeps when the node took it (status.startTime), across
        // restarts of the agent.
        let _ = std::fs::create_dir_all(&self.ctx.dir);
        let file = self.ctx.dir.join("pod.json");
        let saved = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["startTime"].as_str().map(str::to_string));
        self.start_time = match saved {
            Some(t) => t,
            None => {
                let t = Self::now();
                let record = json!({"namespace": self.ns, "name": self.name, "startTime": t});
                let _ = std::fs::write(&file, record.to_string());
                t
            }
        };
        if !self.own_network() {
            let ip = self.ctx.host_ip.clone();
            self.launch(Some(ip), ctx);
            return;
        }
        let Some(net) = self.ctx.pod_net else {
            // The agent starts pods only once it knows its range: a bug if not.
            tracing::error!("pod {}/{}: the node has no pod range", self.ns, self.name);
            return;
        };
        let (api, dir, uid, path, cancelled) = (
            self.ctx.api.clone(),
            self.ctx.dir.clone(),
            self.uid.clone(),
            self.status_path.clone(),
            self.cancelled.clone(),
        );
        let setup = async move { pod_network(net, &api, &dir, &uid, &path, &cancelled).await };
        ctx.spawn(setup.into_actor(self).map(|ip, act, ctx| act.launch(ip, ctx)));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        crate::metrics::node::pods(-1);
    }
}

impl StreamHandler<ContainerChanged> for PodActor {
    fn handle(&mut self, ContainerChanged(v): ContainerChanged, ctx: &mut Context<Self>) {
        self.apply(PodEvent::ContainerChanged(v), ctx);
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.apply(PodEvent::ContainersStopped, ctx);
    }
}

impl Handler<DeleteRequested> for PodActor {
    type Result = ();
    fn handle(&mut self, DeleteRequested(grace): DeleteRequested, ctx: &mut Context<Self>) {
        self.apply(PodEvent::DeleteRequested(grace), ctx);
    }
}

impl Handler<Kill> for PodActor {
    type Result = ();
    fn handle(&mut self, _: Kill, ctx: &mut Context<Self>) {
        self.apply(PodEvent::Killed, ctx);
    }
}

impl Handler<Observed> for PodActor {
    type Result = ();
    fn handle(&mut self, Observed(phase): Observed, ctx: &mut Context<Self>) {
        if self.state.is_some() {
            self.apply(PodEvent::Observed(phase), ctx);
        }
    }
}
