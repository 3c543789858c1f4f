//! What a Service's endpoints are (pure): its selected pods with an IP, each Service port resolved
//! to the pod's port (by number, or by the name of a container port), grouped into Endpoints
//! subsets (ready and not-ready addresses; terminating pods left out) and EndpointSlices (100
//! endpoints a slice, with ready, serving and terminating conditions).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Most endpoints in one slice (Kubernetes' default).
pub const SLICE_SIZE: usize = 100;

/// What the plan reads of one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEndpoint {
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
    /// Pod IP.
    pub ip: String,
    /// Node.
    pub node: String,
    /// Ready condition True.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Container ports: (name, port, protocol).
    pub ports: Vec<(String, i64, String)>,
    /// `spec.hostname`, when the pod's `spec.subdomain` names the Service (DNS names of pods).
    pub hostname: Option<String>,
}

/// A Service port: name, port, protocol and target (a number, or a container port's name).
#[derive(Debug, Clone, PartialEq)]
pub struct SvcPort {
    /// Port name.
    pub name: Option<String>,
    /// Protocol.
    pub protocol: String,
    /// `targetPort`.
    pub target: Value,
}

type PortKey = Vec<(Option<String>, i64, String)>;

fn resolve(p: &PodEndpoint, ports: &[SvcPort]) -> PortKey {
    ports
        .iter()
        .filter_map(|sp| {
            let n = match &sp.target {
                Value::Number(n) => n.as_i64()?,
                Value::String(name) => {
                    p.ports
                        .iter()
                        .find(|(n, _, proto)| n == name && *proto == sp.protocol)?
                        .1
                }
                _ => return None,
            };
            Some((sp.name.clone(), n, sp.protocol.clone()))
        })
        .collect()
}

fn ports_json(key: &PortKey) -> Vec<Value> {
    key.iter()
        .map(|(name, port, proto)| {
            let mut p = json!({"port": port, "protocol": proto});
            if let Some(n) = name {
                p["name"] = json!(n);
            }
            p
        })
        .collect()
}

fn target_ref(ns: &str, p: &PodEndpoint) -> Value {
    json!({"kind": "Pod", "namespace": ns, "name": p.name, "uid": p.uid})
}

fn groups<'a>(pods: &'a [PodEndpoint], ports: &[SvcPort]) -> BTreeMap<PortKey, Vec<&'a PodEndpoint>> {
    let mut out: BTreeMap<PortKey, Vec<&PodEndpoint>> = BTreeMap::new();
    let mut sorted: Vec<&PodEndpoint> = pods.iter().filter(|p| !p.ip.is_empty()).collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for p in sorted {
        let key = resolve(p, ports);
        if !key.is_empty() || ports.is_empty() {
            out.entry(key).or_default().push(p);
        }
    }
    out
}

/// The `subsets` of the Service's Endpoints.
pub fn subsets(ns: &str, pods: &[PodEndpoint], ports: &[SvcPort], publish_not_ready: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, members) in groups(pods, ports) {
        let addr = |p: &&PodEndpoint| {
            let mut a = json!({"ip": p.ip, "nodeName": p.node, "targetRef": target_ref(ns, p)});
            if let Some(h) = &p.hostname {
                a["hostname"] = json!(h);
            }
            a
        };
        let live: Vec<&&PodEndpoint> = members.iter().filter(|p| !p.terminating).collect();
        let ready: Vec<Value> = live
            .iter()
            .filter(|p| p.ready || publish_not_ready)
            .map(|p| addr(p))
            .collect();
        let not_ready: Vec<Value> = live
            .iter()
            .filter(|p| !(p.ready || publish_not_ready))
            .map(|p| addr(p))
            .collect();
        if ready.is_empty() && not_ready.is_empty() {
            continue;
        }
        let mut s = json!({"ports": ports_json(&key)});
        if !ready.is_empty() {
            s["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            s["notReadyAddresses"] = json!(not_ready);
        }
        out.push(s);
    }
    out
}

