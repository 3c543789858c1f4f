//! The StatefulSet controller: pods `<name>-<ordinal>` with stable hostname and subdomain, a
//! PersistentVolumeClaim `<template>-<name>-<ordinal>` per claim template (kept when the pod or
//! the set goes), OrderedReady or Parallel management, RollingUpdate with partition, OnDelete.

use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use super::daemonset::HASH_LABEL;
use super::deployment_plan::template_hash;
use super::statefulset_plan::{plan, SsFacts, SsPod};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// The label naming a StatefulSet pod.
pub const POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// The label carrying a StatefulSet pod's ordinal.
pub const POD_INDEX: &str = "apps.kubernetes.io/pod-index";

/// The reconciler.
pub struct StatefulSetSync {
    api: ApiClient,
    sets: Store,
}

fn ss_pod(name: &str, p: &Value) -> Option<SsPod> {
    let pod_name = p["metadata"]["name"].as_str()?;
    let ordinal = pod_name.strip_prefix(name)?.strip_prefix('-')?.parse().ok()?;
    let phase = p["status"]["phase"].as_str().unwrap_or("");
    Some(SsPod {
        ordinal,
        name: pod_name.into(),
        hash: p["metadata"]["labels"][HASH_LABEL].as_str().unwrap_or("").into(),
        ready: phase == "Running"
            && p["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")),
        terminating: !p["metadata"]["deletionTimestamp"].is_null(),
        finished: matches!(phase, "Failed" | "Succeeded"),
    })
}

/// The claims of one ordinal, from the set's templates.
fn claims(set: &Value, name: &str, ordinal: i64) -> Vec<Value> {
    let selector_labels = set["spec"]["selector"]["matchLabels"].clone();
    // whenDeleted: Delete makes the set the claims' owner, so the garbage collector takes them.
    let owned = set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete";
    let owner = json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": set["metadata"]["uid"], "blockOwnerDeletion": true}]);
    set["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let tname = t["metadata"]["name"].as_str().unwrap_or("");
            let mut meta = t["metadata"].clone();
            meta["name"] = json!(format!("{tname}-{name}-{ordinal}"));
            for (k, v) in selector_labels.as_object().into_iter().flatten() {
                meta["labels"][k] = v.clone();
            }
            if owned {
                meta["ownerReferences"] = owner.clone();
            }
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": t["spec"].clone()})
        })
        .collect()
}

