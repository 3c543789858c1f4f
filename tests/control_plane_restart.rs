//! A control-plane restart with 2,000 pods on hollow nodes: the scheduler and the agents resync
//! through paged lists over NATS, and a new pod is scheduled and reported Running.

mod common;

use std::time::{Duration, Instant};

use common::{cluster, wait_for, Hollow, Http};
use serde_json::{json, Value};

const PODS: &str = "/api/v1/namespaces/default/pods";

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox",
        "command": ["sleep", "3600"], "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]}})
}

fn count(h: &Http, field_selector: &str) -> usize {
    let r = h.get(&format!("{PODS}?fieldSelector={field_selector}"));
    r.body["items"].as_array().map_or(0, Vec::len)
}

#[test]
fn after_a_restart_with_2000_pods_new_pods_are_scheduled_within_seconds() {
    let (nats, mut orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _hollow = Hollow::start(&nats.url(), "h", 40);
    wait_for(60, "40 hollow nodes", || {
        h.get("/api/v1/nodes").body["items"].as_array().map_or(0, Vec::len) == 40
    });
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let base = orca.url.clone();
            std::thread::spawn(move || {
                let h = Http::new(&base);
                for i in (t..2000).step_by(8) {
                    let r = h.post(PODS, &pod(&format!("p-{i:04}")));
                    assert_eq!(r.status, 201, "{}", r.text);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wait_for(120, "2000 pods Running", || count(&h, "status.phase%3DRunning") == 2000);

    orca.restart();
    let h = Http::new(&orca.url);
    let started = Instant::now();
    let r = h.post(PODS, &pod("after-restart"));
    assert_eq!(r.status, 201, "{}", r.text);
    wait_for(60, "the new pod bound and Running", || {
        let p = h.get(&format!("{PODS}/after-restart")).body;
        p["spec"]["nodeName"].as_str().is_some_and(|n| n.starts_with("h-")) && p["status"]["phase"] == "Running"
    });
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "scheduled and running {took:?} after the restart"
    );
    // Nothing was bound twice or left behind.
    assert_eq!(count(&h, "spec.nodeName%3D"), 0, "no pod is left unbound");
    assert_eq!(count(&h, "status.phase%3DRunning"), 2001);
}
