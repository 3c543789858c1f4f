//! Node liveness travels on NATS only: heartbeats write nothing to the log; a silent node becomes
//! Ready=Unknown and comes back to True when its agent returns.

mod common;

use std::time::Duration;

use common::{cluster, wait_for, wait_node_ready, Agent, Hollow, Http};
use serde_json::Value;

fn ready(h: &Http, node: &str) -> String {
    let n = h.get(&format!("/api/v1/nodes/{node}")).body;
    n.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

fn head(h: &Http) -> u64 {
    h.get("/api/v1/nodes").body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn heartbeats_stay_off_the_log_and_silence_turns_a_node_unknown() {
    let (nats, orca, dir) = cluster(&["--node-grace-seconds", "3"]);
    let h = Http::new(&orca.url);
    let mut agent = Agent::start(&nats.url(), "node-1", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "node-1");
    std::thread::sleep(Duration::from_secs(4));
    let before = head(&h);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(head(&h), before, "heartbeats must not be written to the log");
    assert_eq!(ready(&h, "node-1"), "True");

    agent.kill9();
    wait_for(20, "node-1 Ready=Unknown", || ready(&h, "node-1") == "Unknown");
    agent.restart();
    wait_for(20, "node-1 Ready=True again", || ready(&h, "node-1") == "True");
}

#[test]
fn hollow_nodes_heartbeat_like_real_ones() {
    let (nats, orca, _dir) = cluster(&["--node-grace-seconds", "3"]);
    let h = Http::new(&orca.url);
    let mut hollow = Hollow::start(&nats.url(), "hollow", 50);
    wait_for(30, "50 hollow nodes", || {
        h.get("/api/v1/nodes").body["items"].as_array().map_or(0, Vec::len) == 50
    });
    std::thread::sleep(Duration::from_secs(5));
    for i in [0, 17, 49] {
        assert_eq!(
            ready(&h, &format!("hollow-{i}")),
            "True",
            "hollow-{i} keeps heartbeating"
        );
    }
    hollow.kill();
    wait_for(20, "hollow nodes Unknown", || ready(&h, "hollow-17") == "Unknown");
}

#[test]
fn among_3000_hollow_nodes_a_silent_one_turns_unknown_within_the_grace_period() {
    let (nats, orca, dir) = cluster(&["--node-grace-seconds", "3"]);
    let h = Http::new(&orca.url);
    let mut hollow = Hollow::start(&nats.url(), "h", 3000);
    let mut agent = Agent::start(&nats.url(), "real-1", &dir.path().join("agent"), &[]);
    wait_for(120, "3001 nodes", || {
        h.get("/api/v1/nodes?limit=1").body["metadata"]["remainingItemCount"].as_u64() == Some(3000)
    });
    wait_node_ready(&h, "real-1");
    // Let every node be heard from past the start-up grace.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(ready(&h, "h-2999"), "True");
    let silenced = std::time::Instant::now();
    agent.kill9();
    wait_for(30, "real-1 Ready=Unknown", || ready(&h, "real-1") == "Unknown");
    let took = silenced.elapsed();
    // The grace is 3 s after the last heartbeat (sent at most 2 s before the kill); allow 2 s more.
    assert!(
        took <= Duration::from_secs(5),
        "Unknown after {took:?}, beyond the grace period plus 2 s"
    );
    for n in ["h-0", "h-1500", "h-2999"] {
        assert_eq!(ready(&h, n), "True", "{n} keeps heartbeating");
    }
    hollow.kill();
}

#[test]
fn readiness_lists_each_check() {
    let (_nats, orca, _dir) = cluster(&[]);
    let r = reqwest::blocking::get(format!("{}/readyz?verbose", orca.url)).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().unwrap();
    for check in [
        "[+]log ok",
        "[+]nats ok",
        "[+]api-server-actor ok",
        "[+]node-lifecycle-controller ok",
        "readyz check passed",
    ] {
        assert!(body.contains(check), "{check} in {body}");
    }
    let live = reqwest::blocking::get(format!("{}/livez", orca.url)).unwrap();
    assert_eq!(live.status().as_u16(), 200);
}

#[test]
fn orca_up_stops_its_containers_on_shutdown() {
    let home = tempfile::tempdir().unwrap();
    let port = common::free_port().unwrap();
    let mut up = std::process::Command::new(env!("CARGO_BIN_EXE_orca"))
        .args([
            "up",
            "--insecure-http",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(home.path().join("data"))
        .env("ORCA_HOME", home.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let h = Http::new(&format!("http://127.0.0.1:{port}"));
    wait_for(30, "orca up ready", || {
        reqwest::blocking::get(format!("{}/readyz", h.base)).is_ok()
    });
    let pidfile = home.path().join("pid");
    let pod = serde_json::json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", format!("echo $$ > {}; exec sleep 300", pidfile.display())]}]}});
    assert_eq!(h.post("/api/v1/namespaces/default/pods", &pod).status, 201);
    wait_for(30, "container running", || {
        pidfile.exists() && !std::fs::read_to_string(&pidfile).unwrap_or_default().trim().is_empty()
    });
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let _ = std::process::Command::new("kill").arg(up.id().to_string()).status();
    let _ = up.wait();
    wait_for(10, "container stopped with orca up", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
}

#[test]
fn every_node_gets_a_pod_range_of_its_own_for_its_life() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let cidr = |n: &str| {
        h.get(&format!("/api/v1/nodes/{n}")).body["spec"]["podCIDR"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    for n in ["a", "b", "c"] {
        let node = serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}});
        assert_eq!(h.post("/api/v1/nodes", &node).status, 201);
        wait_for(10, &format!("{n} has a podCIDR"), || !cidr(n).is_empty());
    }
    assert_eq!(
        [cidr("a"), cidr("b"), cidr("c")],
        ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    );
    assert_eq!(
        h.get("/api/v1/nodes/b").body["spec"]["podCIDRs"],
        serde_json::json!(["10.244.1.0/24"])
    );
    // Kept for the node's life: an update may not change it.
    let r = h.patch(
        "/api/v1/nodes/b",
        "application/merge-patch+json",
        &serde_json::json!({"spec": {"podCIDR": "10.244.9.0/24"}}),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("spec.podCIDR"), "{}", r.text);
    // Freed with the node: the next node gets it.
    assert_eq!(h.delete("/api/v1/nodes/b").status, 200);
    wait_for(10, "b gone", || h.get("/api/v1/nodes/b").status == 404);
    let d = serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "d"}});
    assert_eq!(h.post("/api/v1/nodes", &d).status, 201);
    wait_for(10, "d has a podCIDR", || !cidr("d").is_empty());
    assert_eq!(cidr("d"), "10.244.1.0/24");
    // An agent that registers, goes and comes back keeps its range.
    let mut agent = Agent::start(&nats.url(), "e", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "e");
    wait_for(10, "e has a podCIDR", || !cidr("e").is_empty());
    let before = cidr("e");
    agent.kill9();
    agent.restart();
    wait_node_ready(&h, "e");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cidr("e"), before);
}
