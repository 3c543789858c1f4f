//! The Deployment controller: one ReplicaSet per pod-template hash, rolled by RollingUpdate
//! (maxSurge, maxUnavailable) or Recreate, old ReplicaSets kept up to revisionHistoryLimit, and the
//! Deployment's status and conditions. Informers on Deployments and ReplicaSets queue the keys.

use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use orca_schemas::kinds::workloads::{Deployment, ReplicaSet};

use super::deployment_plan::{bounds, recreate_step, rolling_step, template_hash, SetFacts};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// The label that ties a ReplicaSet and its pods to one template.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The annotation holding a ReplicaSet's revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Old ReplicaSets kept when the Deployment does not say.
pub const DEFAULT_HISTORY: usize = 10;

/// The reconciler.
pub struct DeploymentSync {
    api: ApiClient,
    deployments: Store,
}

fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn facts(rs: &ReplicaSet) -> SetFacts {
    let st = rs.status.as_ref();
    SetFacts {
        name: rs.metadata.name.clone().unwrap_or_default(),
        replicas: rs.spec.replicas.unwrap_or(1),
        existing: st.and_then(|s| s.replicas).unwrap_or(0),
        available: st.and_then(|s| s.available_replicas).unwrap_or(0),
        revision: revision_of(rs),
    }
}

