//! Pods really run on a node agent (separate process, process runtime): restart policies and back-off,
//! exit codes and reasons, logs and --previous, environment from ConfigMaps/Secrets/fields, exec,
//! graceful termination with SIGTERM then SIGKILL.

mod common;

use std::time::{Duration, Instant};

use common::{cluster, create_pod, pod, sh_pod, wait_node_ready, wait_pod, Agent, Http};
use serde_json::{json, Value};

fn state<'a>(p: &'a Value, field: &str) -> Option<&'a Value> {
    p.pointer(&format!("/status/containerStatuses/0/{field}"))
}

fn setup() -> (common::NatsServer, common::Orca, tempfile::TempDir, Agent, Http) {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let agent = Agent::start(&nats.url(), "node-1", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "node-1");
    (nats, orca, dir, agent, h)
}

fn logs(h: &Http, name: &str, query: &str) -> (u16, String) {
    let r = h.get(&format!("/api/v1/namespaces/default/pods/{name}/log?{query}"));
    (r.status, r.text)
}

#[test]
fn restart_policies_exit_codes_and_backoff() {
    let (_n, _o, _d, _a, h) = setup();
    create_pod(&h, &sh_pod("fails", "echo failing; exit 3", "Never"));
    create_pod(&h, &sh_pod("succeeds", "echo done", "Never"));
    create_pod(&h, &sh_pod("retries", "echo run; exit 1", "OnFailure"));
    create_pod(&h, &sh_pod("always", "echo again", "Always"));

    let f = wait_pod(&h, "fails", 30, "Failed", |p| {
        p.pointer("/status/phase") == Some(&json!("Failed"))
    });
    assert_eq!(state(&f, "state/terminated/exitCode"), Some(&json!(3)));
    assert_eq!(state(&f, "state/terminated/reason"), Some(&json!("Error")));
    assert_eq!(state(&f, "restartCount"), Some(&json!(0)));
    let s = wait_pod(&h, "succeeds", 30, "Succeeded", |p| {
        p.pointer("/status/phase") == Some(&json!("Succeeded"))
    });
    assert_eq!(state(&s, "state/terminated/reason"), Some(&json!("Completed")));

    let r = wait_pod(&h, "retries", 30, "restarted twice", |p| {
        state(p, "restartCount").and_then(Value::as_i64).unwrap_or(0) >= 2
    });
    assert_eq!(r.pointer("/status/phase"), Some(&json!("Running")));
    assert_eq!(state(&r, "lastState/terminated/exitCode"), Some(&json!(1)));
    wait_pod(&h, "retries", 30, "in CrashLoopBackOff", |p| {
        state(p, "state/waiting/reason") == Some(&json!("CrashLoopBackOff"))
    });
    let a = wait_pod(&h, "always", 30, "restarted", |p| {
        state(p, "restartCount").and_then(Value::as_i64).unwrap_or(0) >= 1
    });
    assert_eq!(state(&a, "lastState/terminated/exitCode"), Some(&json!(0)));

    // Back-off doubles: with a 300 ms base, 4 restarts need at least 0.3+0.6+1.2 s between the runs.
    let started = Instant::now();
    create_pod(&h, &sh_pod("backoff", "exit 1", "Always"));
    wait_pod(&h, "backoff", 60, "restarted 3 times", |p| {
        state(p, "restartCount").and_then(Value::as_i64).unwrap_or(0) >= 3
    });
    assert!(
        started.elapsed() >= Duration::from_millis(2100),
        "restarts came too fast: {:?}",
        started.elapsed()
    );

    let events = h.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dretries");
    let reasons: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    for r in ["Scheduled", "Started", "BackOff"] {
        assert!(reasons.contains(&r), "missing {r} event in {reasons:?}");
    }
}

