//! The scheduler actor: informers on nodes and pods feed its state; it places pending pods in
//! batches and binds them in bulk through the API, several batches in flight.

use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;

use orca_schemas::kinds::pod::Pod;

use super::bind::{bind, report_unschedulable};
use super::state::{place_batch, retry_failed, State};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{Delta, Store};

/// Most pods in one bulk binding request.
pub const BATCH: usize = 512;
/// Most bulk binding requests in flight.
pub const MAX_IN_FLIGHT: usize = 4;
/// How long changes gather before a batch is placed (so a burst becomes one batch).
pub const GATHER: Duration = Duration::from_millis(1);

/// The scheduler.
pub struct Scheduler {
    api: ApiClient,
    state: State,
    in_flight: usize,
    pump_pending: bool,
}

/// Pods changed (from the pod informer).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PodsChanged(pub InformerEvent);

/// Nodes changed (from the node informer).
#[derive(Message)]
#[rtype(result = "()")]
pub struct NodesChanged(pub InformerEvent);

impl Actor for Scheduler {
    type Context = Context<Self>;
}

/// The object a delta leaves (or, for a deletion, its last state), as a typed view.
fn decode<T: serde::de::DeserializeOwned>(d: &Delta) -> Option<T> {
    let obj = d.new.as_ref().or(d.old.as_ref())?;
    match obj.view::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!("scheduler: {}/{} does not decode: {e}", d.key.0, d.key.1);
            None
        }
    }
}

impl Scheduler {
    /// Starts the actor under a supervisor: after a panic a fresh scheduler lists nodes and pods
    /// again and goes on.
    pub fn start(api: ApiClient) -> Supervised<Scheduler> {
        supervise("scheduler", move |ctx: &mut Context<Scheduler>| {
            let nodes = informer::start(api.clone(), InformerSpec::new("/api/v1/nodes", ""), Store::default());
            let pods = informer::start(
                api.clone(),
                InformerSpec::new("/api/v1/pods", "").keys_only(),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(nodes, NodesChanged));
            let claims = informer::start(
                api.clone(),
                InformerSpec::new("/api/v1/persistentvolumeclaims", ""),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(claims, ClaimsChanged));
            ctx.add_message_stream(futures::StreamExt::map(pods, PodsChanged));
            Scheduler {
                api: api.clone(),
                state: State::default(),
                in_flight: 0,
                pump_pending: false,
            }
        })
    }

    /// Places and binds soon, once the changes already waiting have been taken in.
    fn schedule_pump(&mut self, ctx: &mut Context<Self>) {
        crate::metrics::scheduler::queues(self.state.queue.len(), self.state.parked());
        if self.pump_pending || self.in_flight >= MAX_IN_FLIGHT || self.state_is_idle() {
            return;
        }
        self.pump_pending = true;
        ctx.run_later(GATHER, |act, ctx| {
            act.pump_pending = false;
            act.pump(ctx);
        });
    }

    fn state_is_idle(&self) -> bool {
        self.state.queue.is_empty()
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight < MAX_IN_FLIGHT {
            let (queued, started) = (self.state.queue.len(), std::time::Instant::now());
            let (batch, unschedulable) = place_batch(&mut self.state, BATCH);
            let tried = queued - self.state.queue.len();
            crate::metrics::scheduler::placed(
                batch.len(),
                tried.saturating_sub(batch.len()),
                started.elapsed().as_secs_f64(),
            );
            for (info, message) in unschedulable {
                let api = self.api.clone();
                actix::spawn(async move { report_unschedulable(&api, &info, &message).await });
            }
            if batch.is_empty() {
                break;
            }
            self.in_flight += 1;
            let api = self.api.clone();
            ctx.spawn(
                async move {
                    let started = std::time::Instant::now();
                    let results = bind(&api, &batch).await;
                    let ok = results.iter().filter(|(_, ok)| *ok).count();
                    crate::metrics::scheduler::bound(ok, results.len() - ok, started.elapsed().as_secs_f64());
                    results
                }
                .into_actor(self)
                .map(|results, act, ctx| act.bound(results, ctx)),
            );
        }
        crate::metrics::scheduler::queues(self.state.queue.len(), self.state.parked());
    }

    fn bound(&mut self, results: Vec<(String, bool)>, ctx: &mut Context<Self>) {
        self.in_flight -= 1;
        for (key, _) in results.iter().filter(|(_, ok)| *ok) {
            if let Some(waited) = self.state.waited(key) {
                crate::metrics::scheduler::waited(waited.as_secs_f64());
            }
        }
        retry_failed(&mut self.state, results);
        self.schedule_pump(ctx);
    }
}

impl Handler<PodsChanged> for Scheduler {
    type Result = ();
    fn handle(&mut self, PodsChanged(ev): PodsChanged, ctx: &mut Context<Self>) {
        for d in ev.into_deltas() {
            if d.new.is_none() {
                // The pod store keeps keys only: a deletion is known by its key.
                self.state.on_pod_deleted(&format!("{}/{}", d.key.0, d.key.1));
                continue;
            }
            if let Some(c) = &d.new {
                // What the header tells is enough for a pod already placed where it is bound.
                let key = format!("{}/{}", d.key.0, d.key.1);
                let phase = c.header.field("status.phase");
                if matches!(phase, "Succeeded" | "Failed") {
                    self.state.on_pod_deleted(&key);
                    continue;
                }
                let node = c.node();
                if !node.is_empty() && self.state.cache.placed_on(&key) == Some(node) {
                    self.state.confirm_bound(&key);
                    continue;
                }
            }
            let Some(pod) = decode::<Pod>(&d) else { continue };
            self.state.on_pod("MODIFIED", &pod);
        }
        self.schedule_pump(ctx);
    }
}

/// A change seen by the PersistentVolumeClaim informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClaimsChanged(pub InformerEvent);

/// The annotation naming the node a claim's volume was made on (Kubernetes' WaitForFirstConsumer).
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

impl Handler<ClaimsChanged> for Scheduler {
    type Result = ();
    fn handle(&mut self, ClaimsChanged(ev): ClaimsChanged, ctx: &mut Context<Self>) {
        for d in ev.into_deltas() {
            let key = format!("{}/{}", d.key.0, d.key.1);
            let node = decode::<Value>(&d)
                .and_then(|c| c["metadata"]["annotations"][SELECTED_NODE].as_str().map(str::to_string));
            match node {
                Some(n) if d.new.is_some() => {
                    if self.state.claim_nodes.insert(key, n.clone()).as_ref() != Some(&n) {
                        self.state.unpark();
                    }
                }
                _ => {
                    self.state.claim_nodes.remove(&key);
                }
            }
        }
        self.schedule_pump(ctx);
    }
}

impl Handler<NodesChanged> for Scheduler {
    type Result = ();
    fn handle(&mut self, NodesChanged(ev): NodesChanged, ctx: &mut Context<Self>) {
        for d in ev.into_deltas() {
            if d.new.is_none() {
                self.state.on_node(&d.key.1, None);
                continue;
            }
            let Some(node) = decode::<Value>(&d) else { continue };
            self.state.on_node(&d.key.1, Some(&node));
        }
        self.schedule_pump(ctx);
    }
}
