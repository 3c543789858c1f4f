//! Secrets are sealed at rest: neither their plaintext nor their base64 appears in the data dir, the
//! key file is 0600 outside the log, and the API still returns the data.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{cluster, Http};
use serde_json::json;

fn files_contain(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            hits.extend(files_contain(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn secret_data_never_reaches_disk_in_plaintext() {
    let (_nats, mut orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let plain = "correct-horse-battery-staple-7781";
    let created = h.post(
        "/api/v1/namespaces/default/secrets",
        &json!({"metadata": {"name": "db"}, "stringData": {"password": plain}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let encoded = created.body["data"]["password"].as_str().unwrap().to_string();
    // A ConfigMap is stored as is: the scan below would find it, so it proves the scan works.
    h.post(
        "/api/v1/namespaces/default/configmaps",
        &json!({"metadata": {"name": "marker"}, "data": {"k": "plain-marker-5521"}}),
    );
    orca.restart();
    let got = Http::new(&orca.url).get("/api/v1/namespaces/default/secrets/db");
    assert_eq!(got.body["data"]["password"], encoded.as_str(), "readable after restart");
    orca.stop();

    let log_dir = dir.path().join("log");
    assert!(
        !files_contain(&log_dir, b"plain-marker-5521").is_empty(),
        "the scan finds unsealed data"
    );
    assert_eq!(files_contain(&log_dir, plain.as_bytes()), Vec::<String>::new());
    assert_eq!(files_contain(&log_dir, encoded.as_bytes()), Vec::<String>::new());
    let key = dir.path().join("secret.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn watch_sends_bookmarks_when_asked() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let rv = h.get("/api/v1/namespaces/default/configmaps").body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = h.get(&format!("/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=6&resourceVersion={rv}"));
    let bookmarks: Vec<serde_json::Value> = resp
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["type"] == "BOOKMARK")
        .collect();
    assert!(!bookmarks.is_empty(), "{}", resp.text);
    // The bookmark carries the newest revision (the cluster's own objects may have moved it on).
    let at: u64 = bookmarks[0]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap();
    assert!(at >= rv.parse::<u64>().unwrap(), "{at} < {rv}");
}
