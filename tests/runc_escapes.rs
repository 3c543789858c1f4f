//! What a runc pod's spec drives stays inside its container (the security issue's host escapes):
//! exec probes run through `runc exec`, not on the host. Needs root and runc (CI installs runc).

mod common;

use common::{cluster, create_pod, require_runc, wait_pod, Http};
use serde_json::json;

#[test]
fn exec_probes_of_runc_pods_run_inside_the_container() {
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = common::runc_agent(&nats, dir.path(), "escape-node", &h);
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

/// A docker-save tarball of two layers.
fn image_tar(path: &std::path::Path, tag: &str, l1: Vec<u8>, l2: Vec<u8>) {
    let config = json!({"config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]}});
    common::docker_save_tar(path, tag, &config, vec![l1, l2]);
}

#[test]
fn a_crafted_image_cannot_touch_the_host() {
    // Layer 1 plants `a -> /` and `b -> ../../..`; layer 2 whites out a host file through them,
    // empties a host directory with an opaque marker and writes through them.
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(victim.join("dir")).unwrap();
    std::fs::write(victim.join("precious"), b"keep").unwrap();
    std::fs::write(victim.join("dir/inner"), b"keep").unwrap();
    let rel = victim.strip_prefix("/").unwrap().to_str().unwrap().to_string();
    let mut l1 = tar::Builder::new(Vec::new());
    for (p, target) in [("a", "/"), ("b", "../../../../../../..")] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        l1.append_link(&mut h, p, target).unwrap();
    }
    let mut l2 = tar::Builder::new(Vec::new());
    for p in [
        format!("a/{rel}/.wh.precious"),
        format!("b/{rel}/.wh.precious"),
        format!("a/{rel}/dir/.wh..wh..opq"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_cksum();
        l2.append_data(&mut h, p, &b""[..]).unwrap();
    }
    let tarball = dir.path().join("crafted.tar");
    image_tar(
        &tarball,
        "crafted:1",
        l1.into_inner().unwrap(),
        l2.into_inner().unwrap(),
    );
    let images = dir.path().join("images");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["image", "load"])
        .arg(&tarball)
        .arg("--image-dir")
        .arg(&images)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read(victim.join("precious")).unwrap(),
        b"keep",
        "a whiteout reached the host"
    );
    assert_eq!(
        std::fs::read(victim.join("dir/inner")).unwrap(),
        b"keep",
        "an opaque marker reached the host"
    );
    // A layer that writes through such a link is refused whole (tar's unpack_in checks each
    // entry's parent), and writes nothing.
    let mut l1 = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    l1.append_link(&mut h, "b", "../../../../../../..").unwrap();
    let mut l2 = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_cksum();
    l2.append_data(&mut h, format!("b/{rel}/planted"), &b"x"[..]).unwrap();
    let writer = dir.path().join("writer.tar");
    image_tar(&writer, "writer:1", l1.into_inner().unwrap(), l2.into_inner().unwrap());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["image", "load"])
        .arg(&writer)
        .arg("--image-dir")
        .arg(&images)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a layer writing outside its rootfs must be refused"
    );
    assert!(!victim.join("planted").exists(), "a layer wrote on the host");
    // A reference that names a path is refused, not used as one.
    let named = dir.path().join("named.tar");
    let empty = || tar::Builder::new(Vec::new()).into_inner().unwrap();
    image_tar(&named, "../escape:1", empty(), empty());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["image", "load"])
        .arg(&named)
        .arg("--image-dir")
        .arg(&images)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an image reference"));
    assert!(!dir.path().join("escape").exists());
}

