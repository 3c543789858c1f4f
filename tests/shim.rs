//! The per-container monitor, `orca-shim`: small, rotates its container's log, recognised by its
//! binary, and records how its container ended while no agent is there to see it.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{cluster, create_pod, sh_pod, wait_node_ready, wait_pod, Agent, Http};
use orca_actors::node::runtime::shim_process;
use serde_json::{json, Value};

/// `orca-shim`, next to the `orca` binary under test (the build script puts it there).
fn shim_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_orca")).with_file_name("orca-shim");
    assert!(bin.is_file(), "{} is missing: build.rs builds it", bin.display());
    bin
}

fn spawn(dir: &Path, extra: &[&str], argv: &[&str]) -> Child {
    Command::new(shim_bin())
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("orca-shim starts")
}

/// A field of /proc/PID/status, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn the_monitor_of_a_sleeping_container_stays_under_one_megabyte() {
    let dir = tempfile::tempdir().unwrap();
    let mut shim = spawn(dir.path(), &[], &["sh", "-c", "echo up; exec sleep 30"]);
    common::wait_for(10, "the container's output", || {
        std::fs::read_to_string(dir.path().join("current.log")).is_ok_and(|l| l.contains("up"))
    });
    let rss = status_kb(shim.id(), "VmRSS:");
    assert!(rss < 1024, "orca-shim resident: {rss} kB (limit 1024 kB)");
    assert!(
        shim_process::owned(shim.id() as i32, dir.path()),
        "recognised as this container's monitor"
    );
    assert!(
        !shim_process::owned(shim.id() as i32, &dir.path().join("other")),
        "not another container's"
    );
    // SIGTERM goes to the container, not to the monitor, which records the end.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", shim.id())])
        .status();
    let status = shim.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert_eq!(shim_process::exit_status(dir.path()).map(|s| s.0), Some(143));
}

#[test]
fn the_monitor_rotates_the_log_and_keeps_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let script =
        "i=0; while [ $i -lt 400 ]; do echo line-$i-0123456789abcdefghij; i=$((i+1)); done; echo bye >&2; exit 3";
    let mut shim = spawn(dir.path(), &["--log-max", "4096"], &["sh", "-c", script]);
    assert_eq!(shim.wait().unwrap().code(), Some(3));
    let current = std::fs::read_to_string(dir.path().join("current.log")).unwrap();
    let rotated = std::fs::read_to_string(dir.path().join("current.log.1")).unwrap();
    assert!(
        current.len() <= 4096 && rotated.len() <= 4096,
        "{} {}",
        current.len(),
        rotated.len()
    );
    assert!(current.ends_with("line-399-0123456789abcdefghij\nbye\n"), "{current}");
    // The two files hold a contiguous tail of the output: no line is cut or lost at a rotation.
    let lines: Vec<&str> = rotated.lines().chain(current.lines()).collect();
    let first: usize = lines[0].split('-').nth(1).unwrap().parse().unwrap();
    for (k, l) in lines.iter().take(lines.len() - 1).enumerate() {
        assert_eq!(*l, format!("line-{}-0123456789abcdefghij", first + k));
    }
    let (code, at) = shim_process::exit_status(dir.path()).unwrap();
    assert_eq!(code, 3);
    assert!(at.is_some());
}

#[test]
fn a_command_that_cannot_run_is_reported_in_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut shim = spawn(dir.path(), &[], &["/no/such/binary"]);
    assert_eq!(shim.wait().unwrap().code(), Some(127));
    let log = std::fs::read_to_string(dir.path().join("current.log")).unwrap();
    assert!(log.contains("cannot run \"/no/such/binary\""), "{log}");
    assert_eq!(shim_process::exit_status(dir.path()).map(|s| s.0), Some(127));
}

fn container_dir(agent_dir: &Path, pod: &str) -> PathBuf {
    let pod_dir = std::fs::read_dir(agent_dir.join("pods"))
        .unwrap()
        .flatten()
        .find(|e| std::fs::read_to_string(e.path().join("pod.json")).is_ok_and(|s| s.contains(&format!("\"{pod}\""))))
        .expect("the pod's directory");
    pod_dir.path().join("main")
}

#[test]
fn the_exit_code_is_recorded_while_the_agent_is_away() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let agent_dir = dir.path().join("agent");
    let mut agent = Agent::start(&nats.url(), "node-1", &agent_dir, &[]);
    wait_node_ready(&h, "node-1");
    let go = dir.path().join("go");
    let script = format!(
        "echo started; grep THP_enabled /proc/self/status; while [ ! -e {} ]; do sleep 0.05; done; exit 7",
        go.display()
    );
    create_pod(&h, &sh_pod("ender", &script, "Never"));
    wait_pod(&h, "ender", 30, "Running", |p| {
        p.pointer("/status/containerStatuses/0/state/running").is_some()
    });
    let cdir = container_dir(&agent_dir, "ender");
    let state: Value = serde_json::from_slice(&std::fs::read(cdir.join("state.json")).unwrap()).unwrap();
    let shim = state["pid"].as_i64().unwrap() as i32;
    assert!(shim_process::owned(shim, &cdir));

    agent.kill9();
    assert!(shim_process::alive(shim), "the monitor outlives its agent");
    std::fs::write(&go, "").unwrap();
    common::wait_for(10, "the monitor records the end", || {
        shim_process::exit_status(&cdir).is_some()
    });
    let (code, finished) = shim_process::exit_status(&cdir).unwrap();
    assert_eq!(code, 7);
    std::thread::sleep(Duration::from_millis(1100));

    agent.restart();
    let p = wait_pod(&h, "ender", 30, "Failed", |p| {
        p.pointer("/status/phase") == Some(&json!("Failed"))
    });
    let t = p.pointer("/status/containerStatuses/0/state/terminated").unwrap();
    assert_eq!(t["exitCode"], json!(7));
    assert_eq!(
        t["finishedAt"].as_str(),
        finished.as_deref(),
        "the time the monitor saw"
    );
    let log = h.get("/api/v1/namespaces/default/pods/ender/log").text;
    assert_eq!(log.matches("started").count(), 1, "{log}");
    // The agent runs without transparent huge pages; its containers keep the machine's setting.
    assert!(log.contains("THP_enabled:\t1"), "{log}");
}
