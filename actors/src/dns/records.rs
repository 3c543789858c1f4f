//! What the cluster's names resolve to (pure over the cached Services and EndpointSlices):
//! `svc.ns.svc.<domain>` (the ClusterIP; a headless Service's ready endpoints; an ExternalName's
//! CNAME), `host.svc.ns.svc.<domain>` (a pod by its hostname or dashed IP),
//! `_port._proto.svc.ns.svc.<domain>` (SRV), `a-b-c-d.ns.pod.<domain>`; other names go upstream.

use std::net::Ipv4Addr;

use serde_json::Value;

use super::wire::{Data, Rcode, Record, TYPE_A, TYPE_ANY, TYPE_SRV};
use crate::controllers::endpoints::SERVICE_NAME;
use crate::controllers::endpoints_plan::{ready_addresses, slice_port};
use crate::runtime::Store;

/// The cluster domain.
pub const DOMAIN: &str = "cluster.local";
/// Seconds answers may be cached (short: endpoints change).
pub const TTL: u32 = 5;

/// How a name is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Not a cluster name: ask the upstream resolver.
    Forward,
    /// The cluster's answer.
    Answer {
        /// Response code.
        rcode: Rcode,
        /// Answer records.
        answers: Vec<Record>,
        /// Additional records (addresses of SRV targets).
        additional: Vec<Record>,
    },
}

fn nx() -> Resolved {
    Resolved::Answer {
        rcode: Rcode::NxDomain,
        answers: Vec::new(),
        additional: Vec::new(),
    }
}

fn found(answers: Vec<Record>, additional: Vec<Record>) -> Resolved {
    Resolved::Answer {
        rcode: Rcode::NoError,
        answers,
        additional,
    }
}

/// The cached objects names are answered from.
#[derive(Clone, Default)]
pub struct Cluster {
    /// Services.
    pub services: Store,
    /// EndpointSlices.
    pub slices: Store,
}

/// One ready endpoint of a Service port: address, hostname, port.
struct Endpoint {
    ip: Ipv4Addr,
    hostname: Option<String>,
    port: Option<u16>,
}

impl Cluster {
    fn service(&self, ns: &str, name: &str) -> Option<Value> {
        self.services
            .get(&(ns.to_string(), name.to_string()))
            .and_then(|c| c.view().ok())
    }

