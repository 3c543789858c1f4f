//! The node's service proxy: a Service's ClusterIP and NodePort reach every ready pod behind it
//! (named target ports resolved per pod), follow pods that go away, and refuse at once when no
//! endpoint is ready. Needs root and nft (CI installs nftables).

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{cluster, free_port, wait_for, wait_node_ready, Agent, Http};
use serde_json::json;

const PODS: &str = "/api/v1/namespaces/default/pods";
const SVCS: &str = "/api/v1/namespaces/default/services";

fn require_nft() {
    let ok = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the service proxy tests need root and nft (apt-get install -y nftables)"
    );
}

/// One request on a fresh connection; the body, or the error. The timeouts are long enough
/// that a test run sharing two cores with others is not taken for a lost request, and short
/// enough that a connection to a vanished pod (no reset, only silence) fails.
fn get(addr: &str) -> Result<String, String> {
    let sock = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(8)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: svc\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("{e} (after {} bytes of the answer)", out.len()))?;
    match out.split_once("\r\n\r\n") {
        Some((head, body)) if body.trim().is_empty() => Err(format!("empty answer: {head:?}")),
        Some((_, body)) => Ok(body.trim().to_string()),
        None => Err(format!("no complete answer: {out:?}")),
    }
}

fn server(name: &str, port: u16, dir: &std::path::Path) -> serde_json::Value {
    let www = dir.join(name);
    let script = format!(
        "mkdir -p {w}; echo {name} > {w}/index.html; exec busybox httpd -f -p {port} -h {w}",
        w = www.display()
    );
    json!({"metadata": {"name": name, "labels": {"app": "web"}}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
            "ports": [{"name": "http", "containerPort": port}],
            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}]}})
}

#[test]
fn cluster_ips_and_node_ports_reach_every_ready_pod() {
    require_nft();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "proxy-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "proxy-node");
    // From the moment the node is announced, the service range is refused here, never routed out
    // to the default gateway (whose conntrack entry would outlive a later Service's rule).
    let e = get("10.96.255.253:80").expect_err("no Service has 10.96.255.253");
    assert!(e.contains("refused"), "right after the node is ready: {e}");
    let names = ["web-a", "web-b", "web-c"];
    for n in names {
        let port = free_port().unwrap();
        assert_eq!(h.post(PODS, &server(n, port, dir.path())).status, 201);
    }
    let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}});
    let r = h.post(SVCS, &svc);
    assert_eq!(r.status, 201, "{}", r.text);
    let ip = r.body["spec"]["clusterIP"].as_str().unwrap().to_string();
    let node_port = r.body["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&node_port));

    let cluster_addr = format!("{ip}:80");
    wait_for(60, "the ClusterIP reaches all three pods", || {
        let seen: BTreeSet<String> = (0..30).filter_map(|_| get(&cluster_addr).ok()).collect();
        seen == names.iter().map(|s| s.to_string()).collect()
    });
    let node_addr = format!("127.0.0.1:{node_port}");
    let seen: BTreeSet<String> = (0..30).map(|_| get(&node_addr).unwrap()).collect();
    assert_eq!(seen.len(), 3, "the NodePort balances too: {seen:?}");

    // A pod that goes stops receiving traffic; no request fails once the change is in.
    assert_eq!(h.delete(&format!("{PODS}/web-c")).status, 200);
    wait_for(30, "web-c out of rotation", || {
        (0..20).all(|_| get(&cluster_addr).is_ok_and(|b| b != "web-c"))
    });
    for _ in 0..30 {
        let b = get(&cluster_addr).expect("no failed request after the change");
        assert!(b == "web-a" || b == "web-b", "{b}");
    }

    // With no endpoint the port is refused at once instead of timing out.
    let empty =
        json!({"metadata": {"name": "empty"}, "spec": {"selector": {"app": "nothing"}, "ports": [{"port": 81}]}});
    let r = h.post(SVCS, &empty);
    let empty_ip = r.body["spec"]["clusterIP"].as_str().unwrap().to_string();
    wait_for(30, "the empty service refuses", || {
        let started = std::time::Instant::now();
        get(&format!("{empty_ip}:81")).is_err_and(|e| e.contains("refused"))
            && started.elapsed() < Duration::from_secs(1)
    });
    // An address of the service range that no Service has is refused here too, never routed out
    // to the default gateway.
    let unused = "10.96.255.254:80";
    let e = get(unused).expect_err("no Service has 10.96.255.254");
    assert!(e.contains("refused"), "{unused}: {e}");

    // sessionAffinity ClientIP: this client stays with one pod, also across rewrites of the table
    // (the new Service below changes it).
    let sticky = json!({"metadata": {"name": "sticky"}, "spec": {"selector": {"app": "web"}, "sessionAffinity": "ClientIP",
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}});
    let r = h.post(SVCS, &sticky);
    let sticky_addr = format!("{}:80", r.body["spec"]["clusterIP"].as_str().unwrap());
    let mut first = String::new();
    wait_for(30, "the sticky service answers", || {
        get(&sticky_addr).is_ok_and(|b| {
            first = b;
            first.starts_with("web-")
        })
    });
    let seen: BTreeSet<String> = (0..20).filter_map(|_| get(&sticky_addr).ok()).collect();
    assert_eq!(seen, BTreeSet::from([first.clone()]), "one client, one pod");
    let other = json!({"metadata": {"name": "other"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 82, "targetPort": "http"}]}});
    let other_ip = h.post(SVCS, &other).body["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(30, "the table was rewritten", || get(&format!("{other_ip}:82")).is_ok());
    let seen: BTreeSet<String> = (0..20).filter_map(|_| get(&sticky_addr).ok()).collect();
    assert_eq!(seen, BTreeSet::from([first]), "the affinity outlives a rewrite");

    // The node's rules outlive a killed agent: remove them so that other clusters on this machine
    // never meet them.
    drop(_a);
    let table = orca_actors::node::proxy::table_name("proxy-node", &dir.path().join("agent"));
    let _ = std::process::Command::new("nft")
        .args(["delete", "table", "ip", &table])
        .stderr(std::process::Stdio::null())
        .status();
}

