//! Watches from revision R see every later event once, in order: over HTTP across a server restart, and
//! over NATS across a restart of nats-server and of the orca server.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use common::{cluster, configmap, Http, NatsServer, Orca};
use orca_actors::bus::client::ApiClient;
use serde_json::Value;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn head(h: &Http) -> u64 {
    h.get(CMS).body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn create(h: &Http, name: &str) -> u64 {
    let r = h.post(CMS, &configmap(name, "v"));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

/// An HTTP watcher that re-watches from the last revision it saw whenever the stream ends.
fn http_watcher(url: String, from: u64, tx: mpsc::Sender<u64>) {
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder().timeout(None).build().unwrap();
        let mut last = from;
        loop {
            let Ok(resp) = client
                .get(format!("{url}{CMS}?watch=true&resourceVersion={last}"))
                .send()
            else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            if !resp.status().is_success() {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            for line in BufReader::new(resp).lines() {
                let Ok(line) = line else { break };
                let Ok(ev) = serde_json::from_str::<Value>(&line) else {
                    break;
                };
                let rv: u64 = ev["object"]["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0);
                last = rv;
                if tx.send(rv).is_err() {
                    return;
                }
            }
        }
    });
}

fn collect(rx: &mpsc::Receiver<u64>, want: &[u64]) -> Vec<u64> {
    let mut got = Vec::new();
    while got.len() < want.len() {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(rv) => got.push(rv),
            Err(_) => break,
        }
    }
    // Nothing more (no duplicates) shortly after.
    if let Ok(extra) = rx.recv_timeout(Duration::from_millis(300)) {
        got.push(extra);
    }
    got
}

#[test]
fn http_watch_resumes_across_server_restart() {
    let (_nats, mut orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    for i in 0..5 {
        create(&h, &format!("before-{i}"));
    }
    let r = head(&h);
    let mut want = Vec::new();
    for i in 0..3 {
        want.push(create(&h, &format!("a-{i}")));
    }
    let (tx, rx) = mpsc::channel();
    http_watcher(orca.url.clone(), r, tx);
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..3 {
        want.push(create(&h, &format!("b-{i}")));
    }
    orca.restart();
    for i in 0..3 {
        want.push(create(&h, &format!("c-{i}")));
    }
    assert_eq!(collect(&rx, &want), want);
}

#[test]
fn nats_watch_resumes_across_nats_and_server_restarts() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut nats = NatsServer::start(None).expect("nats-server installed");
    let port = nats.port();
    let dir = tempfile::tempdir().unwrap();
    let mut orca = Orca::start(&nats.url(), dir.path(), &[]);
    let h = Http::new(&orca.url);
    let mut r = 0;
    for i in 0..3 {
        r = create(&h, &format!("pre-{i}"));
    }
    let conn = rt
        .block_on(orca_actors::bus::connect(&nats.url(), "watch-test"))
        .unwrap();
    let client = ApiClient::new(conn, "watch-test");
    let mut events = {
        let _guard = rt.enter();
        client.watch(CMS, "", r)
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut want: Vec<u64> = (0..3).map(|i| create(&h, &format!("a-{i}"))).collect();

    // Restart nats-server on the same port; write while it is down and after it is back.
    nats.stop();
    want.extend((0..3).map(|i| create(&h, &format!("b-{i}"))));
    nats = NatsServer::start(Some(port)).expect("nats-server restarts on its port");
    want.extend((0..3).map(|i| create(&h, &format!("c-{i}"))));

    // Restart the orca server.
    orca.restart();
    want.extend((0..3).map(|i| create(&h, &format!("d-{i}"))));

    let got = rt.block_on(async {
        let mut got = Vec::new();
        while got.len() < want.len() {
            match tokio::time::timeout(Duration::from_secs(90), events.recv()).await {
                Ok(Some(ev)) => {
                    assert_eq!(ev.event_type, "ADDED");
                    got.push(ev.revision);
                }
                _ => break,
            }
        }
        if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(300), events.recv()).await {
            got.push(extra.revision);
        }
        got
    });
    assert_eq!(got, want);
    drop(orca);
    drop(nats);
}