    /// Ready endpoints of a Service; with `port` (name, protocol), only slices offering it.
    fn endpoints(&self, ns: &str, svc: &str, port: Option<(&str, &str)>) -> Vec<Endpoint> {
        let mut out: Vec<Endpoint> = Vec::new();
        for s in self.slices.list(Some(ns)) {
            if s.header.label(SERVICE_NAME) != Some(svc) {
                continue;
            }
            let Ok(v) = s.view::<Value>() else { continue };
            let number = match port {
                None => None,
                Some((pname, proto)) => match slice_port(&v, pname, proto) {
                    Some(n) => Some(n as u16),
                    None => continue,
                },
            };
            for (a, e) in ready_addresses(&v) {
                if let Ok(ip) = a.parse() {
                    let hostname = e["hostname"].as_str().map(str::to_string);
                    if !out
                        .iter()
                        .any(|o| o.ip == ip && o.port == number && o.hostname == hostname)
                    {
                        out.push(Endpoint {
                            ip,
                            hostname,
                            port: number,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.ip, &a.hostname).cmp(&(b.ip, &b.hostname)));
        out
    }
}

fn dashed(ip: Ipv4Addr) -> String {
    ip.to_string().replace('.', "-")
}

fn a(name: &str, ip: Ipv4Addr) -> Record {
    Record {
        name: name.to_string(),
        ttl: TTL,
        data: Data::A(ip),
    }
}

/// Answers `name` (lower case, no trailing dot) for record type `qtype`.
pub fn resolve(cluster: &Cluster, name: &str, qtype: u16) -> Resolved {
    let rest = if name == DOMAIN {
        ""
    } else {
        match name.strip_suffix(DOMAIN).and_then(|r| r.strip_suffix('.')) {
            Some(r) => r,
            None => return Resolved::Forward,
        }
    };
    let labels: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('.').collect()
    };
    let wants = |t: u16| qtype == t || qtype == TYPE_ANY;
    match labels.as_slice() {
        [ip, _ns, "pod"] => match ip.replace('-', ".").parse::<Ipv4Addr>() {
            Ok(ip) if wants(TYPE_A) => found(vec![a(name, ip)], vec![]),
            Ok(_) => found(vec![], vec![]),
            Err(_) => nx(),
        },
        [svc, ns, "svc"] => service(cluster, name, ns, svc, &wants),
        [port, proto, svc, ns, "svc"] if port.starts_with('_') && proto.starts_with('_') => {
            srv(cluster, name, ns, svc, &port[1..], &proto[1..], &wants)
        }
        [host, svc, ns, "svc"] => {
            let Some(v) = cluster.service(ns, svc) else { return nx() };
            if v["spec"]["clusterIP"] != "None" {
                return nx();
            }
            let ips: Vec<Record> = cluster
                .endpoints(ns, svc, None)
                .into_iter()
                .filter(|e| e.hostname.as_deref() == Some(*host) || dashed(e.ip) == *host)
                .map(|e| a(name, e.ip))
                .collect();
            match (ips.is_empty(), wants(TYPE_A)) {
                (true, _) => nx(),
                (false, true) => found(ips, vec![]),
                (false, false) => found(vec![], vec![]),
            }
        }
        // Names above the Services (`svc.cluster.local`, a namespace) exist but hold no records.
        [] | ["svc"] | ["pod"] | [_, "svc"] | [_, "pod"] => found(vec![], vec![]),
        _ => nx(),
    }
}

fn service(cluster: &Cluster, name: &str, ns: &str, svc: &str, wants: &dyn Fn(u16) -> bool) -> Resolved {
    let Some(v) = cluster.service(ns, svc) else { return nx() };
    if v["spec"]["type"] == "ExternalName" {
        let target = v["spec"]["externalName"].as_str().unwrap_or("").trim_end_matches('.');
        if target.is_empty() {
            return found(vec![], vec![]);
        }
        let cname = Record {
            name: name.to_string(),
            ttl: TTL,
            data: Data::Cname(target.to_ascii_lowercase()),
        };
        return found(vec![cname], vec![]);
    }
    if !wants(TYPE_A) {
        return found(vec![], vec![]);
    }
    match v["spec"]["clusterIP"].as_str() {
        Some("None") => {
            let mut ips: Vec<Ipv4Addr> = cluster.endpoints(ns, svc, None).into_iter().map(|e| e.ip).collect();
            ips.dedup();
            found(ips.into_iter().map(|ip| a(name, ip)).collect(), vec![])
        }
        Some(ip) => match ip.parse() {
            Ok(ip) => found(vec![a(name, ip)], vec![]),
            Err(_) => found(vec![], vec![]),
        },
        None => found(vec![], vec![]),
    }
}

fn srv(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    svc: &str,
    port: &str,
    proto: &str,
    wants: &dyn Fn(u16) -> bool,
) -> Resolved {
    let Some(v) = cluster.service(ns, svc) else { return nx() };
    let Some(p) = v["spec"]["ports"].as_array().into_iter().flatten().find(|p| {
        p["name"].as_str() == Some(port) && p["protocol"].as_str().unwrap_or("TCP").eq_ignore_ascii_case(proto)
    }) else {
        return nx();
    };
    if !wants(TYPE_SRV) {
        return found(vec![], vec![]);
    }
    let svc_name = format!("{svc}.{ns}.svc.{DOMAIN}");
    let record = |target: &str, port: u16| Record {
        name: name.to_string(),
        ttl: TTL,
        data: Data::Srv {
            priority: 0,
            weight: 100,
            port,
            target: target.to_string(),
        },
    };
    match v["spec"]["clusterIP"].as_str() {
        Some("None") => {
            let (mut answers, mut additional) = (Vec::new(), Vec::new());
            for e in cluster.endpoints(ns, svc, Some((port, proto))) {
                let host = e.hostname.clone().unwrap_or_else(|| dashed(e.ip));
                let target = format!("{host}.{svc_name}");
                answers.push(record(&target, e.port.unwrap_or(0)));
                additional.push(a(&target, e.ip));
            }
            found(answers, additional)
        }
        Some(ip) => {
            let number = p["port"].as_u64().unwrap_or(0) as u16;
            let additional = ip.parse().map(|ip| vec![a(&svc_name, ip)]).unwrap_or_default();
            found(vec![record(&svc_name, number)], additional)
        }
        None => found(vec![], vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::store::Cached;
    use serde_json::json;

    fn store(objs: Vec<Value>) -> Store {
        let s = Store::default();
        let items = objs
            .into_iter()
            .map(|o| Cached::from_json(serde_json::to_vec(&o).expect("json").into()).expect("object"))
            .collect();
        s.replace(items, 1);
        s
    }

    fn cluster() -> Cluster {
        Cluster {
            services: store(vec![
                json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"clusterIP": "10.96.3.4", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}),
                json!({"metadata": {"name": "db", "namespace": "default"}, "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}),
                json!({"metadata": {"name": "ext", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "example.org."}}),
            ]),
            slices: store(vec![
                json!({"metadata": {"name": "db-x", "namespace": "default", "labels": {SERVICE_NAME: "db"}},
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
                "endpoints": [
                    {"addresses": ["10.244.0.7"], "hostname": "db-0", "conditions": {"ready": true}},
                    {"addresses": ["10.244.0.8"], "hostname": "db-1", "conditions": {"ready": false}},
                    {"addresses": ["10.244.0.9"], "conditions": {"ready": true}}]}),
            ]),
        }
    }

    fn ips(r: Resolved) -> Vec<String> {
        match r {
            Resolved::Answer { answers, .. } => answers
                .into_iter()
                .map(|r| match r.data {
                    Data::A(ip) => ip.to_string(),
                    Data::Cname(c) => c,
                    Data::Srv { port, target, .. } => format!("{target}:{port}"),
                })
                .collect(),
            Resolved::Forward => vec!["forward".into()],
        }
    }

    #[test]
    fn services_headless_pods_and_srv_resolve() {
        let c = cluster();
        assert_eq!(ips(resolve(&c, "web.default.svc.cluster.local", TYPE_A)), ["10.96.3.4"]);
        assert_eq!(
            ips(resolve(&c, "db.default.svc.cluster.local", TYPE_A)),
            ["10.244.0.7", "10.244.0.9"]
        );
        assert_eq!(
            ips(resolve(&c, "db-0.db.default.svc.cluster.local", TYPE_A)),
            ["10.244.0.7"]
        );
        assert_eq!(
            ips(resolve(&c, "10-244-0-9.db.default.svc.cluster.local", TYPE_A)),
            ["10.244.0.9"]
        );
        assert_eq!(
            resolve(&c, "db-1.db.default.svc.cluster.local", TYPE_A),
            nx(),
            "not ready"
        );
        assert_eq!(
            ips(resolve(&c, "ext.default.svc.cluster.local", TYPE_A)),
            ["example.org"]
        );
        assert_eq!(
            ips(resolve(&c, "_http._tcp.web.default.svc.cluster.local", TYPE_SRV)),
            ["web.default.svc.cluster.local:80"]
        );
        assert_eq!(
            ips(resolve(&c, "_pg._tcp.db.default.svc.cluster.local", TYPE_SRV)),
            [
                "db-0.db.default.svc.cluster.local:5432",
                "10-244-0-9.db.default.svc.cluster.local:5432"
            ]
        );
        assert_eq!(
            ips(resolve(&c, "10-1-2-3.default.pod.cluster.local", TYPE_A)),
            ["10.1.2.3"]
        );
        assert_eq!(resolve(&c, "nope.default.svc.cluster.local", TYPE_A), nx());
        assert_eq!(
            resolve(&c, "web.default.svc.cluster.local.default.svc.cluster.local", TYPE_A),
            nx()
        );
        assert_eq!(
            ips(resolve(&c, "web.default.svc.cluster.local", 28)),
            Vec::<String>::new()
        );
        assert_eq!(resolve(&c, "deb.debian.org", TYPE_A), Resolved::Forward);
        assert_eq!(resolve(&c, "notcluster.local", TYPE_A), Resolved::Forward);
    }
}
