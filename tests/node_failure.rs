//! Node failure and drain: a node whose agent dies turns Unknown, gets the unreachable NoExecute
//! taint, its pods are marked Unknown and evicted after their toleration, and their ReplicaSet
//! replaces them on another node; when the agent returns nothing runs twice. `orcactl drain`
//! evicts through the eviction API and waits while a PodDisruptionBudget forbids more.

mod common;

use common::{cluster, orcactl, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}})
}

fn pods(h: &Http, app: &str) -> Vec<Value> {
    h.get(&format!("{PODS}?labelSelector=app%3D{app}")).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn running_on(h: &Http, app: &str) -> Vec<String> {
    let mut v: Vec<String> = pods(h, app)
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null() && p["status"]["phase"] == "Running")
        .map(|p| p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_dead_node_is_tainted_its_pods_move_and_nothing_runs_twice_when_it_returns() {
    let (nats, orca, dir) = cluster(&["--node-grace-seconds", "3", "--default-toleration-seconds", "2"]);
    let h = Http::new(&orca.url);
    let mut a = Agent::start(&nats.url(), "fail-a", &dir.path().join("a"), &[]);
    wait_node_ready(&h, "fail-a");
    assert_eq!(h.post(DEPLOYS, &deployment("web", 2)).status, 201);
    wait_for(60, "2 pods running on fail-a", || {
        running_on(&h, "web") == ["fail-a", "fail-a"]
    });
    let _b = Agent::start(&nats.url(), "fail-b", &dir.path().join("b"), &[]);
    wait_node_ready(&h, "fail-b");

    a.kill9();
    wait_for(30, "fail-a Unknown, tainted unreachable NoExecute", || {
        let n = h.get("/api/v1/nodes/fail-a").body;
        n["spec"]["taints"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoExecute")
        })
    });
    let mut saw_unknown = false;
    wait_for(60, "the pods replaced on fail-b", || {
        saw_unknown |= pods(&h, "web").iter().any(|p| p["status"]["phase"] == "Unknown");
        running_on(&h, "web") == ["fail-b", "fail-b"]
    });
    assert!(saw_unknown, "pods of the lost node stop claiming Running");
    let evicted: Vec<Value> = pods(&h, "web")
        .into_iter()
        .filter(|p| p["spec"]["nodeName"] == "fail-a")
        .collect();
    assert_eq!(evicted.len(), 2);
    assert!(
        evicted.iter().all(|p| p["metadata"]["deletionTimestamp"].is_string()),
        "evicted pods are terminating"
    );

    // The agent returns: it stops the evicted pods, and the node loses its taint.
    a.restart();
    wait_node_ready(&h, "fail-a");
    wait_for(60, "the evicted pods gone, two pods on fail-b", || {
        let all = pods(&h, "web");
        all.len() == 2 && all.iter().all(|p| p["spec"]["nodeName"] == "fail-b")
    });
    wait_for(30, "taint removed", || {
        h.get("/api/v1/nodes/fail-a").body["spec"]["taints"]
            .as_array()
            .is_none_or(|t| t.iter().all(|t| t["key"] != "node.kubernetes.io/unreachable"))
    });
}

#[test]
fn drain_evicts_within_the_disruption_budget() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "drain-a", &dir.path().join("a"), &[]);
    wait_node_ready(&h, "drain-a");
    assert_eq!(h.post(DEPLOYS, &deployment("svc", 2)).status, 201);
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "svc"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "svc"}}}});
    let r = h.post("/apis/policy/v1/namespaces/default/poddisruptionbudgets", &pdb);
    assert_eq!(r.status, 201, "{}", r.text);
    let bare = json!({"metadata": {"name": "bare"}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}});
    assert_eq!(h.post(PODS, &bare).status, 201);
    wait_for(60, "pods running on drain-a", || running_on(&h, "svc").len() == 2);
    wait_for(30, "the budget's status allows one disruption", || {
        let st = h
            .get("/apis/policy/v1/namespaces/default/poddisruptionbudgets/svc")
            .body["status"]
            .clone();
        st["disruptionsAllowed"] == 1 && st["currentHealthy"] == 2 && st["desiredHealthy"] == 1
    });
    let _b = Agent::start(&nats.url(), "drain-b", &dir.path().join("b"), &[]);
    wait_node_ready(&h, "drain-b");

    // A pod no controller manages blocks the drain unless --force.
    let (code, _, err) = orcactl(&orca.url, &["drain", "drain-a"], None);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot delete Pods that declare no controller (use --force to override): default/bare"),
        "{err}"
    );
    assert_eq!(
        h.get("/api/v1/nodes/drain-a").body["spec"]["unschedulable"],
        true,
        "cordoned first"
    );

    // The budget lets one pod go at a time: the second waits for a replacement to be ready.
    let (code, out, err) = orcactl(&orca.url, &["drain", "drain-a", "--force", "--timeout", "90s"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("node/drain-a drained"), "{out}");
    assert!(
        err.contains("would violate the pod's disruption budget"),
        "the budget held one back: {err}"
    );
    assert_eq!(running_on(&h, "svc"), ["drain-b", "drain-b"]);
    assert_eq!(h.get(&format!("{PODS}/bare")).status, 404);
}

#[test]
fn a_node_that_was_only_cut_off_restores_its_pods_status() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "cut-a", &dir.path().join("a"), &[]);
    wait_node_ready(&h, "cut-a");
    assert_eq!(h.post(DEPLOYS, &deployment("cut", 1)).status, 201);
    wait_for(60, "the pod running", || running_on(&h, "cut") == ["cut-a"]);
    let name = pods(&h, "cut")[0]["metadata"]["name"].as_str().unwrap().to_string();
    // What the node lifecycle writes when it stops hearing from the node.
    let lost = json!({"status": {"phase": "Unknown", "reason": "NodeLost"}});
    let r = h.patch(&format!("{PODS}/{name}/status"), "application/merge-patch+json", &lost);
    assert_eq!(r.status, 200, "{}", r.text);
    wait_for(30, "the agent writes the pod's real status again", || {
        let st = h.get(&format!("{PODS}/{name}")).body["status"].clone();
        st["phase"] == "Running" && st["reason"].is_null()
    });
}
