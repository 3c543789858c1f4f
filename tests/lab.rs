//! `orca lab`: three hosts (network namespaces on a bridge), a nats-server on each clustered by
//! routes, the control plane on h1 and a runc agent on each host joined through its own host's
//! nats-server. Each node gets its own podCIDR; a Deployment's runc pods, spread over the hosts,
//! reach each other by pod IP and through a Service's ClusterIP, whose NodePort answers on every
//! host; a cut host's node turns Unknown and its pod is replaced elsewhere, and once healed the old
//! pod ends with nothing run twice; `lab down` leaves nothing behind. Needs root, iproute2,
//! util-linux, nats-server, runc, busybox, curl.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{wait_for, Cred, Http};
use serde_json::json;

fn lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orca"))
        .arg("lab")
        .args(args)
        .output()
        .unwrap()
}

/// `curl URL` run on `host` (inside its namespace); the body, or None.
fn fetch_from(host: &str, url: &str) -> Option<String> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("orcalab-{host}"),
            "curl",
            "-sf",
            "-m",
            "3",
            url,
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// An HTTP GET of `ip:port` sent by pod `pod` (busybox `nc`, through `orcactl exec`); the body.
fn http_from_pod(kubeconfig: &std::path::Path, pod: &str, ip: &str, port: u16) -> Option<String> {
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port}");
    let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .env("KUBECONFIG", kubeconfig)
        .args(["exec", pod, "--", "sh", "-c", &get])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.trim().to_string())
}

