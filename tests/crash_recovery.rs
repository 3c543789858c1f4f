//! Crash: kill -9 the server while 64 clients create objects; after a restart every acknowledged object
//! is present, revisions are gapless, and the projections equal a replay of the log.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{cluster, configmap, Http};
use orca_actors::eventlog::projection::Projection;
use orca_actors::eventlog::{EventLog, LogOptions};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[test]
fn acknowledged_writes_survive_kill_9() {
    let (_nats, mut orca, dir) = cluster(&[]);
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..64 {
        let (acked, stop, url) = (acked.clone(), stop.clone(), orca.url.clone());
        clients.push(std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("c{c}-{i}");
                i += 1;
                let r = client.post(format!("{url}{CMS}")).json(&configmap(&name, "v")).send();
                if let Ok(r) = r {
                    if r.status().as_u16() == 201 {
                        acked.lock().unwrap().insert(name);
                    }
                }
            }
        }));
    }
    common::wait_for(60, "some acknowledged writes", || acked.lock().unwrap().len() > 500);
    orca.kill9();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    orca.restart();

    let h = Http::new(&orca.url);
    let list = h.get(CMS);
    let present: BTreeSet<String> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<&String> = acked.difference(&present).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged objects lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // The server keeps working after recovery.
    assert_eq!(h.post(CMS, &configmap("after-restart", "v")).status, 201);
    orca.stop();

    let log = EventLog::open(&LogOptions::new(dir.path())).expect("open log");
    let (count, last) = log.reader().verify().expect("every record checks out");
    assert_eq!(count, last, "revisions are gapless from 1 to {last}");
    let events = log.reader().range(1, last, usize::MAX).unwrap();
    let mut replay = Projection::default();
    for ev in &events {
        replay.apply(ev);
    }
    let replayed: Vec<(u64, bytes::Bytes)> = replay.all().iter().map(|e| (e.revision, e.json.clone())).collect();
    let projected: Vec<(u64, bytes::Bytes)> = log
        .projection()
        .all()
        .iter()
        .map(|e| (e.revision, e.json.clone()))
        .collect();
    assert_eq!(replayed.len(), projected.len());
    assert!(replayed == projected, "projections differ from a replay of the log");
    assert_eq!(log.head(), last);
}