impl DeploymentSync {
    async fn sets(&self, ns: &str, uid: &str) -> Result<Vec<ReplicaSet>, String> {
        let list = self
            .api
            .list_raw(&format!("/apis/apps/v1/namespaces/{ns}/replicasets"), "")
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for b in &list.items {
            let rs: ReplicaSet =
                serde_json::from_slice(b).map_err(|e| format!("a replicaset in {ns} does not decode: {e}"))?;
            let ours = rs
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.controller == Some(true) && r.uid == uid);
            if ours {
                out.push(rs);
            }
        }
        Ok(out)
    }

    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.deployments.get(key) else {
            return Ok(Action::Done);
        };
        let d: Deployment = cached
            .view()
            .map_err(|e| format!("deployment {}/{} does not decode: {e}", key.0, key.1))?;
        if d.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let raw: Value = cached.view().map_err(|e| e.to_string())?;
        let (ns, name) = (&key.0, &key.1);
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let replicas = d.spec.replicas.unwrap_or(1).max(0);
        let template = &raw["spec"]["template"];
        let hash = template_hash(template);
        let sets = self.sets(ns, &uid).await?;
        let (news, olds): (Vec<&ReplicaSet>, Vec<&ReplicaSet>) = sets
            .iter()
            .partition(|rs| rs.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL)) == Some(&hash));
        let old: Vec<SetFacts> = olds.iter().map(|rs| facts(rs)).collect();
        let paused = d.spec.paused == Some(true);
        let rs_path = |n: &str| format!("/apis/apps/v1/namespaces/{ns}/replicasets/{n}");
        let newest_old = old.iter().map(|o| o.revision).max().unwrap_or(0);
        let new = match news.first() {
            // A template seen before (a rollback) takes the next revision, as in Kubernetes.
            Some(rs) if facts(rs).revision <= newest_old => {
                let mut f = facts(rs);
                f.revision = newest_old + 1;
                let patch = json!({"metadata": {"annotations": {REVISION: f.revision.to_string()}}});
                write::call_ok(&self.api, "PATCH", &rs_path(&f.name), Some(&patch)).await?;
                f
            }
            Some(rs) => facts(rs),
            // Paused before the new template had a set: nothing is created, status still follows.
            None if paused => SetFacts {
                name: String::new(),
                replicas: 0,
                existing: 0,
                available: 0,
                revision: 0,
            },
            None => {
                let revision = old.iter().map(|o| o.revision).max().unwrap_or(0) + 1;
                let rs = new_set(&raw, name, &uid, &hash, revision);
                write::call_ok(
                    &self.api,
                    "POST",
                    &format!("/apis/apps/v1/namespaces/{ns}/replicasets"),
                    Some(&rs),
                )
                .await?;
                SetFacts {
                    name: format!("{name}-{hash}"),
                    replicas: 0,
                    existing: 0,
                    available: 0,
                    revision,
                }
            }
        };
        // The Deployment carries its current revision, as in Kubernetes (`kubectl rollout undo`
        // patches this annotation).
        let shown = raw["metadata"]["annotations"][REVISION].as_str().unwrap_or("");
        if new.revision > 0 && shown != new.revision.to_string() {
            let patch = json!({"metadata": {"annotations": {REVISION: new.revision.to_string()}}});
            let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}");
            write::call_ok(&self.api, "PATCH", &path, Some(&patch)).await?;
        }
        if !paused {
            let strategy = d.spec.strategy.clone().unwrap_or_default();
            let (new_target, old_targets) = if strategy.type_.as_deref() == Some("Recreate") {
                recreate_step(replicas, &old)
            } else {
                let ru = strategy.rolling_update.unwrap_or_default();
                let (surge, unavailable) = bounds(ru.max_surge.as_ref(), ru.max_unavailable.as_ref(), replicas);
                rolling_step(replicas, surge, unavailable, &new, &old)
            };
            for (o, t) in old.iter().zip(old_targets) {
                if o.replicas != t {
                    self.scale(&raw, &rs_path(&o.name), &o.name, o.replicas, t).await?;
                }
            }
            if new.replicas != new_target {
                self.scale(&raw, &rs_path(&new.name), &new.name, new.replicas, new_target)
                    .await?;
            }
            // Keep revisionHistoryLimit old sets that are empty; delete the oldest beyond it.
            let limit = d
                .spec
                .revision_history_limit
                .map_or(DEFAULT_HISTORY, |l| l.max(0) as usize);
            let mut empty: Vec<&SetFacts> = old.iter().filter(|o| o.replicas == 0 && o.existing == 0).collect();
            empty.sort_by_key(|o| o.revision);
            let excess = empty.len().saturating_sub(limit);
            for o in empty.into_iter().take(excess) {
                write::call_ok(&self.api, "DELETE", &rs_path(&o.name), None).await?;
            }
        }
        let recheck = self.write_status(&d, ns, name, replicas, &new, &old).await?;
        Ok(recheck.map_or(Action::Done, Action::RequeueAfter))
    }

    /// Sets a ReplicaSet's replicas and records it as Kubernetes does (`ScalingReplicaSet`).
    async fn scale(&self, d: &Value, path: &str, set: &str, from: i64, to: i64) -> Result<(), String> {
        write::call_ok(&self.api, "PATCH", path, Some(&json!({"spec": {"replicas": to}}))).await?;
        let way = if to > from { "up" } else { "down" };
        let message = format!("Scaled {way} replica set {set} from {from} to {to}");
        crate::events::record(
            &self.api,
            d,
            "Deployment",
            "Normal",
            "ScalingReplicaSet",
            &message,
            "deployment-controller",
        )
        .await;
        Ok(())
    }

    async fn write_status(
        &self,
        d: &Deployment,
        ns: &str,
        name: &str,
        replicas: i64,
        new: &SetFacts,
        old: &[SetFacts],
    ) -> Result<Option<std::time::Duration>, String> {
        let existing = new.existing + old.iter().map(|o| o.existing).sum::<i64>();
        let available = new.available + old.iter().map(|o| o.available).sum::<i64>();
        let complete = new.existing == replicas && new.available == replicas && old.iter().all(|o| o.existing == 0);
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let ru = d
            .spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.clone())
            .unwrap_or_default();
        let (_, unavailable) = bounds(ru.max_surge.as_ref(), ru.max_unavailable.as_ref(), replicas);
        let is_available = available >= replicas - unavailable;
        let deadline = d.spec.progress_deadline_seconds.unwrap_or(600).max(1) as u64;
        let paused = d.spec.paused == Some(true);
        let status = json!({
            "observedGeneration": d.metadata.generation.unwrap_or(0),
            "replicas": existing,
            "updatedReplicas": new.existing,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": (replicas - available).max(0),
        });
        let available_cond = json!({"type": "Available", "status": if is_available { "True" } else { "False" },
            "reason": if is_available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
            "message": if is_available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." }});
        let mut recheck = None;
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}");
        write::update(&self.api, &path, "/status", |o| {
            let before = if o["status"].is_object() { o["status"].clone() } else { json!({}) };
            let mut merged = before.clone();
            for (k, v) in status.as_object().into_iter().flatten() {
                merged[k] = v.clone();
            }
            let moved = ["replicas", "updatedReplicas", "availableReplicas", "observedGeneration"]
                .iter()
                .any(|k| before[*k] != merged[*k]);
            let old_conds = before["conditions"].as_array().cloned().unwrap_or_default();
            let prev = old_conds.iter().find(|c| c["type"] == "Progressing").cloned();
            let since_progress = prev
                .as_ref()
                .and_then(|p| p["lastUpdateTime"].as_str())
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            let exceeded = prev.as_ref().is_some_and(|p| p["reason"] == "ProgressDeadlineExceeded");
            recheck = None;
            let progressing = if complete {
                json!({"status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{}\" has successfully progressed.", new.name)})
            } else if paused {
                json!({"status": "Unknown", "reason": "DeploymentPaused", "message": "Deployment is paused"})
            } else if moved || prev.is_none() || prev.as_ref().is_some_and(|p| p["reason"] == "DeploymentPaused") {
                recheck = Some(std::time::Duration::from_secs(deadline));
                json!({"status": "True", "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet \"{}\" is progressing.", new.name)})
            } else if exceeded || since_progress.as_secs() >= deadline {
                json!({"status": "False", "reason": "ProgressDeadlineExceeded", "message": format!("ReplicaSet \"{}\" has timed out progressing.", new.name)})
            } else {
                recheck = Some(std::time::Duration::from_secs(deadline) - since_progress);
                prev.clone().unwrap_or_default()
            };
            let mut progressing = progressing;
            progressing["type"] = json!("Progressing");
            // Times: lastUpdateTime moves with progress, lastTransitionTime with status or reason.
            let mut conds = Vec::new();
            for mut c in [available_cond.clone(), progressing] {
                let old = old_conds.iter().find(|p| p["type"] == c["type"]);
                let same = old.is_some_and(|p| p["status"] == c["status"] && p["reason"] == c["reason"]);
                let keep_update = same && !(c["type"] == "Progressing" && moved);
                c["lastTransitionTime"] = if same { old.map(|p| p["lastTransitionTime"].clone()).unwrap_or(json!(now)) } else { json!(now) };
                c["lastUpdateTime"] = if keep_update { old.map(|p| p["lastUpdateTime"].clone()).unwrap_or(json!(now)) } else { json!(now) };
                conds.push(c);
            }
            merged["conditions"] = Value::Array(conds);
            if merged == o["status"] {
                return false;
            }
            o["status"] = merged;
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(recheck.map(|r| r + std::time::Duration::from_millis(50)))
    }
}

