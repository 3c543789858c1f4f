//! Agent and nats-server restarts: the agent adopts the containers it started (no pod runs twice),
//! notices the ones that ended while it was away, and statuses converge.

mod common;

use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::{cluster, create_pod, pod, sh_pod, wait_node_ready, wait_pod, Agent, Http, NatsServer};
use serde_json::{json, Value};

fn restarts(p: &Value) -> i64 {
    p.pointer("/status/containerStatuses/0/restartCount")
        .and_then(Value::as_i64)
        .unwrap_or(-1)
}

fn log(h: &Http, name: &str) -> String {
    h.get(&format!("/api/v1/namespaces/default/pods/{name}/log")).text
}

#[test]
fn agent_restart_adopts_running_containers() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let mut agent = Agent::start(&nats.url(), "node-1", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "node-1");
    let pidfile = dir.path().join("pid");
    create_pod(
        &h,
        &sh_pod(
            "keeper",
            &format!(
                "echo started $$; echo $$ > {}; while true; do sleep 0.1; done",
                pidfile.display()
            ),
            "Always",
        ),
    );
    create_pod(
        &h,
        &sh_pod("victim", "echo started; while true; do sleep 0.1; done", "Always"),
    );
    for n in ["keeper", "victim"] {
        wait_pod(&h, n, 30, "Running", |p| {
            p.pointer("/status/containerStatuses/0/state/running").is_some()
        });
    }
    common::wait_for(10, "pid file", || pidfile.exists());
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();

    agent.kill9();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "containers outlive their agent"
    );
    // While the agent is away, one container ends.
    let victim_dir = std::fs::read_dir(dir.path().join("agent/pods"))
        .unwrap()
        .flatten()
        .find(|e| std::fs::read_to_string(e.path().join("pod.json")).is_ok_and(|s| s.contains("\"victim\"")));
    let state: Value =
        serde_json::from_slice(&std::fs::read(victim_dir.unwrap().path().join("main/state.json")).unwrap()).unwrap();
    let shim = state["pid"].as_i64().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{shim}")])
        .status();

    agent.restart();
    // The surviving container is adopted: same process, started once, no restart counted.
    std::thread::sleep(Duration::from_secs(1));
    let k = wait_pod(&h, "keeper", 30, "Running", |p| {
        p.pointer("/status/containerStatuses/0/state/running").is_some()
    });
    assert_eq!(restarts(&k), 0);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        pid,
        "the container was not started again"
    );
    assert_eq!(log(&h, "keeper").matches("started").count(), 1, "{}", log(&h, "keeper"));
    // The one that died while the agent was away is restarted by its policy.
    let v = wait_pod(&h, "victim", 30, "restarted", |p| {
        restarts(p) >= 1 && p.pointer("/status/containerStatuses/0/state/running").is_some()
    });
    assert_eq!(
        v.pointer("/status/containerStatuses/0/lastState/terminated/exitCode"),
        Some(&json!(137))
    );

    // Deleting still works after the restart.
    assert_eq!(h.delete("/api/v1/namespaces/default/pods/keeper").status, 200);
    common::wait_for(20, "keeper gone", || pod(&h, "keeper").status == 404);
    common::wait_for(10, "keeper process gone", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
}

#[test]
fn agent_survives_a_nats_restart() {
    let mut nats = NatsServer::start(None).expect("nats-server");
    let port = nats.port();
    let dir = tempfile::tempdir().unwrap();
    let orca = common::Orca::start(&nats.url(), dir.path(), &[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "node-1", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "node-1");
    create_pod(&h, &sh_pod("before", "echo up; sleep 60", "Always"));
    wait_pod(&h, "before", 30, "Running", |p| {
        p.pointer("/status/phase") == Some(&json!("Running"))
    });

    nats.stop();
    create_pod(&h, &sh_pod("during", "echo up; sleep 60", "Always"));
    std::thread::sleep(Duration::from_millis(500));
    nats = NatsServer::start(Some(port)).expect("nats-server restarts");
    create_pod(&h, &sh_pod("after", "echo up; sleep 60", "Always"));
    for n in ["during", "after"] {
        wait_pod(&h, n, 60, "Running", |p| {
            p.pointer("/status/phase") == Some(&json!("Running"))
        });
    }
    let b = pod(&h, "before").body;
    assert_eq!(restarts(&b), 0, "the running pod was not disturbed");
    assert_eq!(log(&h, "before").matches("up").count(), 1);
    drop(nats);
}

#[test]
fn a_saved_pid_that_is_not_our_shim_is_never_signalled() {
    // A pod directory left from before (a reboot, say) whose saved shim pid now belongs to an
    // unrelated process: the agent cleans the directory up and leaves that process alone.
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let mut bystander = std::process::Command::new("sleep")
        .arg("60")
        .process_group(0)
        .spawn()
        .unwrap();
    let stale = dir.path().join("agent/pods/0000-stale-uid/c");
    std::fs::create_dir_all(&stale).unwrap();
    let state = json!({"pid": bystander.id(), "restart_count": 0, "started_at": "", "last_state": null, "done": false, "final_state": null});
    std::fs::write(stale.join("state.json"), state.to_string()).unwrap();
    let _agent = Agent::start(&nats.url(), "node-1", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "node-1");
    common::wait_for(30, "the stale pod directory removed", || !stale.exists());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the agent signalled a process that only had a stale pid's number"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
}
