//! The DaemonSet controller: one pod per node that the template's nodeSelector, node affinity and
//! tolerations admit (placed through the scheduler with a node-name affinity, as Kubernetes does);
//! nodes that join get one, nodes that leave or stop matching lose it; RollingUpdate replaces pods
//! of older templates with at most `maxUnavailable` nodes short of a ready pod.

use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use orca_schemas::kinds::pod::Pod;
use orca_schemas::meta::IntOrString;

use super::daemonset_plan::{plan, DsPod, NodeFacts};
use super::deployment_plan::{resolve, template_hash};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::plugins::node_affinity;
use crate::scheduler::pod_info::PodInfo;

/// The label carrying the template hash on a DaemonSet's pods.
pub const HASH_LABEL: &str = "controller-revision-hash";

/// Tolerations every DaemonSet pod gets (Kubernetes adds the same ones).
fn default_tolerations() -> Value {
    let t = |key: &str, effect: &str| json!({"key": key, "operator": "Exists", "effect": effect});
    json!([
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ])
}

/// The reconciler.
pub struct DaemonSetSync {
    api: ApiClient,
    sets: Store,
    nodes: Store,
}

/// The template's spec with the default tolerations added.
fn pod_spec(ds: &Value) -> Value {
    let mut spec = ds["spec"]["template"]["spec"].clone();
    let mut tol = spec["tolerations"].as_array().cloned().unwrap_or_default();
    for t in default_tolerations().as_array().into_iter().flatten() {
        if !tol.iter().any(|x| x["key"] == t["key"] && x["effect"] == t["effect"]) {
            tol.push(t.clone());
        }
    }
    spec["tolerations"] = Value::Array(tol);
    spec
}

/// Whether a new pod may start on the node, and whether one already there may stay.
fn placement(pod: &PodInfo, node: &Value) -> Result<NodeFacts, String> {
    let info = NodeInfo::from_node(node)?;
    let affinity = node_affinity::filter(pod, &info).is_ok();
    let untolerated: Vec<&str> = info
        .taints
        .iter()
        .filter(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !pod.tolerates(t))
        .map(|t| t.effect.as_str())
        .collect();
    Ok(NodeFacts {
        name: info.name,
        should_run: affinity && untolerated.is_empty(),
        should_continue: affinity && !untolerated.contains(&"NoExecute"),
    })
}

fn node_of(p: &Value) -> String {
    match p["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => p.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    }
}

fn ds_pod(p: &Value) -> DsPod {
    DsPod {
        name: p["metadata"]["name"].as_str().unwrap_or("").into(),
        node: node_of(p),
        hash: p["metadata"]["labels"][HASH_LABEL].as_str().unwrap_or("").into(),
        ready: p["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")),
        terminating: !p["metadata"]["deletionTimestamp"].is_null(),
        failed: p["status"]["phase"] == "Failed",
        created: p["metadata"]["creationTimestamp"].as_str().unwrap_or("").into(),
    }
}

impl DaemonSetSync {
    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.sets.get(key) else {
            return Ok(Action::Done);
        };
        if cached.header.deleting {
            return Ok(Action::Done);
        }
        let ds: Value = cached.view().map_err(|e| e.to_string())?;
        let (ns, name, uid) = (&key.0, &key.1, cached.uid.clone());
        let template = &ds["spec"]["template"];
        let hash = template_hash(template);
        let spec = pod_spec(&ds);
        let typed: Pod =
            serde_json::from_value(json!({"metadata": template["metadata"].clone(), "spec": spec.clone()}))
                .map_err(|e| format!("daemonset {ns}/{name}: the template does not decode: {e}"))?;
        let info = PodInfo::from_pod(&typed)?;
        let mut nodes = Vec::new();
        for n in self.nodes.list(None) {
            let v: Value = n.view().map_err(|e| e.to_string())?;
            nodes.push(placement(&info, &v)?);
        }
        let pods = write::owned_by(&self.api, &format!("/api/v1/namespaces/{ns}/pods"), &uid).await?;
        let facts: Vec<DsPod> = pods.iter().map(ds_pod).collect();
        let strategy = &ds["spec"]["updateStrategy"];
        let rolling = strategy["type"] != "OnDelete";
        let desired = nodes.iter().filter(|n| n.should_run).count() as i64;
        let max_unavailable: Option<IntOrString> =
            serde_json::from_value(strategy["rollingUpdate"]["maxUnavailable"].clone()).ok();
        let max_unavailable = resolve(max_unavailable.as_ref().or(Some(&IntOrString::Int(1))), desired, false);
        let max_surge: Option<IntOrString> = serde_json::from_value(strategy["rollingUpdate"]["maxSurge"].clone()).ok();
        let max_surge = max_surge.as_ref().map_or(0, |s| resolve(Some(s), desired, true));
        let p = plan(&nodes, &facts, &hash, rolling, max_unavailable, max_surge);

