//! The ReplicaSet controller: keeps `replicas` pods matching the selector. Informers on
//! ReplicaSets and pods queue the ReplicaSet keys; each reconcile reads the namespace's pods from
//! the API (a consistent list, so pods it just created are counted), carries out the pure plan
//! (adopt, release, create in slow-start batches, delete in Kubernetes' order) and writes status.

use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use orca_schemas::kinds::pod::Pod;
use orca_schemas::kinds::workloads::ReplicaSet;
use orca_schemas::selector::Selector;

use super::replicaset_plan::{availability, plan, slow_start, PodFacts};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// Reconciles at once.
pub const CONCURRENCY: usize = 4;

/// The reconciler.
pub struct ReplicaSetSync {
    api: ApiClient,
    sets: Store,
}

fn pod_path(ns: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods/{name}")
}

impl ReplicaSetSync {
    async fn pods(&self, ns: &str) -> Result<Vec<Pod>, String> {
        let list = self
            .api
            .list_raw(&format!("/api/v1/namespaces/{ns}/pods"), "")
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .iter()
            .map(|b| serde_json::from_slice::<Pod>(b).map_err(|e| format!("a pod in {ns} does not decode: {e}")))
            .collect()
    }

    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.sets.get(key) else {
            return Ok(Action::Done);
        };
        let rs: ReplicaSet = cached
            .view()
            .map_err(|e| format!("replicaset {}/{} does not decode: {e}", key.0, key.1))?;
        if rs.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let raw: Value = cached.view().map_err(|e| e.to_string())?;
        let (ns, name) = (&key.0, &key.1);
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let selector = rs
            .spec
            .selector
            .as_ref()
            .map(Selector::from_label_selector)
            .transpose()
            .map_err(|e| format!("replicaset {ns}/{name}: {e}"))?
            .unwrap_or_default();
        let replicas = rs.spec.replicas.unwrap_or(1).max(0) as usize;
        let template_labels = rs.spec.template.metadata.labels.clone().unwrap_or_default();
        let pods: Vec<PodFacts> = self.pods(ns).await?.iter().map(PodFacts::of).collect();
        let p = plan(&uid, replicas, &selector, &template_labels, &pods);
        let staying: Vec<&PodFacts> = pods
            .iter()
            .filter(|f| !f.terminating && !f.finished && !p.delete.contains(&f.name) && !p.release.contains(&f.name))
            .filter(|f| f.controller.as_deref() == Some(uid.as_str()) || p.adopt.contains(&f.name))
            .collect();
        let min_ready = std::time::Duration::from_secs(rs.spec.min_ready_seconds.unwrap_or(0).max(0) as u64);
        let (available, recheck) = availability(&staying, min_ready, std::time::SystemTime::now());

        let owner = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true});
        for pod in &p.adopt {
            let patch = json!({"metadata": {"ownerReferences": [owner]}});
            write::call_ok(&self.api, "PATCH", &pod_path(ns, pod), Some(&patch)).await?;
        }
        for pod in &p.release {
            write::update(&self.api, &pod_path(ns, pod), "", |o| {
                if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"] != uid.as_str());
                }
                true
            })
            .await
            .map_err(|e| e.to_string())?;
        }
        let mut created = 0;
        let (pod, pods_path) = (new_pod(&raw, ns, name, &owner), format!("/api/v1/namespaces/{ns}/pods"));
        'batches: for batch in slow_start(p.create) {
            let mut calls = Vec::new();
            for _ in 0..batch {
                calls.push(write::call_ok(&self.api, "POST", &pods_path, Some(&pod)));
            }
            for r in futures::future::join_all(calls).await {
                if let Err(e) = r {
                    // The rest waits for the next reconcile: a bad template costs few failures.
                    crate::events::record(
                        &self.api,
                        &raw,
                        "ReplicaSet",
                        "Warning",
                        "FailedCreate",
                        &e,
                        "replicaset-controller",
                    )
                    .await;
                    break 'batches;
                }
                created += 1;
            }
        }
        for pod in &p.delete {
            write::call_ok(&self.api, "DELETE", &pod_path(ns, pod), None).await?;
        }
        let status = json!({
            "replicas": p.active + created - p.delete.len(),
            "fullyLabeledReplicas": p.fully_labeled,
            "readyReplicas": p.ready,
            "availableReplicas": available,
            "observedGeneration": rs.metadata.generation.unwrap_or(0),
        });
        let path = format!("/apis/apps/v1/namespaces/{ns}/replicasets/{name}");
        write::merge_status(&self.api, &path, &status).await?;
        if created < p.create {
            return Err(format!("created {created} of {} pods", p.create));
        }
        Ok(recheck.map_or(Action::Done, |r| {
            Action::RequeueAfter(r + std::time::Duration::from_millis(20))
        }))
    }
}

