//! Init containers run in order, each to success (a failure is retried with back-off), before the
//! app containers start; with restartPolicy Never a failing init container fails the pod and the
//! app containers never run; `get pods` shows Init:N/M and Init:Error as kubectl does.

mod common;

use common::{cluster, orcactl, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";

fn pod(h: &Http, name: &str) -> Value {
    h.get(&format!("{PODS}/{name}")).body
}

#[test]
fn init_containers_run_in_order_and_block_the_app_until_they_succeed() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "init-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "init-node");
    let m = dir.path().join("mnt").display().to_string();
    let work = json!([{"name": "work", "mountPath": format!("{m}/w")}]);
    let p = json!({"metadata": {"name": "staged"}, "spec": {"terminationGracePeriodSeconds": 1,
        "initContainers": [
            {"name": "first", "image": "busybox", "command": ["sh", "-c", format!("echo first >> {m}/w/log")], "volumeMounts": work},
            {"name": "flaky", "image": "busybox", "volumeMounts": work, "command": ["sh", "-c",
                format!("echo try >> {m}/w/tries; [ $(wc -l < {m}/w/tries) -ge 2 ] || exit 1; echo flaky >> {m}/w/log")]}],
        "containers": [{"name": "app", "image": "busybox", "volumeMounts": work,
            "command": ["sh", "-c", format!("echo app saw $(cat {m}/w/log | tr '\\n' ,); sleep 3600")]}],
        "volumes": [{"name": "work", "emptyDir": {}}]}});
    assert_eq!(h.post(PODS, &p).status, 201);
    let mut saw_init_status = false;
    wait_for(60, "the app running after both init containers", || {
        let (code, out, _) = orcactl(&orca.url, &["get", "pod", "staged"], None);
        saw_init_status |= code == 0 && out.contains("Init:");
        pod(&h, "staged")["status"]["phase"] == "Running"
    });
    assert!(saw_init_status, "get pods showed Init:N/M while init containers ran");
    let st = pod(&h, "staged")["status"].clone();
    let inits = st["initContainerStatuses"].as_array().cloned().unwrap();
    assert_eq!(inits.len(), 2);
    assert!(inits.iter().all(|c| c["state"]["terminated"]["exitCode"] == 0), "{st}");
    assert!(
        inits[1]["restartCount"].as_i64().unwrap() >= 1,
        "the flaky one was retried: {st}"
    );
    assert!(st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Initialized" && c["status"] == "True"));
    wait_for(30, "the app's log", || {
        h.get(&format!("{PODS}/staged/log?container=app"))
            .text
            .contains("app saw")
    });
    assert_eq!(
        h.get(&format!("{PODS}/staged/log?container=app")).text.trim(),
        "app saw first,flaky,"
    );
    assert_eq!(
        h.get(&format!("{PODS}/staged/log?container=first")).status,
        200,
        "init containers have logs"
    );
}

#[test]
fn a_failing_init_container_fails_a_never_restarting_pod() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "init-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "init-node");
    let p = json!({"metadata": {"name": "doomed"}, "spec": {"restartPolicy": "Never",
        "initContainers": [{"name": "check", "image": "busybox", "command": ["sh", "-c", "exit 7"]}],
        "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "echo ran"]}]}});
    assert_eq!(h.post(PODS, &p).status, 201);
    wait_for(60, "the pod Failed", || {
        pod(&h, "doomed")["status"]["phase"] == "Failed"
    });
    let st = pod(&h, "doomed")["status"].clone();
    assert_eq!(st["initContainerStatuses"][0]["state"]["terminated"]["exitCode"], 7);
    assert!(
        st["containerStatuses"][0]["state"]["running"].is_null()
            && st["containerStatuses"][0]["state"]["terminated"].is_null(),
        "the app never ran: {st}"
    );
    let (_, out, _) = orcactl(&orca.url, &["get", "pod", "doomed"], None);
    assert!(out.contains("Init:Error"), "{out}");
}
