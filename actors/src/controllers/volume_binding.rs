//! The PersistentVolume controller: binds claims to existing volumes (the smallest Available one
//! of the claim's class, access modes and size, for claims that do not wait for their first pod),
//! keeps the phases (Available, Bound, Released, Pending), and reclaims a volume whose claim is gone:
//! Delete removes it (its node removes a local-path directory), Retain keeps it Released.

use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Reconciler, Store};

/// What the queue holds: a claim (namespace, name) or a volume (empty namespace, name).
pub type Target = (bool, String, String);

/// The reconciler.
pub struct Binder {
    api: ApiClient,
    claims: Store,
    volumes: Store,
    classes: Store,
}

fn bytes(q: &Value) -> i128 {
    q.as_str().and_then(orca_schemas::quantity::parse_milli).unwrap_or(0)
}

/// Whether volume `pv` can serve claim `pvc` (pure).
pub fn fits(pv: &Value, pvc: &Value) -> bool {
    let class = |v: &Value| v["spec"]["storageClassName"].as_str().unwrap_or("").to_string();
    let free = pv["spec"]["claimRef"].is_null()
        || (pv["spec"]["claimRef"]["name"] == pvc["metadata"]["name"]
            && pv["spec"]["claimRef"]["namespace"] == pvc["metadata"]["namespace"]);
    let modes = |v: &Value| v["spec"]["accessModes"].as_array().cloned().unwrap_or_default();
    let pv_modes = modes(pv);
    free && pv["metadata"]["deletionTimestamp"].is_null()
        && pv["status"]["phase"] != "Released"
        && class(pv) == class(pvc)
        && modes(pvc).iter().all(|m| pv_modes.contains(m))
        && bytes(&pv["spec"]["capacity"]["storage"]) >= bytes(&pvc["spec"]["resources"]["requests"]["storage"])
}

fn set_phase(phase: &'static str) -> impl FnMut(&mut Value) -> bool {
    move |o: &mut Value| {
        if o["status"]["phase"] == phase {
            return false;
        }
        o["status"]["phase"] = json!(phase);
        true
    }
}

