//! A runc pod's `/etc/resolv.conf` and `/etc/hosts`, written once in its directory and bound
//! read-only into each container: the cluster DNS (the `kube-system/kube-dns` ClusterIP) with the
//! Kubernetes search path for `ClusterFirst`, the host's resolvers for `Default`, then `dnsConfig`.

use std::path::Path;

use serde_json::Value;

use crate::bus::client::ApiClient;
use crate::dns::publish::{NAMESPACE, SERVICE};
use crate::dns::records::DOMAIN;
use crate::node::runtime::Mount;

/// Most nameservers and search domains a resolver reads (glibc's limits).
pub const MAX_NAMESERVERS: usize = 3;
/// Most search domains kept.
pub const MAX_SEARCHES: usize = 32;

/// A resolver configuration: nameservers, search domains, options.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Resolv {
    /// `nameserver` lines.
    pub nameservers: Vec<String>,
    /// The `search` line.
    pub searches: Vec<String>,
    /// `options` (name, optional value).
    pub options: Vec<(String, Option<String>)>,
}

impl Resolv {
    /// Reads a resolv.conf text.
    pub fn parse(text: &str) -> Resolv {
        let mut r = Resolv::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => r.nameservers.extend(words.next().map(str::to_string)),
                Some("search") | Some("domain") => r.searches = words.map(str::to_string).collect(),
                Some("options") => r.set_options(words.map(|w| match w.split_once(':') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (w.to_string(), None),
                })),
                _ => {}
            }
        }
        r
    }

    fn set_options(&mut self, opts: impl Iterator<Item = (String, Option<String>)>) {
        for (name, value) in opts {
            self.options.retain(|(n, _)| *n != name);
            self.options.push((name, value));
        }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.searches.is_empty() {
            out.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        for n in &self.nameservers {
            out.push_str(&format!("nameserver {n}\n"));
        }
        if !self.options.is_empty() {
            let opts: Vec<String> = self
                .options
                .iter()
                .map(|(n, v)| v.as_ref().map_or(n.clone(), |v| format!("{n}:{v}")))
                .collect();
            out.push_str(&format!("options {}\n", opts.join(" ")));
        }
        out
    }
}

/// The pod's resolver configuration from its spec, the host's configuration and the cluster DNS
/// address (None when the cluster has none).
pub fn resolv_for(pod: &Value, host: &Resolv, cluster_dns: Option<&str>) -> Resolv {
    let spec = &pod["spec"];
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let host_network = spec["hostNetwork"] == true;
    let policy = spec["dnsPolicy"].as_str().unwrap_or("ClusterFirst");
    let cluster_first = policy == "ClusterFirstWithHostNet" || (policy == "ClusterFirst" && !host_network);
    let mut r = match (policy, cluster_dns) {
        ("None", _) => Resolv::default(),
        (_, Some(ip)) if cluster_first => {
            let mut searches = vec![
                format!("{ns}.svc.{DOMAIN}"),
                format!("svc.{DOMAIN}"),
                DOMAIN.to_string(),
            ];
            searches.extend(host.searches.iter().cloned());
            Resolv {
                nameservers: vec![ip.to_string()],
                searches,
                options: vec![("ndots".into(), Some("5".into()))],
            }
        }
        _ => host.clone(),
    };
    let cfg = &spec["dnsConfig"];
    for n in cfg["nameservers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !r.nameservers.iter().any(|x| x == n) {
            r.nameservers.push(n.to_string());
        }
    }
    for s in cfg["searches"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !r.searches.iter().any(|x| x == s) {
            r.searches.push(s.to_string());
        }
    }
    r.set_options(cfg["options"].as_array().into_iter().flatten().filter_map(|o| {
        let name = o["name"].as_str()?.to_string();
        Some((name, o["value"].as_str().map(str::to_string)))
    }));
    r.nameservers.truncate(MAX_NAMESERVERS);
    r.searches.truncate(MAX_SEARCHES);
    r
}

