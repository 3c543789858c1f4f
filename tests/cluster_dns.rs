//! Cluster DNS: the control plane's DNS server answers Service, headless, StatefulSet pod and SRV
//! names over UDP and TCP and forwards other names to the host's resolver; runc pods resolve
//! through `kube-dns`'s ClusterIP with the namespace search path. Needs root, nft and runc for the
//! pod half (CI installs them).

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use orca_actors::dns::wire;
use serde_json::{json, Value};

fn dns_addr(h: &Http) -> SocketAddr {
    let mut addr = None;
    wait_for(30, "kube-system/kube-dns is published", || {
        let ep = h.get("/api/v1/namespaces/kube-system/endpoints/kube-dns");
        let ip = ep.body.pointer("/subsets/0/addresses/0/ip").and_then(Value::as_str);
        let port = ep.body.pointer("/subsets/0/ports/0/port").and_then(Value::as_u64);
        if let (Some(ip), Some(port)) = (ip, port) {
            addr = format!("{ip}:{port}").parse().ok();
        }
        addr.is_some()
    });
    addr.unwrap()
}

/// Sends one query over UDP (or TCP); the answer's code and its A/SRV data as text.
fn ask(server: SocketAddr, name: &str, qtype: u16, tcp: bool) -> (u8, Vec<String>) {
    let q = wire::query(0x4242, name, qtype);
    let msg = if tcp {
        let mut s = TcpStream::connect_timeout(&server, Duration::from_secs(3)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        s.write_all(&framed).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).unwrap();
        buf
    } else {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.send_to(&q, server).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.recv(&mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    assert_eq!(&msg[..2], &[0x42, 0x42], "same id");
    (msg[3] & 0xf, records(&msg, q.len()))
}

/// The A addresses and SRV "port target" of an answer (the question is `qlen - 12` bytes).
fn records(msg: &[u8], qlen: usize) -> Vec<String> {
    let count = u16::from_be_bytes([msg[6], msg[7]]) as usize;
    let mut pos = qlen;
    let mut out = Vec::new();
    let skip_name = |mut p: usize| loop {
        let l = msg[p] as usize;
        if l == 0 {
            return p + 1;
        }
        if l & 0xc0 == 0xc0 {
            return p + 2;
        }
        p += l + 1;
    };
    let read_name = |mut p: usize| {
        let mut labels = Vec::new();
        while msg[p] != 0 {
            let l = msg[p] as usize;
            labels.push(String::from_utf8_lossy(&msg[p + 1..p + 1 + l]).into_owned());
            p += l + 1;
        }
        labels.join(".")
    };
    for _ in 0..count {
        pos = skip_name(pos);
        let rtype = u16::from_be_bytes([msg[pos], msg[pos + 1]]);
        let len = u16::from_be_bytes([msg[pos + 8], msg[pos + 9]]) as usize;
        let data = pos + 10;
        match rtype {
            1 => out.push(Ipv4Addr::new(msg[data], msg[data + 1], msg[data + 2], msg[data + 3]).to_string()),
            33 => out.push(format!(
                "{} {}",
                u16::from_be_bytes([msg[data + 4], msg[data + 5]]),
                read_name(data + 6)
            )),
            _ => {}
        }
        pos = data + len;
    }
    out.sort();
    out
}

/// A name the host's resolver answers with an address (the forwarder must return the same).
fn outside_name() -> (SocketAddr, String, Vec<String>) {
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let upstream = orca_actors::dns::forward::nameservers(&conf);
    assert!(!upstream.is_empty(), "the host has no resolver in /etc/resolv.conf");
    for name in [
        "deb.debian.org",
        "index.crates.io",
        "static.crates.io",
        "github.com",
        "example.com",
    ] {
        let (code, ips) = ask(upstream[0], name, wire::TYPE_A, false);
        if code == 0 && !ips.is_empty() {
            return (upstream[0], name.to_string(), ips);
        }
    }
    panic!("the host's resolver {} resolves none of the names tried", upstream[0]);
}

fn statefulset_and_services(h: &Http) {
    let ss = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                    "ports": [{"name": "pg", "containerPort": 5432}]}]}}}});
    assert_eq!(h.post("/apis/apps/v1/namespaces/default/statefulsets", &ss).status, 201);
    let headless = json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "selector": {"app": "db"},
        "ports": [{"name": "pg", "port": 5432}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/services", &headless).status, 201);
    let web = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "none"},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/services", &web).status, 201);
}

