//! Ingress: the node agent's HTTP proxy routes by host (exact and wildcard) and path (Exact,
//! Prefix by segment, longest first) to two Services, answers 404 or the defaultBackend when
//! nothing matches and 503 when a backend has nothing ready, reports its address in the status,
//! and serves TLS from a Secret by SNI (checked with curl against the certificate openssl made).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{cluster, free_port, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const INGS: &str = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";

/// Status code and body of `GET path` with `Host: host` on a fresh connection.
fn get(port: u16, host: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, out.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_string())
}

fn backend(h: &Http, name: &str, dir: &std::path::Path) {
    let port = free_port().unwrap();
    let www = dir.join(name);
    let script = format!(
        "mkdir -p {w}/b {w}/api; for p in index.html b/index.html api/index.html x bx; do echo {name} > {w}/$p; done; exec busybox httpd -f -p {port} -h {w}",
        w = www.display()
    );
    let pod = json!({"metadata": {"name": name, "labels": {"app": name}}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
            "ports": [{"name": "http", "containerPort": port}],
            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/pods", &pod).status, 201);
    let svc = json!({"metadata": {"name": name}, "spec": {"selector": {"app": name},
        "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/services", &svc).status, 201);
}

fn path(p: &str, kind: &str, svc: &str) -> Value {
    json!({"path": p, "pathType": kind, "backend": {"service": {"name": svc, "port": {"number": 80}}}})
}

fn self_signed(dir: &std::path::Path) -> (String, String) {
    let (crt, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=shop.example",
        ])
        .args(["-addext", "subjectAltName=DNS:shop.example"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("this test needs openssl (apt-get install -y openssl)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (
        std::fs::read_to_string(crt).unwrap(),
        std::fs::read_to_string(key).unwrap(),
    )
}

#[test]
fn ingress_routes_by_host_and_path_with_tls() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(
        &nats.url(),
        "ing-node",
        &dir.path().join("agent"),
        &["--ingress-listen", "127.0.0.1:0", "--ingress-tls-listen", "127.0.0.1:0"],
    );
    wait_node_ready(&h, "ing-node");
    backend(&h, "alpha", dir.path());
    backend(&h, "beta", dir.path());
    let empty = json!({"metadata": {"name": "empty"}, "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/services", &empty).status, 201);
    let (crt, key) = self_signed(dir.path());
    let secret = json!({"metadata": {"name": "shop-tls"}, "type": "kubernetes.io/tls", "stringData": {"tls.crt": crt, "tls.key": key}});
    assert_eq!(h.post("/api/v1/namespaces/default/secrets", &secret).status, 201);
    let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop"},
        "spec": {"tls": [{"hosts": ["shop.example"], "secretName": "shop-tls"}], "rules": [
            {"host": "shop.example", "http": {"paths": [path("/", "Prefix", "alpha"), path("/b", "Prefix", "beta"), path("/down", "Prefix", "empty")]}},
            {"host": "*.beta.example", "http": {"paths": [path("/x", "Exact", "beta")]}}]}});
    let r = h.post(INGS, &ing);
    assert_eq!(r.status, 201, "{}", r.text);

    // The status says where the node serves: HTTP first, then HTTPS.
    let mut ports = Vec::new();
    wait_for(30, "the Ingress status shows the node's address and ports", || {
        let st = h.get(&format!("{INGS}/shop")).body;
        ports = st
            .pointer("/status/loadBalancer/ingress/0/ports")
            .and_then(Value::as_array)
            .map(|ps| ps.iter().filter_map(|p| p["port"].as_u64()).map(|p| p as u16).collect())
            .unwrap_or_default();
        st.pointer("/status/loadBalancer/ingress/0/ip") == Some(&json!("127.0.0.1")) && ports.len() == 2
    });
    let (http, https) = (ports[0], ports[1]);
    wait_for(60, "both backends are routed", || {
        get(http, "shop.example", "/") == (200, "alpha".into())
            && get(http, "shop.example", "/b/") == (200, "beta".into())
    });
    assert_eq!(get(http, "shop.example", "/api/"), (200, "alpha".into()));
    assert_eq!(
        get(http, "shop.example", "/bx"),
        (200, "alpha".into()),
        "/b matches whole segments only"
    );
    assert_eq!(
        get(http, "a.beta.example", "/x"),
        (200, "beta".into()),
        "wildcard host, Exact path"
    );
    let (code, body) = get(http, "a.beta.example", "/x/y");
    assert_eq!(code, 404, "Exact does not match below itself: {body}");
    assert!(
        body.contains("no Ingress rule matches host \"a.beta.example\""),
        "{body}"
    );
    let (code, body) = get(http, "shop.example", "/down");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("default/empty:80 has no ready endpoint"), "{body}");

    // A defaultBackend catches unknown hosts.
    let fallback = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "fallback"},
        "spec": {"defaultBackend": {"service": {"name": "beta", "port": {"number": 80}}}}});
    assert_eq!(h.post(INGS, &fallback).status, 201);
    wait_for(10, "unknown hosts reach the defaultBackend", || {
        get(http, "unknown.example", "/") == (200, "beta".into())
    });

    // TLS by SNI, verified against the Secret's certificate.
    std::fs::write(dir.path().join("ca.pem"), &crt).unwrap();
    let mut last = String::new();
    let served = (0..40).any(|_| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5", "--cacert"])
            .arg(dir.path().join("ca.pem"))
            .args(["--resolve", &format!("shop.example:{https}:127.0.0.1")])
            .arg(format!("https://shop.example:{https}/b/"))
            .output()
            .expect("this test needs curl (apt-get install -y curl)");
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(250));
        out.status.success() && last.trim() == "beta"
    });
    assert!(served, "HTTPS with the Secret's certificate: {last}");
    let table = common::orcactl(&orca.url, &["get", "ing"], None);
    assert!(
        table.1.contains("shop") && table.1.contains("127.0.0.1") && table.1.contains("80, 443"),
        "{table:?}"
    );
}
