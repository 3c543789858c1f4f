//! ReplicaSets keep their pods: orphans that match are adopted, missing pods are created, extra
//! ones deleted, pods whose labels stop matching are released and replaced; status follows.

mod common;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";
const RS: &str = "/apis/apps/v1/namespaces/default/replicasets";

fn owned(h: &Http, uid: &str) -> Vec<Value> {
    h.get(PODS).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| {
            p["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["uid"] == uid && r["controller"] == true))
        })
        .collect()
}

#[test]
fn a_replicaset_adopts_creates_scales_and_releases() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "rs-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "rs-node");
    let container = json!([{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]);
    let orphan = json!({"metadata": {"name": "orphan", "labels": {"app": "web"}}, "spec": {"terminationGracePeriodSeconds": 1, "containers": container}});
    assert_eq!(h.post(PODS, &orphan).status, 201);
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"terminationGracePeriodSeconds": 1, "containers": container}}}});
    let r = h.post(RS, &rs);
    assert_eq!(r.status, 201, "{}", r.text);
    let uid = r.body["metadata"]["uid"].as_str().unwrap().to_string();

    wait_for(60, "3 pods owned, the orphan adopted, all ready", || {
        let status = &h.get(&format!("{RS}/web")).body["status"];
        owned(&h, &uid).len() == 3 && status["readyReplicas"] == 3 && status["replicas"] == 3
    });
    let names: Vec<String> = owned(&h, &uid)
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"orphan".to_string()),
        "the orphan is adopted: {names:?}"
    );
    assert!(names.iter().filter(|n| n.starts_with("web-")).count() == 2, "{names:?}");

    // Scale down to 1.
    let r = h.patch(
        &format!("{RS}/web"),
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 1}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    wait_for(60, "1 pod left", || {
        owned(&h, &uid).len() == 1 && h.get(&format!("{RS}/web")).body["status"]["replicas"] == 1
    });

    // A pod whose labels stop matching is released, and a new one takes its place.
    let last = owned(&h, &uid)[0]["metadata"]["name"].as_str().unwrap().to_string();
    let r = h.patch(
        &format!("{PODS}/{last}"),
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"app": "debug"}}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    wait_for(60, "the relabelled pod released and replaced", || {
        let released = h.get(&format!("{PODS}/{last}")).body["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.iter().all(|r| r["uid"] != uid.as_str()));
        let now = owned(&h, &uid);
        released && now.len() == 1 && now[0]["metadata"]["name"] != last.as_str()
    });

    // A deleted pod is replaced.
    let victim = owned(&h, &uid)[0]["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(h.delete(&format!("{PODS}/{victim}")).status, 200);
    wait_for(60, "the deleted pod replaced", || {
        let now = owned(&h, &uid);
        now.len() == 1 && now[0]["metadata"]["name"] != victim.as_str()
    });
}
