//! The service proxy's rules (pure): an nftables table that DNATs each Service port (ClusterIP, and
//! NodePort on the node's own addresses) to one of its ready endpoints at random, in the kernel;
//! ports with no ready endpoint are refused at once. Established connections keep their endpoint
//! (conntrack), so a pod being removed drains instead of being cut.

use std::fmt::Write;

use serde_json::Value;

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
    /// Ready endpoints: (ip, port).
    pub endpoints: Vec<(String, i64)>,
}

/// The routes of one Service from its EndpointSlices.
pub fn routes(svc: &Value, slices: &[Value]) -> Vec<Route> {
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("");
    if ip.is_empty() || ip == "None" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
        let protocol = p["protocol"].as_str().unwrap_or("TCP").to_lowercase();
        if protocol != "tcp" && protocol != "udp" {
            continue;
        }
        let name = p["name"].as_str().unwrap_or("");
        let mut endpoints = Vec::new();
        for s in slices {
            let Some(sp) = s["ports"].as_array().and_then(|ps| {
                ps.iter().find(|sp| {
                    sp["name"].as_str().unwrap_or("") == name
                        && sp["protocol"].as_str().unwrap_or("TCP").to_lowercase() == protocol
                })
            }) else {
                continue;
            };
            let target = sp["port"].as_i64().unwrap_or(0);
            for e in s["endpoints"].as_array().into_iter().flatten() {
                if e["conditions"]["ready"] != false {
                    for a in e["addresses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        endpoints.push((a.to_string(), target));
                    }
                }
            }
        }
        endpoints.sort();
        endpoints.dedup();
        out.push(Route {
            cluster_ip: ip.to_string(),
            port: p["port"].as_i64().unwrap_or(0),
            node_port: p["nodePort"].as_i64(),
            protocol,
            endpoints,
        });
    }
    out
}

fn dnat(r: &Route) -> String {
    let targets: Vec<String> = r
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, (ip, port))| format!("{i} : {ip} . {port}"))
        .collect();
    format!(
        "dnat ip to numgen random mod {} map {{ {} }}",
        r.endpoints.len(),
        targets.join(", ")
    )
}

/// The whole table, replacing the previous one in one transaction (`nft -f -`).
pub fn render(table: &str, routes: &[Route]) -> String {
    let mut nat = String::new();
    let mut refuse = String::new();
    for r in routes {
        let (proto, ip, port) = (&r.protocol, &r.cluster_ip, r.port);
        if r.endpoints.is_empty() {
            let how = if proto == "tcp" {
                "reject with tcp reset"
            } else {
                "reject"
            };
            let _ = writeln!(refuse, "    ip daddr {ip} {proto} dport {port} {how}");
            if let Some(np) = r.node_port {
                let _ = writeln!(refuse, "    fib daddr type local {proto} dport {np} {how}");
            }
            continue;
        }
        let _ = writeln!(nat, "    ip daddr {ip} {proto} dport {port} {}", dnat(r));
        if let Some(np) = r.node_port {
            let _ = writeln!(nat, "    fib daddr type local {proto} dport {np} {}", dnat(r));
        }
    }
    format!(
        "table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n  chain services {{\n{nat}  }}\n  chain refuse {{\n{refuse}  }}\n  \
         chain nat_output {{ type nat hook output priority -100; policy accept; jump services; }}\n  \
         chain nat_prerouting {{ type nat hook prerouting priority -100; policy accept; jump services; }}\n  \
         chain nat_postrouting {{ type nat hook postrouting priority 100; policy accept; ct status dnat ip saddr 127.0.0.0/8 masquerade; }}\n  \
         chain filter_output {{ type filter hook output priority 0; policy accept; jump refuse; }}\n  \
         chain filter_forward {{ type filter hook forward priority 0; policy accept; jump refuse; }}\n}}\n"
    )
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
        let r = routes(&svc, &[slice]);
        assert_eq!(r[0].endpoints, vec![("10.244.0.5".to_string(), 8080)]);
        assert!(r[1].endpoints.is_empty(), "no slice port for dns");
        let text = render("orca-t", &r);
        assert!(
            text.contains(
                "ip daddr 10.96.1.2 tcp dport 80 dnat ip to numgen random mod 1 map { 0 : 10.244.0.5 . 8080 }"
            ),
            "{text}"
        );
        assert!(text.contains("fib daddr type local tcp dport 30080 dnat"), "{text}");
        assert!(text.contains("ip daddr 10.96.1.2 udp dport 53 reject"), "{text}");
        assert!(routes(&json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}}), &[]).is_empty());
    }
}