/// The pod's `/etc/hosts`: localhost, its own address and names, then `hostAliases`.
pub fn hosts_for(pod: &Value, pod_ip: &str) -> String {
    let spec = &pod["spec"];
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let hostname = spec["hostname"].as_str().filter(|h| !h.is_empty()).unwrap_or(name);
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match spec["subdomain"].as_str().filter(|s| !s.is_empty()) {
        Some(sub) => out.push_str(&format!("{pod_ip}\t{hostname}.{sub}.{ns}.svc.{DOMAIN}\t{hostname}\n")),
        None => out.push_str(&format!("{pod_ip}\t{hostname}\n")),
    }
    for alias in spec["hostAliases"].as_array().into_iter().flatten() {
        let names: Vec<&str> = alias["hostnames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let (Some(ip), false) = (alias["ip"].as_str(), names.is_empty()) {
            out.push_str(&format!("{ip}\t{}\n", names.join("\t")));
        }
    }
    out
}

/// Writes both files under `pod_dir/etc` and returns their mounts.
pub async fn prepare(api: &ApiClient, pod: &Value, pod_dir: &Path, pod_ip: &str) -> Result<Vec<Mount>, String> {
    let path = format!("/api/v1/namespaces/{NAMESPACE}/services/{SERVICE}");
    let got = api
        .call("GET", &path, "", None)
        .await
        .map_err(|e| format!("reading {path}: {e}"))?;
    let cluster_dns = match got.status {
        200 => serde_json::from_slice::<Value>(&got.body)
            .ok()
            .and_then(|s| s["spec"]["clusterIP"].as_str().map(str::to_string))
            .filter(|ip| ip != "None" && !ip.is_empty()),
        _ => None,
    };
    let host = Resolv::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    let resolv = resolv_for(pod, &host, cluster_dns.as_deref()).render();
    let hosts = if pod["spec"]["hostNetwork"] == true {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        hosts_for(pod, pod_ip)
    };
    let etc = pod_dir.join("etc");
    std::fs::create_dir_all(&etc).map_err(|e| format!("{}: {e}", etc.display()))?;
    let mut mounts = Vec::new();
    for (file, text) in [("resolv.conf", resolv), ("hosts", hosts)] {
        let p = etc.join(file);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        mounts.push(Mount {
            source: p,
            destination: format!("/etc/{file}"),
            read_only: true,
        });
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cluster_first_searches_the_namespace_then_the_host() {
        let host = Resolv::parse("search corp.example\nnameserver 10.255.255.53\noptions timeout:2\n");
        let pod = json!({"metadata": {"name": "p", "namespace": "shop"}, "spec": {"dnsConfig": {"searches": ["extra.example"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}});
        let r = resolv_for(&pod, &host, Some("10.96.0.10")).render();
        assert_eq!(
            r,
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example extra.example\nnameserver 10.96.0.10\noptions ndots:2 edns0\n"
        );
        let host_net = json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true}});
        assert_eq!(resolv_for(&host_net, &host, Some("10.96.0.10")), host);
        let none = json!({"metadata": {"name": "p"}, "spec": {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}}});
        assert_eq!(
            resolv_for(&none, &host, Some("10.96.0.10")).render(),
            "nameserver 1.1.1.1\n"
        );
    }

    #[test]
    fn hosts_name_the_pod_by_its_subdomain() {
        let pod = json!({"metadata": {"name": "db-0", "namespace": "d"}, "spec": {"hostname": "db-0", "subdomain": "db",
            "hostAliases": [{"ip": "10.1.1.1", "hostnames": ["a", "b"]}]}});
        let h = hosts_for(&pod, "10.244.0.9");
        assert!(h.contains("10.244.0.9\tdb-0.db.d.svc.cluster.local\tdb-0\n"), "{h}");
        assert!(h.ends_with("10.1.1.1\ta\tb\n"), "{h}");
    }
}
