//! Informers over NATS: a paged list then a watch; one that falls behind the retention horizon
//! relists and converges to the same cache as a fresh list.

mod common;

use std::time::Duration;

use common::{cluster, configmap, wait_for, Http};
use futures::StreamExt;
use orca_actors::bus::client::ApiClient;
use orca_actors::runtime::informer::{self, InformerEvent, InformerSpec};
use orca_actors::runtime::Store;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn snapshot(store: &Store) -> Vec<(String, u64)> {
    store.list(None).iter().map(|c| (c.key.1.clone(), c.revision)).collect()
}

#[test]
fn an_informer_that_falls_behind_relists_and_converges() {
    let (mut nats, mut orca, _dir) = cluster(&["--retain-events", "50"]);
    let h = Http::new(&orca.url);
    for i in 0..30 {
        assert_eq!(h.post(CMS, &configmap(&format!("a-{i}"), "v")).status, 201);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        let nc = orca_actors::bus::connect(&nats.url(), "test").await.unwrap();
        ApiClient::new(nc, "test")
    });
    let store = Store::default();
    let spec = InformerSpec::new(CMS, "");
    let mut events = rt.block_on(async { informer::start(client.clone(), spec, store.clone()) });
    // The first list fills the cache.
    let first = rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), events.next()).await });
    assert!(matches!(first, Ok(Some(InformerEvent::Synced(_)))), "{first:?}");
    assert_eq!(store.len(), 30);

    // NATS goes away, so the informer's watch falls behind while far more events than the log
    // retains are written over HTTP; some objects are deleted, others changed.
    let port = nats.port();
    nats.stop();
    for round in 0..3 {
        for i in 0..30 {
            let r = h.patch(
                &format!("{CMS}/a-{i}"),
                "application/merge-patch+json",
                &serde_json::json!({"data": {"v": format!("r{round}")}}),
            );
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
    for i in 0..10 {
        assert_eq!(h.delete(&format!("{CMS}/a-{i}")).status, 200);
    }
    for i in 0..5 {
        assert_eq!(h.post(CMS, &configmap(&format!("b-{i}"), "v")).status, 201);
    }
    // The server's NATS client holds the watch frames it could not send; a crash drops them, so the
    // watch must resume from its own revision, which the log no longer holds.
    orca.kill9();
    let nats = common::NatsServer::start(Some(port)).expect("nats-server restarts on its port");
    let _keep = nats;
    orca.restart();
    // The watch resumes from a compacted revision, gets 410, and the informer lists again.
    let fresh = rt.block_on(async {
        loop {
            match client.list_raw(CMS, "").await {
                Ok(l) => return l,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    let mut want: Vec<(String, u64)> = fresh
        .items
        .iter()
        .map(|b| {
            let c = orca_actors::runtime::Cached::from_json(b.clone()).unwrap();
            (c.key.1, c.revision)
        })
        .collect();
    want.sort();
    let relisted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = relisted.clone();
    rt.spawn(async move {
        while let Some(ev) = events.next().await {
            if matches!(ev, InformerEvent::Synced(_)) {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    // The store is refilled before the relist's Synced event reaches its reader: wait for both.
    wait_for(
        30,
        "the informer to list again and its cache to equal a fresh list",
        || {
            let mut got = snapshot(&store);
            got.sort();
            got == want && relisted.load(std::sync::atomic::Ordering::SeqCst)
        },
    );
    assert_eq!(store.len(), 25);
    assert!(
        relisted.load(std::sync::atomic::Ordering::SeqCst),
        "the informer listed again after 410"
    );
}

#[test]
fn concurrent_read_modify_writes_lose_no_update() {
    let (nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    assert_eq!(h.post(CMS, &configmap("counter", "0")).status, 201);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let nc = orca_actors::bus::connect(&nats.url(), "test").await.unwrap();
        let client = ApiClient::new(nc, "test");
        let mut writers = Vec::new();
        for _ in 0..4 {
            let client = client.clone();
            writers.push(tokio::spawn(async move {
                for _ in 0..25 {
                    let out = orca_actors::runtime::write::update(&client, &format!("{CMS}/counter"), "", |cm| {
                        let n: u64 = cm["data"]["v"].as_str().unwrap_or("0").parse().unwrap_or(0);
                        cm["data"]["v"] = serde_json::json!((n + 1).to_string());
                        true
                    })
                    .await
                    .expect("update");
                    assert!(matches!(out, orca_actors::runtime::write::Updated::Written(_)));
                }
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        let missing = orca_actors::runtime::write::update(&client, &format!("{CMS}/nope"), "", |_| true)
            .await
            .unwrap();
        assert_eq!(missing, orca_actors::runtime::write::Updated::Missing);
    });
    let total = h.get(&format!("{CMS}/counter")).body["data"]["v"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(total, "100", "4 writers x 25 increments, none lost to a conflict");
}
