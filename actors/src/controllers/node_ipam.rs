//! Node IPAM: gives every Node without one a `spec.podCIDR` (and `spec.podCIDRs`), the lowest free
//! /24 of the cluster range 10.244.0.0/16, kept for the node's life and freed when it is deleted.
//! A full range leaves a node without one (its agent waits) and says so once.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::bus::client::ApiClient;
use crate::node::network::PodNet;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// The cluster's pod range: nodes get /24s of it.
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
const CLUSTER_PREFIX: [u8; 2] = [10, 244];

/// The lowest /24 of the cluster range not in `used`.
pub fn lowest_free(used: &BTreeSet<PodNet>) -> Option<PodNet> {
    (0..=255u8)
        .map(|c| PodNet([CLUSTER_PREFIX[0], CLUSTER_PREFIX[1], c]))
        .find(|n| !used.contains(n))
}

fn pod_cidr(node: &Value) -> Option<PodNet> {
    node["spec"]["podCIDR"].as_str().and_then(|c| PodNet::parse(c).ok())
}

/// Ranges by node: those the informer has seen and those written but perhaps not seen yet.
type Ranges = Arc<Mutex<HashMap<String, PodNet>>>;

/// The reconciler, one node at a time (one worker, so two nodes never get one range).
pub struct NodeIpam {
    api: ApiClient,
    nodes: Store,
    ranges: Ranges,
    /// Whether a full range has been reported (once).
    warned: AtomicBool,
}

impl NodeIpam {
    async fn sync(&self, name: &str) -> Result<Action, String> {
        let Some(node) = self.nodes.get(&(String::new(), name.to_string())) else {
            return Ok(Action::Done);
        };
        let view: Value = node.view().map_err(|e| format!("node {name} does not decode: {e}"))?;
        if let Some(net) = pod_cidr(&view) {
            self.ranges.lock().insert(name.to_string(), net);
            return Ok(Action::Done);
        }
        let picked = {
            let ranges = self.ranges.lock();
            let used: BTreeSet<PodNet> = ranges.iter().filter(|(n, _)| *n != name).map(|(_, r)| *r).collect();
            ranges.get(name).copied().or_else(|| lowest_free(&used))
        };
        let Some(net) = picked else {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!("node-ipam: no free /24 left in {CLUSTER_CIDR}: nodes without one (such as {name}) run no pods with their own network");
            }
            return Ok(Action::Done);
        };
        self.ranges.lock().insert(name.to_string(), net);
        let cidr = net.to_string();
        write::update(&self.api, &format!("/api/v1/nodes/{name}"), "", |n| {
            if n["spec"]["podCIDR"].as_str().is_some_and(|c| !c.is_empty()) {
                return false;
            }
            n["spec"]["podCIDR"] = json!(cidr);
            n["spec"]["podCIDRs"] = json!([cidr]);
            true
        })
        .await
        .map_err(|e| format!("node {name}: podCIDR {cidr}: {e}"))?;
        tracing::debug!("node-ipam: node {name} gets {cidr}");
        Ok(Action::Done)
    }
}

impl Reconciler for NodeIpam {
    type Key = Key;

    fn name(&self) -> &'static str {
        "node-ipam-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key.1).await }.boxed()
    }
}

/// Feeds the controller from a node informer.
pub struct NodeIpamController {
    controller: Addr<Controller<NodeIpam>>,
    ranges: Ranges,
}

/// A change seen by the node informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Changed(pub InformerEvent);

impl Actor for NodeIpamController {
    type Context = Context<Self>;
}

impl NodeIpamController {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<NodeIpamController> {
        let nodes = Store::default();
        let ranges = Ranges::default();
        let ipam = NodeIpam {
            api: api.clone(),
            nodes: nodes.clone(),
            ranges: ranges.clone(),
            warned: AtomicBool::new(false),
        };
        let controller = Supervisor::start(move |_| Controller::new(ipam, 1));
        supervise("node-ipam-controller", move |ctx: &mut Context<NodeIpamController>| {
            let changes = informer::start(api.clone(), InformerSpec::new("/api/v1/nodes", ""), nodes.clone());
            ctx.add_message_stream(futures::StreamExt::map(changes, Changed));
            NodeIpamController {
                controller: controller.clone(),
                ranges: ranges.clone(),
            }
        })
    }
}

impl Handler<Changed> for NodeIpamController {
    type Result = ();
    fn handle(&mut self, Changed(ev): Changed, _: &mut Context<Self>) {
        // Ranges are tracked here, one decode per change; only nodes without one are reconciled.
        for d in ev.into_deltas() {
            let Some(new) = &d.new else {
                self.ranges.lock().remove(&d.key.1);
                continue;
            };
            match new.view::<Value>().ok().as_ref().map(pod_cidr) {
                Some(Some(net)) => {
                    self.ranges.lock().insert(d.key.1.clone(), net);
                }
                _ => self.controller.do_send(Enqueue(d.key)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_free_range_is_given() {
        let mut used = BTreeSet::new();
        assert_eq!(lowest_free(&used).unwrap().to_string(), "10.244.0.0/24");
        used.insert(PodNet([10, 244, 0]));
        used.insert(PodNet([10, 244, 2]));
        assert_eq!(lowest_free(&used).unwrap().to_string(), "10.244.1.0/24");
        let all: BTreeSet<PodNet> = (0..=255u8).map(|c| PodNet([10, 244, c])).collect();
        assert_eq!(lowest_free(&all), None);
    }
}
