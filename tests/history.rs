//! History and time travel: an object's every change across two lives with readable diffs; objects
//! and lists as they were at past revisions equal what was seen live; 410 below the horizon; and
//! `orca log verify` names a damaged record.

mod common;

use std::process::Command;

use common::{cluster, Http};
use serde_json::{json, Value};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[test]
fn history_of_two_lives_and_time_travel() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let mut seen: Vec<(u64, Value)> = Vec::new();
    let created = h
        .post(CMS, &json!({"metadata": {"name": "app"}, "data": {"v": "1"}}))
        .body;
    seen.push((rv(&created), created.clone()));
    let mut cur = created;
    for v in ["2", "3", "4"] {
        cur["data"]["v"] = json!(v);
        cur = h.put(&format!("{CMS}/app"), &cur).body;
        seen.push((rv(&cur), cur.clone()));
    }
    let other = h.post(CMS, &json!({"metadata": {"name": "other"}, "data": {}})).body;
    assert_eq!(h.delete(&format!("{CMS}/app")).status, 200);
    let after_delete = rv(&h.get(CMS).body);
    let again = h
        .post(CMS, &json!({"metadata": {"name": "app"}, "data": {"v": "new"}}))
        .body;

    let hist = h.get("/apis/orca.dev/v1/history?kind=ConfigMap&namespace=default&name=app");
    assert_eq!(hist.status, 200, "{}", hist.text);
    let items = hist.body["items"].as_array().unwrap();
    let types: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED", "ADDED"]);
    let uids: Vec<&str> = items.iter().map(|i| i["uid"].as_str().unwrap()).collect();
    assert_eq!(uids[0], uids[4], "first life");
    assert_ne!(uids[0], uids[5], "second life has its own uid");
    assert!(
        items
            .windows(2)
            .all(|w| w[0]["revision"].as_u64() < w[1]["revision"].as_u64()),
        "in order"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["--server", &orca.url, "history", "cm/app"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "(created)",
        "~ data.v: \"1\" -> \"2\"",
        "~ data.v: \"3\" -> \"4\"",
        "(deleted)",
        "(created again under the same name: a new object)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }

    // Each past revision shows exactly what was seen live then.
    for (rev, obj) in &seen {
        let past = h.get(&format!("{CMS}/app?resourceVersion={rev}&resourceVersionMatch=Exact"));
        assert_eq!(past.status, 200, "{}", past.text);
        assert_eq!(&past.body, obj, "app at {rev}");
    }
    let gone = h.get(&format!(
        "{CMS}/app?resourceVersion={after_delete}&resourceVersionMatch=Exact"
    ));
    assert_eq!(gone.status, 404, "deleted at that revision");
    let list_then = h.get(&format!(
        "{CMS}?resourceVersion={}&resourceVersionMatch=Exact",
        rv(&other)
    ));
    let names: Vec<&str> = list_then.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "other"]);
    assert_eq!(list_then.body["items"][0]["data"]["v"], "4");
    let list_now = h.get(CMS);
    assert_eq!(list_now.body["items"][0], again);
    let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args([
            "--server",
            &orca.url,
            "get",
            "cm",
            "app",
            "-o",
            "json",
            "--at",
            &seen[1].0.to_string(),
        ])
        .output()
        .unwrap();
    let at: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(at["data"]["v"], "2");
}

#[test]
fn time_travel_below_the_horizon_is_gone() {
    let (_nats, orca, _dir) = cluster(&["--retain-events", "10"]);
    let h = Http::new(&orca.url);
    for i in 0..40 {
        h.post(CMS, &json!({"metadata": {"name": format!("c{i}")}}));
    }
    let r = h.get(&format!("{CMS}/c0?resourceVersion=2&resourceVersionMatch=Exact"));
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("oldest revision held"));
}

