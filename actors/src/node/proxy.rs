//! The service proxy of a node: follows Services and EndpointSlices through informers and keeps
//! an nftables table (`orca_proxy_<node>_<hash of its data directory>`) of DNAT rules in step with
//! them, refilled in one `nft -f -` transaction a few milliseconds after a change. Needs root and
//! `nft` (Debian `nftables`); without them the agent runs without a proxy and says so.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;

use super::proxy_rules::{render, routes, Route};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::Store;

/// How long changes gather before the table is written.
pub const GATHER: Duration = Duration::from_millis(5);
/// Pause before a failed write is tried again.
pub const RETRY: Duration = Duration::from_secs(1);

/// The proxy actor.
pub struct ServiceProxy {
    table: String,
    comment: String,
    node: String,
    services: Store,
    slices: Store,
    pending: bool,
    applied: String,
    /// Chains and sets of the last table written (None: write it whole).
    names: Option<std::collections::BTreeSet<String>>,
}

/// A change of a Service or an EndpointSlice.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProxyChanged(pub InformerEvent);

/// Whether `nft` runs here (root and the package).
pub fn available() -> bool {
    Command::new("nft")
        .args(["list", "tables"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The table name of a node's proxy: the node's name and a hash of the agent's data directory, so
/// that agents of different clusters on one machine (tests, benchmarks) never share a table while
/// a restarted agent finds its own again.
pub fn table_name(node: &str, data_dir: &std::path::Path) -> String {
    let safe: String = node
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut h: u32 = 0x811c_9dc5;
    for b in data_dir.to_string_lossy().bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("orca_proxy_{safe}_{h:08x}")
}

/// What a proxy table's comment says: the agent's data directory.
pub fn table_comment(data_dir: &std::path::Path) -> String {
    format!("{COMMENT_PREFIX}{}", data_dir.display().to_string().replace('"', "_"))
}

const COMMENT_PREFIX: &str = "orca agent data dir ";

/// The tables (name, data directory) of `nft list ruleset ip` text that a proxy wrote.
pub fn proxy_tables(ruleset: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in ruleset.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("table ip ") {
            current = rest
                .strip_suffix(" {")
                .filter(|n| n.starts_with("orca_proxy_"))
                .map(str::to_string);
        } else if let (Some(name), Some(c)) = (&current, line.strip_prefix("comment \"")) {
            if let Some(dir) = c.strip_suffix('"').and_then(|c| c.strip_prefix(COMMENT_PREFIX)) {
                out.push((name.clone(), dir.to_string()));
            }
            current = None;
        }
    }
    out
}

/// Removes the proxy tables whose agent's data directory no longer exists.
pub fn remove_orphans() {
    let Ok(out) = Command::new("nft").args(["list", "ruleset", "ip"]).output() else {
        return;
    };
    for (table, dir) in proxy_tables(&String::from_utf8_lossy(&out.stdout)) {
        if !std::path::Path::new(&dir).exists() {
            tracing::info!("removing the proxy table {table} of a gone agent ({dir})");
            let _ = Command::new("nft")
                .args(["delete", "table", "ip", &table])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Removes the proxy table of an agent that stops (a no-op when there is none).
pub fn remove_table(node: &str, data_dir: &std::path::Path) {
    let _ = Command::new("nft")
        .args(["delete", "table", "ip", &table_name(node, data_dir)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Makes sure the node's table exists before anything can connect through this node: a new one
/// refuses the whole service range until the informers have filled it, so that no connection to
/// a ClusterIP is routed out to the default gateway in the meantime (its conntrack entry, with no
/// translation, would outlive the Service's rule and catch a later connection from the same port).
/// A table left by this agent's previous run is kept as it is until the first write.
pub fn prepare_table(node: &str, data_dir: &std::path::Path) -> Result<(), String> {
    let table = table_name(node, data_dir);
    let exists = Command::new("nft")
        .args(["list", "table", "ip", &table])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if exists {
        return Ok(());
    }
    apply(&render(&table, &table_comment(data_dir), &[], None).text)
}

fn apply(text: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("nft: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("nft: no stdin")?
        .write_all(text.as_bytes())
        .map_err(|e| format!("nft: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("nft -f: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl ServiceProxy {
    /// Starts the proxy of node `node` under a supervisor.
    pub fn start(api: ApiClient, node: &str, data_dir: &std::path::Path) -> Supervised<ServiceProxy> {
        let table = table_name(node, data_dir);
        let comment = table_comment(data_dir);
        let node = node.to_string();
        // Tables of agents whose data directory is gone (killed, never to return) are removed.
        std::thread::spawn(remove_orphans);
        // NodePorts on 127.0.0.1 reach pods on the bridge: loopback sources may be routed there,
        // and are masqueraded on the way out (as kube-proxy does).
        if std::path::Path::new("/proc/sys/net/ipv4/conf/all/route_localnet").exists() {
            let _ = std::fs::write("/proc/sys/net/ipv4/conf/all/route_localnet", "1");
        }
        // A NodePort's endpoint may live on another host: this node forwards to it (as kube-proxy
        // needs `net.ipv4.ip_forward=1`).
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
        supervise("service-proxy", move |ctx: &mut Context<ServiceProxy>| {
            let (services, slices) = (Store::default(), Store::default());
            let s = informer::start(api.clone(), InformerSpec::new("/api/v1/services", ""), services.clone());
            let e = informer::start(
                api.clone(),
                InformerSpec::new("/apis/discovery.k8s.io/v1/endpointslices", ""),
                slices.clone(),
            );
            ctx.add_message_stream(futures::StreamExt::map(s, ProxyChanged));
            ctx.add_message_stream(futures::StreamExt::map(e, ProxyChanged));
            ServiceProxy {
                table: table.clone(),
                comment: comment.clone(),
                node: node.clone(),
                services,
                slices,
                pending: false,
                applied: String::new(),
                names: None,
            }
        })
    }

    fn all_routes(&self) -> Vec<Route> {
        let mut by_service: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
        for s in self.slices.list(None) {
            if let (Ok(v), Some(svc)) = (
                s.view::<Value>(),
                s.header.label(super::super::controllers::endpoints::SERVICE_NAME),
            ) {
                by_service
                    .entry((s.key.0.clone(), svc.to_string()))
                    .or_default()
                    .push(v);
            }
        }
        let mut out = Vec::new();
        for svc in self.services.list(None) {
            let Ok(v) = svc.view::<Value>() else { continue };
            let slices = by_service.get(&svc.key).cloned().unwrap_or_default();
            out.extend(routes(&v, &slices, &self.node));
        }
        out
    }

    fn schedule(&mut self, ctx: &mut Context<Self>, after: Duration) {
        if self.pending {
            return;
        }
        self.pending = true;
        ctx.run_later(after, |act, ctx| {
            act.pending = false;
            let routes = act.all_routes();
            let rendered = render(&act.table, &act.comment, &routes, act.names.as_ref());
            if rendered.text == act.applied {
                return;
            }
            match apply(&rendered.text) {
                Ok(()) => {
                    tracing::debug!(
                        "service proxy: table written: {}",
                        routes
                            .iter()
                            .map(|r| format!("{}:{}={}", r.cluster_ip, r.port, r.endpoints.len()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                    // What the next write would be if nothing changed.
                    act.applied = render(&act.table, &act.comment, &routes, Some(&rendered.names)).text;
                    act.names = Some(rendered.names);
                }
                Err(e) => {
                    act.names = None;
                    act.applied.clear();
                    tracing::warn!("service proxy: {e}; trying again");
                    act.schedule(ctx, RETRY);
                }
            }
        });
    }
}

impl Actor for ServiceProxy {
    type Context = Context<Self>;
}

impl Handler<ProxyChanged> for ServiceProxy {
    type Result = ();
    fn handle(&mut self, _: ProxyChanged, ctx: &mut Context<Self>) {
        self.schedule(ctx, GATHER);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn proxy_tables_are_found_by_their_comment() {
        let text = "table ip filter {\n\tchain x {\n\t}\n}\ntable ip orca_proxy_n_1 {\n\tcomment \"orca agent data dir /tmp/a b\"\n\tchain services {\n\t}\n}\ntable ip orca_proxy_old {\n\tchain services {\n\t}\n}\n";
        assert_eq!(
            super::proxy_tables(text),
            vec![("orca_proxy_n_1".to_string(), "/tmp/a b".to_string())]
        );
    }
}