fn new_pod(set: &Value, name: &str, uid: &str, hash: &str, ordinal: i64) -> Value {
    let template = &set["spec"]["template"];
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    let pod_name = format!("{name}-{ordinal}");
    meta["name"] = json!(pod_name);
    meta["labels"][HASH_LABEL] = json!(hash);
    meta["labels"][POD_NAME] = json!(pod_name);
    meta["labels"][POD_INDEX] = json!(ordinal.to_string());
    meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    let mut spec = template["spec"].clone();
    spec["hostname"] = json!(pod_name);
    if let Some(svc) = set["spec"]["serviceName"].as_str().filter(|s| !s.is_empty()) {
        spec["subdomain"] = json!(svc);
    }
    if !spec["volumes"].is_array() {
        spec["volumes"] = json!([]);
    }
    for t in set["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
        let tname = t["metadata"]["name"].as_str().unwrap_or("").to_string();
        let vols = spec["volumes"].as_array_mut().expect("made an array above");
        if !vols.iter().any(|v| v["name"] == tname.as_str()) {
            vols.push(
                json!({"name": tname, "persistentVolumeClaim": {"claimName": format!("{tname}-{name}-{ordinal}")}}),
            );
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

impl StatefulSetSync {
    /// Records a FailedCreate Event on the set and returns the error to retry with.
    async fn failed_create(&self, set: &Value, what: &str, a: &crate::bus::envelope::ApiAnswer) -> String {
        let msg = crate::bus::client::status_message(&a.body);
        crate::events::record(
            &self.api,
            set,
            "StatefulSet",
            "Warning",
            "FailedCreate",
            &msg,
            "statefulset-controller",
        )
        .await;
        format!("creating {what}: {}: {msg}", a.status)
    }

    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.sets.get(key) else {
            return Ok(Action::Done);
        };
        if cached.header.deleting {
            return Ok(Action::Done);
        }
        let set: Value = cached.view().map_err(|e| e.to_string())?;
        let (ns, name, uid) = (&key.0, &key.1, cached.uid.clone());
        let hash = template_hash(&set["spec"]["template"]);
        let strategy = &set["spec"]["updateStrategy"];
        let facts = SsFacts {
            replicas: set["spec"]["replicas"].as_i64().unwrap_or(1),
            parallel: set["spec"]["podManagementPolicy"] == "Parallel",
            rolling: strategy["type"] != "OnDelete",
            partition: strategy["rollingUpdate"]["partition"].as_i64().unwrap_or(0),
        };
        let pods = write::owned_by(&self.api, &format!("/api/v1/namespaces/{ns}/pods"), &uid).await?;
        let facts_of: Vec<SsPod> = pods.iter().filter_map(|p| ss_pod(name, p)).collect();
        let p = plan(&facts, &facts_of, &hash);
        let pods_path = format!("/api/v1/namespaces/{ns}/pods");
        for n in &p.delete {
            write::call_ok(&self.api, "DELETE", &format!("{pods_path}/{n}"), None).await?;
        }
        let claims_path = format!("/api/v1/namespaces/{ns}/persistentvolumeclaims");
        if set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Delete" {
            // whenScaled: Delete: the claims of ordinals past `replicas` go once their pod has.
            let live: Vec<i64> = facts_of.iter().map(|p| p.ordinal).collect();
            for o in (facts.replicas.max(0)..).take_while(|o| *o < facts.replicas.max(0) + 1000) {
                let names: Vec<String> = claims(&set, name, o)
                    .iter()
                    .filter_map(|c| c["metadata"]["name"].as_str().map(str::to_string))
                    .collect();
                if names.is_empty() || live.contains(&o) {
                    continue;
                }
                let mut any = false;
                for n in names {
                    let a = self
                        .api
                        .call("DELETE", &format!("{claims_path}/{n}"), "", None)
                        .await
                        .map_err(|e| e.to_string())?;
                    any |= a.status == 200;
                }
                if !any && !live.iter().any(|l| *l > o) {
                    break;
                }
            }
        }
        for &o in &p.create {
            for claim in claims(&set, name, o) {
                let a = self
                    .api
                    .call("POST", &claims_path, "", Some(&claim))
                    .await
                    .map_err(|e| e.to_string())?;
                if !matches!(a.status, 201 | 409) {
                    return Err(self.failed_create(&set, &format!("claim for ordinal {o}"), &a).await);
                }
            }
            let pod = new_pod(&set, name, &uid, &hash, o);
            let a = self
                .api
                .call("POST", &pods_path, "", Some(&pod))
                .await
                .map_err(|e| e.to_string())?;
            if a.status != 201 {
                return Err(self.failed_create(&set, &format!("pod {name}-{o}"), &a).await);
            }
        }
        let revision = format!("{name}-{hash}");
        let status = json!({
            "replicas": p.replicas,
            "readyReplicas": p.ready,
            "availableReplicas": p.ready,
            "currentReplicas": p.updated,
            "updatedReplicas": p.updated,
            "updateRevision": revision,
            "observedGeneration": set["metadata"]["generation"].as_i64().unwrap_or(0),
        });
        let all_updated = p.updated == facts.replicas && p.replicas == facts.replicas;
        let path = format!("/apis/apps/v1/namespaces/{ns}/statefulsets/{name}");
        write::update(&self.api, &path, "/status", |o| {
            let mut merged = o["status"].clone();
            if !merged.is_object() {
                merged = json!({});
            }
            for (k, v) in status.as_object().into_iter().flatten() {
                merged[k] = v.clone();
            }
            if all_updated || merged["currentRevision"].is_null() {
                merged["currentRevision"] = json!(revision);
            }
            if merged == o["status"] {
                return false;
            }
            o["status"] = merged;
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(Action::Done)
    }
}

impl Reconciler for StatefulSetSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "statefulset-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: StatefulSets and their pods.
pub struct StatefulSets {
    sets: Store,
    controller: Addr<Controller<StatefulSetSync>>,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub enum StatefulSetsChanged {
    /// A StatefulSet.
    Set(InformerEvent),
    /// A pod.
    Pod(InformerEvent),
}

impl Actor for StatefulSets {
    type Context = Context<Self>;
}

impl StatefulSets {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<StatefulSets> {
        let sets = Store::default();
        let sync = StatefulSetSync {
            api: api.clone(),
            sets: sets.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 4));
        supervise("statefulset-controller", move |ctx: &mut Context<StatefulSets>| {
            let s = informer::start(
                api.clone(),
                InformerSpec::new("/apis/apps/v1/statefulsets", ""),
                sets.clone(),
            );
            let p = informer::start(
                api.clone(),
                InformerSpec::new(
                    "/api/v1/pods",
                    &format!("labelSelector={}", POD_NAME.replace('/', "%2F")),
                )
                .keys_only(),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(s, StatefulSetsChanged::Set));
            ctx.add_message_stream(futures::StreamExt::map(p, StatefulSetsChanged::Pod));
            StatefulSets {
                sets: sets.clone(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<StatefulSetsChanged> for StatefulSets {
    type Result = ();
    fn handle(&mut self, msg: StatefulSetsChanged, _: &mut Context<Self>) {
        match msg {
            StatefulSetsChanged::Set(ev) => {
                for d in ev.into_deltas() {
                    self.controller.do_send(Enqueue(d.key));
                }
            }
            StatefulSetsChanged::Pod(ev) => {
                for d in ev.into_deltas() {
                    let owner = d.new.as_ref().and_then(|p| p.header.controller.clone());
                    for s in self.sets.list(Some(&d.key.0)) {
                        if (owner.is_none() && d.new.is_none()) || owner.as_deref() == Some(s.uid.as_str()) {
                            self.controller.do_send(Enqueue(s.key.clone()));
                        }
                    }
                }
            }
        }
    }
}
