//! Every `orca bench` runs at a small size, so the harness cannot rot; the scheduler bench's own
//! correctness check (each pod bound once, to a fitting node, within capacity) must pass.

use std::process::Command;

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .arg("bench")
        .args(args)
        .output()
        .expect("run orca bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "orca bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn scheduler_bench_checks_its_own_results() {
    let dir = tempfile::tempdir().unwrap();
    let (json, plot) = (dir.path().join("s.json"), dir.path().join("s.svg"));
    let out = bench(&[
        "scheduler",
        "--nodes",
        "30",
        "--pods",
        "300",
        "--profile",
        "mixed",
        "--hosts",
        "3",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(out.contains("every pod bound exactly once"), "{out}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["check"]["passed"], true);
    assert_eq!(report["pods"], 300);
    assert!(report["throughput"]["average"].as_f64().unwrap() > 0.0);
    let processes: Vec<&str> = report["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .filter_map(|p| p["process"].as_str())
        .collect();
    // Three "hosts": three clustered nats-servers, an agent of 10 hollow nodes on each.
    for p in [
        "control plane",
        "hollow agent 1",
        "hollow agent 3",
        "nats-server 1",
        "nats-server 3",
    ] {
        assert!(processes.contains(&p), "{p} is reported: {processes:?}");
    }
    assert_eq!(report["hosts"], 3);
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
}

#[test]
fn api_watch_startup_and_pod_benches_run() {
    // etcd-server is installed by .ci/run; without it the comparison cannot run and the test fails.
    let etcd = Command::new("etcd").arg("--version").output();
    assert!(
        etcd.is_ok_and(|o| o.status.success()),
        "etcd is missing: apt-get install -y etcd-server"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("api.json");
    let api = bench(&[
        "api",
        "--clients",
        "1,4",
        "--seconds",
        "1",
        "--vs-etcd",
        "--json",
        out.to_str().unwrap(),
    ]);
    assert!(api.lines().count() >= 3, "{api}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let levels = report["levels"].as_array().expect("levels");
    assert_eq!(levels.len(), 2);
    for l in levels {
        assert!(l["orca"]["creates_per_s"].as_f64().unwrap() > 0.0, "{l}");
        assert!(
            l["etcd"]["creates_per_s"].as_f64().unwrap() > 0.0,
            "etcd answered over gRPC: {l}"
        );
        assert_eq!(l["etcd"]["errors"], 0, "{l}");
    }
    let watch = bench(&["watch", "--watchers", "20", "--changes", "3"]);
    assert!(watch.contains("deliveries 60"), "{watch}");
    let startup = bench(&["startup", "--runs", "1", "--idle-seconds", "1", "--pods", "3"]);
    assert!(
        startup.contains("start to ready") && startup.contains("with 3 pods running"),
        "{startup}"
    );
    let history = bench(&["history", "--events", "20000", "--changes", "100", "--objects", "500"]);
    assert!(
        history.contains("history of one object (100 changes)") && history.contains("replay of 20000 events"),
        "{history}"
    );
    let pods = bench(&["pods", "--pods", "5", "--rate", "0"]);
    assert!(pods.contains("create -> Running"), "{pods}");
}

#[test]
fn workloads_bench_checks_the_rollout_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("w.json");
    let out = bench(&[
        "workloads",
        "--nodes",
        "5",
        "--replicas",
        "40",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.contains("within bounds"), "{out}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(report["most_pods"].as_u64().unwrap() <= 50, "{report}");
    assert!(report["fewest_available"].as_u64().unwrap() >= 30, "{report}");
}

#[test]
fn proxy_bench_compares_the_cluster_ip_with_the_pod() {
    let out = bench(&["proxy", "--connections", "2", "--seconds", "1", "--convergence", "2"]);
    assert!(out.contains("through the ClusterIP") && out.contains("ratio"), "{out}");
    assert!(
        out.contains("pod Ready -> routed through the ClusterIP (2 pods)"),
        "{out}"
    );
}

#[test]
fn members_bench_compares_three_members_with_one_and_kills_a_leader() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("members.json");
    let out = bench(&[
        "members",
        "--clients",
        "1,4",
        "--seconds",
        "1",
        "--trials",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.contains("writes accepted again after"), "{out}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for level in report["levels"].as_array().unwrap() {
        assert!(level["one_member"]["creates_per_s"].as_f64().unwrap() > 0.0);
        assert!(level["three_members"]["creates_per_s"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(report["leader_loss_ms"]["trials"], 2);
}
