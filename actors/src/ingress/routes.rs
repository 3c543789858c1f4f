//! The Ingress routing table (pure): the rules of every Ingress of class `orca`, merged by host
//! (exact hosts before `*.` wildcards before rules without a host), paths matched by pathType
//! (Exact before Prefix, Prefix by whole path segments, the longest wins), then a defaultBackend;
//! each backend resolved to the ready endpoints of its Service port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::api_server::bootstrap::DEFAULT_INGRESS_CLASS;
use crate::controllers::endpoints_plan::{ready_addresses, slice_port};

/// Where matched requests go.
#[derive(Debug, Default)]
pub struct Backend {
    /// `namespace/service:port`, for messages.
    pub name: String,
    /// Ready endpoints.
    pub endpoints: Vec<SocketAddr>,
    /// Why there are none (no such Service, no such port, nothing ready).
    pub why_none: String,
    next: AtomicUsize,
}

impl Backend {
    /// The next endpoint, round robin.
    pub fn pick(&self) -> Option<SocketAddr> {
        if self.endpoints.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        Some(self.endpoints[i % self.endpoints.len()])
    }
}

#[derive(Debug)]
struct PathRule {
    path: String,
    exact: bool,
    backend: Arc<Backend>,
}

/// A TLS certificate to serve: the hosts it covers and its Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsEntry {
    /// Hosts (exact or `*.` wildcard); empty means any.
    pub hosts: Vec<String>,
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub secret: String,
}

/// The compiled table.
#[derive(Debug, Default)]
pub struct Table {
    exact: HashMap<String, Vec<PathRule>>,
    wildcard: HashMap<String, Vec<PathRule>>,
    any_host: Vec<PathRule>,
    default: Option<Arc<Backend>>,
    /// Certificates named by `spec.tls`.
    pub tls: Vec<TlsEntry>,
    /// Keys (namespace, name) of the Ingresses served.
    pub ingresses: Vec<(String, String)>,
}

/// Why a request found no backend.
#[derive(Debug, PartialEq, Eq)]
pub struct NoRoute;

/// Whether an Ingress is served by orca: class `orca`, or no class while `orca` is the default.
pub fn ours(ing: &Value, orca_is_default: bool) -> bool {
    let class = ing["spec"]["ingressClassName"]
        .as_str()
        .or(ing["metadata"]["annotations"]["kubernetes.io/ingress.class"].as_str());
    match class {
        Some(c) => c == DEFAULT_INGRESS_CLASS,
        None => orca_is_default,
    }
}

fn segment_prefix(rule: &str, path: &str) -> bool {
    let rule = rule.trim_end_matches('/');
    rule.is_empty() || path == rule || path.strip_prefix(rule).is_some_and(|rest| rest.starts_with('/'))
}

fn best<'a>(rules: &'a [PathRule], path: &str) -> Option<&'a Arc<Backend>> {
    if let Some(r) = rules.iter().find(|r| r.exact && r.path == path) {
        return Some(&r.backend);
    }
    rules
        .iter()
        .filter(|r| !r.exact && segment_prefix(&r.path, path))
        .max_by_key(|r| r.path.trim_end_matches('/').len())
        .map(|r| &r.backend)
}

impl Table {
    /// The backend for a request to `host` (any port stripped) and `path`.
    pub fn route(&self, host: &str, path: &str) -> Result<&Arc<Backend>, NoRoute> {
        let host = host.rsplit_once(':').map_or(
            host,
            |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host },
        );
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let wildcard = host.split_once('.').and_then(|(_, rest)| self.wildcard.get(rest));
        [self.exact.get(&host), wildcard, Some(&self.any_host)]
            .into_iter()
            .flatten()
            .find_map(|rules| best(rules, path))
            .or(self.default.as_ref())
            .ok_or(NoRoute)
    }
}

/// What the table is built from: Services by (namespace, name) and EndpointSlices by (namespace,
/// service name).
pub struct Sources<'a> {
    /// Services.
    pub services: &'a HashMap<(String, String), Value>,
    /// EndpointSlices of each Service.
    pub slices: &'a HashMap<(String, String), Vec<Value>>,
}

