//! Paged lists over HTTP: `limit`/`continue` give every object once from one revision, even while
//! objects change between pages, and an expired token gets 410 with a token to go on.

mod common;

use std::collections::BTreeSet;

use common::{cluster, configmap, Http};
use serde_json::Value;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn create_many(base: &str, prefix: &str, count: usize) {
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (base, prefix) = (base.to_string(), prefix.to_string());
            std::thread::spawn(move || {
                let h = Http::new(&base);
                for i in (t..count).step_by(8) {
                    let r = h.post(CMS, &configmap(&format!("{prefix}-{i:05}"), "v"));
                    assert_eq!(r.status, 201, "{}", r.text);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("creator thread");
    }
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn ten_thousand_objects_in_pages_of_500_from_one_revision() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    create_many(&orca.url, "cm", 10_000);

    let mut seen = Vec::new();
    let mut revisions = BTreeSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let r = h.get(&format!("{CMS}?limit=500&continue={token}"));
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        let got = names(&r.body);
        assert!(got.len() <= 500, "a page of {} items", got.len());
        seen.extend(got);
        revisions.insert(
            r.body["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        // Change the collection between pages: the list must not see it.
        if pages == 3 {
            assert_eq!(h.delete(&format!("{CMS}/cm-09999")).status, 200);
            assert_eq!(h.post(CMS, &configmap("cm-00000-late", "v")).status, 201);
        }
        match r.body["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => {
                let remaining = r.body["metadata"]["remainingItemCount"]
                    .as_u64()
                    .expect("remainingItemCount");
                assert_eq!(remaining as usize, 10_000 - seen.len());
                token = t.to_string();
            }
            _ => break,
        }
    }
    assert_eq!(pages, 20);
    assert_eq!(
        revisions.len(),
        1,
        "pages of one list come from one revision: {revisions:?}"
    );
    let want: Vec<String> = (0..10_000).map(|i| format!("cm-{i:05}")).collect();
    assert_eq!(seen, want, "every object once, in order, as of the first page");

    // A fresh list sees the changes.
    let now = names(&h.get(CMS).body);
    assert!(now.contains(&"cm-00000-late".to_string()) && !now.contains(&"cm-09999".to_string()));

    // Selectors apply within pages; a bad token is a clear 400.
    let bad = h.get(&format!("{CMS}?limit=5&continue=garbage"));
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("continue key is not valid"), "{}", bad.text);
}

#[test]
fn an_expired_token_gets_410_with_a_token_to_go_on() {
    let (_nats, mut orca, _dir) = cluster(&["--retain-events", "20"]);
    let h = Http::new(&orca.url);
    create_many(&orca.url, "x", 30);
    let first = h.get(&format!("{CMS}?limit=10"));
    assert_eq!(first.status, 200, "{}", first.text);
    let token = first.body["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    // While the snapshot is held, the next page is consistent.
    let second = h.get(&format!("{CMS}?limit=10&continue={token}"));
    assert_eq!(names(&second.body)[0], "x-00010");
    // A restart drops held snapshots and writes push the pinned revision below the horizon.
    for i in 0..40 {
        assert_eq!(h.post(CMS, &configmap(&format!("y-{i}"), "v")).status, 201);
    }
    orca.restart();
    let h = Http::new(&orca.url);
    let expired = h.get(&format!("{CMS}?limit=10&continue={token}"));
    assert_eq!(expired.status, 410, "{}", expired.text);
    assert_eq!(expired.body["reason"].as_str(), Some("Expired"));
    let go_on = expired.body["metadata"]["continue"].as_str().expect("a token to go on");
    let rest = h.get(&format!("{CMS}?limit=100&continue={go_on}"));
    assert_eq!(rest.status, 200, "{}", rest.text);
    let got = names(&rest.body);
    assert_eq!(got.first().map(String::as_str), Some("x-00010"));
    assert!(
        got.contains(&"y-0".to_string()),
        "the inconsistent remainder shows current objects"
    );
}
