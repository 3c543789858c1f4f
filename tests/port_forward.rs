//! `orcactl port-forward`: local ports reach a pod's port through the API server's tunnel, for
//! pod/NAME and for svc/NAME (Service port mapped to the named targetPort), byte for byte, several
//! connections at once; a pod that does not exist gets a clear error.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{cluster, free_port, wait_for, wait_node_ready, Agent, Http};
use serde_json::json;

struct Forward(Child, u16);

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `orcactl port-forward TARGET PORTS` and reads the local port it prints.
fn forward(server: &str, target: &str, ports: &str) -> Forward {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["--server", server, "port-forward", target, ports])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // The rest ("Handling connection for ...") is read and dropped.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    // "Forwarding from 127.0.0.1:LOCAL -> REMOTE"
    let local = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    Forward(child, local)
}

fn try_fetch(port: u16, path: &str) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let at = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |i| i + 4);
    Ok(out[at..].to_vec())
}

fn fetch(port: u16, path: &str) -> Vec<u8> {
    try_fetch(port, path).unwrap()
}

#[test]
fn port_forward_reaches_pods_and_services() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "pf-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "pf-node");
    let port = free_port().unwrap();
    let www = dir.path().join("www");
    let script = format!(
        "mkdir -p {w}; echo hello > {w}/index.html; head -c 1048576 /dev/urandom > {w}/big; exec busybox httpd -f -p {port} -h {w}",
        w = www.display()
    );
    let pod = json!({"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
            "ports": [{"name": "http", "containerPort": port}],
            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/pods", &pod).status, 201);
    let svc = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/services", &svc).status, 201);
    common::wait_pod(&h, "web", 60, "ready", |p| {
        p["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    });

    let to_pod = forward(&orca.url, "pod/web", &format!(":{port}"));
    assert_eq!(fetch(to_pod.1, "/"), b"hello\n");
    let big = std::fs::read(www.join("big")).unwrap();
    let parallel: Vec<_> = (0..4)
        .map(|_| {
            let p = to_pod.1;
            std::thread::spawn(move || fetch(p, "/big"))
        })
        .collect();
    for t in parallel {
        assert!(t.join().unwrap() == big, "1 MiB arrives intact on every connection");
    }
    let to_svc = forward(&orca.url, "svc/web", ":80");
    assert_eq!(fetch(to_svc.1, "/"), b"hello\n");

    let (code, _, err) = common::orcactl(&orca.url, &["port-forward", "pod/nope", "8080:80"], None);
    assert_ne!(code, 0);
    assert!(err.contains("not found"), "{err}");
    // A forward to a pod port where nothing listens reports it per connection and keeps going.
    let closed = free_port().unwrap();
    let dead = forward(&orca.url, "pod/web", &format!(":{closed}"));
    wait_for(5, "the connection is closed", || {
        try_fetch(dead.1, "/").map_or(true, |b| b.is_empty())
    });
    assert_eq!(fetch(to_pod.1, "/"), b"hello\n");
}
