//! The service proxy's rules (pure): an nftables table that DNATs each Service port (ClusterIP, and
//! NodePort on the node's own addresses) to one of its ready endpoints at random, in the kernel;
//! ports with no ready endpoint are refused at once. `sessionAffinity: ClientIP` keeps a client on
//! its endpoint through a timed set per endpoint (as kube-proxy's nftables mode does);
//! `internalTrafficPolicy`/`externalTrafficPolicy: Local` route only to this node's endpoints.
//! NodePort traffic is masqueraded (unless `Local`), so an endpoint on another host answers
//! through this node.
//! Established connections keep their endpoint (conntrack), so a pod being removed drains. After
//! the first write the table is flushed and refilled, not deleted, so affinity sets keep their
//! clients.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use crate::controllers::endpoints_plan::{ready_addresses, slice_port};

/// An endpoint: (ip, port).
pub type Endpoint = (String, i64);

/// One Service port and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// ClusterIP (empty for headless).
    pub cluster_ip: String,
    /// Service port.
    pub port: i64,
    /// NodePort, if any.
    pub node_port: Option<i64>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Ready endpoints for ClusterIP traffic (this node's only, with internalTrafficPolicy Local).
    pub endpoints: Vec<Endpoint>,
    /// Ready endpoints for NodePort traffic (this node's only, with externalTrafficPolicy Local).
    pub external: Vec<Endpoint>,
    /// Seconds a client stays with its endpoint (sessionAffinity ClientIP).
    pub affinity: Option<u64>,
    /// `externalTrafficPolicy: Local`: NodePort traffic keeps the client's address.
    pub external_local: bool,
}

/// The packet mark of NodePort traffic to masquerade (kube-proxy's bit).
pub const MASQUERADE_MARK: u32 = 0x4000;

/// Default affinity timeout (Kubernetes: 3 hours).
pub const AFFINITY_TIMEOUT: u64 = 10_800;

/// The routes of one Service on node `node` from its EndpointSlices.
pub fn routes(svc: &Value, slices: &[Value], node: &str) -> Vec<Route> {
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("");
    if ip.is_empty() || ip == "None" {
        return Vec::new();
    }
    let internal_local = svc["spec"]["internalTrafficPolicy"] == "Local";
    let external_local = svc["spec"]["externalTrafficPolicy"] == "Local";
    let affinity = (svc["spec"]["sessionAffinity"] == "ClientIP").then(|| {
        svc["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"]
            .as_u64()
            .unwrap_or(AFFINITY_TIMEOUT)
    });
    let mut out = Vec::new();
    for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
        let protocol = p["protocol"].as_str().unwrap_or("TCP").to_lowercase();
        if protocol != "tcp" && protocol != "udp" {
            continue;
        }
        let name = p["name"].as_str().unwrap_or("");
        let (mut all, mut local) = (Vec::new(), Vec::new());
        for s in slices {
            let Some(target) = slice_port(s, name, &protocol) else {
                continue;
            };
            for (a, e) in ready_addresses(s) {
                all.push((a.to_string(), target));
                if e["nodeName"] == node {
                    local.push((a.to_string(), target));
                }
            }
        }
        for l in [&mut all, &mut local] {
            l.sort();
            l.dedup();
        }
        out.push(Route {
            cluster_ip: ip.to_string(),
            port: p["port"].as_i64().unwrap_or(0),
            node_port: p["nodePort"].as_i64(),
            protocol,
            endpoints: if internal_local { local.clone() } else { all.clone() },
            external: if external_local { local } else { all },
            affinity,
            external_local,
        });
    }
    out
}

fn hash(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The table's text and the names of the chains and sets it declares beyond the fixed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// What `nft -f -` reads.
    pub text: String,
    /// `chain NAME` and `set NAME` entries.
    pub names: BTreeSet<String>,
}

struct Writer<'a> {
    r: &'a Route,
    decls: String,
    names: BTreeSet<String>,
}

impl Writer<'_> {
    /// The statement sending a packet to one of `eps`: an inline random map, or, with affinity,
    /// a jump to a chain that looks the client up first.
    fn target(&mut self, eps: &[Endpoint], which: &str) -> String {
        let r = self.r;
        let Some(timeout) = r.affinity else {
            let map: Vec<String> = eps
                .iter()
                .enumerate()
                .map(|(i, (ip, port))| format!("{i} : {ip} . {port}"))
                .collect();
            return format!(
                "dnat ip to numgen random mod {} map {{ {} }}",
                eps.len(),
                map.join(", ")
            );
        };
        let svc_key = [r.cluster_ip.as_str(), &r.port.to_string(), &r.protocol, which].join("/");
        let chain = format!("svc_{}", hash(&[&svc_key]));
        let mut body = String::new();
        let mut gotos = Vec::new();
        for (i, (ip, port)) in eps.iter().enumerate() {
            let key = hash(&[&r.cluster_ip, &r.port.to_string(), &r.protocol, ip, &port.to_string()]);
            let (set, ep) = (format!("aff_{key}"), format!("ep_{key}"));
            if self.names.insert(format!("set {set}")) {
                let _ = writeln!(
                    self.decls,
                    "  set {set} {{ type ipv4_addr; flags dynamic,timeout; timeout {timeout}s; }}"
                );
            }
            if self.names.insert(format!("chain {ep}")) {
                let _ = writeln!(
                    self.decls,
                    "  chain {ep} {{ update @{set} {{ ip saddr }}; meta l4proto {} dnat ip to {ip}:{port}; }}",
                    r.protocol
                );
            }
            let _ = writeln!(body, "    ip saddr @{set} goto {ep}");
            gotos.push(format!("{i} : goto {ep}"));
        }
        let _ = writeln!(
            body,
            "    numgen random mod {} vmap {{ {} }}",
            eps.len(),
            gotos.join(", ")
        );
        if self.names.insert(format!("chain {chain}")) {
            let _ = write!(self.decls, "  chain {chain} {{\n{body}  }}\n");
        }
        format!("goto {chain}")
    }
}

