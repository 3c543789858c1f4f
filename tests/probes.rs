//! Probes on a real agent: a failing liveness probe restarts the container, readiness flips the Ready
//! condition, and an httpGet probe reaches a real HTTP server in the pod.

mod common;

use common::{cluster, create_pod, free_port, sh_pod, wait_node_ready, wait_pod, Agent, Http};
use serde_json::{json, Value};

fn ready(p: &Value) -> Option<String> {
    p.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
}

#[test]
fn liveness_restarts_and_readiness_flips() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "node-1", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "node-1");

    let mut live = sh_pod("live", "touch healthy; sleep 1; rm healthy; sleep 60", "Always");
    live["spec"]["terminationGracePeriodSeconds"] = json!(1);
    live["spec"]["containers"][0]["livenessProbe"] =
        json!({"exec": {"command": ["test", "-f", "healthy"]}, "periodSeconds": 1, "failureThreshold": 2});
    create_pod(&h, &live);

    let mut rd = sh_pod("ready", "sleep 1; touch ready; sleep 3; rm ready; sleep 60", "Always");
    rd["spec"]["containers"][0]["readinessProbe"] =
        json!({"exec": {"command": ["test", "-f", "ready"]}, "periodSeconds": 1});
    create_pod(&h, &rd);

    let port = free_port().unwrap();
    let mut web = sh_pod(
        "web",
        &format!("echo ok > index.html; exec busybox httpd -f -p 127.0.0.1:{port}"),
        "Always",
    );
    web["spec"]["containers"][0]["ports"] = json!([{"name": "http", "containerPort": port}]);
    web["spec"]["containers"][0]["readinessProbe"] =
        json!({"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1});
    create_pod(&h, &web);

    assert_eq!(
        ready(&wait_pod(&h, "ready", 30, "Running", |p| p.pointer("/status/phase")
            == Some(&json!("Running"))))
        .as_deref(),
        Some("False"),
        "not ready before the probe passes"
    );
    wait_pod(&h, "ready", 30, "Ready", |p| ready(p).as_deref() == Some("True"));
    wait_pod(&h, "ready", 30, "not Ready again", |p| {
        ready(p).as_deref() == Some("False")
    });
    let l = wait_pod(&h, "live", 30, "restarted by its liveness probe", |p| {
        p.pointer("/status/containerStatuses/0/restartCount")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            >= 1
    });
    assert!(l.pointer("/status/containerStatuses/0/lastState/terminated").is_some());
    wait_pod(&h, "web", 30, "Ready through httpGet", |p| {
        ready(p).as_deref() == Some("True")
    });
}

#[test]
fn a_readiness_change_made_while_the_api_is_down_reaches_it_when_it_is_back() {
    let (nats, mut orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "node-1", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "node-1");
    let flag = dir.path().join("ready");
    std::fs::write(&flag, "").unwrap();
    let mut rd = sh_pod("steady", "sleep 3600", "Always");
    rd["spec"]["containers"][0]["readinessProbe"] =
        json!({"exec": {"command": ["test", "-f", flag.display().to_string()]}, "periodSeconds": 1});
    create_pod(&h, &rd);
    wait_pod(&h, "steady", 30, "Ready", |p| ready(p).as_deref() == Some("True"));

    // The control plane goes away; the pod turns not ready meanwhile and then changes no more, so
    // the status write that failed is the only one there will be.
    orca.kill9();
    std::fs::remove_file(&flag).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    orca.restart();
    let h = Http::new(&orca.url);
    wait_pod(&h, "steady", 30, "not Ready once the API is back", |p| {
        ready(p).as_deref() == Some("False")
    });
}