fn backend(src: &Sources, ns: &str, b: &Value) -> Backend {
    let svc_name = b["service"]["name"].as_str().unwrap_or("");
    let want_number = b["service"]["port"]["number"].as_i64();
    let want_name = b["service"]["port"]["name"].as_str();
    let label = match (want_number, want_name) {
        (Some(n), _) => format!("{ns}/{svc_name}:{n}"),
        (None, Some(n)) => format!("{ns}/{svc_name}:{n}"),
        _ => format!("{ns}/{svc_name}"),
    };
    let none = |why: String| Backend {
        name: label.clone(),
        why_none: why,
        ..Default::default()
    };
    let Some(svc) = src.services.get(&(ns.to_string(), svc_name.to_string())) else {
        return none(format!("service {ns}/{svc_name} does not exist"));
    };
    let port = svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| match (want_number, want_name) {
            (Some(n), _) => p["port"].as_i64() == Some(n),
            (None, Some(name)) => p["name"].as_str() == Some(name),
            _ => false,
        });
    let Some(port) = port else {
        return none(format!(
            "service {ns}/{svc_name} has no port {}",
            label.rsplit(':').next().unwrap_or("")
        ));
    };
    let port_name = port["name"].as_str().unwrap_or("");
    let mut endpoints = Vec::new();
    for s in src
        .slices
        .get(&(ns.to_string(), svc_name.to_string()))
        .into_iter()
        .flatten()
    {
        let Some(target) = slice_port(s, port_name, "TCP") else {
            continue;
        };
        for (a, _) in ready_addresses(s) {
            if let Ok(ip) = a.parse::<std::net::IpAddr>() {
                endpoints.push(SocketAddr::new(ip, target as u16));
            }
        }
    }
    endpoints.sort();
    endpoints.dedup();
    if endpoints.is_empty() {
        return none(format!("service {label} has no ready endpoint"));
    }
    Backend {
        name: label,
        endpoints,
        ..Default::default()
    }
}