/// The Service's EndpointSlices: `ports` and `endpoints` of each.
pub fn slices(ns: &str, pods: &[PodEndpoint], ports: &[SvcPort], publish_not_ready: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for (key, members) in groups(pods, ports) {
        for chunk in members.chunks(SLICE_SIZE) {
            let endpoints: Vec<Value> = chunk
                .iter()
                .map(|p| {
                    let ready = (p.ready || publish_not_ready) && !p.terminating;
                    let mut e = json!({"addresses": [p.ip], "nodeName": p.node, "targetRef": target_ref(ns, p),
                        "conditions": {"ready": ready, "serving": p.ready || publish_not_ready, "terminating": p.terminating}});
                    if let Some(h) = &p.hostname {
                        e["hostname"] = json!(h);
                    }
                    e
                })
                .collect();
            out.push(json!({"ports": ports_json(&key), "endpoints": endpoints}));
        }
    }
    out
}

/// The ready addresses of an EndpointSlice, each with the endpoint it belongs to (what the proxy,
/// the Ingress and the DNS server route to).
pub fn ready_addresses(slice: &Value) -> impl Iterator<Item = (&str, &Value)> {
    slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["conditions"]["ready"] != false)
        .flat_map(|e| {
            e["addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(move |a| (a, e))
        })
}

/// The port an EndpointSlice gives for the Service port named `name` (empty: unnamed) and
/// `protocol` (any case).
pub fn slice_port(slice: &Value, name: &str, protocol: &str) -> Option<i64> {
    slice["ports"]
        .as_array()?
        .iter()
        .find(|p| {
            p["name"].as_str().unwrap_or("") == name
                && p["protocol"].as_str().unwrap_or("TCP").eq_ignore_ascii_case(protocol)
        })
        .and_then(|p| p["port"].as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool, terminating: bool, http: i64) -> PodEndpoint {
        PodEndpoint {
            name: name.into(),
            uid: format!("uid-{name}"),
            ip: format!("10.0.0.{}", name.len()),
            node: "n".into(),
            ready,
            terminating,
            ports: vec![("http".into(), http, "TCP".into())],
            hostname: None,
        }
    }

    fn svc_port(target: Value) -> SvcPort {
        SvcPort {
            name: Some("web".into()),
            protocol: "TCP".into(),
            target,
        }
    }

    #[test]
    fn named_ports_group_pods_and_readiness_splits_addresses() {
        let pods = [
            pod("a", true, false, 8080),
            pod("bb", false, false, 8080),
            pod("ccc", true, false, 9090),
            pod("dddd", true, true, 8080),
        ];
        let s = subsets("ns", &pods, &[svc_port(json!("http"))], false);
        assert_eq!(s.len(), 2, "two port mappings: {s:?}");
        let p8080 = s.iter().find(|s| s["ports"][0]["port"] == 8080).unwrap();
        assert_eq!(p8080["addresses"].as_array().unwrap().len(), 1);
        assert_eq!(
            p8080["notReadyAddresses"].as_array().unwrap().len(),
            1,
            "terminating pods are left out"
        );
        let published = subsets("ns", &pods, &[svc_port(json!(80))], true);
        assert_eq!(published[0]["addresses"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn slices_mark_terminating_endpoints_and_split_at_a_hundred() {
        let pods = [pod("a", true, true, 80)];
        let s = slices("ns", &pods, &[svc_port(json!(80))], false);
        assert_eq!(
            s[0]["endpoints"][0]["conditions"],
            json!({"ready": false, "serving": true, "terminating": true})
        );
        let many: Vec<PodEndpoint> = (0..250)
            .map(|i| PodEndpoint {
                name: format!("p{i:03}"),
                ..pod("x", true, false, 80)
            })
            .collect();
        assert_eq!(slices("ns", &many, &[svc_port(json!(80))], false).len(), 3);
    }
}