        let pods_path = format!("/api/v1/namespaces/{ns}/pods");
        for n in &p.delete {
            write::call_ok(&self.api, "DELETE", &format!("{pods_path}/{n}"), None).await?;
        }
        for n in &p.force_delete {
            let a = self
                .api
                .call("DELETE", &format!("{pods_path}/{n}"), "gracePeriodSeconds=0", None)
                .await
                .map_err(|e| e.to_string())?;
            if !matches!(a.status, 200 | 404) {
                return Err(format!("DELETE pod {n}: {}", a.status));
            }
        }
        let owner = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true});
        let calls: Vec<Value> = p
            .create
            .iter()
            .map(|node| new_pod(template, &spec, ns, name, &owner, &hash, node))
            .collect();
        let sent = calls
            .iter()
            .map(|pod| write::call_ok(&self.api, "POST", &pods_path, Some(pod)));
        let mut failed = None;
        for r in futures::future::join_all(sent).await {
            if let Err(e) = r {
                failed = Some(e);
            }
        }
        if let Some(e) = &failed {
            crate::events::record(
                &self.api,
                &ds,
                "DaemonSet",
                "Warning",
                "FailedCreate",
                e,
                "daemonset-controller",
            )
            .await;
        }
        let status = json!({
            "desiredNumberScheduled": p.desired,
            "currentNumberScheduled": p.current,
            "numberMisscheduled": p.misscheduled,
            "numberReady": p.ready,
            "updatedNumberScheduled": p.updated,
            "numberAvailable": p.ready,
            "numberUnavailable": p.unavailable,
            "observedGeneration": ds["metadata"]["generation"].as_i64().unwrap_or(0),
        });
        let path = format!("/apis/apps/v1/namespaces/{ns}/daemonsets/{name}");
        write::merge_status(&self.api, &path, &status).await?;
        match failed {
            Some(e) => Err(e),
            None => Ok(Action::Done),
        }
    }
}

fn new_pod(template: &Value, spec: &Value, ns: &str, name: &str, owner: &Value, hash: &str, node: &str) -> Value {
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    meta["generateName"] = json!(format!("{name}-"));
    meta["namespace"] = json!(ns);
    meta["labels"][HASH_LABEL] = json!(hash);
    meta["ownerReferences"] = json!([owner]);
    if let Some(m) = meta.as_object_mut() {
        m.remove("name");
    }
    let mut spec = spec.clone();
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    });
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

impl Reconciler for DaemonSetSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "daemonset-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: DaemonSets, nodes (every set looks again), and the sets' pods.
pub struct DaemonSets {
    sets: Store,
    controller: Addr<Controller<DaemonSetSync>>,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub enum DaemonSetsChanged {
    /// A DaemonSet.
    Set(InformerEvent),
    /// A node.
    Node(InformerEvent),
    /// A pod.
    Pod(InformerEvent),
}

impl Actor for DaemonSets {
    type Context = Context<Self>;
}

impl DaemonSets {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<DaemonSets> {
        let sets = Store::default();
        let nodes = Store::default();
        let sync = DaemonSetSync {
            api: api.clone(),
            sets: sets.clone(),
            nodes: nodes.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 2));
        supervise("daemonset-controller", move |ctx: &mut Context<DaemonSets>| {
            let s = informer::start(
                api.clone(),
                InformerSpec::new("/apis/apps/v1/daemonsets", ""),
                sets.clone(),
            );
            let n = informer::start(api.clone(), InformerSpec::new("/api/v1/nodes", ""), nodes.clone());
            let p = informer::start(
                api.clone(),
                InformerSpec::new("/api/v1/pods", &format!("labelSelector={HASH_LABEL}")).keys_only(),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(s, DaemonSetsChanged::Set));
            ctx.add_message_stream(futures::StreamExt::map(n, DaemonSetsChanged::Node));
            ctx.add_message_stream(futures::StreamExt::map(p, DaemonSetsChanged::Pod));
            DaemonSets {
                sets: sets.clone(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<DaemonSetsChanged> for DaemonSets {
    type Result = ();
    fn handle(&mut self, msg: DaemonSetsChanged, _: &mut Context<Self>) {
        match msg {
            DaemonSetsChanged::Set(ev) => {
                for d in ev.into_deltas() {
                    self.controller.do_send(Enqueue(d.key));
                }
            }
            DaemonSetsChanged::Node(ev) => {
                if !ev.into_deltas().is_empty() {
                    for s in self.sets.list(None) {
                        self.controller.do_send(Enqueue(s.key.clone()));
                    }
                }
            }
            DaemonSetsChanged::Pod(ev) => {
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
