//! Jobs run their pods to completion: parallelism and completions, Indexed mode with
//! JOB_COMPLETION_INDEX, back-off between failures up to backoffLimit, activeDeadlineSeconds, and
//! ttlSecondsAfterFinished deleting the Job with its pods.

mod common;

use std::collections::BTreeSet;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn job(name: &str, spec: Value, script: &str) -> Value {
    let mut s = spec;
    s["template"] = json!({"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}});
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": s})
}

fn pods_of(h: &Http, job: &str) -> Vec<Value> {
    h.get(&format!("{PODS}?labelSelector=batch.kubernetes.io%2Fjob-name%3D{job}"))
        .body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn condition(h: &Http, name: &str, kind: &str) -> Option<Value> {
    h.get(&format!("{JOBS}/{name}")).body["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind && c["status"] == "True")
        .cloned()
}

fn start() -> (common::NatsServer, common::Orca, tempfile::TempDir, Agent, Http) {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let agent = Agent::start(&nats.url(), "job-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "job-node");
    (nats, orca, dir, agent, h)
}

#[test]
fn a_job_runs_completions_with_parallelism_then_its_ttl_deletes_it() {
    let (_n, _o, _d, _a, h) = start();
    let spec = json!({"completions": 4, "parallelism": 2, "ttlSecondsAfterFinished": 2});
    assert_eq!(h.post(JOBS, &job("batch", spec, "sleep 0.5")).status, 201);
    let mut most_active = 0;
    wait_for(90, "the job Complete", || {
        let active = pods_of(&h, "batch")
            .iter()
            .filter(|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
            .count();
        most_active = most_active.max(active);
        condition(&h, "batch", "Complete").is_some()
    });
    assert!(most_active <= 2, "parallelism 2, saw {most_active} pods at once");
    let j = h.get(&format!("{JOBS}/batch")).body;
    assert_eq!(j["status"]["succeeded"], 4, "{j}");
    assert!(j["status"]["completionTime"].is_string() && j["status"]["startTime"].is_string());
    assert_eq!(pods_of(&h, "batch").len(), 4, "exactly 4 pods, all succeeded");
    wait_for(30, "the TTL deletes the job and its pods", || {
        h.get(&format!("{JOBS}/batch")).status == 404 && pods_of(&h, "batch").is_empty()
    });
}

#[test]
fn an_indexed_job_gives_each_pod_its_index() {
    let (_n, _o, _d, _a, h) = start();
    let spec = json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"});
    assert_eq!(
        h.post(JOBS, &job("idx", spec, "echo index=$JOB_COMPLETION_INDEX"))
            .status,
        201
    );
    wait_for(60, "the indexed job Complete", || {
        condition(&h, "idx", "Complete").is_some()
    });
    let j = h.get(&format!("{JOBS}/idx")).body;
    assert_eq!(j["status"]["completedIndexes"], "0-2", "{j}");
    let mut seen = BTreeSet::new();
    for p in pods_of(&h, "idx") {
        let name = p["metadata"]["name"].as_str().unwrap();
        let index = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            .as_str()
            .unwrap();
        assert!(name.starts_with(&format!("idx-{index}-")), "{name}");
        let log = h.get(&format!("{PODS}/{name}/log")).text;
        assert_eq!(log.trim(), format!("index={index}"), "{name}");
        seen.insert(index.to_string());
    }
    assert_eq!(seen, ["0", "1", "2"].map(String::from).into());
}

#[test]
fn failures_back_off_and_stop_at_the_limit_and_the_deadline_stops_a_job() {
    let (_n, _o, _d, _a, h) = start();
    let spec = json!({"backoffLimit": 1});
    assert_eq!(h.post(JOBS, &job("flaky", spec, "exit 3")).status, 201);
    let spec = json!({"activeDeadlineSeconds": 2});
    assert_eq!(h.post(JOBS, &job("slow", spec, "sleep 3600")).status, 201);

    wait_for(30, "the deadline fails the slow job", || {
        condition(&h, "slow", "Failed").is_some()
    });
    assert_eq!(condition(&h, "slow", "Failed").unwrap()["reason"], "DeadlineExceeded");
    wait_for(30, "its pod is stopped", || {
        pods_of(&h, "slow")
            .iter()
            .all(|p| p["status"]["phase"] != "Running" || !p["metadata"]["deletionTimestamp"].is_null())
    });

    wait_for(60, "the flaky job fails at its backoff limit", || {
        condition(&h, "flaky", "Failed").is_some()
    });
    let failed = condition(&h, "flaky", "Failed").unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    let pods = pods_of(&h, "flaky");
    assert_eq!(pods.len(), 2, "one try plus one retry");
    let mut created: Vec<std::time::SystemTime> = pods
        .iter()
        .map(|p| humantime::parse_rfc3339_weak(p["metadata"]["creationTimestamp"].as_str().unwrap()).unwrap())
        .collect();
    created.sort();
    let gap = created[1].duration_since(created[0]).unwrap();
    assert!(
        gap >= std::time::Duration::from_secs(9),
        "the retry waited the back-off: {gap:?}"
    );
    assert_eq!(h.get(&format!("{JOBS}/flaky")).body["status"]["failed"], 2);
}