/// A pod from the ReplicaSet's template (kept as sent, unknown fields included).
fn new_pod(rs: &Value, ns: &str, name: &str, owner: &Value) -> Value {
    let template = &rs["spec"]["template"];
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    meta["generateName"] = json!(format!("{name}-"));
    meta["namespace"] = json!(ns);
    meta["ownerReferences"] = json!([owner]);
    if let Some(m) = meta.as_object_mut() {
        m.remove("name");
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"].clone()})
}

impl Reconciler for ReplicaSetSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "replicaset-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: ReplicaSet changes, and pod changes mapped to the ReplicaSets they concern.
pub struct ReplicaSets {
    sets: Store,
    controller: Addr<Controller<ReplicaSetSync>>,
}

/// A change seen by the ReplicaSet informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetsChanged(pub InformerEvent);

/// A change seen by the pod informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PodsChanged(pub InformerEvent);

impl Actor for ReplicaSets {
    type Context = Context<Self>;
}

impl ReplicaSets {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<ReplicaSets> {
        let sets = Store::default();
        let sync = ReplicaSetSync {
            api: api.clone(),
            sets: sets.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, CONCURRENCY));
        supervise("replicaset-controller", move |ctx: &mut Context<ReplicaSets>| {
            let rs = informer::start(
                api.clone(),
                InformerSpec::new("/apis/apps/v1/replicasets", ""),
                sets.clone(),
            );
            let pods = informer::start(
                api.clone(),
                InformerSpec::new("/api/v1/pods", "").keys_only(),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(rs, SetsChanged));
            ctx.add_message_stream(futures::StreamExt::map(pods, PodsChanged));
            ReplicaSets {
                sets: sets.clone(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<SetsChanged> for ReplicaSets {
    type Result = ();
    fn handle(&mut self, SetsChanged(ev): SetsChanged, _: &mut Context<Self>) {
        for d in ev.into_deltas() {
            self.controller.do_send(Enqueue(d.key));
        }
    }
}

impl Handler<PodsChanged> for ReplicaSets {
    type Result = ();
    fn handle(&mut self, PodsChanged(ev): PodsChanged, _: &mut Context<Self>) {
        for d in ev.into_deltas() {
            let Some(pod) = d.new.as_ref().or(d.old.as_ref()) else {
                continue;
            };
            let owner = pod.header.controller.as_deref();
            for rs in self.sets.list(Some(&d.key.0)) {
                let wants = owner == Some(rs.uid.as_str())
                    || (owner.is_none()
                        && rs
                            .view::<ReplicaSet>()
                            .ok()
                            .and_then(|r| r.spec.selector)
                            .is_some_and(|s| {
                                Selector::from_label_selector(&s)
                                    .is_ok_and(|sel| !sel.is_empty() && pod.header.matches(&sel, &Selector::default()))
                            }));
                if wants {
                    self.controller.do_send(Enqueue(rs.key.clone()));
                }
            }
        }
    }
}
