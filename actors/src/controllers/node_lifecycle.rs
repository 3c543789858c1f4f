//! Node lifecycle: follows agent heartbeats on NATS (never written to the log) and a node informer,
//! and writes only changes of the Ready condition: Unknown when a node stops heartbeating, True
//! when it comes back. Each node is a key of the controller runtime; nothing polls a list.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::bus::client::ApiClient;
use crate::bus::subjects;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// Slack added to a node's deadline before it is looked at again.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(100);

/// The Ready condition a node should have, given when it last heartbeated (pure decision).
pub fn desired_ready(last_seen: Option<Instant>, now: Instant, grace: Duration) -> &'static str {
    match last_seen {
        Some(t) if now.duration_since(t) <= grace => "True",
        _ => "Unknown",
    }
}

/// The narrow view of a Node this controller reads.
#[derive(Debug, Deserialize, Default)]
pub struct NodeView {
    /// `status`.
    #[serde(default)]
    pub status: NodeStatusView,
}

/// `status` of a Node, just the conditions.
#[derive(Debug, Deserialize, Default)]
pub struct NodeStatusView {
    /// Conditions as sent.
    #[serde(default)]
    pub conditions: Vec<Value>,
}

impl NodeView {
    /// The status of the Ready condition (`Unknown` when absent).
    pub fn ready(&self) -> &str {
        self.status
            .conditions
            .iter()
            .find(|c| c["type"] == "Ready")
            .and_then(|c| c["status"].as_str())
            .unwrap_or("Unknown")
    }
}

/// What one reconcile of a node decides (pure).
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Write the Ready condition with this status; look again after the delay.
    Write(&'static str, Duration),
    /// Nothing to write; look again after the delay (or never).
    Wait(Option<Duration>),
}

/// Decides for one node from its Ready status and heartbeat.
pub fn decide(current: &str, last_seen: Option<Instant>, started: Instant, now: Instant, grace: Duration) -> Decision {
    // Right after start, every node gets one grace period to be heard from.
    let heard_from = last_seen.or_else(|| (now.duration_since(started) < grace).then_some(started));
    let want = desired_ready(heard_from, now, grace);
    let next = heard_from.map(|t| (t + grace + DEADLINE_SLACK).saturating_duration_since(now));
    if current == want {
        Decision::Wait(next.filter(|_| want == "True"))
    } else {
        Decision::Write(want, next.filter(|_| want == "True").unwrap_or(grace))
    }
}

/// The reconciler: one node key at a time.
pub struct NodeReadiness {
    api: ApiClient,
    nodes: Store,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    started: Instant,
    grace: Duration,
}

impl Reconciler for NodeReadiness {
    type Key = Key;

    fn name(&self) -> &'static str {
        "node-lifecycle"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move {
            let Some(node) = self.nodes.get(&key) else {
                return Ok(Action::Done);
            };
            let view: NodeView = node
                .view()
                .map_err(|e| format!("node {} does not decode: {e}", key.1))?;
            let last = self.seen.lock().get(&key.1).copied();
            match decide(view.ready(), last, self.started, Instant::now(), self.grace) {
                // A node back to True whose unreachable taint is still there (a failed write).
                Decision::Wait(d) if view.ready() == "True" && has_unreachable(&node) => {
                    super::node_taints::set_unreachable(&self.api, &key.1, false).await?;
                    Ok(d.map_or(Action::Done, Action::RequeueAfter))
                }
                Decision::Wait(None) => Ok(Action::Done),
                Decision::Wait(Some(d)) => Ok(Action::RequeueAfter(d)),
                Decision::Write(want, next) => {
                    write_ready(&self.api, &key.1, want).await?;
                    let lost = want != "True";
                    super::node_taints::set_unreachable(&self.api, &key.1, lost).await?;
                    if lost {
                        super::node_taints::mark_pods_unknown(&self.api, &key.1).await?;
                    }
                    Ok(Action::RequeueAfter(next))
                }
            }
        }
        .boxed()
    }
}

fn has_unreachable(node: &crate::runtime::Cached) -> bool {
    node.view::<Value>().is_ok_and(|n| {
        n["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["key"] == super::node_taints::UNREACHABLE))
    })
}

/// Sets the node's Ready condition through a read-modify-write that retries conflicts.
async fn write_ready(api: &ApiClient, name: &str, want: &'static str) -> Result<(), String> {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let (reason, message) = if want == "True" {
        ("KubeletReady", "orca agent is posting ready status")
    } else {
        ("NodeStatusUnknown", "orca agent stopped posting node status")
    };
    let path = format!("/api/v1/nodes/{name}");
    write::update(api, &path, "/status", |node| {
        let view: NodeView = match serde_json::from_value(node.clone()) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("node-lifecycle: node {name} does not decode, left alone: {e}");
                return false;
            }
        };
        if view.ready() == want {
            return false;
        }
        let mut conds = view.status.conditions;
        conds.retain(|c| c["type"] != "Ready");
        conds.push(json!({"type": "Ready", "status": want, "reason": reason, "message": message, "lastTransitionTime": now, "lastHeartbeatTime": now}));
        node["status"]["conditions"] = Value::Array(conds);
        true
    })
    .await
    .map(|_| ())
    .map_err(|e| format!("writing Ready={want}: {e}"))
}

