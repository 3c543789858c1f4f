//! StatefulSets: pods `<name>-<ordinal>` started in order (each Ready before the next) with stable
//! hostname and subdomain, a claim per ordinal kept on scale-down and delete, scale-down from the
//! highest ordinal, and a rolling update from the top down to the partition.

mod common;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const STS: &str = "/apis/apps/v1/namespaces/default/statefulsets";
const PODS: &str = "/api/v1/namespaces/default/pods";
const PVCS: &str = "/api/v1/namespaces/default/persistentvolumeclaims";

fn live(h: &Http) -> Vec<Value> {
    let mut pods: Vec<Value> = h.get(&format!("{PODS}?labelSelector=app%3Ddb")).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    pods.sort_by_key(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string());
    pods
}

fn names(h: &Http) -> Vec<String> {
    live(h)
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn version(p: &Value) -> String {
    p["spec"]["containers"][0]["env"][0]["value"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn claims(h: &Http) -> Vec<String> {
    let mut c: Vec<String> = h.get(PVCS).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    c.sort();
    c
}

#[test]
fn a_statefulset_orders_its_pods_keeps_claims_and_rolls_down_to_the_partition() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "sts-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "sts-node");
    let set = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                    "env": [{"name": "V", "value": "1"}], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}]}});
    let r = h.post(STS, &set);
    assert_eq!(r.status, 201, "{}", r.text);

    wait_for(60, "db-0..2 ready, each after the one before", || {
        let pods = live(&h);
        for w in pods.windows(2) {
            assert!(
                ready(&w[0]) || !ready(&w[1]),
                "{} ready before {}",
                w[1]["metadata"]["name"],
                w[0]["metadata"]["name"]
            );
        }
        let n: Vec<&str> = pods.iter().map(|p| p["metadata"]["name"].as_str().unwrap()).collect();
        for (i, name) in n.iter().enumerate() {
            assert_eq!(*name, format!("db-{i}"), "ordinals fill from 0: {n:?}");
        }
        pods.len() == 3 && pods.iter().all(ready)
    });
    for p in live(&h) {
        assert_eq!(p["spec"]["hostname"], p["metadata"]["name"]);
        assert_eq!(p["spec"]["subdomain"], "db");
        let claim = p["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "data")
            .cloned()
            .unwrap();
        assert_eq!(
            claim["persistentVolumeClaim"]["claimName"],
            format!("data-{}", p["metadata"]["name"].as_str().unwrap())
        );
    }
    assert_eq!(claims(&h), ["data-db-0", "data-db-1", "data-db-2"]);

    // Scale down: from the top, one at a time; the claims stay.
    let path = format!("{STS}/db");
    assert_eq!(
        h.patch(&path, "application/merge-patch+json", &json!({"spec": {"replicas": 1}}))
            .status,
        200
    );
    wait_for(60, "only db-0 left", || {
        let n = names(&h);
        let prefix: Vec<String> = (0..n.len()).map(|i| format!("db-{i}")).collect();
        assert_eq!(n, prefix, "the highest ordinal goes first");
        n == ["db-0"]
    });
    assert_eq!(claims(&h).len(), 3, "claims are kept on scale-down");

    // Back to 3, then a rolling update that stops at partition 1.
    let update = json!({"spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
            "env": [{"name": "V", "value": "2"}], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}}});
    assert_eq!(h.patch(&path, "application/merge-patch+json", &update).status, 200);
    wait_for(90, "db-1 and db-2 at version 2, db-0 at 1", || {
        let pods = live(&h);
        pods.len() == 3 && pods.iter().all(ready) && pods.iter().map(version).collect::<Vec<_>>() == ["1", "2", "2"]
    });
    let part0 = json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}});
    assert_eq!(h.patch(&path, "application/merge-patch+json", &part0).status, 200);
    wait_for(60, "db-0 at version 2", || {
        let pods = live(&h);
        pods.len() == 3 && pods.iter().all(|p| ready(p) && version(p) == "2")
    });
    wait_for(30, "status: 3 updated, revisions equal", || {
        let st = h.get(&path).body["status"].clone();
        st["updatedReplicas"] == 3 && st["readyReplicas"] == 3 && st["currentRevision"] == st["updateRevision"]
    });

    // Deleting the set takes its pods, not its claims.
    assert_eq!(h.delete(&path).status, 200);
    wait_for(60, "pods gone", || live(&h).is_empty());
    assert_eq!(claims(&h), ["data-db-0", "data-db-1", "data-db-2"]);
}

#[test]
fn a_retention_policy_of_delete_removes_claims_on_scale_down_and_delete() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "sts-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "sts-node");
    let set = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "tmp"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "tmp"}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
            "template": {"metadata": {"labels": {"app": "tmp"}}, "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "scratch"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}]}});
    let mut bad = set.clone();
    bad["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] = json!("Keep");
    let r = h.post(STS, &bad);
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("spec.persistentVolumeClaimRetentionPolicy.whenScaled"),
        "{}",
        r.text
    );
    assert_eq!(h.post(STS, &set).status, 201);
    wait_for(60, "two claims", || claims(&h) == ["scratch-tmp-0", "scratch-tmp-1"]);
    let path = format!("{STS}/tmp");
    assert_eq!(
        h.patch(&path, "application/merge-patch+json", &json!({"spec": {"replicas": 1}}))
            .status,
        200
    );
    wait_for(60, "the scaled-away ordinal's claim deleted", || {
        claims(&h) == ["scratch-tmp-0"]
    });
    assert_eq!(h.delete(&path).status, 200);
    wait_for(60, "the set's claims deleted with it", || claims(&h).is_empty());
}
