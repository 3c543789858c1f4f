//! Deletes propagate through ownerReferences: Background deletes dependents after the owner,
//! Foreground holds the owner until its dependents are gone, Orphan leaves them running unowned;
//! a namespace turns Terminating, is emptied through the normal delete path and waits for
//! finalizers.

mod common;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const SETS: &str = "/apis/apps/v1/namespaces/default/replicasets";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn replicaset(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"set": name}},
            "template": {"metadata": {"labels": {"set": name}},
                "spec": {"terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}})
}

fn pods_of(h: &Http, label: &str) -> Vec<Value> {
    h.get(&format!("{PODS}?labelSelector={label}")).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn ready_set(h: &Http, name: &str) -> String {
    let r = h.post(SETS, &replicaset(name));
    assert_eq!(r.status, 201, "{}", r.text);
    wait_for(60, &format!("{name}: 2 pods ready"), || {
        h.get(&format!("{SETS}/{name}")).body["status"]["readyReplicas"] == 2
    });
    r.body["metadata"]["uid"].as_str().unwrap().to_string()
}

#[test]
fn deletes_cascade_in_the_background_foreground_or_orphan_their_dependents() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "gc-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "gc-node");

    // Background (the default): a Deployment takes its ReplicaSet and their pods with it.
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bg"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"set": "bg"}}, "template": replicaset("bg")["spec"]["template"]}});
    assert_eq!(h.post(DEPLOYS, &d).status, 201);
    wait_for(60, "bg: 2 pods", || pods_of(&h, "set%3Dbg").len() == 2);
    assert_eq!(h.delete(&format!("{DEPLOYS}/bg")).status, 200);
    assert_eq!(h.get(&format!("{DEPLOYS}/bg")).status, 404, "the owner goes at once");
    wait_for(60, "bg's ReplicaSet and pods deleted", || {
        pods_of(&h, "set%3Dbg").is_empty()
            && h.get(&format!("{SETS}?labelSelector=set%3Dbg")).body["items"]
                .as_array()
                .is_some_and(|i| i.is_empty())
    });

    // Orphan: the ReplicaSet goes, its pods stay and are no longer owned.
    let uid = ready_set(&h, "orph");
    let r = h.delete(&format!("{SETS}/orph?propagationPolicy=Orphan"));
    assert_eq!(r.status, 200, "{}", r.text);
    wait_for(30, "orph deleted", || h.get(&format!("{SETS}/orph")).status == 404);
    let left = pods_of(&h, "set%3Dorph");
    assert_eq!(left.len(), 2, "orphaned pods stay");
    for p in &left {
        assert!(p["metadata"]["deletionTimestamp"].is_null(), "{p}");
        let refs = p["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
        assert!(refs.iter().all(|r| r["uid"] != uid.as_str()), "{p}");
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(pods_of(&h, "set%3Dorph").len(), 2, "nothing collects orphans");

    // Foreground: the ReplicaSet waits, deleting, until its pods are gone.
    ready_set(&h, "fg");
    let r = h.delete(&format!("{SETS}/fg?propagationPolicy=Foreground"));
    assert_eq!(r.status, 200, "{}", r.text);
    let held = h.get(&format!("{SETS}/fg"));
    assert_eq!(held.status, 200, "held while its pods exist");
    assert!(held.body["metadata"]["deletionTimestamp"].is_string());
    assert!(held.body["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion")));
    let mut saw_pods_while_held = false;
    wait_for(60, "fg and its pods deleted", || {
        let set = h.get(&format!("{SETS}/fg")).status;
        let pods = pods_of(&h, "set%3Dfg").len();
        assert!(set == 200 || pods == 0, "the owner went before its pods");
        saw_pods_while_held |= set == 200 && pods > 0;
        set == 404 && pods == 0
    });
    assert!(saw_pods_while_held);
}

#[test]
fn a_namespace_is_emptied_then_waits_for_finalizers() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "ns-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "ns-node");
    assert_eq!(
        h.post("/api/v1/namespaces", &json!({"metadata": {"name": "team"}}))
            .status,
        201
    );
    let cms = "/api/v1/namespaces/team/configmaps";
    let held = json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "data": {}});
    assert_eq!(h.post(cms, &held).status, 201);
    assert_eq!(
        h.post(cms, &json!({"metadata": {"name": "plain"}, "data": {}})).status,
        201
    );
    let pod = json!({"metadata": {"name": "p"}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}});
    assert_eq!(h.post("/api/v1/namespaces/team/pods", &pod).status, 201);
    wait_for(30, "pod running", || {
        h.get("/api/v1/namespaces/team/pods/p").body["status"]["phase"] == "Running"
    });

    assert_eq!(h.delete("/api/v1/namespaces/team").status, 200);
    let ns = h.get("/api/v1/namespaces/team").body;
    assert_eq!(ns["status"]["phase"], "Terminating", "{ns}");
    let refused = h.post(cms, &json!({"metadata": {"name": "late"}, "data": {}}));
    assert_eq!(refused.status, 403, "{}", refused.text);
    wait_for(60, "contents deleted but the finalizer's", || {
        h.get("/api/v1/namespaces/team/pods/p").status == 404 && h.get(&format!("{cms}/plain")).status == 404
    });
    let left = h.get(&format!("{cms}/held"));
    assert_eq!(left.status, 200);
    assert!(left.body["metadata"]["deletionTimestamp"].is_string());
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(h.get("/api/v1/namespaces/team").status, 200, "held by the finalizer");

    let r = h.patch(
        &format!("{cms}/held"),
        "application/merge-patch+json",
        &json!({"metadata": {"finalizers": null}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    wait_for(30, "namespace gone", || h.get("/api/v1/namespaces/team").status == 404);
}
