//! What a runc pod's spec drives stays inside its container (the security issue's host escapes):
//! exec probes run through `runc exec`, not on the host. Needs root and runc (CI installs runc).

mod common;

use common::{cluster, create_pod, require_runc, wait_node_ready, wait_pod, Agent, Http};
use serde_json::json;

#[test]
fn exec_probes_of_runc_pods_run_inside_the_container() {
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let images = dir.path().join("images");
    let _agent = Agent::start(
        &nats.url(),
        "escape-node",
        &dir.path().join("agent"),
        &["--runtime", "runc", "--image-dir", images.to_str().unwrap()],
    );
    wait_node_ready(&h, "escape-node");
    // The readiness probe looks for a file only the container has; the liveness probe writes a
    // file that must not appear on the host.
    let marker = format!("orca-probe-escape-{}", uuid::Uuid::new_v4().simple());
    let host_path = std::path::Path::new("/tmp").join(&marker);
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probed"}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox",
            "command": ["sh", "-c", "mkdir -p /tmp && touch /tmp/inside-only && exec sleep 600"],
            "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/inside-only"]}, "periodSeconds": 1},
            "livenessProbe": {"exec": {"command": ["touch", host_path.to_str().unwrap()]}, "periodSeconds": 1}}]}});
    create_pod(&h, &p);
    wait_pod(
        &h,
        "probed",
        60,
        "Ready through a probe that sees the container's files",
        |p| {
            p["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        },
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    let restarts =
        h.get("/api/v1/namespaces/default/pods/probed").body["status"]["containerStatuses"][0]["restartCount"].as_i64();
    assert_eq!(restarts, Some(0), "the liveness probe succeeds inside the container");
    assert!(
        !host_path.exists(),
        "an exec probe wrote {} on the host",
        host_path.display()
    );
    assert_eq!(h.delete("/api/v1/namespaces/default/pods/probed").status, 200);
}