#[test]
fn a_service_reaches_runc_pods_on_their_own_addresses() {
    require_nft();
    common::require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let images = dir.path().join("images");
    let _a = Agent::start(
        &nats.url(),
        "proxy-runc",
        &dir.path().join("agent"),
        &["--runtime", "runc", "--image-dir", images.to_str().unwrap()],
    );
    wait_node_ready(&h, "proxy-runc");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rweb"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "rweb"}},
            "template": {"metadata": {"labels": {"app": "rweb"}}, "spec": {"terminationGracePeriodSeconds": 5,
                "containers": [{"name": "c", "image": "busybox", "ports": [{"name": "http", "containerPort": 8080}],
                    "command": ["sh", "-c", "mkdir -p /tmp/w; hostname > /tmp/w/index.html; touch /tmp/w/ready; exec httpd -f -p 8080 -h /tmp/w"],
                    // A pod being removed keeps serving while the proxies drop it.
                    "lifecycle": {"preStop": {"sleep": {"seconds": 3}}},
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1}}]}}}});
    assert_eq!(h.post("/apis/apps/v1/namespaces/default/deployments", &d).status, 201);
    let svc = json!({"metadata": {"name": "rweb"}, "spec": {"type": "NodePort", "selector": {"app": "rweb"},
        "ports": [{"port": 80, "targetPort": 8080}]}});
    let r = h.post(SVCS, &svc);
    assert_eq!(r.status, 201, "{}", r.text);
    let ip = r.body["spec"]["clusterIP"].as_str().unwrap().to_string();
    let node_port = r.body["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    wait_for(90, "the ClusterIP reaches the three runc pods", || {
        let seen: BTreeSet<String> = (0..30).filter_map(|_| get(&format!("{ip}:80")).ok()).collect();
        seen.len() == 3 && seen.iter().all(|s| s.starts_with("rweb-"))
    });
    let seen: BTreeSet<String> = (0..30)
        .filter_map(|_| get(&format!("127.0.0.1:{node_port}")).ok())
        .collect();
    assert_eq!(seen.len(), 3, "the NodePort reaches them too: {seen:?}");

    // Under steady load, scaling up, killing a pod and scaling down fail no request.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = std::time::Instant::now();
    let load = {
        let (stop, addr) = (stop.clone(), format!("{ip}:80"));
        std::thread::spawn(move || {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match get(&addr) {
                    Ok(b) if b.starts_with("rweb-") => ok += 1,
                    other => failed.push(format!("{other:?} at {} ms", start.elapsed().as_millis())),
                }
            }
            (ok, failed)
        })
    };
    let deploy = "/apis/apps/v1/namespaces/default/deployments/rweb";
    let scale = |n: i64| {
        let r = h.patch(
            deploy,
            "application/merge-patch+json",
            &json!({"spec": {"replicas": n}}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    };
    let serving = |n: usize| {
        wait_for(90, &format!("{n} pods serve"), || {
            let seen: BTreeSet<String> = (0..40).filter_map(|_| get(&format!("{ip}:80")).ok()).collect();
            seen.len() == n
        })
    };
    let mut phases = vec![];
    scale(5);
    serving(5);
    phases.push(format!("5 serve at {} ms", start.elapsed().as_millis()));
    let pods = h.get("/api/v1/namespaces/default/pods?labelSelector=app=rweb").body;
    let victim = pods["items"][0]["metadata"]["name"].as_str().unwrap().to_string();
    phases.push(format!("{victim} deleted at {} ms", start.elapsed().as_millis()));
    assert_eq!(h.delete(&format!("{PODS}/{victim}")).status, 200);
    wait_for(30, "the killed pod is replaced", || {
        let seen: BTreeSet<String> = (0..40).filter_map(|_| get(&format!("{ip}:80")).ok()).collect();
        seen.len() == 5 && !seen.contains(&victim)
    });
    phases.push(format!("replaced at {} ms", start.elapsed().as_millis()));
    scale(2);
    serving(2);
    phases.push(format!("2 serve at {} ms", start.elapsed().as_millis()));
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.join().unwrap();
    assert!(ok > 100, "only {ok} requests went through");
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?} ({phases:?})",
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(5)]
    );

    // A pod that turns not-ready stops receiving traffic.
    let pods = h.get("/api/v1/namespaces/default/pods?labelSelector=app=rweb").body;
    let live: Vec<String> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let sick = live[0].clone();
    let r = h.post(
        &format!("{PODS}/{sick}/exec"),
        &json!({"command": ["rm", "/tmp/w/ready"]}),
    );
    assert_eq!(r.body["exitCode"], 0, "{}", r.text);
    wait_for(30, "the not-ready pod leaves the rotation", || {
        (0..30).all(|_| get(&format!("{ip}:80")).is_ok_and(|b| b != sick))
    });
    drop(_a);
    let table = orca_actors::node::proxy::table_name("proxy-runc", &dir.path().join("agent"));
    let _ = std::process::Command::new("nft")
        .args(["delete", "table", "ip", &table])
        .stderr(std::process::Stdio::null())
        .status();
}