#[test]
fn verify_names_the_first_damaged_record() {
    let (_nats, mut orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    for i in 0..20 {
        h.post(CMS, &json!({"metadata": {"name": format!("c{i}")}}));
    }
    orca.stop();
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_orca"))
            .args(["log", "verify", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("gapless"));
    {
        let db = fjall::Database::builder(dir.path().join("log")).open().unwrap();
        let log = db.keyspace("log", fjall::KeyspaceCreateOptions::default).unwrap();
        let mut rec = log.get(9u64.to_be_bytes()).unwrap().unwrap().to_vec();
        let last = rec.len() - 1;
        rec[last] ^= 0x20;
        log.insert(9u64.to_be_bytes(), rec).unwrap();
        db.persist(fjall::PersistMode::SyncAll).unwrap();
    }
    let bad = verify();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("record 9 is corrupt") && err.contains("checksum"), "{err}");
}

#[test]
fn events_print_the_log_as_a_timeline() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    h.post(CMS, &json!({"metadata": {"name": "app"}, "data": {"v": "1"}}));
    h.post(CMS, &json!({"metadata": {"name": "noise"}}));
    let ev = json!({"metadata": {"name": "app.1"}, "involvedObject": {"kind": "ConfigMap", "name": "app", "namespace": "default"}, "reason": "Checked", "message": "all good", "type": "Normal"});
    assert_eq!(h.post("/api/v1/namespaces/default/events", &ev).status, 201);
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
            .args(["--server", &orca.url, "events"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let all = run(&[]);
    assert!(
        all.contains("namespace/default") && all.contains("configmap/noise"),
        "{all}"
    );
    let for_app = run(&["--for", "cm/app"]);
    assert!(
        for_app.contains("configmap/app") && for_app.contains("Checked all good"),
        "{for_app}"
    );
    assert!(!for_app.contains("noise"), "{for_app}");
    let only_ns = run(&["--kind", "ns", "--since", "1h"]);
    assert!(
        only_ns.contains("namespace/default") && !only_ns.contains("configmap/"),
        "{only_ns}"
    );
    let future = run(&["--since", "2099-01-01T00:00:00Z"]);
    assert_eq!(future.lines().count(), 1, "only the header: {future}");
}

#[test]
fn diff_between_two_revisions() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let a = h
        .post(CMS, &json!({"metadata": {"name": "a"}, "data": {"v": "1"}}))
        .body;
    h.post(CMS, &json!({"metadata": {"name": "b"}}));
    let from = rv(&h.get(CMS).body);
    let mut a2 = a.clone();
    a2["data"]["v"] = json!("2");
    h.put(&format!("{CMS}/a"), &a2);
    h.delete(&format!("{CMS}/b"));
    h.post(CMS, &json!({"metadata": {"name": "c"}}));
    let to = rv(&h.get(CMS).body);
    let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args([
            "--server",
            &orca.url,
            "diff",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "cm",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "~ configmap/default/a",
        "~ data.v: \"1\" -> \"2\"",
        "- configmap/default/b",
        "+ configmap/default/c",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let same = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args([
            "--server",
            &orca.url,
            "diff",
            "--from",
            &to.to_string(),
            "--to",
            &to.to_string(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&same.stdout).contains("no changes"));
}

#[test]
fn retention_by_age_keeps_the_recent_past_and_says_where_it_starts() {
    let (_nats, orca, _dir) = cluster(&["--retain-age", "2s"]);
    let h = Http::new(&orca.url);
    for i in 0..10 {
        h.post(CMS, &json!({"metadata": {"name": format!("old{i}")}}));
    }
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let mut last_tick = 0;
    common::wait_for(10, "old events compacted", || {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        last_tick = rv(&h.post(CMS, &json!({"metadata": {"generateName": "tick-"}})).body);
        h.get(&format!("{CMS}?watch=true&resourceVersion=1&timeoutSeconds=1"))
            .body["object"]["code"]
            == 410
    });
    let gone = h.get(&format!("{CMS}/old0?resourceVersion=3&resourceVersionMatch=Exact"));
    assert_eq!(gone.status, 410);
    assert!(gone.body["message"].as_str().unwrap().contains("oldest revision held"));
    let kept = h.get(&format!("{CMS}?resourceVersion={last_tick}&resourceVersionMatch=Exact"));
    assert_eq!(kept.status, 200, "events newer than the age limit stay: {}", kept.text);
    assert_eq!(
        h.get(&format!("{CMS}/old0")).status,
        200,
        "compaction drops history, never current objects"
    );
}

#[test]
fn time_travel_by_time() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let first = h
        .post(CMS, &json!({"metadata": {"name": "t"}, "data": {"v": "before"}}))
        .body;
    std::thread::sleep(std::time::Duration::from_millis(100));
    let between = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut second = first.clone();
    second["data"]["v"] = json!("after");
    assert_eq!(h.put(&format!("{CMS}/t"), &second).status, 200);
    let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["--server", &orca.url, "get", "cm", "t", "-o", "json", "--at", &between])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let then: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(then, first, "the object as it was at {between}");
    let early = h.get(&format!("{CMS}/t?atTime=2000-01-01T00:00:00Z"));
    assert_eq!(early.status, 410, "{}", early.text);
}

#[test]
fn retention_never_drops_the_head_so_revisions_are_never_reused() {
    // Keeping no events at all still keeps the newest: a restart reads the head from it.
    let (_nats, mut orca, _dir) = cluster(&["--retain-events", "0"]);
    let h = Http::new(&orca.url);
    for i in 0..30 {
        h.post(CMS, &json!({"metadata": {"name": format!("k{i}")}}));
    }
    // The newest event a deletion: no live object carries its revision.
    let deleted = h.delete(&format!("{CMS}/k29"));
    assert_eq!(deleted.status, 200);
    let last = h.get(CMS).body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    orca.restart();
    let h = Http::new(&orca.url);
    let after = rv(&h.post(CMS, &json!({"metadata": {"name": "after"}})).body);
    assert!(
        after > last,
        "revision {after} after a restart reuses one at or below {last}"
    );
    assert_eq!(
        h.get(&format!("{CMS}/k0")).status,
        200,
        "objects stay, only history goes"
    );
}
