//! Replay into a new data directory and serve it read-only: the state equals what was seen live at
//! that revision; writes are refused and nothing acts on it; the replayed log verifies.

mod common;

use std::process::Command;

use common::{cluster, Http};
use serde_json::json;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[test]
fn replay_until_a_revision_and_serve_it_read_only() {
    let (_nats, mut orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    for i in 0..5 {
        h.post(
            CMS,
            &json!({"metadata": {"name": format!("c{i}")}, "data": {"v": "old"}}),
        );
    }
    h.post(
        "/api/v1/namespaces/default/secrets",
        &json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}),
    );
    let live = h.get(CMS).body;
    let until: u64 = live["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    let c0 = h.get(&format!("{CMS}/c0")).body;
    let mut changed = c0.clone();
    changed["data"]["v"] = json!("new");
    h.put(&format!("{CMS}/c0"), &changed);
    h.delete(&format!("{CMS}/c1"));
    h.post(CMS, &json!({"metadata": {"name": "later"}}));
    // While the server runs, the tools say how to read the running cluster instead.
    let busy = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["log", "verify", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(
        !busy.status.success() && err.contains("in use by a running orca") && err.contains("orcactl get KIND --at"),
        "{err}"
    );
    orca.stop();

    let step = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["replay", "--data-dir"])
        .arg(dir.path())
        .args(["--step", "--from", &(until + 1).to_string()])
        .output()
        .unwrap();
    assert!(step.status.success(), "{}", String::from_utf8_lossy(&step.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&step.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["revision"], until + 1, "one line per event from --from");
    assert_eq!(
        (lines[0]["type"].as_str(), lines[0]["name"].as_str()),
        (Some("MODIFIED"), Some("c0"))
    );
    assert_eq!(lines[0]["changed"]["data.v"], json!({"from": "old", "to": "new"}));
    assert!(lines.iter().any(|l| l["type"] == "DELETED" && l["name"] == "c1"));

    let into = dir.path().join("replayed");
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["replay", "--data-dir"])
        .arg(dir.path())
        .args(["--until", &until.to_string(), "--into"])
        .arg(&into)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("up to revision {until}")));
    let verify = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["log", "verify", "--data-dir"])
        .arg(&into)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));

    let server = common::ReadOnly::start(&into);
    let ro = &server.http;
    let then = ro.get(CMS).body;
    assert_eq!(
        then, live,
        "the replayed state is the state seen live at revision {until}"
    );
    assert_eq!(
        ro.get("/api/v1/namespaces/default/secrets/s").body["data"]["k"],
        "dg==",
        "secrets stay readable (the key comes along)"
    );
    let refused = ro.post(CMS, &json!({"metadata": {"name": "x"}}));
    assert_eq!(
        (refused.status, refused.body["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    assert!(refused.body["message"].as_str().unwrap().contains("read-only"));
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        ro.get(CMS).body["metadata"]["resourceVersion"],
        json!(until.to_string()),
        "nothing acts on a replay"
    );
    let hist = ro.get("/apis/orca.dev/v1/history?kind=ConfigMap&namespace=default&name=c0");
    assert_eq!(
        hist.body["items"].as_array().unwrap().len(),
        1,
        "history stops at the replay point"
    );
    drop(server);
}
