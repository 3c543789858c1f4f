//! CronJobs start Jobs when their schedule is due (in their time zone), name them by the due
//! minute, record lastScheduleTime and lastSuccessfulTime, prune by the history limits, and start
//! nothing while suspended; a bad schedule is refused with its field path.

mod common;

use common::{cluster, wait_for, wait_node_ready, Agent, Http};
use serde_json::{json, Value};

const CRONJOBS: &str = "/apis/batch/v1/namespaces/default/cronjobs";
const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";

fn cronjob(name: &str, extra: Value) -> Value {
    let mut spec = json!({"schedule": "* * * * *", "timeZone": "Etc/UTC",
        "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo tick"]}]}}}}});
    for (k, v) in extra.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": spec})
}

fn jobs_of(h: &Http, owner_uid: &str) -> Vec<Value> {
    h.get(JOBS).body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|j| {
            j["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["uid"] == owner_uid))
        })
        .collect()
}

#[test]
fn a_cronjob_fires_on_schedule_and_keeps_its_history() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _agent = Agent::start(&nats.url(), "cron-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "cron-node");

    let bad = h.post(
        CRONJOBS,
        &cronjob("bad", json!({"schedule": "61 * * * *", "timeZone": "Mars/Base"})),
    );
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(
        bad.text.contains("spec.schedule") && bad.text.contains("spec.timeZone"),
        "{}",
        bad.text
    );

    let keep = h.post(CRONJOBS, &cronjob("keep", json!({})));
    assert_eq!(keep.status, 201, "{}", keep.text);
    let keep_uid = keep.body["metadata"]["uid"].as_str().unwrap().to_string();
    let prune = h.post(CRONJOBS, &cronjob("prune", json!({"successfulJobsHistoryLimit": 0})));
    assert_eq!(prune.status, 201);
    let prune_uid = prune.body["metadata"]["uid"].as_str().unwrap().to_string();
    let paused = h.post(CRONJOBS, &cronjob("paused", json!({"suspend": true})));
    assert_eq!(paused.status, 201);
    let paused_uid = paused.body["metadata"]["uid"].as_str().unwrap().to_string();

    // The next minute boundary is at most 60 s away.
    wait_for(90, "keep's job made and complete", || {
        jobs_of(&h, &keep_uid).iter().any(|j| {
            j["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Complete"))
        })
    });
    let job = &jobs_of(&h, &keep_uid)[0];
    let scheduled: jiff::Timestamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(scheduled.as_second() % 60, 0, "due on a minute boundary");
    assert_eq!(job["metadata"]["name"], format!("keep-{}", scheduled.as_second() / 60));
    wait_for(30, "keep's status records the run", || {
        let st = &h.get(&format!("{CRONJOBS}/keep")).body["status"];
        st["lastScheduleTime"] == scheduled.to_string() && st["lastSuccessfulTime"].is_string()
    });
    wait_for(30, "prune ran once and its finished job was pruned", || {
        let st = &h.get(&format!("{CRONJOBS}/prune")).body["status"];
        st["lastSuccessfulTime"].is_string() && jobs_of(&h, &prune_uid).is_empty()
    });
    assert!(
        jobs_of(&h, &paused_uid).is_empty(),
        "a suspended CronJob starts nothing"
    );
    assert!(h.get(&format!("{CRONJOBS}/paused")).body["status"]["lastScheduleTime"].is_null());
}
