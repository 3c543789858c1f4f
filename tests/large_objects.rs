//! The largest objects the API accepts cross NATS: lists answer in parts and watch lines span
//! frames, no message exceeds the server's max_payload, and the scheduler and agents go on.

mod common;

use std::time::Duration;

use common::{cluster, create_pod, sh_pod, wait_node_ready, wait_pod, Agent, Http};
use orca_actors::bus::client::{ApiClient, WatchItem};
use orca_actors::bus::Error as BusError;
use serde_json::{json, Value};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn next_event(w: &mut tokio::sync::mpsc::Receiver<WatchItem>) -> orca_actors::bus::client::RawEvent {
    let fut = async {
        loop {
            match w.recv().await {
                Some(WatchItem::Event(ev)) => return ev,
                Some(_) => continue,
                None => panic!("watch ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("an event within 30 s")
}

#[test]
fn megabyte_objects_flow_through_lists_and_watches_over_nats() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let agent = Agent::start(&nats.url(), "big-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, &agent.name);
    let rt = rt();
    let client = rt.block_on(async {
        let nc = orca_actors::bus::connect(&nats.url(), "test").await.expect("connect");
        ApiClient::new(nc, "test")
    });
    let max_payload = client.nats().max_payload();
    assert!(
        max_payload <= 1024 * 1024,
        "nats-server's default max_payload, got {max_payload}"
    );
    let from = h.get("/api/v1/pods").body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let (mut watch, mut pod_watch) = rt.block_on(async {
        (
            client.watch_raw("/api/v1/namespaces/default/secrets", "", from),
            client.watch_raw("/api/v1/pods", "", from),
        )
    });

    // A pod with a 1 MiB env value and a Secret of 1 MB of data plus annotations.
    let mut big = sh_pod("big", "sleep 3600", "Never");
    big["spec"]["containers"][0]["env"] = json!([{"name": "BIG", "value": "x".repeat(1 << 20)}]);
    create_pod(&h, &big);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "huge",
        "annotations": {"note": "y".repeat(100_000)}}, "data": {"blob": "QUJD".repeat(250_000)}});
    let r = h.post("/api/v1/namespaces/default/secrets", &secret);
    assert_eq!(r.status, 201, "{}", r.text);

    // Lists over NATS carry them (answers in parts), paged or whole.
    rt.block_on(async {
        let list = client.list_raw("/api/v1/pods", "").await.expect("list pods over NATS");
        let big = list
            .items
            .iter()
            .map(|b| serde_json::from_slice::<Value>(b).unwrap())
            .find(|p| p["metadata"]["name"] == "big")
            .expect("the big pod is listed");
        assert_eq!(
            big["spec"]["containers"][0]["env"][0]["value"].as_str().map(str::len),
            Some(1 << 20)
        );
        let one = client
            .call("GET", "/api/v1/namespaces/default/secrets/huge", "", None)
            .await
            .expect("get the secret over NATS");
        assert_eq!(one.status, 200);
        assert!(
            one.body.len() > max_payload,
            "the answer ({} bytes) needed parts",
            one.body.len()
        );
        let s: Value = serde_json::from_slice(&one.body).unwrap();
        assert_eq!(s["data"]["blob"].as_str().map(str::len), Some(1_000_000));
    });

    // Watches over NATS deliver them whole.
    rt.block_on(async {
        let ev = next_event(&mut watch).await;
        let s: Value = serde_json::from_slice(&ev.object).expect("whole object");
        assert_eq!(
            s["metadata"]["annotations"]["note"].as_str().map(str::len),
            Some(100_000)
        );
        let ev = next_event(&mut pod_watch).await;
        assert!(ev.object.len() > 1 << 20);
    });

    // The scheduler binds the big pod, and the agent goes on running other pods.
    wait_pod(&h, "big", 60, "bound", |p| p["spec"]["nodeName"] == "big-node");
    create_pod(&h, &sh_pod("small", "sleep 3600", "Never"));
    wait_pod(&h, "small", 60, "Running", |p| p["status"]["phase"] == "Running");

    // A request larger than the server's max_payload fails at once with the reason.
    rt.block_on(async {
        let body = json!({"data": {"v": "z".repeat(max_payload + 10)}});
        let started = std::time::Instant::now();
        let err = client
            .call("POST", "/api/v1/namespaces/default/configmaps", "", Some(&body))
            .await
            .expect_err("too large for one message");
        assert!(matches!(err, BusError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("max_payload"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    });
    drop(agent);
}

#[test]
fn requests_fail_at_once_when_nothing_answers() {
    let nats = common::NatsServer::start(None).expect("nats-server must be installed (apt-get install -y nats-server)");
    let rt = rt();
    rt.block_on(async {
        let nc = orca_actors::bus::connect(&nats.url(), "test").await.expect("connect");
        let client = ApiClient::new(nc, "test");
        let started = std::time::Instant::now();
        let err = client
            .call("GET", "/api/v1/pods", "", None)
            .await
            .expect_err("no API server");
        assert!(matches!(err, BusError::NoResponders { .. }), "{err}");
        assert!(err.to_string().contains("orca server"), "says what to start: {err}");
        assert!(started.elapsed() < Duration::from_secs(2), "failed fast");
    });
}
