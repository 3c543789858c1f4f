//! Rollouts from orcactl: scale, status with live progress, history whose change causes come from
//! the event log, undo, pause and resume, restart, minReadySeconds, and a rollout that stops at
//! its progress deadline.

mod common;

use common::{cluster, orcactl, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const SETS: &str = "/apis/apps/v1/namespaces/default/replicasets";

fn manifest(version: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 2
  minReadySeconds: 1
  selector:
    matchLabels: {{app: roll}}
  template:
    metadata:
      labels: {{app: roll}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: [sleep, '3600']
        env:
        - {{name: VERSION, value: '{version}'}}
"
    )
}

fn sets(h: &Http) -> Vec<Value> {
    h.get(SETS).body["items"].as_array().cloned().unwrap_or_default()
}

fn env_version(h: &Http) -> Value {
    h.get(&format!("{DEPLOYS}/app")).body["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"].clone()
}

#[test]
fn scale_status_history_undo_pause_resume_and_restart() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "roll-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "roll-node");
    let s = orca.url.as_str();
    let (code, out, err) = orcactl(s, &["apply", "-f", "-"], Some(&manifest("1")));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = orcactl(s, &["rollout", "status", "deploy/app", "--timeout", "60s"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.trim_end().ends_with("deployment \"app\" successfully rolled out"),
        "{out}"
    );

    // Scale: minReadySeconds keeps new pods ready-but-unavailable for a second.
    let (code, out, _) = orcactl(s, &["scale", "deployment", "app", "--replicas", "3"], None);
    assert_eq!((code, out.trim()), (0, "deployment.apps/app scaled"));
    let mut saw_ready_unavailable = false;
    wait_for(60, "3 available", || {
        let st = h.get(&format!("{DEPLOYS}/app")).body["status"].clone();
        saw_ready_unavailable |= st["readyReplicas"].as_i64() > st["availableReplicas"].as_i64();
        let rs = sets(&h);
        saw_ready_unavailable |= rs
            .iter()
            .any(|r| r["status"]["readyReplicas"].as_i64() > r["status"]["availableReplicas"].as_i64());
        st["availableReplicas"] == 3
    });
    assert!(saw_ready_unavailable, "minReadySeconds holds availability back");

    // A new template: status follows it live, history names the change and who made it.
    assert_eq!(orcactl(s, &["apply", "-f", "-"], Some(&manifest("2"))).0, 0);
    let (code, out, err) = orcactl(s, &["rollout", "status", "deploy/app", "--timeout", "90s"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.lines().count() >= 2, "progress lines before the end: {out}");
    assert!(
        out.contains("Waiting for deployment \"app\" rollout to finish"),
        "{out}"
    );
    let (code, out, _) = orcactl(s, &["rollout", "history", "deploy/app"], None);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "deployment.apps/app");
    assert!(
        lines[1].starts_with("REVISION") && lines[1].contains("CHANGE-CAUSE"),
        "{out}"
    );
    assert!(lines[2].starts_with("1 ") && lines[2].contains("created"), "{out}");
    assert!(
        lines[3].starts_with("2 ") && lines[3].contains("env[0].value: \"1\" -> \"2\""),
        "{out}"
    );
    assert!(lines[3].contains("by "), "the actor is named: {out}");
    let (_, one, _) = orcactl(s, &["rollout", "history", "deploy/app", "--revision", "1"], None);
    assert!(one.contains("with revision #1") && one.contains("value: '1'"), "{one}");

    // Undo goes back to revision 1's template, which becomes revision 3.
    let (code, out, _) = orcactl(s, &["rollout", "undo", "deploy/app"], None);
    assert_eq!((code, out.trim()), (0, "deployment.apps/app rolled back"));
    assert_eq!(env_version(&h), "1");
    assert_eq!(
        orcactl(s, &["rollout", "status", "deploy/app", "--timeout", "90s"], None).0,
        0
    );
    let (_, out, _) = orcactl(s, &["rollout", "history", "deploy/app"], None);
    let revs: Vec<&str> = out
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(revs, ["2", "3"], "{out}");
    let (code, _, err) = orcactl(s, &["rollout", "undo", "deploy/app", "--to-revision", "9"], None);
    assert_eq!(code, 1);
    assert!(err.contains("unable to find specified revision 9"), "{err}");

    // Pause holds a template change back; resume lets it roll.
    assert_eq!(
        orcactl(s, &["rollout", "pause", "deploy/app"], None).1.trim(),
        "deployment.apps/app paused"
    );
    let (code, out, err) = orcactl(s, &["apply", "-f", "-"], Some(&manifest("4")));
    assert_eq!(code, 0, "{out}{err}");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(sets(&h).len(), 2, "no new ReplicaSet while paused");
    let (_, out, _) = orcactl(s, &["rollout", "status", "deploy/app", "--watch=false"], None);
    assert!(out.contains("0 out of 2 new replicas"), "{out}");
    assert_eq!(
        orcactl(s, &["rollout", "resume", "deploy/app"], None).1.trim(),
        "deployment.apps/app resumed"
    );
    assert_eq!(
        orcactl(s, &["rollout", "status", "deploy/app", "--timeout", "90s"], None).0,
        0
    );
    assert_eq!(sets(&h).len(), 3);

    // Restart makes a new template, so new pods.
    assert_eq!(
        orcactl(s, &["rollout", "restart", "deploy/app"], None).1.trim(),
        "deployment.apps/app restarted"
    );
    assert_eq!(
        orcactl(s, &["rollout", "status", "deploy/app", "--timeout", "90s"], None).0,
        0
    );
    let d = h.get(&format!("{DEPLOYS}/app")).body;
    assert!(d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    assert_eq!(sets(&h).len(), 4);
}

#[test]
fn a_rollout_that_never_becomes_ready_stops_at_its_deadline() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "stuck-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "stuck-node");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck"},
        "spec": {"replicas": 1, "progressDeadlineSeconds": 3, "selector": {"matchLabels": {"app": "stuck"}},
            "template": {"metadata": {"labels": {"app": "stuck"}}, "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                    "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1}}]}}}});
    assert_eq!(h.post(DEPLOYS, &d).status, 201);
    let started = std::time::Instant::now();
    let (code, out, err) = orcactl(
        &orca.url,
        &["rollout", "status", "deploy/stuck", "--timeout", "60s"],
        None,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("deployment \"stuck\" exceeded its progress deadline"),
        "{err}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "not before the deadline"
    );
    let cond = h.get(&format!("{DEPLOYS}/stuck")).body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .unwrap();
    assert_eq!(
        (cond["status"].as_str(), cond["reason"].as_str()),
        (Some("False"), Some("ProgressDeadlineExceeded"))
    );
}