/// Builds the table from the Ingresses served (oldest first, so the first one wins ties).
pub fn build(ingresses: &[Value], src: &Sources) -> Table {
    let mut t = Table::default();
    for ing in ingresses {
        let ns = ing["metadata"]["namespace"].as_str().unwrap_or("default");
        t.ingresses.push((
            ns.to_string(),
            ing["metadata"]["name"].as_str().unwrap_or("").to_string(),
        ));
        if t.default.is_none() && ing["spec"]["defaultBackend"].is_object() {
            t.default = Some(Arc::new(backend(src, ns, &ing["spec"]["defaultBackend"])));
        }
        for rule in ing["spec"]["rules"].as_array().into_iter().flatten() {
            let host = rule["host"].as_str().unwrap_or("").to_ascii_lowercase();
            let list = if host.is_empty() {
                &mut t.any_host
            } else if let Some(rest) = host.strip_prefix("*.") {
                t.wildcard.entry(rest.to_string()).or_default()
            } else {
                t.exact.entry(host.clone()).or_default()
            };
            for p in rule["http"]["paths"].as_array().into_iter().flatten() {
                list.push(PathRule {
                    path: p["path"].as_str().unwrap_or("/").to_string(),
                    exact: p["pathType"] == "Exact",
                    backend: Arc::new(backend(src, ns, &p["backend"])),
                });
            }
        }
        for tls in ing["spec"]["tls"].as_array().into_iter().flatten() {
            if let Some(secret) = tls["secretName"].as_str() {
                t.tls.push(TlsEntry {
                    hosts: tls["hosts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .collect(),
                    namespace: ns.to_string(),
                    secret: secret.to_string(),
                });
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Table {
        let services: HashMap<(String, String), Value> = [
            ("a", json!({"spec": {"ports": [{"name": "http", "port": 80}]}})),
            ("b", json!({"spec": {"ports": [{"port": 8080}]}})),
            ("empty", json!({"spec": {"ports": [{"port": 80}]}})),
        ]
        .into_iter()
        .map(|(n, v)| (("default".to_string(), n.to_string()), v))
        .collect();
        let slices: HashMap<(String, String), Vec<Value>> = [
            ("a", json!({"ports": [{"name": "http", "port": 9001, "protocol": "TCP"}], "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}}, {"addresses": ["10.0.0.2"], "conditions": {"ready": false}}]})),
            ("b", json!({"ports": [{"port": 9002, "protocol": "TCP"}], "endpoints": [{"addresses": ["10.0.0.3"]}]})),
        ]
        .into_iter()
        .map(|(n, v)| (("default".to_string(), n.to_string()), vec![v]))
        .collect();
        let be = |svc: &str, port: Value| json!({"service": {"name": svc, "port": port}});
        let ing = json!({"metadata": {"name": "i", "namespace": "default"}, "spec": {
            "defaultBackend": be("b", json!({"number": 8080})),
            "rules": [
                {"host": "shop.example", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": be("a", json!({"name": "http"}))},
                    {"path": "/api", "pathType": "Prefix", "backend": be("b", json!({"number": 8080}))},
                    {"path": "/api/v1", "pathType": "Exact", "backend": be("a", json!({"number": 80}))},
                    {"path": "/down", "pathType": "Prefix", "backend": be("empty", json!({"number": 80}))}]}},
                {"host": "*.wild.example", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": be("b", json!({"number": 8080}))}]}},
                {"http": {"paths": [{"path": "/only", "pathType": "Exact", "backend": be("a", json!({"number": 80}))}]}}],
            "tls": [{"hosts": ["shop.example"], "secretName": "shop-tls"}]}});
        build(
            &[ing],
            &Sources {
                services: &services,
                slices: &slices,
            },
        )
    }

    fn to(t: &Table, host: &str, path: &str) -> String {
        match t.route(host, path) {
            Ok(b) => {
                b.endpoints
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
                    + &b.why_none
            }
            Err(NoRoute) => "404".into(),
        }
    }

    #[test]
    fn hosts_paths_and_defaults_route_as_kubernetes_says() {
        let t = table();
        assert_eq!(to(&t, "shop.example", "/"), "10.0.0.1:9001");
        assert_eq!(to(&t, "SHOP.example:8443", "/cart"), "10.0.0.1:9001");
        assert_eq!(to(&t, "shop.example", "/api/x"), "10.0.0.3:9002", "longest prefix");
        assert_eq!(
            to(&t, "shop.example", "/apix"),
            "10.0.0.1:9001",
            "prefixes match whole segments"
        );
        assert_eq!(to(&t, "shop.example", "/api/v1"), "10.0.0.1:9001", "Exact beats Prefix");
        assert_eq!(to(&t, "shop.example", "/api/v1/"), "10.0.0.3:9002");
        assert_eq!(to(&t, "a.wild.example", "/x"), "10.0.0.3:9002");
        assert_eq!(
            to(&t, "a.b.wild.example", "/only"),
            "10.0.0.1:9001",
            "a wildcard covers one label"
        );
        assert_eq!(to(&t, "other.example", "/nothing"), "10.0.0.3:9002", "defaultBackend");
        assert_eq!(
            to(&t, "shop.example", "/down/x"),
            "service default/empty:80 has no ready endpoint"
        );
        assert_eq!(t.tls[0].secret, "shop-tls");
        let no_default = build(
            &[],
            &Sources {
                services: &HashMap::new(),
                slices: &HashMap::new(),
            },
        );
        assert_eq!(no_default.route("x", "/").err(), Some(NoRoute));
    }

    #[test]
    fn only_orca_class_is_served() {
        assert!(ours(&json!({"spec": {"ingressClassName": "orca"}}), false));
        assert!(!ours(&json!({"spec": {"ingressClassName": "nginx"}}), true));
        assert!(ours(&json!({"spec": {}}), true));
        assert!(!ours(&json!({"spec": {}}), false));
    }
}
