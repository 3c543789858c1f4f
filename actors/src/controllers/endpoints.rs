//! The Endpoints and EndpointSlice controllers (one actor): for each Service with a selector, its
//! pods' addresses and ports as an Endpoints object of the Service's name and as EndpointSlices
//! labelled `kubernetes.io/service-name`, following pods as they come, go, change labels and turn
//! ready or not. A Service without a selector keeps the Endpoints its users write.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use orca_schemas::selector::Selector;

use super::endpoints_plan::{slices, subsets, PodEndpoint, SvcPort};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// The label tying a slice to its Service.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

/// The reconciler.
pub struct EndpointsSync {
    api: ApiClient,
    services: Store,
}

fn pod_endpoint(p: &Value, service: &str) -> PodEndpoint {
    let ports = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .map(|cp| {
            (
                cp["name"].as_str().unwrap_or("").to_string(),
                cp["containerPort"].as_i64().unwrap_or(0),
                cp["protocol"].as_str().unwrap_or("TCP").to_string(),
            )
        })
        .collect();
    PodEndpoint {
        name: p["metadata"]["name"].as_str().unwrap_or("").into(),
        uid: p["metadata"]["uid"].as_str().unwrap_or("").into(),
        ip: p["status"]["podIP"].as_str().unwrap_or("").into(),
        node: p["spec"]["nodeName"].as_str().unwrap_or("").into(),
        ready: p["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")),
        terminating: !p["metadata"]["deletionTimestamp"].is_null(),
        ports,
        hostname: p["spec"]["hostname"]
            .as_str()
            .filter(|h| !h.is_empty() && p["spec"]["subdomain"] == service)
            .map(str::to_string),
    }
}

fn selector_of(svc: &Value) -> Option<Selector> {
    let map: BTreeMap<String, String> = serde_json::from_value(svc["spec"]["selector"].clone()).ok()?;
    if map.is_empty() {
        return None;
    }
    let text = map
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Selector::parse(&text).ok()
}

