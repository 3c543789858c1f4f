//! runc pods: busybox (built in) and a loaded docker-save image run in their own namespaces with their
//! own IPs on the node bridge, reachable from the host and from each other; logs, exec, a missing image
//! explained, and everything cleaned up on delete. Needs root and runc (CI installs runc).

mod common;

use std::process::Command;

use common::{cluster, create_pod, pod, require_runc, wait_node_ready, wait_pod, Agent, Http};
use serde_json::{json, Value};

/// A docker-save tarball: layer 1 has busybox and /etc/removed, layer 2 whites /etc/removed out.
fn docker_save(path: &std::path::Path) {
    let busybox = std::fs::read("/usr/bin/busybox")
        .or_else(|_| std::fs::read("/bin/busybox"))
        .expect("busybox-static installed");
    let layer = |files: Vec<(&str, Vec<u8>, u32)>, links: Vec<(&str, &str)>| {
        let mut b = tar::Builder::new(Vec::new());
        for (p, data, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_cksum();
            b.append_data(&mut h, p, data.as_slice()).unwrap();
        }
        for (p, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, p, target).unwrap();
        }
        b.into_inner().unwrap()
    };
    let l1 = layer(
        vec![("bin/busybox", busybox, 0o755), ("etc/removed", b"old".to_vec(), 0o644)],
        vec![
            ("bin/sh", "busybox"),
            ("bin/cat", "busybox"),
            ("bin/echo", "busybox"),
            ("bin/sleep", "busybox"),
            ("bin/wget", "busybox"),
        ],
    );
    let l2 = layer(
        vec![
            ("etc/.wh.removed", Vec::new(), 0o644),
            ("app/message", b"from-myapp".to_vec(), 0o644),
        ],
        vec![],
    );
    let config = json!({"config": {"Env": ["PATH=/bin", "GREETING=hi"], "Cmd": ["sh", "-c", "cat /app/message; echo; cat /etc/removed 2>/dev/null || echo removed-gone; echo $GREETING; sleep 60"], "WorkingDir": "/app"}});
    common::docker_save_tar(path, "myapp:1", &config, vec![l1, l2]);
}

fn log(h: &Http, name: &str) -> String {
    h.get(&format!("/api/v1/namespaces/default/pods/{name}/log")).text
}

#[test]
fn runc_pods_run_in_their_own_namespaces() {
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let images = dir.path().join("images");
    let tarball = dir.path().join("myapp.tar");
    docker_save(&tarball);
    let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["image", "load"])
        .arg(&tarball)
        .arg("--image-dir")
        .arg(&images)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Loaded image: myapp:1");
    let ls = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["image", "ls", "--image-dir"])
        .arg(&images)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(
        listing.contains("myapp:1") && listing.contains("busybox:latest"),
        "{listing}"
    );

    let _agent = Agent::start(
        &nats.url(),
        "runc-node",
        &dir.path().join("agent"),
        &["--runtime", "runc", "--image-dir", images.to_str().unwrap()],
    );
    wait_node_ready(&h, "runc-node");
    // The node-ipam controller gives the only node the first range, right after it registers.
    common::wait_for(10, "runc-node's podCIDR", || {
        h.get("/api/v1/nodes/runc-node").body["spec"]["podCIDR"].is_string()
    });
    assert_eq!(
        h.get("/api/v1/nodes/runc-node").body["spec"]["podCIDR"],
        "10.244.0.0/24"
    );
    let web = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "main", "image": "busybox",
        "command": ["sh", "-c", "echo hello from $(hostname) pid=$$; mkdir -p /tmp/www; echo served > /tmp/www/index.html; exec httpd -f -p 8080 -h /tmp/www"]}]}});
    create_pod(&h, &web);
    let app = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "main", "image": "myapp:1"}]}});
    create_pod(&h, &app);
    let missing = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "missing"}, "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]}});
    create_pod(&h, &missing);

    let w = wait_pod(&h, "web", 60, "Running", |p| {
        p.pointer("/status/containerStatuses/0/state/running").is_some()
    });
    let ip = w["status"]["podIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.244.0."), "pod IP {ip}");
    common::wait_for(10, "web log", || log(&h, "web").contains("hello from web pid=1"));
    let served = (0..50).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        reqwest::blocking::get(format!("http://{ip}:8080/"))
            .ok()
            .and_then(|r| r.text().ok())
    });
    assert_eq!(served.as_deref(), Some("served\n"), "the host reaches the pod IP");

    let a = wait_pod(&h, "app", 60, "Running", |p| {
        p.pointer("/status/containerStatuses/0/state/running").is_some()
    });
    let app_ip = a["status"]["podIP"].as_str().unwrap().to_string();
    assert_ne!(app_ip, ip);
    common::wait_for(10, "app log", || log(&h, "app").contains("hi"));
    assert_eq!(
        log(&h, "app"),
        "from-myapp\nremoved-gone\nhi\n",
        "image cmd, env, layers and whiteouts"
    );
    let exec = h.post(
        "/api/v1/namespaces/default/pods/app/exec",
        &json!({"command": ["wget", "-q", "-O", "-", format!("http://{ip}:8080/")]}),
    );
    assert_eq!(
        (exec.body["stdout"].as_str(), exec.body["exitCode"].as_i64()),
        (Some("served\n"), Some(0)),
        "pod to pod: {}",
        exec.text
    );

    let m = wait_pod(&h, "missing", 30, "explained", |p| {
        p.pointer("/status/containerStatuses/0/state/waiting/reason") == Some(&json!("ErrImageNeverPull"))
    });
    assert!(m
        .pointer("/status/containerStatuses/0/state/waiting/message")
        .and_then(Value::as_str)
        .unwrap()
        .contains("orcactl image load"));

    for n in ["web", "app", "missing"] {
        assert_eq!(h.delete(&format!("/api/v1/namespaces/default/pods/{n}")).status, 200);
    }
    for n in ["web", "app", "missing"] {
        common::wait_for(30, &format!("{n} deleted"), || pod(&h, n).status == 404);
    }
    let list = Command::new("runc")
        .arg("--root")
        .arg(dir.path().join("agent/runc"))
        .arg("list")
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).trim(),
        "",
        "runc containers removed"
    );
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&netns.stdout)
        .lines()
        .filter(|l| l.starts_with("orca-"))
        .map(str::to_string)
        .collect();
    let uids: Vec<String> = [w, a]
        .iter()
        .map(|p| format!("orca-{}", &p["metadata"]["uid"].as_str().unwrap().replace('-', "")[..8]))
        .collect();
    assert!(
        left.iter().all(|l| !uids.iter().any(|u| l.starts_with(u.as_str()))),
        "network namespaces removed: {left:?}"
    );
}
