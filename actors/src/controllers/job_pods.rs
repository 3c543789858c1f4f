//! A Job's pods: the pod made from the template (labels, owner, completion index and its
//! environment variable), and what the controller reads back from one.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::job::{INDEX, NAME_LABEL, UID_LABEL};
use super::job_plan::{JobPod, PodPhase};

pub(crate) fn time_of(v: &Value) -> Option<SystemTime> {
    v.as_str().and_then(|s| humantime::parse_rfc3339_weak(s).ok())
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

pub(crate) fn pod_facts(p: &Value) -> JobPod {
    let phase = match p["status"]["phase"].as_str() {
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Active,
    };
    let statuses = p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    let failed_at = statuses
        .iter()
        .flat_map(|s| {
            [
                &s["state"]["terminated"]["finishedAt"],
                &s["lastState"]["terminated"]["finishedAt"],
            ]
        })
        .filter_map(time_of)
        .max();
    JobPod {
        name: p["metadata"]["name"].as_str().unwrap_or("").into(),
        phase,
        terminating: !p["metadata"]["deletionTimestamp"].is_null(),
        ready: p["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")),
        restarts: statuses.iter().filter_map(|s| s["restartCount"].as_i64()).sum(),
        index: p["metadata"]["annotations"][INDEX]
            .as_str()
            .and_then(|i| i.parse().ok()),
        failed_at: failed_at.or_else(|| {
            let conds = p["status"]["conditions"].as_array().cloned().unwrap_or_default();
            let last = conds.iter().filter_map(|c| time_of(&c["lastTransitionTime"])).max();
            (phase == PodPhase::Failed).then_some(last).flatten()
        }),
    }
}

/// The condition that ended the Job, with when.
pub(crate) fn finished(job: &Value) -> Option<(String, Option<SystemTime>)> {
    job["status"]["conditions"].as_array()?.iter().find_map(|c| {
        let ends = (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True";
        ends.then(|| {
            (
                c["type"].as_str().unwrap_or("").to_string(),
                time_of(&c["lastTransitionTime"]),
            )
        })
    })
}

/// A pod from the Job's template.
pub(crate) fn job_pod(job: &Value, ns: &str, name: &str, uid: &str, index: Option<i64>) -> Value {
    let template = &job["spec"]["template"];
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    for (k, v) in [
        (UID_LABEL, uid),
        (NAME_LABEL, name),
        ("controller-uid", uid),
        ("job-name", name),
    ] {
        meta["labels"][k] = json!(v);
    }
    let mut spec = template["spec"].clone();
    meta["generateName"] = json!(format!("{name}-"));
    if let Some(i) = index {
        meta["generateName"] = json!(format!("{name}-{i}-"));
        meta["annotations"][INDEX] = json!(i.to_string());
        meta["labels"][INDEX] = json!(i.to_string());
        for list in ["containers", "initContainers"] {
            for c in spec[list].as_array_mut().into_iter().flatten() {
                if !c["env"].is_array() {
                    c["env"] = json!([]);
                }
                if let Some(env) = c["env"].as_array_mut() {
                    env.push(json!({"name": "JOB_COMPLETION_INDEX", "value": i.to_string()}));
                }
            }
        }
        if spec["hostname"].is_null() {
            spec["hostname"] = json!(format!("{name}-{i}"));
        }
    }
    meta["namespace"] = json!(ns);
    meta["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    if let Some(m) = meta.as_object_mut() {
        m.remove("name");
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}
