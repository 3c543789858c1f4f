//! The official Kubernetes Python client (`kubernetes==31.0.0`, unmodified) against orca: typed
//! lists and reads, a watch, strategic and JSON patches, server-side apply through the dynamic
//! client and its discovery, logs and exec (`tests/clients/kubernetes_client.py`). Fails, not
//! skips, when python3 or the client is missing (`.ci/run` installs it with pip).

mod common;

use std::process::Command;

use common::{cluster, wait_node_ready, Agent, Http};

#[test]
fn the_python_client_lists_watches_patches_and_applies() {
    let has_client = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_client,
        "this test needs python3 with the Kubernetes client: python3 -m pip install kubernetes==31.0.0"
    );
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "py-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "py-node");
    let config = dir.path().join("kubeconfig");
    std::fs::write(
        &config,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: orca\n  cluster:\n    server: {}\ncontexts:\n- name: orca\n  context:\n    cluster: orca\n    user: orca\ncurrent-context: orca\nusers:\n- name: orca\n  user: {{}}\n", orca.url),
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/kubernetes_client.py");
    let out = Command::new("timeout")
        .args(["300", "python3", script, config.to_str().unwrap()])
        // The dynamic client keeps its discovery cache in the temporary directory.
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    for step in [
        "list ok",
        "watch ok",
        "patch ok",
        "server-side apply ok",
        "logs and exec ok",
        "delete ok",
    ] {
        assert!(stdout.contains(step), "{step} missing: {stdout}{stderr}");
    }
}