fn ip(args: &[&str]) -> bool {
    std::process::Command::new("ip")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_namespace_left_behind_never_answers_for_a_new_pod() {
    // A pod namespace whose pod directory went away (an agent killed and its data removed) keeps
    // its veth on the bridge, answering for an address the allocator hands out again. The next
    // allocation on the machine removes it.
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let (ns, host_side) = ("orca-orphan01", "voorphan01");
    assert!(ip(&["netns", "add", ns]), "ip netns add {ns} (needs root and iproute2)");
    assert!(ip(&[
        "link",
        "add",
        host_side,
        "type",
        "veth",
        "peer",
        "name",
        "vporphan01",
        "netns",
        ns
    ]));
    let _ = ip(&["link", "set", host_side, "master", "orca0"]);
    let _agent = common::runc_agent(&nats, dir.path(), "orphan-node", &h);
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fresh"}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "600"]}]}});
    create_pod(&h, &p);
    wait_pod(&h, "fresh", 60, "Running", |p| p["status"]["phase"] == "Running");
    let ns_left = std::path::Path::new("/var/run/netns").join(ns).exists();
    let link_left = ip(&["link", "show", host_side]);
    let (_, _) = (ip(&["link", "del", host_side]), ip(&["netns", "del", ns]));
    assert!(!ns_left, "the orphaned namespace {ns} is still there");
    assert!(!link_left, "the orphan's veth {host_side} is still on the bridge");
    assert_eq!(h.delete("/api/v1/namespaces/default/pods/fresh").status, 200);
}

/// A one-layer image of busybox whose config says it runs as `user`.
fn user_image(path: &std::path::Path, tag: &str, user: &str) {
    let busybox = std::fs::read("/usr/bin/busybox")
        .or_else(|_| std::fs::read("/bin/busybox"))
        .expect("busybox-static installed");
    let mut b = tar::Builder::new(Vec::new());
    for (p, data, mode) in [
        ("bin/busybox", busybox, 0o755),
        (
            "etc/passwd",
            b"root:x:0:0::/:/bin/sh\napp:x:1234:4321::/:/bin/sh\n".to_vec(),
            0o644,
        ),
        ("etc/group", b"root:x:0:\napp:x:4321:\n".to_vec(), 0o644),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, p, data.as_slice()).unwrap();
    }
    for applet in ["sh", "id", "unshare", "true", "echo", "sleep"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox").unwrap();
    }
    let config = json!({"config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "User": user}});
    common::docker_save_tar(path, tag, &config, vec![b.into_inner().unwrap()]);
}

#[test]
fn runc_pods_get_the_runtime_default_seccomp_profile_and_the_images_user() {
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let images = dir.path().join("images");
    let tarball = dir.path().join("app.tar");
    user_image(&tarball, "appuser:1", "app");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["image", "load"])
        .arg(&tarball)
        .arg("--image-dir")
        .arg(&images)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // On the host (root), a new user namespace is no problem: the refusal below is the profile's.
    assert!(std::process::Command::new("unshare")
        .args(["-U", "true"])
        .status()
        .unwrap()
        .success());
    let _agent = common::runc_agent(&nats, dir.path(), "seccomp-node", &h);
    let script = "unshare -U true && echo userns-allowed || echo userns-refused; id -u; id -g; sleep 600";
    let pods = [
        ("as-image", "appuser:1", None),
        ("as-pod", "appuser:1", Some(0)),
        ("as-uid", "appuser:1", Some(1234)),
    ];
    for (name, image, run_as) in pods {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": image, "command": ["sh", "-c", script]}]}});
        if let Some(uid) = run_as {
            p["spec"]["securityContext"] = json!({"runAsUser": uid});
        }
        create_pod(&h, &p);
    }
    // The script's own lines (unshare's complaint on stderr aside).
    let log = |name: &str| -> Vec<String> {
        h.get(&format!("/api/v1/namespaces/default/pods/{name}/log"))
            .text
            .lines()
            .filter(|l| !l.starts_with("unshare:"))
            .map(str::to_string)
            .collect()
    };
    common::wait_for(60, "both pods logged", || {
        log("as-image").len() >= 3 && log("as-pod").len() >= 3 && log("as-uid").len() >= 3
    });
    assert_eq!(log("as-image"), ["userns-refused", "1234", "4321"], "the image's user");
    // runAsUser wins; with no runAsGroup the group is that user's in the image (root's).
    assert_eq!(log("as-pod"), ["userns-refused", "0", "0"]);
    assert_eq!(
        log("as-uid"),
        ["userns-refused", "1234", "4321"],
        "uid 1234's group in the image"
    );
    for name in ["as-image", "as-pod", "as-uid"] {
        assert_eq!(h.delete(&format!("/api/v1/namespaces/default/pods/{name}")).status, 200);
    }
}

#[test]
fn runc_pods_carry_their_service_account_token() {
    require_runc();
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = common::runc_agent(&nats, dir.path(), "sa-node", &h);
    let sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    let script = format!("cat {sa}/namespace; echo; head -c 2 {sa}/ca.crt; echo; cat {sa}/token; echo; sleep 600");
    for (name, automount) in [("with-token", true), ("without-token", false)] {
        let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
            "terminationGracePeriodSeconds": 1, "automountServiceAccountToken": automount,
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", &script]}]}});
        create_pod(&h, &p);
    }
    let log = |name: &str| -> Vec<String> {
        h.get(&format!("/api/v1/namespaces/default/pods/{name}/log"))
            .text
            .lines()
            .map(str::to_string)
            .collect()
    };
    common::wait_for(60, "the pods logged", || {
        log("with-token").len() >= 3 && !log("without-token").is_empty()
    });
    let lines = log("with-token");
    assert_eq!(lines[0], "default");
    assert_eq!(lines[1], "--", "ca.crt is the cluster CA (PEM)");
    // The token authenticates as the pod's ServiceAccount.
    let who = reqwest::blocking::Client::new()
        .post(format!("{}/apis/authentication.k8s.io/v1/selfsubjectreviews", orca.url))
        .bearer_auth(&lines[2])
        .json(&json!({}))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    assert_eq!(
        who["status"]["userInfo"]["username"], "system:serviceaccount:default:default",
        "{who}"
    );
    assert!(
        log("without-token").iter().any(|l| l.contains("No such file")),
        "{:?}",
        log("without-token")
    );
    for name in ["with-token", "without-token"] {
        assert_eq!(h.delete(&format!("/api/v1/namespaces/default/pods/{name}")).status, 200);
    }
}
