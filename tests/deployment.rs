//! Deployments roll out through ReplicaSets: one per template, the new one scaled up and the old
//! one down within maxSurge and maxUnavailable, and the status says when the rollout is done.

mod common;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const SETS: &str = "/apis/apps/v1/namespaces/default/replicasets";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn deployment(version: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "roll"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": {"app": "roll"}},
                "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox",
                    "command": ["sleep", "3600"], "env": [{"name": "VERSION", "value": version}]}]}}}})
}

fn live_pods(h: &Http) -> Vec<Value> {
    h.get(&format!("{PODS}?labelSelector=app%3Droll")).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

fn done(h: &Http, generation: &Value) -> bool {
    let d = h.get(&format!("{DEPLOYS}/app")).body;
    let s = &d["status"];
    s["observedGeneration"] == *generation
        && s["updatedReplicas"] == 3
        && s["availableReplicas"] == 3
        && s["replicas"] == 3
        && s["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["reason"] == "NewReplicaSetAvailable"))
}

#[test]
fn a_rolling_update_replaces_every_pod_within_its_bounds() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "deploy-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "deploy-node");
    let r = h.post(DEPLOYS, &deployment("1"));
    assert_eq!(r.status, 201, "{}", r.text);
    let generation = r.body["metadata"]["generation"].clone();
    wait_for(60, "3 pods of version 1 available", || done(&h, &generation));
    let sets = h.get(SETS).body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(sets.len(), 1);
    let first = sets[0]["metadata"]["name"].as_str().unwrap().to_string();
    assert!(first.starts_with("app-"), "{first}");
    assert_eq!(
        sets[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );

    // Roll to version 2, watching the pod count on the way: never more than 3 + maxSurge live pods
    // and, with maxUnavailable 0, never fewer than 3 available.
    let before = h.get(&format!("{PODS}?labelSelector=app%3Droll")).body;
    let rv = before["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    // The controller writes status between a read and a write at times: read again on 409.
    let r = (0..20)
        .map(|_| {
            let mut d = h.get(&format!("{DEPLOYS}/app")).body;
            d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("2");
            h.put(&format!("{DEPLOYS}/app"), &d)
        })
        .find(|r| r.status != 409)
        .expect("the Deployment kept conflicting");
    assert_eq!(r.status, 200, "{}", r.text);
    let generation = r.body["metadata"]["generation"].clone();
    let mut most = 0;
    wait_for(90, "the rollout to version 2", || {
        most = most.max(live_pods(&h).len());
        let available = h.get(&format!("{DEPLOYS}/app")).body["status"]["availableReplicas"]
            .as_i64()
            .unwrap_or(0);
        assert!(available >= 3 || most == 0, "availability fell to {available}");
        done(&h, &generation)
    });
    assert!(most <= 4, "at most replicas + maxSurge pods at once, saw {most}");
    // The same bounds from the event log's record of every pod change during the rollout.
    let events: Vec<Value> = h
        .get(&format!(
            "{PODS}?watch=true&labelSelector=app%3Droll&resourceVersion={rv}&timeoutSeconds=1"
        ))
        .text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let start = before["items"].as_array().cloned().unwrap_or_default();
    let bounds = orca_actors::controllers::rollout_check::replay(&start, &events);
    assert!(
        events.len() >= 9,
        "3 pods added, made ready and 3 deleted: {} events",
        events.len()
    );
    assert!(bounds.most_pods <= 4, "replicas + maxSurge: {bounds:?}");
    assert!(bounds.fewest_available >= 3, "replicas - maxUnavailable: {bounds:?}");
    let pods = live_pods(&h);
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert_eq!(
            p["spec"]["containers"][0]["env"][0]["value"], "2",
            "every pod runs the new template"
        );
    }
    let sets = h.get(SETS).body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(sets.len(), 2, "the old ReplicaSet is kept for history");
    let old = sets.iter().find(|s| s["metadata"]["name"] == first.as_str()).unwrap();
    assert_eq!(old["spec"]["replicas"], 0);
    let new = sets.iter().find(|s| s["metadata"]["name"] != first.as_str()).unwrap();
    assert_eq!(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
}
