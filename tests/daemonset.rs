//! DaemonSets run one pod per eligible node: nodes that join get one, nodes that leave or stop
//! matching lose it, taints without a toleration keep it off, and a rolling update replaces every
//! pod with at most maxUnavailable nodes short of a ready pod.

mod common;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const DS: &str = "/apis/apps/v1/namespaces/default/daemonsets";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn daemonset(name: &str, spec_extra: Value, version: &str) -> Value {
    let mut pod = json!({"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"], "env": [{"name": "V", "value": version}]}]});
    for (k, v) in spec_extra.as_object().into_iter().flatten() {
        pod[k] = v.clone();
    }
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"ds": name}},
            "template": {"metadata": {"labels": {"ds": name}}, "spec": pod}}})
}

/// Live pods of a set, as (node, version, ready).
fn placed(h: &Http, name: &str) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = h.get(&format!("{PODS}?labelSelector=ds%3D{name}")).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            (
                p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
                p["spec"]["containers"][0]["env"][0]["value"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                ready,
            )
        })
        .collect();
    out.sort();
    out
}

/// Reads the DaemonSet `all`, changes it and writes it back, again when the controller's status
/// write got in between (409).
fn change(h: &Http, f: impl Fn(&mut Value)) {
    for _ in 0..20 {
        let mut d = h.get(&format!("{DS}/all")).body;
        f(&mut d);
        match h.put(&format!("{DS}/all"), &d).status {
            200 => return,
            409 => continue,
            s => panic!("updating the DaemonSet: {s}"),
        }
    }
    panic!("the DaemonSet kept conflicting");
}

fn nodes_of(h: &Http, name: &str) -> Vec<String> {
    placed(h, name).into_iter().filter(|p| p.2).map(|p| p.0).collect()
}

#[test]
fn a_daemonset_follows_nodes_selectors_taints_and_rolls_updates() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "ds-a", &dir.path().join("a"), &[]);
    let _b = Agent::start(&nats.url(), "ds-b", &dir.path().join("b"), &[]);
    wait_node_ready(&h, "ds-a");
    wait_node_ready(&h, "ds-b");
    let taint = json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}});
    assert_eq!(
        h.patch("/api/v1/nodes/ds-b", "application/merge-patch+json", &taint)
            .status,
        200
    );

    assert_eq!(
        h.post(
            DS,
            &daemonset(
                "all",
                json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}]}),
                "1"
            )
        )
        .status,
        201
    );
    assert_eq!(h.post(DS, &daemonset("picky", json!({}), "1")).status, 201);
    assert_eq!(
        h.post(DS, &daemonset("ssd", json!({"nodeSelector": {"disk": "ssd"}}), "1"))
            .status,
        201
    );
    wait_for(60, "all on both nodes, picky only on the untainted one", || {
        nodes_of(&h, "all") == ["ds-a", "ds-b"] && nodes_of(&h, "picky") == ["ds-a"]
    });
    wait_for(30, "all's status: 2 desired, 2 ready", || {
        let st = h.get(&format!("{DS}/all")).body["status"].clone();
        (st["desiredNumberScheduled"].as_i64(), st["numberReady"].as_i64()) == (Some(2), Some(2))
    });
    assert!(placed(&h, "ssd").is_empty());

    // A label brings the selector's pod; removing it takes the pod away.
    let label = |v: Value| json!({"metadata": {"labels": {"disk": v}}});
    assert_eq!(
        h.patch(
            "/api/v1/nodes/ds-a",
            "application/merge-patch+json",
            &label(json!("ssd"))
        )
        .status,
        200
    );
    wait_for(60, "ssd runs on ds-a", || nodes_of(&h, "ssd") == ["ds-a"]);
    assert_eq!(
        h.patch(
            "/api/v1/nodes/ds-a",
            "application/merge-patch+json",
            &label(Value::Null)
        )
        .status,
        200
    );
    wait_for(60, "ssd leaves ds-a", || placed(&h, "ssd").is_empty());

    // A node that joins gets a pod; one that leaves loses it.
    let mut c = Agent::start(&nats.url(), "ds-c", &dir.path().join("c"), &[]);
    wait_node_ready(&h, "ds-c");
    wait_for(60, "all reaches ds-c", || {
        nodes_of(&h, "all") == ["ds-a", "ds-b", "ds-c"]
    });
    c.kill9();
    assert_eq!(h.delete("/api/v1/nodes/ds-c").status, 200);
    wait_for(60, "ds-c's pod removed", || {
        placed(&h, "all").iter().all(|p| p.0 != "ds-c")
            && h.get(&format!("{DS}/all")).body["status"]["desiredNumberScheduled"] == 2
    });

    // A rolling update: every pod replaced, never both nodes without a ready pod.
    change(&h, |d| {
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("2")
    });
    wait_for(90, "all pods at version 2 and ready", || {
        let now = placed(&h, "all");
        let ready = now.iter().filter(|p| p.2).count();
        assert!(ready >= 1, "maxUnavailable 1 of 2 nodes, saw {now:?}");
        now.len() == 2 && now.iter().all(|p| p.1 == "2" && p.2)
    });

    // With maxSurge the new pod starts beside the old one: no node is ever without a ready pod.
    change(&h, |d| {
        d["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("3");
    });
    wait_for(90, "all pods at version 3 and ready", || {
        let now = placed(&h, "all");
        let ready_nodes: std::collections::BTreeSet<&str> = now.iter().filter(|p| p.2).map(|p| p.0.as_str()).collect();
        assert_eq!(ready_nodes.len(), 2, "every node keeps a ready pod: {now:?}");
        now.len() == 2 && now.iter().all(|p| p.1 == "3" && p.2)
    });
}