impl EndpointsSync {
    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let (ns, name) = (&key.0, &key.1);
        let ep_path = format!("/api/v1/namespaces/{ns}/endpoints/{name}");
        let slices_path = format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices");
        let query = format!("labelSelector={}%3D{name}", SERVICE_NAME.replace('/', "%2F"));
        let existing = self
            .api
            .list_raw(&slices_path, &query)
            .await
            .map_err(|e| e.to_string())?;
        let mut old: Vec<Value> = existing
            .items
            .iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect();
        old.sort_by_key(|s| s["metadata"]["name"].as_str().unwrap_or("").to_string());
        let Some(cached) = self.services.get(key).filter(|c| !c.header.deleting) else {
            write::call_ok(&self.api, "DELETE", &ep_path, None).await?;
            for s in &old {
                let n = s["metadata"]["name"].as_str().unwrap_or("");
                write::call_ok(&self.api, "DELETE", &format!("{slices_path}/{n}"), None).await?;
            }
            return Ok(Action::Done);
        };
        let svc: Value = cached.view().map_err(|e| e.to_string())?;
        let Some(selector) = selector_of(&svc) else {
            return Ok(Action::Done);
        };
        let pods = self
            .api
            .list_raw(&format!("/api/v1/namespaces/{ns}/pods"), "")
            .await
            .map_err(|e| e.to_string())?;
        let selected: Vec<PodEndpoint> = pods
            .items
            .iter()
            .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
            .filter(|p| !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
            .filter(|p| {
                let labels: BTreeMap<String, String> =
                    serde_json::from_value(p["metadata"]["labels"].clone()).unwrap_or_default();
                selector.matches(&labels)
            })
            .map(|p| pod_endpoint(&p, name))
            .collect();
        let ports: Vec<SvcPort> = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| SvcPort {
                name: p["name"].as_str().map(str::to_string),
                protocol: p["protocol"].as_str().unwrap_or("TCP").to_string(),
                target: if p["targetPort"].is_null() {
                    p["port"].clone()
                } else {
                    p["targetPort"].clone()
                },
            })
            .collect();
        let publish = svc["spec"]["publishNotReadyAddresses"] == true;
        let subsets = subsets(ns, &selected, &ports, publish);
        self.write_endpoints(&ep_path, ns, name, &svc, subsets).await?;
        let want = slices(ns, &selected, &ports, publish);
        self.write_slices(&slices_path, name, &svc, &old, want).await?;
        Ok(Action::Done)
    }

    async fn write_endpoints(
        &self,
        path: &str,
        ns: &str,
        name: &str,
        svc: &Value,
        subsets: Vec<Value>,
    ) -> Result<(), String> {
        let labels = svc["metadata"]["labels"].clone();
        let made = json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": labels}, "subsets": subsets});
        let outcome = write::update(&self.api, path, "", |o| {
            if o["subsets"] == made["subsets"] && o["metadata"]["labels"] == made["metadata"]["labels"] {
                return false;
            }
            o["subsets"] = made["subsets"].clone();
            o["metadata"]["labels"] = made["metadata"]["labels"].clone();
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        if outcome == write::Updated::Missing {
            let coll = format!("/api/v1/namespaces/{ns}/endpoints");
            write::call_ok(&self.api, "POST", &coll, Some(&made)).await?;
        }
        Ok(())
    }

    async fn write_slices(
        &self,
        path: &str,
        name: &str,
        svc: &Value,
        old: &[Value],
        want: Vec<Value>,
    ) -> Result<(), String> {
        let owner = json!([{"apiVersion": "v1", "kind": "Service", "name": name, "uid": svc["metadata"]["uid"],
            "controller": true, "blockOwnerDeletion": true}]);
        for (i, body) in want.iter().enumerate() {
            match old.get(i) {
                Some(o) if o["endpoints"] == body["endpoints"] && o["ports"] == body["ports"] => {}
                Some(o) => {
                    let n = o["metadata"]["name"].as_str().unwrap_or("");
                    write::update(&self.api, &format!("{path}/{n}"), "", |cur| {
                        cur["endpoints"] = body["endpoints"].clone();
                        cur["ports"] = body["ports"].clone();
                        true
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                }
                None => {
                    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                        "metadata": {"generateName": format!("{name}-"), "ownerReferences": owner,
                            "labels": {SERVICE_NAME: name, MANAGED_BY: "endpointslice-controller.orca.dev"}},
                        "endpoints": body["endpoints"], "ports": body["ports"]});
                    write::call_ok(&self.api, "POST", path, Some(&slice)).await?;
                }
            }
        }
        for o in old.iter().skip(want.len()) {
            let n = o["metadata"]["name"].as_str().unwrap_or("");
            write::call_ok(&self.api, "DELETE", &format!("{path}/{n}"), None).await?;
        }
        Ok(())
    }
}

impl Reconciler for EndpointsSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "endpoints-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: Services, and pods mapped to the Services that select them.
pub struct EndpointsController {
    services: Store,
    controller: Addr<Controller<EndpointsSync>>,
    /// The Services each pod matched when last seen, so a pod whose labels stop matching still
    /// wakes the Services it leaves.
    matched: HashMap<Key, Vec<Key>>,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub enum EndpointsChanged {
    /// A Service.
    Service(InformerEvent),
    /// A pod.
    Pod(InformerEvent),
}

impl Actor for EndpointsController {
    type Context = Context<Self>;
}

impl EndpointsController {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<EndpointsController> {
        let services = Store::default();
        let sync = EndpointsSync {
            api: api.clone(),
            services: services.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 4));
        supervise("endpoints-controller", move |ctx: &mut Context<EndpointsController>| {
            let s = informer::start(api.clone(), InformerSpec::new("/api/v1/services", ""), services.clone());
            let spec = InformerSpec::new("/api/v1/pods", "").keys_only();
            let p = informer::start(api.clone(), spec, Store::default());
            ctx.add_message_stream(futures::StreamExt::map(s, EndpointsChanged::Service));
            ctx.add_message_stream(futures::StreamExt::map(p, EndpointsChanged::Pod));
            EndpointsController {
                services: services.clone(),
                controller: controller.clone(),
                matched: HashMap::new(),
            }
        })
    }

    fn services_selecting(&self, ns: &str, pod: &crate::runtime::Cached) -> Vec<Key> {
        self.services
            .list(Some(ns))
            .into_iter()
            .filter(|s| {
                s.view::<Value>()
                    .ok()
                    .and_then(|v| selector_of(&v))
                    .is_some_and(|sel| pod.header.matches(&sel, &Selector::default()))
            })
            .map(|s| s.key.clone())
            .collect()
    }
}

impl Handler<EndpointsChanged> for EndpointsController {
    type Result = ();
    fn handle(&mut self, msg: EndpointsChanged, _: &mut Context<Self>) {
        match msg {
            EndpointsChanged::Service(ev) => {
                for d in ev.into_deltas() {
                    self.controller.do_send(Enqueue(d.key));
                }
            }
            EndpointsChanged::Pod(ev) => {
                for d in ev.into_deltas() {
                    let now = match &d.new {
                        Some(p) => self.services_selecting(&d.key.0, p),
                        None => Vec::new(),
                    };
                    let before = if now.is_empty() {
                        self.matched.remove(&d.key)
                    } else {
                        self.matched.insert(d.key.clone(), now.clone())
                    };
                    for k in now.iter().chain(before.iter().flatten()) {
                        self.controller.do_send(Enqueue(k.clone()));
                    }
                }
            }
        }
    }
}