fn refuse_how(proto: &str) -> &'static str {
    if proto == "tcp" {
        "reject with tcp reset"
    } else {
        "reject"
    }
}

/// The whole table. Without `previous` (the first write of this agent) the table is deleted and
/// made again; with it, the table is flushed, what is no longer used removed, and refilled, all in
/// one transaction.
/// The comment names the agent's data directory, so that a table whose agent is gone for good can
/// be recognised and removed.
pub fn render(table: &str, comment: &str, routes: &[Route], previous: Option<&BTreeSet<String>>) -> Rendered {
    let (mut nat, mut refuse, mut decls) = (String::new(), String::new(), String::new());
    let mut names = BTreeSet::new();
    for r in routes {
        let (proto, ip, port) = (&r.protocol, &r.cluster_ip, r.port);
        let mut w = Writer {
            r,
            decls: std::mem::take(&mut decls),
            names: std::mem::take(&mut names),
        };
        if r.endpoints.is_empty() {
            let _ = writeln!(refuse, "    ip daddr {ip} {proto} dport {port} {}", refuse_how(proto));
        } else {
            let t = w.target(&r.endpoints, "cluster");
            let _ = writeln!(nat, "    ip daddr {ip} {proto} dport {port} {t}");
        }
        if let Some(np) = r.node_port {
            if r.external.is_empty() {
                let _ = writeln!(
                    refuse,
                    "    fib daddr type local {proto} dport {np} {}",
                    refuse_how(proto)
                );
            } else {
                let t = w.target(&r.external, "node");
                // Traffic may leave for an endpoint on another host: marked to be masqueraded,
                // so the answer comes back through this node (not with `Local`, which keeps the
                // client's address and only this node's endpoints).
                let mark = if r.external_local {
                    String::new()
                } else {
                    format!("meta mark set meta mark or {MASQUERADE_MARK:#x} ")
                };
                let _ = writeln!(nat, "    fib daddr type local {proto} dport {np} {mark}{t}");
            }
        }
        (decls, names) = (w.decls, w.names);
    }
    // An address of the service range that no rule above translated belongs to no Service (or to
    // one this node has not heard of yet): refused here rather than routed out to the default
    // gateway, where the connection's conntrack entry would outlive the Service's arrival.
    let (net, bits) = crate::api_server::cluster_ip::SERVICE_RANGE;
    let _ = writeln!(
        refuse,
        "    ip daddr {net}/{bits} meta l4proto tcp reject with tcp reset"
    );
    let _ = writeln!(refuse, "    ip daddr {net}/{bits} reject");
    // A pod sent to itself through a Service would see its own address as the source: such
    // hairpin traffic is masqueraded (by endpoint pairs, as kube-proxy marks an endpoint's own).
    let mut own: BTreeSet<&str> = BTreeSet::new();
    for r in routes {
        own.extend(r.endpoints.iter().chain(&r.external).map(|(ip, _)| ip.as_str()));
    }
    let pairs: Vec<String> = own.iter().map(|ip| format!("{ip} . {ip}")).collect();
    let elements = if pairs.is_empty() {
        String::new()
    } else {
        format!(" elements = {{ {} }};", pairs.join(", "))
    };
    let _ = writeln!(decls, "  set hairpin {{ type ipv4_addr . ipv4_addr;{elements} }}");
    names.insert("set hairpin".to_string());
    let mut text = String::new();
    match previous {
        None => {
            let _ = write!(text, "table ip {table}\ndelete table ip {table}\n");
        }
        Some(prev) => {
            let _ = write!(text, "table ip {table}\nflush table ip {table}\n");
            // Chains first: they hold the references to the sets.
            for gone in prev.difference(&names).filter(|n| n.starts_with("chain ")) {
                let _ = writeln!(
                    text,
                    "delete {gone}",
                    gone = gone.replacen("chain ", &format!("chain ip {table} "), 1)
                );
            }
            for gone in prev.difference(&names).filter(|n| n.starts_with("set ")) {
                let _ = writeln!(
                    text,
                    "delete {gone}",
                    gone = gone.replacen("set ", &format!("set ip {table} "), 1)
                );
            }
        }
    }
    let _ = write!(
        text,
        "table ip {table} {{\n  comment \"{comment}\"\n{decls}  chain services {{\n{nat}  }}\n  chain refuse {{\n{refuse}  }}\n  \
         chain nat_output {{ type nat hook output priority -100; policy accept; jump services; }}\n  \
         chain nat_prerouting {{ type nat hook prerouting priority -100; policy accept; jump services; }}\n  \
         chain nat_postrouting {{ type nat hook postrouting priority 100; policy accept; ct status dnat ip saddr 127.0.0.0/8 masquerade; ct status dnat ip saddr . ip daddr @hairpin masquerade; meta mark and {MASQUERADE_MARK:#x} == {MASQUERADE_MARK:#x} masquerade; }}\n  \
         chain filter_output {{ type filter hook output priority 0; policy accept; jump refuse; }}\n  \
         chain filter_forward {{ type filter hook forward priority 0; policy accept; jump refuse; }}\n}}\n"
    );
    Rendered { text, names }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes_follow_ready_endpoints_and_render_as_one_table() {
        let svc = json!({"spec": {"clusterIP": "10.96.1.2", "ports": [{"name": "web", "port": 80, "protocol": "TCP", "nodePort": 30080}, {"name": "dns", "port": 53, "protocol": "UDP"}]}});
        let slice = json!({"ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": true}}, {"addresses": ["10.244.0.6"], "conditions": {"ready": false}}]});
        let r = routes(&svc, &[slice], "n1");
        assert_eq!(r[0].endpoints, vec![("10.244.0.5".to_string(), 8080)]);
        assert!(r[1].endpoints.is_empty(), "no slice port for dns");
        let text = render("orca-t", "c", &r, None).text;
        assert!(
            text.contains(
                "ip daddr 10.96.1.2 tcp dport 80 dnat ip to numgen random mod 1 map { 0 : 10.244.0.5 . 8080 }"
            ),
            "{text}"
        );
        assert!(text.starts_with("table ip orca-t\ndelete table ip orca-t\n"), "{text}");
        assert!(
            text.contains("fib daddr type local tcp dport 30080 meta mark set meta mark or 0x4000 dnat"),
            "NodePort traffic is marked for masquerade: {text}"
        );
        assert!(text.contains("meta mark and 0x4000 == 0x4000 masquerade"), "{text}");
        assert!(text.contains("ip daddr 10.96.1.2 udp dport 53 reject"), "{text}");
        assert!(
            text.contains("ip daddr 10.96.0.0/16 meta l4proto tcp reject with tcp reset"),
            "the rest of the service range is refused: {text}"
        );
        assert!(routes(
            &json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}}),
            &[],
            "n1"
        )
        .is_empty());
    }

    #[test]
    fn affinity_uses_timed_sets_kept_across_writes_and_local_policies_filter_by_node() {
        let svc = json!({"spec": {"clusterIP": "10.96.1.3", "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            "internalTrafficPolicy": "Local", "externalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30081}]}});
        let slice = json!({"ports": [{"port": 8080, "protocol": "TCP"}], "endpoints": [
            {"addresses": ["10.244.0.5"], "nodeName": "n1"}, {"addresses": ["10.244.1.5"], "nodeName": "n2"}]});
        let r = routes(&svc, &[slice], "n1");
        assert_eq!(r[0].endpoints, vec![("10.244.0.5".to_string(), 8080)], "internal Local");
        assert_eq!(r[0].external.len(), 2, "external Cluster");
        let first = render("t", "c", &r, None);
        assert!(
            first.text.contains("flags dynamic,timeout; timeout 60s;"),
            "{}",
            first.text
        );
        assert!(first.text.contains("update @aff_"), "{}", first.text);
        assert!(first.text.contains("ip saddr @aff_"), "{}", first.text);
        // Two endpoints (one shared by both lists) and two service chains.
        assert_eq!(first.names.iter().filter(|n| n.starts_with("set aff_")).count(), 2);
        // Hairpin traffic of both endpoints is masqueraded.
        assert!(
            first.text.contains("set hairpin { type ipv4_addr . ipv4_addr; elements = { 10.244.0.5 . 10.244.0.5, 10.244.1.5 . 10.244.1.5 }; }"),
            "{}",
            first.text
        );
        assert!(
            first.text.contains("ip saddr . ip daddr @hairpin masquerade"),
            "{}",
            first.text
        );
        // The next write flushes instead of deleting; an endpoint that went away loses its set.
        let fewer = routes(
            &svc,
            &[
                json!({"ports": [{"port": 8080, "protocol": "TCP"}], "endpoints": [{"addresses": ["10.244.0.5"], "nodeName": "n1"}]}),
            ],
            "n1",
        );
        let second = render("t", "c", &fewer, Some(&first.names));
        assert!(
            second.text.starts_with("table ip t\nflush table ip t\n"),
            "{}",
            second.text
        );
        assert_eq!(
            second.text.matches("delete set ip t aff_").count(),
            1,
            "{}",
            second.text
        );
        assert!(second.text.find("delete chain").unwrap() < second.text.find("delete set").unwrap());
    }
}