fn ready(h: &Http, node: &str) -> String {
    let n = h.get(&format!("/api/v1/nodes/{node}")).body;
    n["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

#[test]
fn three_hosts_one_cluster_partition_and_heal() {
    common::require_root_tools(&["ip", "nsenter", "nats-server", "runc", "busybox", "curl"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let d = dir.to_str().unwrap();
    let out = lab(&[
        "up",
        "--hosts",
        "3",
        "--dir",
        d,
        "--node-grace-seconds",
        "3",
        "--default-toleration-seconds",
        "2",
    ]);
    // Whatever happens below, the lab goes.
    struct Down(String);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = lab(&["down", "--dir", &self.0]);
        }
    }
    let _down = Down(d.to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let kubeconfig = dir.join("kubeconfig");
    let pki = dir.join("h1/server/pki");
    let read = |f: &str| std::fs::read_to_string(pki.join(f)).unwrap();
    let h = Http::tls(
        "https://10.77.0.11:6443",
        &read("ca.crt"),
        Cred::Cert(read("admin.crt"), read("admin.key")),
    );
    for (i, node) in ["h1", "h2", "h3"].iter().enumerate() {
        wait_for(60, &format!("{node} Ready"), || ready(&h, node) == "True");
        let n = h.get(&format!("/api/v1/nodes/{node}")).body;
        assert_eq!(
            n["status"]["addresses"][0]["address"],
            format!("10.77.0.{}", 11 + i),
            "{node} reports its host's address"
        );
    }

    wait_for(30, "every node has a podCIDR", || {
        h.get("/api/v1/nodes").body["items"]
            .as_array()
            .is_some_and(|n| n.iter().all(|n| n["spec"]["podCIDR"].is_string()))
    });
    let n = h.get("/api/v1/nodes").body;
    let cidrs: std::collections::BTreeSet<String> = n["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["spec"]["podCIDR"]
                .as_str()
                .expect("every node has a podCIDR")
                .to_string()
        })
        .collect();
    assert_eq!(cidrs.len(), 3, "one /24 per node: {cidrs:?}");

    // A Deployment of runc pods spread over the three hosts, each serving its node's name.
    let script = "mkdir -p /tmp/w && echo $NODE > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w";
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]}}}});
    let r = h.post("/apis/apps/v1/namespaces/default/deployments", &dep);
    assert_eq!(r.status, 201, "{}", r.text);
    let pods = || h.get("/api/v1/namespaces/default/pods?labelSelector=app=web").body["items"].clone();
    let running = || -> Vec<(String, String, String)> {
        pods()
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| {
                let s = |ptr: &str| p.pointer(ptr).and_then(|v| v.as_str()).unwrap_or("").to_string();
                (s("/metadata/name"), s("/spec/nodeName"), s("/status/podIP"))
            })
            .collect()
    };
    wait_for(90, "three web pods running", || running().len() == 3);
    let web = running();
    let hosts: std::collections::BTreeSet<&str> = web.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(hosts.len(), 3, "spread over the three hosts: {web:?}");
    for (_, node, ip) in &web {
        let cidr = h.get(&format!("/api/v1/nodes/{node}")).body["spec"]["podCIDR"].clone();
        let prefix = cidr.as_str().unwrap().trim_end_matches("0/24");
        assert!(ip.starts_with(prefix), "pod IP {ip} from {node}'s range {cidr}");
    }
    // Every pod reaches every other pod by its pod IP, across hosts.
    for (from, _, _) in &web {
        for (_, node, ip) in &web {
            wait_for(30, &format!("{from} reaches {ip} on {node}"), || {
                http_from_pod(&kubeconfig, from, ip, 8080).as_deref() == Some(node.as_str())
            });
        }
    }
    // A Service in front of them: its ClusterIP from a pod reaches the pods of every host, and
    // its NodePort answers on every host (masqueraded when the endpoint is on a third host).
    let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 8080}]}});
    let r = h.post("/api/v1/namespaces/default/services", &svc);
    assert_eq!(r.status, 201, "{}", r.text);
    let cluster_ip = r.body["spec"]["clusterIP"].as_str().unwrap().to_string();
    let node_port = r.body["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    let client = &web[0].0;
    wait_for(
        60,
        "the ClusterIP from a pod reaches the pods of all three hosts",
        || {
            let seen: std::collections::BTreeSet<String> = (0..30)
                .filter_map(|_| http_from_pod(&kubeconfig, client, &cluster_ip, 80))
                .collect();
            seen.len() == 3
        },
    );
    for ip in ["10.77.0.11", "10.77.0.12", "10.77.0.13"] {
        wait_for(30, &format!("the NodePort on {ip}"), || {
            fetch_from("h1", &format!("http://{ip}:{node_port}/")).is_some()
        });
        let seen: std::collections::BTreeSet<String> = (0..20)
            .map(|_| fetch_from("h1", &format!("http://{ip}:{node_port}/")).expect("every NodePort request answered"))
            .collect();
        assert_eq!(
            seen.len(),
            3,
            "{ip}:{node_port} balances over the three hosts: {seen:?}"
        );
    }

    // Cut h3: its node turns Unknown and, past the toleration, its pod is replaced on the others;
    // heal: the old pod ends on h3, and three run, none twice.
    let (lost, _, lost_ip) = web.iter().find(|(_, n, _)| n == "h3").unwrap().clone();
    let out = lab(&["cut", "h3", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for(30, "h3 Unknown", || ready(&h, "h3") == "Unknown");
    assert_eq!(ready(&h, "h2"), "True");
    wait_for(60, "h3's pod replaced on h1 or h2", || {
        let now = running();
        now.len() == 3 && now.iter().all(|(_, n, _)| n != "h3")
    });
    assert_eq!(
        fetch_from("h1", &format!("http://{lost_ip}:8080/")),
        None,
        "h3 is cut off"
    );
    let out = lab(&["heal", "h3", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for(30, "h3 Ready again", || ready(&h, "h3") == "True");
    wait_for(30, "the old pod gone from the API", || {
        pods()
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["metadata"]["name"] != lost.as_str())
    });
    wait_for(30, "its container gone from h3", || {
        let list = Command::new("runc")
            .arg("--root")
            .arg(dir.join("h3/agent/runc"))
            .args(["list", "-q"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&list.stdout).trim().is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(running().len(), 3, "three pods: {:?}", pods());
    assert_eq!(pods().as_array().unwrap().len(), 3, "and no other");
    let netns_names: Vec<String> = pods()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| orca_actors::node::network::netns_name(p["metadata"]["uid"].as_str().unwrap()))
        .collect();

    let out = lab(&["down", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&netns.stdout).contains("orcalab-"),
        "no lab namespace left"
    );
    for name in &netns_names {
        assert!(
            !std::path::Path::new("/var/run/netns").join(name).exists(),
            "pod namespace {name} removed"
        );
    }
    assert!(!Command::new("ip")
        .args(["link", "show", "orcalab0"])
        .output()
        .unwrap()
        .status
        .success());
    assert!(!dir.exists(), "the lab's directory is removed");
}
