//! Volumes of process pods: configMap, secret, downwardAPI and projected files (a ConfigMap update
//! reaches the running pod), an emptyDir shared by two containers and kept across a restart,
//! hostPath with its type checked, a claim whose data outlives its pod and keeps later pods on its
//! node, and paths that would lead out of a volume refused.

mod common;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";

fn log(h: &Http, pod: &str, container: &str) -> String {
    h.get(&format!("{PODS}/{pod}/log?container={container}")).text
}

/// A mount root of this test run: process containers see the host's tree, so mounts go under it.
fn root(dir: &tempfile::TempDir) -> String {
    dir.path().join("mnt").display().to_string()
}

#[test]
fn file_volumes_and_a_shared_empty_dir_follow_updates() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "vol-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "vol-node");
    let m = root(&dir);
    let cm = json!({"metadata": {"name": "settings"}, "data": {"greeting": "hello", "unused": "x"}});
    assert_eq!(h.post("/api/v1/namespaces/default/configmaps", &cm).status, 201);
    let secret = json!({"metadata": {"name": "creds"}, "stringData": {"password": "s3cret"}});
    assert_eq!(h.post("/api/v1/namespaces/default/secrets", &secret).status, 201);
    let script = format!(
        "cat {m}/cfg/greet.txt; echo; cat {m}/sec/password; echo; cat {m}/info/name; echo; cat {m}/info/labels; \
         cat {m}/proj/greeting; echo; cat {m}/proj/ns; echo; stat -c %a {m}/sec/..data/password; \
         echo shared > {m}/scratch/file; while true; do echo now=$(cat {m}/cfg/greet.txt); sleep 0.3; done"
    );
    let side = format!(
        "while [ ! -f {m}/scratch2/file ]; do sleep 0.1; done; echo side-saw-$(cat {m}/scratch2/file); sleep 3600"
    );
    let pod = json!({"metadata": {"name": "vols", "labels": {"app": "vol"}}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [
            {"name": "main", "image": "busybox", "command": ["sh", "-c", script], "volumeMounts": [
                {"name": "cfg", "mountPath": format!("{m}/cfg")}, {"name": "sec", "mountPath": format!("{m}/sec"), "readOnly": true},
                {"name": "info", "mountPath": format!("{m}/info")}, {"name": "proj", "mountPath": format!("{m}/proj")},
                {"name": "scratch", "mountPath": format!("{m}/scratch")}]},
            {"name": "side", "image": "busybox", "command": ["sh", "-c", side], "volumeMounts": [
                {"name": "scratch", "mountPath": format!("{m}/scratch2")}]}],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "greeting", "path": "greet.txt"}]}},
            {"name": "sec", "secret": {"secretName": "creds", "defaultMode": 0o400}},
            {"name": "info", "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "proj", "projected": {"sources": [{"configMap": {"name": "settings", "items": [{"key": "greeting", "path": "greeting"}]}},
                {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
            {"name": "scratch", "emptyDir": {}}]}});
    let r = h.post(PODS, &pod);
    assert_eq!(r.status, 201, "{}", r.text);
    wait_for(60, "main printed its files", || {
        log(&h, "vols", "main").contains("now=hello")
    });
    let out = log(&h, "vols", "main");
    for want in ["hello\n", "s3cret\n", "vols\n", "app=\"vol\"\n", "default\n", "400\n"] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
    wait_for(30, "the sidecar saw the shared file", || {
        log(&h, "vols", "side").contains("side-saw-shared")
    });
    assert!(
        !std::path::Path::new(&format!("{m}/cfg/greet.txt")).exists(),
        "the mounts stay in the container's namespace"
    );

    let r = h.patch(
        "/api/v1/namespaces/default/configmaps/settings",
        "application/merge-patch+json",
        &json!({"data": {"greeting": "goodbye"}}),
    );
    assert_eq!(r.status, 200);
    wait_for(30, "the update reached the mounted file", || {
        log(&h, "vols", "main").contains("now=goodbye")
    });
}

