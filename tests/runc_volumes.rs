//! Volumes of runc pods: a configMap and a memory-backed emptyDir (tmpfs) mounted into the
//! container's own filesystem, a read-only mount that refuses writes, and the tmpfs unmounted when
//! the pod goes. Needs root and runc (CI installs runc).

mod common;

use common::{cluster, create_pod, require_runc, wait_for, Http};
use serde_json::json;

#[test]
fn runc_pods_mount_config_maps_and_memory_empty_dirs() {
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = common::runc_agent(&nats, dir.path(), "runc-vol", &h);
    let cm = json!({"metadata": {"name": "conf"}, "data": {"mode": "fast"}});
    assert_eq!(h.post("/api/v1/namespaces/default/configmaps", &cm).status, 201);
    let script = "cat /etc/app/mode; echo; grep ' /cache ' /proc/mounts | cut -d' ' -f3; \
                  (echo x > /etc/app/new) 2>/dev/null && echo writable || echo read-only; \
                  echo kept > /cache/f; cat /cache/f; sleep 3600";
    let pod = json!({"metadata": {"name": "rv"}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "main", "image": "busybox",
        "command": ["sh", "-c", script], "volumeMounts": [{"name": "conf", "mountPath": "/etc/app", "readOnly": true},
            {"name": "cache", "mountPath": "/cache"}]}],
        "volumes": [{"name": "conf", "configMap": {"name": "conf"}}, {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}]}});
    let created = create_pod(&h, &pod);
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    wait_for(60, "the container read its mounts", || {
        h.get("/api/v1/namespaces/default/pods/rv/log").text.contains("kept")
    });
    let out = h.get("/api/v1/namespaces/default/pods/rv/log").text;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["fast", "tmpfs", "read-only", "kept"], "{out}");
    let cache = dir.path().join("agent/pods").join(&uid).join("volumes/cache");
    let mounted = |p: &std::path::Path| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split_whitespace().nth(4) == Some(p.to_str().unwrap()))
    };
    assert!(mounted(&cache), "the memory emptyDir is a tmpfs on the node");
    assert_eq!(h.delete("/api/v1/namespaces/default/pods/rv").status, 200);
    wait_for(30, "pod gone", || {
        h.get("/api/v1/namespaces/default/pods/rv").status == 404
    });
    wait_for(10, "tmpfs unmounted", || !mounted(&cache));
}
