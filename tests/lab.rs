//! `orca lab`: three hosts (network namespaces on a bridge), a nats-server on each clustered by
//! routes, the control plane on h1 and an agent on each host joined through its own host's
//! nats-server. A DaemonSet's pods answer on their hosts' addresses from the other hosts, and
//! through a Service's ClusterIP and NodePort on every host; a cut host's node turns Unknown and
//! its pod unreachable, a healed one comes back with nothing run twice; `lab down` leaves nothing
//! behind. Needs root, iproute2, nats-server, busybox, curl.

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
    common::require_root_tools(&["ip", "nats-server", "busybox", "curl"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let d = dir.to_str().unwrap();
    let out = lab(&["up", "--hosts", "3", "--dir", d, "--node-grace-seconds", "3"]);
    // Whatever happens below, the lab goes.
    struct Down(String);
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = lab(&["down", "--dir", &self.0]);
        }
    }
    let _down = Down(d.to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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

    // One pod per host, each serving its host's name on the host's address.
    let script = "mkdir -p w && hostname > w/index.html && exec busybox httpd -f -p 18080 -h w";
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}}}});
    let r = h.post("/apis/apps/v1/namespaces/default/daemonsets", &ds);
    assert_eq!(r.status, 201, "{}", r.text);
    let pods = || h.get("/api/v1/namespaces/default/pods?labelSelector=app=web").body["items"].clone();
    wait_for(60, "three web pods running", || {
        pods()
            .as_array()
            .is_some_and(|p| p.len() == 3 && p.iter().all(|p| p["status"]["phase"] == "Running"))
    });
    // From h1, each host's pod answers at its pod IP with its host's name.
    for (host, ip) in [("h1", "10.77.0.11"), ("h2", "10.77.0.12"), ("h3", "10.77.0.13")] {
        wait_for(30, &format!("the pod on {host} answers from h1"), || {
            fetch_from("h1", &format!("http://{ip}:18080/")).as_deref() == Some(host)
        });
    }
    // A Service in front of them: its ClusterIP from h2 reaches the pods of every host, and its
    // NodePort answers on every host (masqueraded when the endpoint is on a third host).
    let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 18080}]}});
    let r = h.post("/api/v1/namespaces/default/services", &svc);
    assert_eq!(r.status, 201, "{}", r.text);
    let cluster_ip = r.body["spec"]["clusterIP"].as_str().unwrap().to_string();
    let node_port = r.body["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    wait_for(30, "the ClusterIP from h2 reaches the pods of all three hosts", || {
        let seen: std::collections::BTreeSet<String> = (0..30)
            .filter_map(|_| fetch_from("h2", &format!("http://{cluster_ip}/")))
            .collect();
        seen.len() == 3
    });
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
    let uids = |p: &serde_json::Value| -> Vec<String> {
        p.as_array()
            .unwrap()
            .iter()
            .map(|p| p["metadata"]["uid"].as_str().unwrap().to_string())
            .collect()
    };
    let before = uids(&pods());

    // Cut h3: its node turns Unknown, its pod is out of reach; heal: back, nothing run twice.
    let out = lab(&["cut", "h3", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for(30, "h3 Unknown", || ready(&h, "h3") == "Unknown");
    assert_eq!(ready(&h, "h2"), "True");
    assert_eq!(fetch_from("h1", "http://10.77.0.13:18080/"), None, "h3 is cut off");
    let out = lab(&["heal", "h3", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for(30, "h3 Ready again", || ready(&h, "h3") == "True");
    wait_for(30, "h3's pod answers again", || {
        fetch_from("h2", "http://10.77.0.13:18080/").as_deref() == Some("h3")
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(uids(&pods()), before, "the same three pods, none replaced or doubled");

    let out = lab(&["down", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&netns.stdout).contains("orcalab-"),
        "no lab namespace left"
    );
    assert!(!Command::new("ip")
        .args(["link", "show", "orcalab0"])
        .output()
        .unwrap()
        .status
        .success());
    assert!(!dir.exists(), "the lab's directory is removed");
}