fn pod_ips(h: &Http, names: &[&str]) -> Vec<String> {
    let mut ips: Vec<String> = names
        .iter()
        .map(|n| {
            let p = common::wait_pod(h, n, 90, "running with an IP", |p| {
                p["status"]["podIP"].is_string() && p["status"]["phase"] == "Running"
            });
            p["status"]["podIP"].as_str().unwrap().to_string()
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[test]
fn the_dns_server_answers_cluster_names_and_forwards_the_rest() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "dns-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "dns-node");
    statefulset_and_services(&h);
    let server = dns_addr(&h);
    let web_ip = h.get("/api/v1/namespaces/default/services/web").body["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    // A new Service reaches the server through its informer within moments.
    wait_for(10, "the new Service resolves", || {
        ask(server, "web.default.svc.cluster.local", wire::TYPE_A, false) == (0, vec![web_ip.clone()])
    });
    assert_eq!(
        ask(server, "web.default.svc.cluster.local", wire::TYPE_A, true),
        (0, vec![web_ip.clone()])
    );
    assert_eq!(
        ask(
            server,
            "_http._tcp.web.default.svc.cluster.local",
            wire::TYPE_SRV,
            false
        ),
        (0, vec!["80 web.default.svc.cluster.local".to_string()])
    );
    assert_eq!(ask(server, "nope.default.svc.cluster.local", wire::TYPE_A, false).0, 3);
    let dns_ip = h.get("/api/v1/namespaces/kube-system/services/kube-dns").body["spec"]["clusterIP"].clone();
    assert!(dns_ip.is_string(), "kube-dns has a ClusterIP");

    let ips = pod_ips(&h, &["db-0", "db-1"]);
    wait_for(30, "the headless Service lists both pods", || {
        ask(server, "db.default.svc.cluster.local", wire::TYPE_A, false) == (0, ips.clone())
    });
    let (_, db0) = ask(server, "db-0.db.default.svc.cluster.local", wire::TYPE_A, false);
    assert_eq!(db0.len(), 1);
    assert!(ips.contains(&db0[0]));
    // Process pods share the node's address, so the A answer above can be whole before both pods
    // are in the slice; the SRV answer names each pod.
    wait_for(30, "both StatefulSet pods are in the SRV answer", || {
        ask(server, "_pg._tcp.db.default.svc.cluster.local", wire::TYPE_SRV, true)
            .1
            .len()
            == 2
    });
    assert_eq!(
        ask(server, "_pg._tcp.db.default.svc.cluster.local", wire::TYPE_SRV, true),
        (
            0,
            vec![
                "5432 db-0.db.default.svc.cluster.local".to_string(),
                "5432 db-1.db.default.svc.cluster.local".to_string()
            ]
        )
    );
    let (_, name, want) = outside_name();
    assert_eq!(
        ask(server, &name, wire::TYPE_A, false),
        (0, want.clone()),
        "forwarded over UDP"
    );
    assert_eq!(ask(server, &name, wire::TYPE_A, true), (0, want), "forwarded over TCP");
}

#[test]
fn runc_pods_resolve_through_the_cluster_dns() {
    common::require_runc();
    let nft = std::process::Command::new("nft").args(["list", "tables"]).output();
    assert!(
        nft.is_ok_and(|o| o.status.success()),
        "this test needs root and nft (apt-get install -y nftables)"
    );
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let images = dir.path().join("images");
    let agent_dir = dir.path().join("agent");
    let _a = Agent::start(
        &nats.url(),
        "dns-runc",
        &agent_dir,
        &["--runtime", "runc", "--image-dir", images.to_str().unwrap()],
    );
    wait_node_ready(&h, "dns-runc");
    statefulset_and_services(&h);
    let client = json!({"metadata": {"name": "client"}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/pods", &client).status, 201);
    let ips = pod_ips(&h, &["db-0", "db-1", "client"]);
    let web_ip = h.get("/api/v1/namespaces/default/services/web").body["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    let dns_ip = h.get("/api/v1/namespaces/kube-system/services/kube-dns").body["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    let exec = |args: &[&str]| -> (i64, String) {
        let r = h.post("/api/v1/namespaces/default/pods/client/exec", &json!({"command": args}));
        let out = format!(
            "{}{}",
            r.body["stdout"].as_str().unwrap_or(""),
            r.body["stderr"].as_str().unwrap_or("")
        );
        (r.body["exitCode"].as_i64().unwrap_or(-1), out)
    };
    let (code, conf) = exec(&["cat", "/etc/resolv.conf"]);
    assert_eq!(code, 0, "{conf}");
    assert!(
        conf.contains(&format!("nameserver {dns_ip}\n"))
            && conf.contains("search default.svc.cluster.local svc.cluster.local cluster.local"),
        "{conf}"
    );
    // The short name through the search path (busybox asks every search domain at once and exits
    // 1 for those that do not exist, so the answer is read), the full name, the headless pod names.
    let mut last = String::new();
    let resolved = (0..60).any(|_| {
        last = exec(&["nslookup", "web"]).1;
        std::thread::sleep(Duration::from_millis(500));
        last.contains(&format!("Name:\tweb.default.svc.cluster.local\nAddress: {web_ip}\n"))
    });
    assert!(resolved, "the Service's short name resolves in the pod: {last}");
    let (code, out) = exec(&["nslookup", "web.default.svc.cluster.local"]);
    assert!(code == 0 && out.contains(&web_ip), "{out}");
    let (code, out) = exec(&["nslookup", "db-1.db.default.svc.cluster.local"]);
    assert!(
        code == 0 && (out.contains(&ips[0]) || out.contains(&ips[1]) || out.contains(&ips[2])),
        "{out}"
    );
    let (code, out) = exec(&["nslookup", "-type=srv", "_pg._tcp.db.default.svc.cluster.local"]);
    assert!(code == 0 && out.contains("db-0.db.default.svc.cluster.local"), "{out}");
    let (_, name, want) = outside_name();
    let (_, out) = exec(&["nslookup", &name]);
    assert!(
        out.contains(&format!("Name:\t{name}\nAddress: {}", want[0])),
        "outside names go to the host's resolver: {out}"
    );
    let (_, hosts) = exec(&["cat", "/etc/hosts"]);
    assert!(hosts.contains("\tclient\n"), "{hosts}");
    drop(_a);
    orca_actors::node::proxy::remove_table("dns-runc", &agent_dir);
}