#[test]
fn logs_env_and_exec() {
    let (_n, _o, _d, _a, h) = setup();
    h.post(
        "/api/v1/namespaces/default/configmaps",
        &json!({"metadata": {"name": "cfg"}, "data": {"greeting": "hello", "COLOR": "blue"}}),
    );
    h.post(
        "/api/v1/namespaces/default/secrets",
        &json!({"metadata": {"name": "sec"}, "stringData": {"password": "s3cr3t"}}),
    );
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "env", "labels": {"app": "web"}},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "main", "image": "busybox",
            "command": ["sh", "-c", "echo run GREETING=$GREETING PASSWORD=$PASSWORD POD=$POD NODE=$NODE COLOR=$COLOR APP=$APP; sleep 0.3; exit 1"],
            "envFrom": [{"configMapRef": {"name": "cfg"}}],
            "env": [
                {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}]}]}});
    create_pod(&h, &p);
    wait_pod(&h, "env", 30, "restarted", |p| {
        state(p, "restartCount").and_then(Value::as_i64).unwrap_or(0) >= 1
    });
    let expected = "run GREETING=hello PASSWORD=s3cr3t POD=env NODE=node-1 COLOR=blue APP=web";
    common::wait_for(10, "current log", || logs(&h, "env", "").1.contains(expected));
    let (status, prev) = logs(&h, "env", "previous=true");
    assert_eq!(status, 200);
    assert_eq!(prev.trim(), expected);

    create_pod(
        &h,
        &sh_pod(
            "counter",
            "for i in 1 2 3 4 5; do echo line $i; done; sleep 60",
            "Always",
        ),
    );
    wait_pod(&h, "counter", 30, "Running", |p| {
        p.pointer("/status/phase") == Some(&json!("Running"))
    });
    common::wait_for(10, "five lines", || logs(&h, "counter", "").1.lines().count() == 5);
    assert_eq!(logs(&h, "counter", "tailLines=2").1, "line 4\nline 5\n");
    assert_eq!(logs(&h, "counter", "container=nope").0, 400);

    let out = h.post(
        "/api/v1/namespaces/default/pods/counter/exec",
        &json!({"command": ["sh", "-c", "echo from exec; exit 4"]}),
    );
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(
        (out.body["stdout"].as_str(), out.body["exitCode"].as_i64()),
        (Some("from exec\n"), Some(4))
    );

    // A missing ConfigMap holds the container with a reason, until it exists.
    let mut waits = sh_pod("waits", "echo $X; sleep 60", "Always");
    waits["spec"]["containers"][0]["env"] =
        json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "x"}}}]);
    create_pod(&h, &waits);
    let w = wait_pod(&h, "waits", 30, "waiting on config", |p| {
        state(p, "state/waiting/reason") == Some(&json!("CreateContainerConfigError"))
    });
    assert!(state(&w, "state/waiting/message")
        .unwrap()
        .as_str()
        .unwrap()
        .contains("later"));
    h.post(
        "/api/v1/namespaces/default/configmaps",
        &json!({"metadata": {"name": "later"}, "data": {"x": "now"}}),
    );
    wait_pod(&h, "waits", 30, "Running", |p| state(p, "state/running").is_some());

    // A container without a command says what the process runtime needs.
    let nocmd = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nocmd"}, "spec": {"containers": [{"name": "main", "image": "nginx"}]}});
    create_pod(&h, &nocmd);
    let n = wait_pod(&h, "nocmd", 30, "explained", |p| {
        state(p, "state/waiting/reason") == Some(&json!("CreateContainerError"))
    });
    assert!(state(&n, "state/waiting/message")
        .unwrap()
        .as_str()
        .unwrap()
        .contains("no command"));
}

#[test]
fn graceful_deletion_sigterm_then_sigkill() {
    let (_n, _o, dir, _a, h) = setup();
    let marker = dir.path().join("got-term");
    let script = format!(
        "trap 'echo term > {}; exit 0' TERM; while true; do sleep 0.1; done",
        marker.display()
    );
    create_pod(&h, &sh_pod("polite", &script, "Always"));
    let mut stubborn = sh_pod("stubborn", "trap '' TERM; while true; do sleep 0.1; done", "Always");
    stubborn["spec"]["terminationGracePeriodSeconds"] = json!(2);
    create_pod(&h, &stubborn);
    for n in ["polite", "stubborn"] {
        wait_pod(&h, n, 30, "Running", |p| state(p, "state/running").is_some());
    }
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    assert_eq!(h.delete("/api/v1/namespaces/default/pods/polite").status, 200);
    assert_eq!(h.delete("/api/v1/namespaces/default/pods/stubborn").status, 200);
    let terminating = pod(&h, "stubborn");
    assert!(
        terminating.body["metadata"]["deletionTimestamp"].is_string(),
        "bound pods terminate gracefully"
    );
    common::wait_for(20, "polite pod gone", || pod(&h, "polite").status == 404);
    assert!(marker.exists(), "the process saw SIGTERM");
    common::wait_for(20, "stubborn pod gone", || pod(&h, "stubborn").status == 404);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "SIGKILL came before the grace period: {took:?}"
    );
    let events =
        h.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dstubborn,reason%3DKilling");
    assert!(!events.body["items"].as_array().unwrap().is_empty());
}

#[test]
fn logs_outlive_their_pod() {
    let (_n, _o, _d, _a, h) = setup();
    create_pod(
        &h,
        &sh_pod("chatty", "for i in 1 2 3; do echo said $i; done; sleep 60", "Always"),
    );
    wait_pod(&h, "chatty", 30, "Running", |p| state(p, "state/running").is_some());
    common::wait_for(10, "three lines", || logs(&h, "chatty", "").1.lines().count() == 3);
    assert_eq!(h.delete("/api/v1/namespaces/default/pods/chatty").status, 200);
    common::wait_for(20, "chatty gone", || pod(&h, "chatty").status == 404);
    let (status, text) = logs(&h, "chatty", "");
    assert_eq!(
        (status, text.as_str()),
        (200, "said 1\nsaid 2\nsaid 3\n"),
        "the tail is kept with the final status"
    );
    assert_eq!(logs(&h, "never-existed", "").0, 404);
}

#[test]
fn a_pod_past_its_active_deadline_fails() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "deadline-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "deadline-node");
    let mut p = sh_pod("late", "sleep 3600", "Always");
    p["spec"]["activeDeadlineSeconds"] = json!(2);
    p["spec"]["terminationGracePeriodSeconds"] = json!(1);
    create_pod(&h, &p);
    let started = std::time::Instant::now();
    let failed = wait_pod(&h, "late", 30, "Failed at its deadline", |p| {
        p["status"]["phase"] == "Failed"
    });
    // startTime has whole seconds, so the deadline may come up to a second early.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "not before the deadline"
    );
    assert_eq!(failed["status"]["reason"], "DeadlineExceeded", "{failed}");
    let stopped = wait_pod(&h, "late", 30, "its container stopped", |p| {
        p["status"]["containerStatuses"][0]["state"]["terminated"].is_object()
    });
    assert_eq!(stopped["status"]["phase"], "Failed", "stays Failed: {stopped}");
    assert_eq!(stopped["status"]["reason"], "DeadlineExceeded");
}