#[test]
fn empty_dirs_outlive_restarts_and_host_paths_are_checked() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "vol-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "vol-node");
    let m = root(&dir);
    let counter = json!({"metadata": {"name": "counter"}, "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", format!("echo x >> {m}/v/count; echo runs=$(wc -l < {m}/v/count); sleep 0.2; exit 1")],
        "volumeMounts": [{"name": "v", "mountPath": format!("{m}/v")}]}], "volumes": [{"name": "v", "emptyDir": {}}]}});
    assert_eq!(h.post(PODS, &counter).status, 201);
    wait_for(60, "the emptyDir kept its file across restarts", || {
        let now = h.get(&format!("{PODS}/counter/log")).text;
        let before = h.get(&format!("{PODS}/counter/log?previous=true")).text;
        now.contains("runs=2") || now.contains("runs=3") || before.contains("runs=2")
    });

    let host_dir = dir.path().join("host-data");
    let writer = json!({"metadata": {"name": "writer"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", format!("echo from-pod > {m}/h/out")], "volumeMounts": [{"name": "h", "mountPath": format!("{m}/h")}]}],
        "volumes": [{"name": "h", "hostPath": {"path": host_dir.display().to_string(), "type": "DirectoryOrCreate"}}]}});
    assert_eq!(h.post(PODS, &writer).status, 201);
    wait_for(60, "the pod wrote into the host directory", || {
        std::fs::read_to_string(host_dir.join("out")).is_ok_and(|s| s.trim() == "from-pod")
    });
    let missing = json!({"metadata": {"name": "missing"}, "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"],
        "volumeMounts": [{"name": "h", "mountPath": format!("{m}/f")}]}],
        "volumes": [{"name": "h", "hostPath": {"path": dir.path().join("nope").display().to_string(), "type": "File"}}]}});
    assert_eq!(h.post(PODS, &missing).status, 201);
    wait_for(30, "a failed type check holds the container", || {
        let p = h.get(&format!("{PODS}/missing")).body;
        p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("hostPath type check failed"))
    });

    // Paths that lead out of a volume are refused with their field path.
    let bad = json!({"metadata": {"name": "bad"}, "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"],
        "volumeMounts": [{"name": "cfg", "mountPath": "/x", "subPath": "../../etc"}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "c", "items": [{"key": "k", "path": "../escape"}]}},
            {"name": "nfs", "nfs": {"server": "s", "path": "/"}}]}});
    let r = h.post(PODS, &bad);
    assert_eq!(r.status, 422, "{}", r.text);
    for field in [
        "spec.containers[0].volumeMounts[0].subPath",
        "spec.volumes[0].configMap.items[0].path",
        "spec.volumes[1]",
    ] {
        assert!(r.text.contains(field), "missing {field} in {}", r.text);
    }
}

fn claim_pod(m: &str) -> Value {
    json!({"metadata": {"name": "keeper"}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", format!("[ -f {m}/d/stamp ] || echo $RANDOM$RANDOM > {m}/d/stamp; echo stamp=$(cat {m}/d/stamp); sleep 3600")],
        "volumeMounts": [{"name": "d", "mountPath": format!("{m}/d")}]}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}})
}