impl Binder {
    async fn claim(&self, ns: &str, name: &str) -> Result<Action, String> {
        let Some(c) = self.claims.get(&(ns.to_string(), name.to_string())) else {
            return Ok(Action::Done);
        };
        let pvc: Value = c.view().map_err(|e| e.to_string())?;
        let path = format!("/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}");
        if pvc["spec"]["volumeName"].as_str().is_some_and(|v| !v.is_empty())
            || !pvc["metadata"]["deletionTimestamp"].is_null()
        {
            return Ok(Action::Done);
        }
        let class_name = pvc["spec"]["storageClassName"].as_str().unwrap_or("");
        let waits = self
            .classes
            .get(&(String::new(), class_name.to_string()))
            .and_then(|c| c.view::<Value>().ok())
            .is_some_and(|c| c["volumeBindingMode"] == "WaitForFirstConsumer");
        let mut candidates: Vec<Value> = self
            .volumes
            .list(None)
            .iter()
            .filter_map(|v| v.view::<Value>().ok())
            .filter(|pv| fits(pv, &pvc))
            .collect();
        candidates.sort_by_key(|pv| bytes(&pv["spec"]["capacity"]["storage"]));
        let Some(pv) = candidates.first().filter(|_| !waits) else {
            write::update(&self.api, &path, "/status", set_phase("Pending"))
                .await
                .map_err(|e| e.to_string())?;
            return Ok(Action::Done);
        };
        let pv_name = pv["metadata"]["name"].as_str().unwrap_or("").to_string();
        let claim_ref = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": pvc["metadata"]["uid"]});
        let pv_path = format!("/api/v1/persistentvolumes/{pv_name}");
        write::update(&self.api, &pv_path, "", |o| {
            if o["spec"]["claimRef"] == claim_ref {
                return false;
            }
            o["spec"]["claimRef"] = claim_ref.clone();
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        write::update(&self.api, &pv_path, "/status", set_phase("Bound"))
            .await
            .map_err(|e| e.to_string())?;
        write::update(&self.api, &path, "", |o| {
            if o["spec"]["volumeName"].as_str().is_some_and(|v| !v.is_empty()) {
                return false;
            }
            o["spec"]["volumeName"] = json!(pv_name);
            o["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = json!("yes");
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        let (capacity, modes) = (pv["spec"]["capacity"].clone(), pv["spec"]["accessModes"].clone());
        write::update(&self.api, &path, "/status", |o| {
            if o["status"]["phase"] == "Bound" {
                return false;
            }
            o["status"] = json!({"phase": "Bound", "capacity": capacity, "accessModes": modes});
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(Action::Done)
    }

    async fn volume(&self, name: &str) -> Result<Action, String> {
        let Some(v) = self.volumes.get(&(String::new(), name.to_string())) else {
            return Ok(Action::Done);
        };
        let pv: Value = v.view().map_err(|e| e.to_string())?;
        let path = format!("/api/v1/persistentvolumes/{name}");
        let claim_ref = &pv["spec"]["claimRef"];
        if claim_ref.is_null() {
            write::update(&self.api, &path, "/status", set_phase("Available"))
                .await
                .map_err(|e| e.to_string())?;
            return Ok(Action::Done);
        }
        let (ns, claim) = (
            claim_ref["namespace"].as_str().unwrap_or(""),
            claim_ref["name"].as_str().unwrap_or(""),
        );
        let a = self
            .api
            .call(
                "GET",
                &format!("/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}"),
                "",
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
        let alive = a.status == 200
            && serde_json::from_slice::<Value>(&a.body)
                .is_ok_and(|c| claim_ref["uid"].is_null() || c["metadata"]["uid"] == claim_ref["uid"]);
        if alive {
            return Ok(Action::Done);
        }
        if pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete" {
            write::call_ok(&self.api, "DELETE", &path, None).await?;
        } else {
            write::update(&self.api, &path, "/status", set_phase("Released"))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Action::Done)
    }
}

impl Reconciler for Binder {
    type Key = Target;

    fn name(&self) -> &'static str {
        "persistentvolume-controller"
    }

    fn reconcile(self: Arc<Self>, key: Target) -> BoxFuture<'static, Result<Action, String>> {
        async move {
            match key {
                (true, ns, name) => self.claim(&ns, &name).await,
                (false, _, name) => self.volume(&name).await,
            }
        }
        .boxed()
    }
}

/// Feeds the binder from claim, volume and class informers.
pub struct VolumeBinding {
    claims: Store,
    volumes: Store,
    controller: Addr<Controller<Binder>>,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub enum BindingChanged {
    /// A claim.
    Claim(InformerEvent),
    /// A volume.
    Volume(InformerEvent),
    /// A class.
    Class(InformerEvent),
}

impl Actor for VolumeBinding {
    type Context = Context<Self>;
}

impl VolumeBinding {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<VolumeBinding> {
        let (claims, volumes, classes) = (Store::default(), Store::default(), Store::default());
        let binder = Binder {
            api: api.clone(),
            claims: claims.clone(),
            volumes: volumes.clone(),
            classes: classes.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(binder, 2));
        supervise(
            "persistentvolume-controller",
            move |ctx: &mut Context<VolumeBinding>| {
                let c = informer::start(
                    api.clone(),
                    InformerSpec::new("/api/v1/persistentvolumeclaims", ""),
                    claims.clone(),
                );
                let v = informer::start(
                    api.clone(),
                    InformerSpec::new("/api/v1/persistentvolumes", ""),
                    volumes.clone(),
                );
                let s = informer::start(
                    api.clone(),
                    InformerSpec::new("/apis/storage.k8s.io/v1/storageclasses", ""),
                    classes.clone(),
                );
                ctx.add_message_stream(futures::StreamExt::map(c, BindingChanged::Claim));
                ctx.add_message_stream(futures::StreamExt::map(v, BindingChanged::Volume));
                ctx.add_message_stream(futures::StreamExt::map(s, BindingChanged::Class));
                VolumeBinding {
                    claims: claims.clone(),
                    volumes: volumes.clone(),
                    controller: controller.clone(),
                }
            },
        )
    }
}

impl Handler<BindingChanged> for VolumeBinding {
    type Result = ();
    fn handle(&mut self, msg: BindingChanged, _: &mut Context<Self>) {
        match msg {
            BindingChanged::Claim(ev) => {
                for d in ev.into_deltas() {
                    self.controller
                        .do_send(Enqueue((true, d.key.0.clone(), d.key.1.clone())));
                    if d.new.is_none() {
                        // A claim went: its volume is reclaimed.
                        for v in self.volumes.list(None) {
                            self.controller
                                .do_send(Enqueue((false, String::new(), v.key.1.clone())));
                        }
                    }
                }
            }
            BindingChanged::Volume(ev) => {
                let mut any = false;
                for d in ev.into_deltas() {
                    any = true;
                    self.controller.do_send(Enqueue((false, String::new(), d.key.1)));
                }
                if any {
                    // A volume appeared or changed: claims still waiting look again.
                    for c in self.claims.list(None) {
                        self.controller
                            .do_send(Enqueue((true, c.key.0.clone(), c.key.1.clone())));
                    }
                }
            }
            BindingChanged::Class(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_fits_a_claim_by_class_modes_and_size() {
        let pv = json!({"metadata": {"name": "pv"}, "spec": {"storageClassName": "", "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "capacity": {"storage": "2Gi"}}});
        let claim = |size: &str, mode: &str, class: &str| {
            json!({"metadata": {"name": "c", "namespace": "default"},
            "spec": {"storageClassName": class, "accessModes": [mode], "resources": {"requests": {"storage": size}}}})
        };
        assert!(fits(&pv, &claim("1Gi", "ReadWriteOnce", "")));
        assert!(!fits(&pv, &claim("3Gi", "ReadWriteOnce", "")), "too small");
        assert!(!fits(&pv, &claim("1Gi", "ReadWriteMany", "")), "mode not offered");
        assert!(!fits(&pv, &claim("1Gi", "ReadWriteOnce", "fast")), "other class");
    }
}
