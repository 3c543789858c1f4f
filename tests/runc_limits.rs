//! Limits and identity of runc pods: a container over its memory limit is OOMKilled, a CPU limit
//! becomes the cgroup's quota, runAsUser and runAsGroup set who the process is, hostNetwork shares
//! the node's network. Needs root and runc (CI installs runc).

mod common;

use common::{cluster, create_pod, require_runc, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";

#[test]
fn runc_pods_get_their_limits_and_identity() {
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let images = dir.path().join("images");
    let agent_dir = dir.path().join("agent");
    let _agent = Agent::start(
        &nats.url(),
        "runc-lim",
        &agent_dir,
        &["--runtime", "runc", "--image-dir", images.to_str().unwrap()],
    );
    wait_node_ready(&h, "runc-lim");
    let hog = json!({"metadata": {"name": "hog"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", "x=$(yes | head -c 100000000); echo survived"],
        "resources": {"limits": {"memory": "20Mi"}}}]}});
    create_pod(&h, &hog);
    let host = json!({"metadata": {"name": "host"}, "spec": {"hostNetwork": true, "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "cat /proc/net/dev; sleep 3600"]}]}});
    create_pod(&h, &host);
    let lim = json!({"metadata": {"name": "lim"}, "spec": {"terminationGracePeriodSeconds": 1,
        "securityContext": {"runAsUser": 1000, "runAsGroup": 3000},
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo uid=$(id -u) gid=$(id -g); sleep 3600"],
            "securityContext": {"runAsUser": 1001}, "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}}]}});
    let created = create_pod(&h, &lim);
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();

    wait_for(60, "the hog OOMKilled", || {
        let p: Value = h.get(&format!("{PODS}/hog")).body;
        p["status"]["phase"] == "Failed"
    });
    let p = h.get(&format!("{PODS}/hog")).body;
    let term = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (term["reason"].as_str(), term["exitCode"].as_i64()),
        (Some("OOMKilled"), Some(137)),
        "{p}"
    );

    wait_for(60, "the host-network pod listed the node's interfaces", || {
        h.get(&format!("{PODS}/host/log")).text.contains("orca0:")
    });
    let hp = h.get(&format!("{PODS}/host")).body;
    assert_eq!(hp["status"]["podIP"], hp["status"]["hostIP"], "{hp}");
    wait_for(60, "lim printed its identity", || {
        h.get(&format!("{PODS}/lim/log")).text.contains("uid=")
    });
    assert_eq!(
        h.get(&format!("{PODS}/lim/log")).text.trim(),
        "uid=1001 gid=3000",
        "container runAsUser over the pod's"
    );
    let cgroup = std::fs::read_to_string(agent_dir.join("pods").join(&uid).join("c/cgroup")).unwrap();
    let read = |ctl: &str, file: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctl}{}/{file}", cgroup.trim()))
            .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup{}/{file}", cgroup.trim())))
            .unwrap_or_default()
    };
    let quota = read("cpu", "cpu.cfs_quota_us");
    let max = read("", "cpu.max");
    assert!(
        quota.trim() == "50000" || max.starts_with("50000 100000"),
        "quota {quota:?} / cpu.max {max:?}"
    );
    let mem = read("memory", "memory.limit_in_bytes");
    let mem2 = read("", "memory.max");
    assert!(
        mem.trim() == "67108864" || mem2.trim() == "67108864",
        "memory {mem:?} / {mem2:?}"
    );
    assert_eq!(h.delete(&format!("{PODS}/lim")).status, 200);
    wait_for(30, "lim gone", || h.get(&format!("{PODS}/lim")).status == 404);
    wait_for(10, "the pod's cgroups removed", || {
        !std::path::Path::new(&format!("/sys/fs/cgroup/memory/orca/{uid}")).exists()
    });
}