#[test]
fn a_claim_keeps_its_data_and_its_pods_on_its_node() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "pv-a", &dir.path().join("a"), &[]);
    let _b = Agent::start(&nats.url(), "pv-b", &dir.path().join("b"), &[]);
    wait_node_ready(&h, "pv-a");
    wait_node_ready(&h, "pv-b");
    let m = root(&dir);
    let pvc = json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}});
    let r = h.post("/api/v1/namespaces/default/persistentvolumeclaims", &pvc);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["spec"]["storageClassName"], "local-path", "the default class");
    assert_eq!(h.post(PODS, &claim_pod(&m)).status, 201);
    let stamp_of = |h: &Http| {
        let l = log(h, "keeper", "c");
        l.lines().find_map(|l| l.strip_prefix("stamp=").map(str::to_string))
    };
    wait_for(60, "the first pod wrote its stamp", || stamp_of(&h).is_some());
    let first = stamp_of(&h).unwrap();
    let node = h.get(&format!("{PODS}/keeper")).body["spec"]["nodeName"]
        .as_str()
        .unwrap()
        .to_string();
    let claim = h.get("/api/v1/namespaces/default/persistentvolumeclaims/data").body;
    assert_eq!(claim["status"]["phase"], "Bound", "{claim}");
    assert_eq!(
        claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"],
        node.as_str()
    );
    let pv = h
        .get(&format!(
            "/api/v1/persistentvolumes/{}",
            claim["spec"]["volumeName"].as_str().unwrap()
        ))
        .body;
    assert_eq!(pv["spec"]["claimRef"]["name"], "data");
    assert_eq!(pv["status"]["phase"], "Bound");
    for round in 0..2 {
        assert_eq!(h.delete(&format!("{PODS}/keeper")).status, 200);
        wait_for(30, "the pod gone", || h.get(&format!("{PODS}/keeper")).status == 404);
        assert_eq!(h.post(PODS, &claim_pod(&m)).status, 201);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while stamp_of(&h).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: the new pod never read the stamp: {}",
                h.get(&format!("{PODS}/keeper")).text
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(stamp_of(&h).unwrap(), first, "round {round}: the data outlived the pod");
        assert_eq!(
            h.get(&format!("{PODS}/keeper")).body["spec"]["nodeName"],
            node.as_str(),
            "kept on the claim's node"
        );
    }
    // The class reclaims with Delete: the volume goes with its claim.
    let pv_name = claim["spec"]["volumeName"].as_str().unwrap().to_string();
    assert_eq!(h.delete(&format!("{PODS}/keeper")).status, 200);
    wait_for(30, "the pod gone", || h.get(&format!("{PODS}/keeper")).status == 404);
    assert_eq!(
        h.delete("/api/v1/namespaces/default/persistentvolumeclaims/data")
            .status,
        200
    );
    wait_for(30, "the volume deleted", || {
        h.get(&format!("/api/v1/persistentvolumes/{pv_name}")).status == 404
    });
}

#[test]
fn a_claim_binds_an_existing_volume_that_is_retained_after_it() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "pv-node", &dir.path().join("a"), &[]);
    wait_node_ready(&h, "pv-node");
    let m = root(&dir);
    let store = dir.path().join("static-volume");
    let pv = |name: &str, size: &str| {
        json!({"metadata": {"name": name}, "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
        "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": store.display().to_string(), "type": "DirectoryOrCreate"}}})
    };
    assert_eq!(h.post("/api/v1/persistentvolumes", &pv("big", "10Gi")).status, 201);
    assert_eq!(h.post("/api/v1/persistentvolumes", &pv("small", "1Gi")).status, 201);
    let pvc = json!({"metadata": {"name": "static"}, "spec": {"storageClassName": "", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "500Mi"}}}});
    assert_eq!(
        h.post("/api/v1/namespaces/default/persistentvolumeclaims", &pvc).status,
        201
    );
    wait_for(30, "the claim bound to the smallest fitting volume", || {
        let c = h.get("/api/v1/namespaces/default/persistentvolumeclaims/static").body;
        c["status"]["phase"] == "Bound" && c["spec"]["volumeName"] == "small"
    });
    let bound = h.get("/api/v1/persistentvolumes/small").body;
    assert_eq!(
        (
            bound["status"]["phase"].as_str(),
            bound["spec"]["claimRef"]["name"].as_str()
        ),
        (Some("Bound"), Some("static"))
    );
    wait_for(30, "the other volume Available", || {
        h.get("/api/v1/persistentvolumes/big").body["status"]["phase"] == "Available"
    });
    let writer = json!({"metadata": {"name": "w"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
        "command": ["sh", "-c", format!("echo static > {m}/s/file")], "volumeMounts": [{"name": "s", "mountPath": format!("{m}/s")}]}],
        "volumes": [{"name": "s", "persistentVolumeClaim": {"claimName": "static"}}]}});
    assert_eq!(h.post(PODS, &writer).status, 201);
    wait_for(60, "the pod wrote into the volume", || {
        std::fs::read_to_string(store.join("file")).is_ok_and(|s| s.trim() == "static")
    });
    wait_for(30, "the pod done", || {
        h.get(&format!("{PODS}/w")).body["status"]["phase"] == "Succeeded"
    });
    assert_eq!(h.delete(&format!("{PODS}/w")).status, 200);
    assert_eq!(
        h.delete("/api/v1/namespaces/default/persistentvolumeclaims/static")
            .status,
        200
    );
    wait_for(30, "the retained volume Released", || {
        h.get("/api/v1/persistentvolumes/small").body["status"]["phase"] == "Released"
    });
    assert!(store.join("file").exists(), "Retain keeps the data");
}
