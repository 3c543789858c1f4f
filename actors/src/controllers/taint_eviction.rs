//! Taint-based eviction and pod garbage collection by node: pods on a node with a NoExecute taint
//! they do not tolerate are deleted (at once, or after their `tolerationSeconds`; pods that say
//! nothing about the `not-ready` and `unreachable` taints get the cluster's default seconds, as
//! Kubernetes' admission gives them), and pods bound to a node that no longer exists are deleted
//! outright, so their controllers replace them elsewhere.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

use super::node_taints::{NOT_READY, UNREACHABLE};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// When a pod on a tainted node must go: now, after a while, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Some NoExecute taint is not tolerated.
    Now,
    /// Tolerated until this time.
    At(SystemTime),
    /// Tolerated for good.
    Stays,
}

fn tolerates(t: &Value, taint: &Value) -> bool {
    let op = t["operator"].as_str().unwrap_or("Equal");
    let key = t["key"].as_str().unwrap_or("");
    let effect_ok = t["effect"]
        .as_str()
        .is_none_or(|e| e.is_empty() || taint["effect"] == e);
    let key_ok = (key.is_empty() && op == "Exists") || taint["key"] == key;
    let value_ok = op == "Exists" || t["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or("");
    effect_ok && key_ok && value_ok
}

/// Decides for one pod against the node's NoExecute taints (pure).
pub fn verdict(pod: &Value, taints: &[Value], default_seconds: u64) -> Verdict {
    let tolerations = pod["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
    let mut deadline: Option<SystemTime> = None;
    for taint in taints.iter().filter(|t| t["effect"] == "NoExecute") {
        let added = taint["timeAdded"]
            .as_str()
            .and_then(|s| humantime::parse_rfc3339_weak(s).ok())
            .unwrap_or_else(SystemTime::now);
        let seconds = match tolerations.iter().find(|t| tolerates(t, taint)) {
            Some(t) => t["tolerationSeconds"].as_i64().map(|s| s.max(0) as u64),
            None if taint["key"] == UNREACHABLE || taint["key"] == NOT_READY => Some(default_seconds),
            None => return Verdict::Now,
        };
        if let Some(s) = seconds {
            let at = added + Duration::from_secs(s);
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
    }
    deadline.map_or(Verdict::Stays, Verdict::At)
}

/// The reconciler: one node at a time.
pub struct Evictor {
    api: ApiClient,
    nodes: Store,
    default_seconds: u64,
}

impl Evictor {
    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let node = &key.1;
        let list = self
            .api
            .list_raw("/api/v1/pods", &format!("fieldSelector=spec.nodeName%3D{node}"))
            .await
            .map_err(|e| e.to_string())?;
        let Some(cached) = self.nodes.get(key) else {
            // The node is gone: nothing will ever stop or confirm its pods.
            for item in &list.items {
                let (id, _) = orca_schemas::stored::read_header(item)?;
                let path = format!("/api/v1/namespaces/{}/pods/{}", id.namespace, id.name);
                let a = self
                    .api
                    .call("DELETE", &path, "gracePeriodSeconds=0", None)
                    .await
                    .map_err(|e| e.to_string())?;
                if !matches!(a.status, 200 | 404) {
                    return Err(format!("DELETE {path}: {}", a.status));
                }
            }
            return Ok(Action::Done);
        };
        let n: Value = cached.view().map_err(|e| e.to_string())?;
        let taints: Vec<Value> = n["spec"]["taints"].as_array().cloned().unwrap_or_default();
        if !taints.iter().any(|t| t["effect"] == "NoExecute") {
            return Ok(Action::Done);
        }
        let now = SystemTime::now();
        let mut next: Option<Duration> = None;
        for item in &list.items {
            let pod: Value = serde_json::from_slice(item).map_err(|e| e.to_string())?;
            if !pod["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            let due = match verdict(&pod, &taints, self.default_seconds) {
                Verdict::Stays => continue,
                Verdict::Now => true,
                Verdict::At(t) => match t.duration_since(now) {
                    Ok(left) if !left.is_zero() => {
                        next = Some(next.map_or(left, |x| x.min(left)));
                        false
                    }
                    _ => true,
                },
            };
            if due {
                let (ns, name) = (
                    pod["metadata"]["namespace"].as_str().unwrap_or(""),
                    pod["metadata"]["name"].as_str().unwrap_or(""),
                );
                crate::events::record(
                    &self.api,
                    &pod,
                    "Pod",
                    "Normal",
                    "TaintManagerEviction",
                    &format!("Marking for deletion Pod {ns}/{name}"),
                    "taint-eviction-controller",
                )
                .await;
                write::call_ok(
                    &self.api,
                    "DELETE",
                    &format!("/api/v1/namespaces/{ns}/pods/{name}"),
                    None,
                )
                .await?;
            }
        }
        Ok(next.map_or(Action::Done, |d| Action::RequeueAfter(d + Duration::from_millis(50))))
    }
}

impl Reconciler for Evictor {
    type Key = Key;

    fn name(&self) -> &'static str {
        "taint-eviction-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the evictor from a node informer.
pub struct TaintEviction {
    controller: Addr<Controller<Evictor>>,
}

/// A change seen by the node informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NodesChanged(pub InformerEvent);

impl Actor for TaintEviction {
    type Context = Context<Self>;
}

impl TaintEviction {
    /// Starts the controller; pods silent on the unreachable and not-ready taints are given
    /// `default_seconds`.
    pub fn start(api: ApiClient, default_seconds: u64) -> Supervised<TaintEviction> {
        let nodes = Store::default();
        let evictor = Evictor {
            api: api.clone(),
            nodes: nodes.clone(),
            default_seconds,
        };
        let controller = Supervisor::start(move |_| Controller::new(evictor, 4));
        supervise("taint-eviction-controller", move |ctx: &mut Context<TaintEviction>| {
            let events = informer::start(api.clone(), InformerSpec::new("/api/v1/nodes", ""), nodes.clone());
            ctx.add_message_stream(futures::StreamExt::map(events, NodesChanged));
            TaintEviction {
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<NodesChanged> for TaintEviction {
    type Result = ();
    fn handle(&mut self, NodesChanged(ev): NodesChanged, _: &mut Context<Self>) {
        for d in ev.into_deltas() {
            self.controller.do_send(Enqueue(d.key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerations_decide_when_a_pod_goes() {
        let t0 = "2026-11-29T10:00:00Z";
        let at = |s: u64| humantime::parse_rfc3339_weak(t0).unwrap() + Duration::from_secs(s);
        let unreachable = json!({"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": t0});
        let other = json!({"key": "maintenance", "effect": "NoExecute", "timeAdded": t0});
        let plain = json!({"spec": {}});
        assert_eq!(
            verdict(&plain, std::slice::from_ref(&unreachable), 300),
            Verdict::At(at(300))
        );
        assert_eq!(verdict(&plain, std::slice::from_ref(&other), 300), Verdict::Now);
        let short = json!({"spec": {"tolerations": [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}});
        assert_eq!(
            verdict(&short, std::slice::from_ref(&unreachable), 300),
            Verdict::At(at(5))
        );
        let forever = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        assert_eq!(verdict(&forever, &[unreachable, other], 300), Verdict::Stays);
    }
}
