//! Scheduling across agents running as separate processes: requests, nodeSelector, taints and
//! tolerations, unschedulable reasons, and placement once a fitting node joins.

mod common;

use std::collections::HashMap;

use common::{cluster, create_pod, wait_for, wait_node_ready, wait_pod, Agent, Http};
use serde_json::{json, Value};

fn sleeper(name: &str, cpu: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "60"], "resources": {"requests": {"cpu": cpu}}}]}})
}

fn node_of(p: &Value) -> String {
    p.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

#[test]
fn pods_are_placed_by_requests_selectors_and_taints() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(
        &nats.url(),
        "node-a",
        &dir.path().join("a"),
        &["--cpu", "2", "--labels", "disk=ssd"],
    );
    let _b = Agent::start(&nats.url(), "node-b", &dir.path().join("b"), &["--cpu", "2"]);
    let _c = Agent::start(&nats.url(), "node-c", &dir.path().join("c"), &["--cpu", "8"]);
    for n in ["node-a", "node-b", "node-c"] {
        wait_node_ready(&h, n);
    }
    let taint = h.patch(
        "/api/v1/nodes/node-c",
        "application/merge-patch+json",
        &json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
    );
    assert_eq!(taint.status, 200, "{}", taint.text);

    // Six 500m pods go to a and b only (c is tainted), spread evenly.
    for i in 0..6 {
        create_pod(&h, &sleeper(&format!("web-{i}"), "500m"));
    }
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for i in 0..6 {
        let p = wait_pod(&h, &format!("web-{i}"), 30, "bound", |p| !node_of(p).is_empty());
        *per_node.entry(node_of(&p)).or_default() += 1;
    }
    assert_eq!(per_node.get("node-c"), None, "tainted node got pods: {per_node:?}");
    assert_eq!(
        (per_node.get("node-a"), per_node.get("node-b")),
        (Some(&3), Some(&3)),
        "{per_node:?}"
    );

    // nodeSelector.
    let mut ssd = sleeper("ssd", "100m");
    ssd["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    create_pod(&h, &ssd);
    assert_eq!(
        node_of(&wait_pod(&h, "ssd", 30, "bound", |p| !node_of(p).is_empty())),
        "node-a"
    );

    // A toleration opens the tainted node; 4 CPUs fit only there.
    let mut gpu = sleeper("gpu", "4");
    gpu["spec"]["tolerations"] =
        json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
    create_pod(&h, &gpu);
    assert_eq!(
        node_of(&wait_pod(&h, "gpu", 30, "bound", |p| !node_of(p).is_empty())),
        "node-c"
    );

    // Without it, a 3-CPU pod fits nowhere, and says why.
    create_pod(&h, &sleeper("big", "3"));
    let why = wait_pod(&h, "big", 30, "reported unschedulable", |p| {
        p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|c| c["type"] == "PodScheduled" && c["status"] == "False"))
    });
    let cond = why["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "PodScheduled")
        .unwrap()
        .clone();
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(
        cond["message"],
        "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}."
    );
    // The Event is written after the condition: wait for it.
    wait_for(10, "a FailedScheduling event is recorded", || {
        let events = h
            .get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dbig,reason%3DFailedScheduling");
        events.body["items"].as_array().is_some_and(|i| !i.is_empty())
    });

    // A fitting node joins: the pod is placed there and runs.
    let _d = Agent::start(&nats.url(), "node-d", &dir.path().join("d"), &["--cpu", "4"]);
    let placed = wait_pod(&h, "big", 30, "running on node-d", |p| {
        node_of(p) == "node-d" && p.pointer("/status/phase") == Some(&json!("Running"))
    });
    assert_eq!(node_of(&placed), "node-d");

    // Cordon: new pods avoid the node.
    assert_eq!(
        h.patch(
            "/api/v1/nodes/node-d",
            "application/merge-patch+json",
            &json!({"spec": {"unschedulable": true}})
        )
        .status,
        200
    );
    let mut pinned = sleeper("pinned", "100m");
    pinned["spec"]["nodeSelector"] = json!({"kubernetes.io/hostname": "node-d"});
    create_pod(&h, &pinned);
    let why = wait_pod(&h, "pinned", 30, "unschedulable", |p| {
        p.pointer("/status/conditions/0/reason") == Some(&json!("Unschedulable"))
    });
    assert!(why.to_string().contains("node(s) were unschedulable"), "{why}");
}