/// The actor feeding the controller: node changes from the informer and heartbeats from NATS.
pub struct NodeLifecycle {
    nats: async_nats::Client,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    ready: std::collections::HashSet<String>,
    controller: Addr<Controller<NodeReadiness>>,
}

/// A heartbeat from a node agent.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Heartbeat(pub async_nats::Message);

/// A change seen by the node informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NodesChanged(pub InformerEvent);

impl Actor for NodeLifecycle {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let nats = self.nats.clone();
        let subscribe = async move { nats.subscribe(subjects::NODE_HEARTBEATS).await };
        ctx.spawn(subscribe.into_actor(self).map(|sub, _, ctx| match sub {
            Ok(beats) => {
                ctx.add_message_stream(futures::StreamExt::map(beats, Heartbeat));
            }
            Err(e) => {
                // Without heartbeats every node would turn Unknown: stop, and readiness says so.
                tracing::error!("node-lifecycle: cannot subscribe to {}: {e}", subjects::NODE_HEARTBEATS);
                ctx.stop();
            }
        }));
    }
}

impl NodeLifecycle {
    /// Starts the controller and this actor under a supervisor (after a panic a fresh one lists
    /// the nodes again); `grace` without a heartbeat makes a node's Ready condition Unknown.
    pub fn start(api: ApiClient, grace: Duration) -> Supervised<NodeLifecycle> {
        let nodes = Store::default();
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let reconciler = NodeReadiness {
            api: api.clone(),
            nodes: nodes.clone(),
            seen: seen.clone(),
            started: Instant::now(),
            grace,
        };
        let controller = Supervisor::start(move |_| Controller::new(reconciler, 8));
        supervise("node-lifecycle", move |ctx: &mut Context<NodeLifecycle>| {
            let spec = InformerSpec::new("/api/v1/nodes", "");
            let changes = informer::start(api.clone(), spec, nodes.clone());
            ctx.add_message_stream(futures::StreamExt::map(changes, NodesChanged));
            NodeLifecycle {
                nats: api.nats().clone(),
                seen: seen.clone(),
                ready: Default::default(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<Heartbeat> for NodeLifecycle {
    type Result = ();
    fn handle(&mut self, Heartbeat(msg): Heartbeat, _: &mut Context<Self>) {
        let Some(node) = subjects::heartbeat_node(msg.subject.as_str()) else {
            return;
        };
        let first = self.seen.lock().insert(node.clone(), Instant::now()).is_none();
        let key = (String::new(), node.clone());
        // A node that is not Ready is looked at now; a Ready one waits for its deadline.
        if first || !self.ready.contains(&node) {
            self.controller.do_send(Enqueue(key));
        }
    }
}

impl Handler<NodesChanged> for NodeLifecycle {
    type Result = ();
    fn handle(&mut self, NodesChanged(ev): NodesChanged, _: &mut Context<Self>) {
        let deltas = ev.into_deltas();
        for d in deltas {
            let Some(new) = &d.new else {
                self.ready.remove(&d.key.1);
                continue;
            };
            match new.view::<NodeView>() {
                Ok(v) if v.ready() == "True" => self.ready.insert(d.key.1.clone()),
                Ok(_) => self.ready.remove(&d.key.1),
                Err(e) => {
                    tracing::warn!("node-lifecycle: node {} does not decode: {e}", d.key.1);
                    self.ready.remove(&d.key.1)
                }
            };
            self.controller.do_send(Enqueue(d.key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_follows_heartbeats() {
        let now = Instant::now();
        let grace = Duration::from_secs(20);
        assert_eq!(desired_ready(Some(now), now, grace), "True");
        assert_eq!(
            desired_ready(now.checked_sub(Duration::from_secs(21)), now, grace),
            "Unknown"
        );
        assert_eq!(desired_ready(None, now, grace), "Unknown");
    }

    #[test]
    fn decisions_write_only_changes_and_wait_for_deadlines() {
        let grace = Duration::from_secs(20);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(60);
        // Just started, never heard from: still within the start-up grace.
        assert!(matches!(decide("True", None, t0, t0, grace), Decision::Wait(Some(_))));
        // Long after start, never heard from: Unknown.
        assert!(matches!(
            decide("True", None, t0, later, grace),
            Decision::Write("Unknown", _)
        ));
        assert_eq!(decide("Unknown", None, t0, later, grace), Decision::Wait(None));
        // Heard from 5 s ago while Unknown: back to True, next look when the grace runs out.
        let beat = later - Duration::from_secs(5);
        assert_eq!(
            decide("Unknown", Some(beat), t0, later, grace),
            Decision::Write("True", Duration::from_secs(15) + DEADLINE_SLACK)
        );
        assert_eq!(
            decide("True", Some(beat), t0, later, grace),
            Decision::Wait(Some(Duration::from_secs(15) + DEADLINE_SLACK))
        );
    }
}
