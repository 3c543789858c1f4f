//! Retention keeps the past right: after compaction, time travel to every held revision equals
//! the live state recorded at that revision (objects unchanged since the horizon included), and a
//! replay to a held revision equals it too; retention by size keeps the log within its limit.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{cluster, wait_for, Http};
use serde_json::{json, Value};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

/// name -> (resourceVersion, data.v) of a ConfigMap list.
fn state(list: &Value) -> BTreeMap<String, (String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["metadata"]["name"].as_str().unwrap().to_string(),
                (
                    i["metadata"]["resourceVersion"].as_str().unwrap().to_string(),
                    i["data"]["v"].as_str().unwrap_or("").to_string(),
                ),
            )
        })
        .collect()
}

/// The oldest revision held, from the 410 a read below it gets.
fn oldest(h: &Http) -> Option<u64> {
    let r = h.get(&format!("{CMS}?resourceVersion=1&resourceVersionMatch=Exact"));
    if r.status != 410 {
        return None;
    }
    r.body["message"]
        .as_str()
        .and_then(|m| m.split("oldest revision held is ").nth(1))
        .and_then(|m| m.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u64>().ok())
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[test]
fn time_travel_and_replay_after_compaction_equal_the_live_past() {
    let (_nats, mut orca, dir) = cluster(&["--retain-events", "30"]);
    let h = Http::new(&orca.url);
    // Some objects written once at the start (below any later horizon), some changed all along,
    // some deleted.
    for name in ["still-a", "still-b", "doomed"] {
        assert_eq!(
            h.post(CMS, &json!({"metadata": {"name": name}, "data": {"v": "0"}}))
                .status,
            201
        );
    }
    let mut live: BTreeMap<u64, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for i in 0..120 {
        let name = format!("busy-{}", i % 4);
        let r = if i < 4 {
            h.post(CMS, &json!({"metadata": {"name": name}, "data": {"v": i.to_string()}}))
        } else {
            h.put(
                &format!("{CMS}/{name}"),
                &json!({"metadata": {"name": name}, "data": {"v": i.to_string()}}),
            )
        };
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
        if i == 60 {
            assert_eq!(h.delete(&format!("{CMS}/doomed")).status, 200);
        }
        let list = h.get(CMS).body;
        live.insert(rv(&list), state(&list));
    }
    let head = *live.keys().last().unwrap();
    // The horizon moves up; every revision still held answers as it answered live.
    let mut horizon = 0;
    wait_for(10, "compaction", || {
        horizon = oldest(&h).unwrap_or(0);
        horizon > 10
    });
    let oldest = horizon;
    let held: Vec<u64> = live.keys().copied().filter(|r| *r >= oldest).collect();
    assert!(held.len() >= 20, "held {held:?}, oldest {oldest}");
    for r in &held {
        let past = h.get(&format!("{CMS}?resourceVersion={r}&resourceVersionMatch=Exact"));
        assert_eq!(past.status, 200, "{}", past.text);
        assert_eq!(state(&past.body), live[r], "time travel to {r} (horizon {oldest})");
        let one = h.get(&format!("{CMS}/still-a?resourceVersion={r}&resourceVersionMatch=Exact"));
        assert_eq!(
            one.status, 200,
            "an object unchanged since before the horizon, at {r}: {}",
            one.text
        );
    }

    // A replay to a held revision serves exactly that state.
    let data = dir.path();
    let into = tempfile::tempdir().unwrap();
    let target = held[held.len() / 2];
    orca.stop();
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["replay", "--data-dir"])
        .arg(data)
        .args(["--until", &target.to_string(), "--into"])
        .arg(into.path().join("r"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ro = common::ReadOnly::start(&into.path().join("r"));
    let rh = &ro.http;
    assert_eq!(state(&rh.get(CMS).body), live[&target], "replay to {target}");
    drop(ro);
    assert!(head > target);

    // An export of the compacted log carries the objects kept at its horizon: the import holds
    // the whole state, objects unchanged since before the horizon included.
    let export = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["log", "export", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let file = into.path().join("log.export");
    std::fs::write(&file, &export.stdout).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args(["log", "import"])
        .arg(&file)
        .arg("--into")
        .arg(into.path().join("i"))
        .arg("--key")
        .arg(data.join("secret.key"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let import = common::ReadOnly::start(&into.path().join("i"));
    let ih = &import.http;
    assert_eq!(
        state(&ih.get(CMS).body),
        live[&head],
        "the import equals the source's head"
    );
    let past = ih.get(&format!(
        "{CMS}/still-a?resourceVersion={oldest}&resourceVersionMatch=Exact"
    ));
    assert_eq!(past.status, 200, "time travel in the import: {}", past.text);
}

#[test]
fn retention_by_size_keeps_the_log_within_its_limit() {
    let (_nats, orca, _dir) = cluster(&["--retain-bytes", "2Mi"]);
    let h = Http::new(&orca.url);
    let value = "x".repeat(16 * 1024);
    for i in 0..400 {
        let r = h.post(
            CMS,
            &json!({"metadata": {"name": format!("big-{i}")}, "data": {"v": value}}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // 400 x 16 KB = 6.4 MB written; the horizon moves so that what is held fits in 2 MiB: at
    // most 128 of these records, and not far fewer (down to 90% of the limit). The policy runs
    // with writes, at most once a second: one more write after a pause applies it to the end.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = h.post(CMS, &json!({"metadata": {"name": "big-last"}, "data": {"v": value}}));
    assert_eq!(r.status, 201);
    let list = h.get(CMS).body;
    let head = rv(&list);
    wait_for(20, "the horizon to move", || {
        oldest(&h).is_some_and(|o| head + 1 - o <= 128)
    });
    let held = head + 1 - oldest(&h).unwrap();
    assert!(held >= 90, "only {held} events held for a 2 MiB limit");
    // Every object is still there, at the head and in the past still held.
    assert_eq!(list["items"].as_array().unwrap().len(), 401);
    let past = h.get(&format!(
        "{CMS}?resourceVersion={}&resourceVersionMatch=Exact",
        head - held + 1
    ));
    assert_eq!(past.body["items"].as_array().unwrap().len(), 401 - held as usize + 1);
}
