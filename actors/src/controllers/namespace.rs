//! The namespace controller: a Terminating namespace is emptied through the normal delete path
//! (finalizers and grace periods are honoured), and once nothing is left in it its `kubernetes`
//! finalizer is removed and the namespace goes.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use orca_schemas::RESOURCES;

use crate::api_server::write::NAMESPACE_FINALIZER;
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// How often a namespace waiting for its contents looks again.
pub const RECHECK: Duration = Duration::from_millis(500);

/// The reconciler.
pub struct NamespaceSync {
    api: ApiClient,
    namespaces: Store,
}

impl NamespaceSync {
    /// Deletes what is left in `ns`; returns how many objects remain.
    async fn empty(&self, ns: &str) -> Result<usize, String> {
        let mut left = 0;
        for rt in RESOURCES.iter().filter(|r| r.namespaced) {
            let list = self
                .api
                .list_raw(&rt.collection_path(Some(ns)), "")
                .await
                .map_err(|e| e.to_string())?;
            for item in &list.items {
                left += 1;
                let (id, header) = orca_schemas::stored::read_header(item)?;
                if header.deleting {
                    continue;
                }
                write::call_ok(&self.api, "DELETE", &rt.object_path(Some(ns), &id.name), None).await?;
            }
        }
        Ok(left)
    }

    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.namespaces.get(key) else {
            return Ok(Action::Done);
        };
        if !cached.header.deleting {
            return Ok(Action::Done);
        }
        let name = key.1.clone();
        if self.empty(&name).await? > 0 {
            return Ok(Action::RequeueAfter(RECHECK));
        }
        write::update(&self.api, &format!("/api/v1/namespaces/{name}"), "", |o: &mut Value| {
            let Some(f) = o["spec"]["finalizers"].as_array() else {
                return false;
            };
            let kept: Vec<Value> = f.iter().filter(|f| *f != NAMESPACE_FINALIZER).cloned().collect();
            if kept.len() == f.len() {
                return false;
            }
            o["spec"]["finalizers"] = json!(kept);
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(Action::Done)
    }
}

impl Reconciler for NamespaceSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "namespace-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller from a namespace informer.
pub struct Namespaces {
    controller: Addr<Controller<NamespaceSync>>,
}

/// A change seen by the namespace informer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NamespacesChanged(pub InformerEvent);

impl Actor for Namespaces {
    type Context = Context<Self>;
}

impl Namespaces {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<Namespaces> {
        let namespaces = Store::default();
        let sync = NamespaceSync {
            api: api.clone(),
            namespaces: namespaces.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 2));
        supervise("namespace-controller", move |ctx: &mut Context<Namespaces>| {
            let events = informer::start(
                api.clone(),
                InformerSpec::new("/api/v1/namespaces", ""),
                namespaces.clone(),
            );
            ctx.add_message_stream(futures::StreamExt::map(events, NamespacesChanged));
            Namespaces {
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<NamespacesChanged> for Namespaces {
    type Result = ();
    fn handle(&mut self, NamespacesChanged(ev): NamespacesChanged, _: &mut Context<Self>) {
        for d in ev.into_deltas() {
            if d.new.as_ref().is_some_and(|c| c.header.deleting) {
                self.controller.do_send(Enqueue(d.key));
            }
        }
    }
}
