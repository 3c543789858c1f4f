//! Endpoints and EndpointSlices follow a Service's pods: ready ones as addresses, not-ready ones
//! apart, pods whose labels stop matching removed, scaling followed, terminating endpoints marked;
//! both go with the Service, and a Service without a selector keeps the Endpoints its user writes.
//! New pods get the Service's environment variables.

mod common;

use std::collections::BTreeSet;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const PODS: &str = "/api/v1/namespaces/default/pods";
const SVCS: &str = "/api/v1/namespaces/default/services";
const EPS: &str = "/api/v1/namespaces/default/endpoints";
const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";

/// Pod names in the Endpoints' addresses and notReadyAddresses.
fn endpoints(h: &Http) -> (BTreeSet<String>, BTreeSet<String>) {
    let e = h.get(&format!("{EPS}/web")).body;
    let names = |k: &str| -> BTreeSet<String> {
        e["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s[k].as_array().cloned().unwrap_or_default())
            .map(|a| a["targetRef"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    (names("addresses"), names("notReadyAddresses"))
}

fn slice_endpoints(h: &Http) -> Vec<Value> {
    h.get(&format!("{SLICES}?labelSelector=kubernetes.io%2Fservice-name%3Dweb"))
        .body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn live_pods(h: &Http) -> BTreeSet<String> {
    h.get(&format!("{PODS}?labelSelector=app%3Dweb")).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn endpoints_follow_readiness_labels_and_scale() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "ep-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "ep-node");
    let flags = dir.path().join("flags");
    std::fs::create_dir_all(&flags).unwrap();
    let probe = format!("test ! -f {}/$POD_NAME", flags.display());
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "readinessProbe": {"exec": {"command": ["sh", "-c", probe]}, "periodSeconds": 1}}]}}}});
    assert_eq!(h.post(DEPLOYS, &d).status, 201);
    let svc = json!({"metadata": {"name": "web", "labels": {"tier": "front"}}, "spec": {"selector": {"app": "web"},
        "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}});
    assert_eq!(h.post(SVCS, &svc).status, 201);

    wait_for(60, "three ready addresses on the container port", || {
        let (ready, not_ready) = endpoints(&h);
        ready.len() == 3 && not_ready.is_empty() && ready == live_pods(&h)
    });
    // New pods get the Service's environment variables.
    let ip = h.get(&format!("{SVCS}/web")).body["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string();
    let env_pod = json!({"metadata": {"name": "envcheck"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c",
        "image": "busybox", "command": ["sh", "-c", "echo host=$WEB_SERVICE_HOST port=$WEB_SERVICE_PORT link=$WEB_PORT"]}]}});
    assert_eq!(h.post(PODS, &env_pod).status, 201);
    wait_for(30, "the pod printed the variables", || {
        h.get(&format!("{PODS}/envcheck/log")).text.contains("host=")
    });
    assert_eq!(
        h.get(&format!("{PODS}/envcheck/log")).text.trim(),
        format!("host={ip} port=80 link=tcp://{ip}:80")
    );
    let e = h.get(&format!("{EPS}/web")).body;
    assert_eq!(
        e["subsets"][0]["ports"],
        json!([{"name": "web", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(e["metadata"]["labels"]["tier"], "front", "the Service's labels");
    wait_for(30, "the slice lists them ready", || {
        let eps = slice_endpoints(&h);
        eps.len() == 3 && eps.iter().all(|e| e["conditions"]["ready"] == true)
    });

    // One pod turns not ready.
    let sick = live_pods(&h).into_iter().next().unwrap();
    std::fs::write(flags.join(&sick), "").unwrap();
    wait_for(30, "the sick pod moved to notReadyAddresses", || {
        let (ready, not_ready) = endpoints(&h);
        ready.len() == 2 && not_ready == BTreeSet::from([sick.clone()])
    });
    wait_for(30, "the slice marks it not ready", || {
        slice_endpoints(&h)
            .iter()
            .any(|e| e["targetRef"]["name"] == sick.as_str() && e["conditions"]["ready"] == false)
    });

    // A pod relabelled away leaves; its replacement joins.
    let r = h.patch(
        &format!("{PODS}/{sick}"),
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"app": "debug"}}}),
    );
    assert_eq!(r.status, 200);
    wait_for(
        60,
        "the relabelled pod gone from the endpoints, a replacement in",
        || {
            let (ready, not_ready) = endpoints(&h);
            !ready.contains(&sick) && !not_ready.contains(&sick) && ready.len() == 3
        },
    );

    // Scale down: terminating pods leave the Endpoints.
    let r = h.patch(
        &format!("{DEPLOYS}/web"),
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 1}}),
    );
    assert_eq!(r.status, 200);
    wait_for(60, "one address left", || {
        let (ready, not_ready) = endpoints(&h);
        ready.len() == 1 && not_ready.is_empty()
    });

    // The Service goes: so do its Endpoints and slices.
    assert_eq!(h.delete(&format!("{SVCS}/web")).status, 200);
    wait_for(30, "Endpoints and slices gone", || {
        h.get(&format!("{EPS}/web")).status == 404 && slice_endpoints(&h).is_empty()
    });

    // A Service without a selector keeps the Endpoints its user writes.
    let manual = json!({"metadata": {"name": "external"}, "spec": {"ports": [{"port": 5432}]}});
    assert_eq!(h.post(SVCS, &manual).status, 201);
    let ep = json!({"metadata": {"name": "external"}, "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}]});
    assert_eq!(h.post(EPS, &ep).status, 201);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        h.get(&format!("{EPS}/external")).body["subsets"][0]["addresses"][0]["ip"],
        "192.0.2.10"
    );
}
