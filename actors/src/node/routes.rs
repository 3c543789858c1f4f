//! Host-gw pod routing: follows the Nodes through an informer and routes every other node's
//! `spec.podCIDR` to that node's InternalIP (`ip route replace … proto 79`), so that pods reach pods
//! on every host with no tunnel; routes of nodes that go away are removed.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;

use super::network::PodNet;
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::Store;

/// How long node changes gather before routes are written.
const GATHER: Duration = Duration::from_millis(5);
/// Pause before failed route changes are tried again.
const RETRY: Duration = Duration::from_secs(1);
/// The routing protocol number that marks orca's routes (`ip route show proto 79`).
pub const PROTO: &str = "79";

/// The routes this node wants (pod range to node address) from the Nodes' objects: every other
/// node with a range and an InternalIP that is not this node's own address (agents of one
/// machine share its bridge, where their ranges are already on the link).
pub fn wanted(nodes: &[Value], me: &str, my_net: PodNet, my_ip: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for n in nodes {
        if n["metadata"]["name"] == me {
            continue;
        }
        let Some(Ok(net)) = n["spec"]["podCIDR"].as_str().map(PodNet::parse) else {
            continue;
        };
        let ip = n["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == "InternalIP")
            .and_then(|a| a["address"].as_str())
            .and_then(|a| a.parse::<std::net::Ipv4Addr>().ok());
        let Some(ip) = ip else { continue };
        if net == my_net || ip.is_loopback() || ip.is_unspecified() || ip.to_string() == my_ip {
            continue;
        }
        out.insert(net.to_string(), ip.to_string());
    }
    out
}

/// The `ip -batch` commands taking the routes from `had` to `want`.
pub fn commands(had: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (cidr, via) in want {
        if had.get(cidr) != Some(via) {
            out.push_str(&format!("route replace {cidr} via {via} proto {PROTO}\n"));
        }
    }
    for cidr in had.keys().filter(|c| !want.contains_key(*c)) {
        out.push_str(&format!("route del {cidr} proto {PROTO}\n"));
    }
    out
}

/// The routing actor of a node.
pub struct NodeRoutes {
    me: String,
    net: PodNet,
    ip: String,
    nodes: Store,
    routes: BTreeMap<String, String>,
    pending: bool,
}

/// A change seen by the node informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NodesChanged(pub InformerEvent);

impl NodeRoutes {
    /// Starts the actor of node `me` (range `net`, address `ip`) under a supervisor.
    pub fn start(api: ApiClient, me: &str, net: PodNet, ip: &str) -> Supervised<NodeRoutes> {
        let (me, ip) = (me.to_string(), ip.to_string());
        supervise("node-routes", move |ctx: &mut Context<NodeRoutes>| {
            let nodes = Store::default();
            let changes = informer::start(api.clone(), InformerSpec::new("/api/v1/nodes", ""), nodes.clone());
            ctx.add_message_stream(futures::StreamExt::map(changes, NodesChanged));
            NodeRoutes {
                me: me.clone(),
                net,
                ip: ip.clone(),
                nodes,
                routes: BTreeMap::new(),
                pending: false,
            }
        })
    }

    fn schedule(&mut self, ctx: &mut Context<Self>, after: Duration) {
        if self.pending {
            return;
        }
        self.pending = true;
        ctx.run_later(after, |act, ctx| {
            act.pending = false;
            let nodes: Vec<Value> = act.nodes.list(None).iter().filter_map(|n| n.view().ok()).collect();
            let want = wanted(&nodes, &act.me, act.net, &act.ip);
            let text = commands(&act.routes, &want);
            if text.is_empty() {
                return;
            }
            match super::network::batch(&["-force"], &text) {
                Ok(()) => {
                    tracing::debug!("pod routes: {}", text.trim().replace('\n', "; "));
                    act.routes = want;
                }
                Err(e) => {
                    tracing::warn!("pod routes: {e}; trying again");
                    act.routes.clear();
                    act.schedule(ctx, RETRY);
                }
            }
        });
    }
}

impl Actor for NodeRoutes {
    type Context = Context<Self>;
}

impl Handler<NodesChanged> for NodeRoutes {
    type Result = ();
    fn handle(&mut self, _: NodesChanged, ctx: &mut Context<Self>) {
        self.schedule(ctx, GATHER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cidr: &str, ip: &str) -> Value {
        json!({"metadata": {"name": name}, "spec": {"podCIDR": cidr},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}})
    }

    #[test]
    fn routes_go_to_other_hosts_only() {
        let me = PodNet::parse("10.244.0.0/24").unwrap();
        let nodes = [
            node("h1", "10.244.0.0/24", "10.77.0.11"),
            node("h2", "10.244.1.0/24", "10.77.0.12"),
            node("same-host", "10.244.2.0/24", "10.77.0.11"),
            node("local", "10.244.3.0/24", "127.0.0.1"),
            json!({"metadata": {"name": "no-range"}, "spec": {}, "status": {"addresses": [{"type": "InternalIP", "address": "10.77.0.14"}]}}),
        ];
        let want = wanted(&nodes, "h1", me, "10.77.0.11");
        assert_eq!(
            want,
            BTreeMap::from([("10.244.1.0/24".to_string(), "10.77.0.12".to_string())])
        );
        assert_eq!(
            commands(&BTreeMap::new(), &want),
            "route replace 10.244.1.0/24 via 10.77.0.12 proto 79\n"
        );
        assert_eq!(commands(&want, &want), "");
        let moved = BTreeMap::from([("10.244.1.0/24".to_string(), "10.77.0.15".to_string())]);
        assert!(commands(&want, &moved).contains("via 10.77.0.15"));
        assert_eq!(commands(&want, &BTreeMap::new()), "route del 10.244.1.0/24 proto 79\n");
    }
}
