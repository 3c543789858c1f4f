//! Many pods on one node: 500 process pods reach Running, each under its own monitor, and are all
//! deleted cleanly: no monitor, container process or pod directory is left.

mod common;

use std::path::Path;

use common::{cluster, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const PODS: usize = 500;

/// Pids of the `orca-shim` processes whose container directories lie under `dir`.
fn monitors_under(dir: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if exe.file_name().is_none_or(|n| n != "orca-shim") {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
            out.push(pid);
        }
    }
    out
}

fn phases(h: &Http) -> (usize, usize) {
    let list = h.get("/api/v1/namespaces/default/pods").body;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let running = items
        .iter()
        .filter(|p| p.pointer("/status/phase") == Some(&json!("Running")))
        .count();
    (items.len(), running)
}

#[test]
fn five_hundred_process_pods_run_and_are_deleted_cleanly() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let agent_dir = dir.path().join("agent");
    let _agent = Agent::start(&nats.url(), "node-1", &agent_dir, &["--max-pods", "1000"]);
    wait_node_ready(&h, "node-1");
    let node = h.get("/api/v1/nodes/node-1").body;
    assert_eq!(node.pointer("/status/allocatable/pods"), Some(&json!("1000")), "{node}");

    // Each container writes its pid, so that its process can be looked for after the delete.
    let pids = dir.path().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    for i in 0..PODS {
        let script = format!("echo $$ > {}/{i}; exec sleep 600", pids.display());
        let pod = json!({"metadata": {"name": format!("d{i}")},
            "spec": {"terminationGracePeriodSeconds": 2,
                "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}});
        let r = h.post("/api/v1/namespaces/default/pods", &pod);
        assert_eq!(r.status, 201, "{}", r.text);
    }
    common::wait_for(300, "500 pods Running", || phases(&h) == (PODS, PODS));
    common::wait_for(30, "every container's pid", || {
        std::fs::read_dir(&pids).unwrap().count() == PODS
    });
    assert_eq!(monitors_under(&agent_dir).len(), PODS, "one monitor per container");
    let container_pids: Vec<u32> = (0..PODS)
        .map(|i| {
            std::fs::read_to_string(pids.join(i.to_string()))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();

    for i in 0..PODS {
        let r = h.delete(&format!("/api/v1/namespaces/default/pods/d{i}"));
        assert_eq!(r.status, 200, "{}", r.text);
    }
    common::wait_for(300, "every pod deleted", || phases(&h).0 == 0);
    common::wait_for(60, "no monitor left", || monitors_under(&agent_dir).is_empty());
    common::wait_for(30, "no container process left", || {
        container_pids
            .iter()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists())
    });
    common::wait_for(30, "no pod directory left", || {
        std::fs::read_dir(agent_dir.join("pods")).unwrap().count() == 0
    });
    let left: Vec<Value> = std::fs::read_dir(agent_dir.join("pods"))
        .unwrap()
        .flatten()
        .map(|e| json!(e.path()))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
