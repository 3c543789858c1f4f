//! `orcactl rollout status`: kubectl's progress lines for Deployments, DaemonSets and
//! StatefulSets, printed as they change until the rollout is done or its deadline passes.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::Value;

use orca_schemas::ResourceType;

use super::client::Client;

/// Where a rollout is: a line to print and whether it is over (Ok) or failed (Err).
pub enum State {
    /// Still going.
    Waiting(String),
    /// Done.
    Done(String),
}

fn n(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

/// The state of a Deployment's rollout (kubectl's DeploymentStatusViewer).
pub fn deployment(d: &Value) -> Result<State> {
    let name = d["metadata"]["name"].as_str().unwrap_or("");
    if n(d, "/metadata/generation") > n(d, "/status/observedGeneration") {
        return Ok(State::Waiting(
            "Waiting for deployment spec update to be observed...".into(),
        ));
    }
    let progressing = d["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Progressing"));
    if progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
        bail!("deployment {name:?} exceeded its progress deadline");
    }
    let want = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let (updated, total, available) = (
        n(d, "/status/updatedReplicas"),
        n(d, "/status/replicas"),
        n(d, "/status/availableReplicas"),
    );
    Ok(if updated < want {
        State::Waiting(format!("Waiting for deployment {name:?} rollout to finish: {updated} out of {want} new replicas have been updated..."))
    } else if total > updated {
        State::Waiting(format!(
            "Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...",
            total - updated
        ))
    } else if available < updated {
        State::Waiting(format!("Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available..."))
    } else {
        State::Done(format!("deployment {name:?} successfully rolled out"))
    })
}

/// The state of a DaemonSet's rollout.
pub fn daemonset(d: &Value) -> State {
    let name = d["metadata"]["name"].as_str().unwrap_or("");
    if n(d, "/metadata/generation") > n(d, "/status/observedGeneration") {
        return State::Waiting("Waiting for daemon set spec update to be observed...".into());
    }
    let (want, updated, available) = (
        n(d, "/status/desiredNumberScheduled"),
        n(d, "/status/updatedNumberScheduled"),
        n(d, "/status/numberAvailable"),
    );
    if updated < want {
        State::Waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {want} new pods have been updated..."
        ))
    } else if available < want {
        State::Waiting(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {want} updated pods are available..."
        ))
    } else {
        State::Done(format!("daemon set {name:?} successfully rolled out"))
    }
}

/// The state of a StatefulSet's rollout.
pub fn statefulset(s: &Value) -> State {
    if n(s, "/metadata/generation") > n(s, "/status/observedGeneration") {
        return State::Waiting("Waiting for statefulset spec update to be observed...".into());
    }
    let want = s.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = n(s, "/status/readyReplicas");
    if ready < want {
        return State::Waiting(format!("Waiting for {} pods to be ready...", want - ready));
    }
    let partition = n(s, "/spec/updateStrategy/rollingUpdate/partition");
    let updated = n(s, "/status/updatedReplicas");
    if partition > 0 {
        if updated < want - partition {
            return State::Waiting(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                want - partition
            ));
        }
        return State::Done(format!(
            "partitioned roll out complete: {updated} new pods have been updated..."
        ));
    }
    let revision = s["status"]["updateRevision"].as_str().unwrap_or("");
    if s["status"]["updateRevision"] != s["status"]["currentRevision"] || updated < want {
        return State::Waiting(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {revision}..."
        ));
    }
    State::Done(format!(
        "statefulset rolling update complete {want} pods at revision {revision}..."
    ))
}

pub fn run(client: &Client, rt: &ResourceType, ns: &str, name: &str, watch: bool, timeout: Duration) -> Result<i32> {
    let path = rt.object_path(Some(ns), name);
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let obj = client.expect(client.send("GET", &path, None)?)?;
        let state = match rt.kind {
            "Deployment" => deployment(&obj)?,
            "DaemonSet" => daemonset(&obj),
            "StatefulSet" => statefulset(&obj),
            other => bail!("rollout status works on deployments, daemonsets and statefulsets, not {other}"),
        };
        match state {
            State::Done(line) => {
                println!("{line}");
                return Ok(0);
            }
            State::Waiting(line) => {
                if line != last {
                    println!("{line}");
                    last = line;
                }
            }
        }
        if !watch {
            return Ok(0);
        }
        if !timeout.is_zero() && started.elapsed() >= timeout {
            bail!("timed out waiting for the condition");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