/// The ReplicaSet for the Deployment's current template.
fn new_set(d: &Value, name: &str, uid: &str, hash: &str, revision: i64) -> Value {
    let mut template = d["spec"]["template"].clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = d["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut labels = template["metadata"]["labels"].clone();
    labels[HASH_LABEL] = json!(hash);
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("{name}-{hash}"), "labels": labels,
            "annotations": {REVISION: revision.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"replicas": 0, "minReadySeconds": d["spec"]["minReadySeconds"].clone(), "selector": selector, "template": template},
    })
}

impl Reconciler for DeploymentSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "deployment-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: Deployment changes, and ReplicaSet changes mapped to their Deployment.
pub struct Deployments {
    deployments: Store,
    controller: Addr<Controller<DeploymentSync>>,
}

/// A change seen by the Deployment informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeploymentsChanged(pub InformerEvent);

/// A change seen by the ReplicaSet informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetsChanged(pub InformerEvent);

impl Actor for Deployments {
    type Context = Context<Self>;
}

impl Deployments {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<Deployments> {
        let deployments = Store::default();
        let sync = DeploymentSync {
            api: api.clone(),
            deployments: deployments.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 4));
        supervise("deployment-controller", move |ctx: &mut Context<Deployments>| {
            let ds = informer::start(
                api.clone(),
                InformerSpec::new("/apis/apps/v1/deployments", ""),
                deployments.clone(),
            );
            let rs = informer::start(
                api.clone(),
                InformerSpec::new("/apis/apps/v1/replicasets", "").keys_only(),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(ds, DeploymentsChanged));
            ctx.add_message_stream(futures::StreamExt::map(rs, SetsChanged));
            Deployments {
                deployments: deployments.clone(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<DeploymentsChanged> for Deployments {
    type Result = ();
    fn handle(&mut self, DeploymentsChanged(ev): DeploymentsChanged, _: &mut Context<Self>) {
        for d in ev.into_deltas() {
            self.controller.do_send(Enqueue(d.key));
        }
    }
}

impl Handler<SetsChanged> for Deployments {
    type Result = ();
    fn handle(&mut self, SetsChanged(ev): SetsChanged, _: &mut Context<Self>) {
        for d in ev.into_deltas() {
            let Some(rs) = d.new.as_ref().or(d.old.as_ref()) else {
                continue;
            };
            let Some(owner) = rs.header.controller.as_deref() else {
                continue;
            };
            if let Some(dep) = self
                .deployments
                .list(Some(&d.key.0))
                .into_iter()
                .find(|x| x.uid == owner)
            {
                self.controller.do_send(Enqueue(dep.key.clone()));
            }
        }
    }
}
