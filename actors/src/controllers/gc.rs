//! The garbage collector: follows every kind through keys-only informers into an ownership graph.
//! An object whose owners are all gone is deleted (Background propagation); an owner deleted with
//! Foreground propagation waits (finalizer `foregroundDeletion`) until its dependents are gone; one
//! deleted with Orphan propagation (finalizer `orphan`) first lets its dependents go. An owner the
//! graph does not know is looked up before anything is deleted, so a lagging informer deletes
//! nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::RwLock;
use serde_json::Value;

use orca_schemas::registry::by_kind;
use orca_schemas::{ResourceType, RESOURCES};

use super::gc_graph::{Graph, Node, ObjRef};
use crate::api_server::write::{FOREGROUND, ORPHAN};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Reconciler, Store};

/// Reconciles at once.
pub const CONCURRENCY: usize = 8;
/// How often an owner waiting for its dependents looks again (it is also woken when one goes).
pub const FOREGROUND_RECHECK: Duration = Duration::from_secs(1);

/// The kinds the collector follows (Events are left to retention).
fn followed() -> impl Iterator<Item = &'static ResourceType> {
    RESOURCES.iter().filter(|r| r.kind != "Event")
}

/// The reconciler.
pub struct Collector {
    api: ApiClient,
    graph: Arc<RwLock<Graph>>,
    synced: Arc<RwLock<HashSet<&'static str>>>,
}

fn path_of(obj: &ObjRef) -> Option<String> {
    let rt = by_kind(obj.0)?;
    let ns = rt.namespaced.then_some(obj.1.as_str());
    Some(rt.object_path(ns, &obj.2))
}

fn finalizers(o: &Value) -> Vec<String> {
    o["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

impl Collector {
    async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        let a = self.api.call("GET", path, "", None).await.map_err(|e| e.to_string())?;
        match a.status {
            200 => serde_json::from_slice(&a.body).map(Some).map_err(|e| e.to_string()),
            404 => Ok(None),
            s => Err(format!("GET {path}: {s}")),
        }
    }

    async fn drop_finalizer(&self, path: &str, name: &str) -> Result<(), String> {
        write::update(&self.api, path, "", |o| {
            let before = finalizers(o);
            if !before.iter().any(|f| f == name) {
                return false;
            }
            o["metadata"]["finalizers"] = before.into_iter().filter(|f| f != name).collect();
            true
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn drop_owners(&self, path: &str, gone: &[String]) -> Result<(), String> {
        write::update(&self.api, path, "", |o| {
            let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() else {
                return false;
            };
            let before = refs.len();
            refs.retain(|r| !gone.iter().any(|g| r["uid"] == g.as_str()));
            before != refs.len()
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    /// An owner being deleted with Orphan or Foreground propagation.
    async fn finish_owner(&self, uid: &str, path: &str, obj: &Value) -> Result<Action, String> {
        let fins = finalizers(obj);
        let deps = self.graph.read().dependents(uid);
        if fins.iter().any(|f| f == ORPHAN) {
            for (_, dep) in &deps {
                if let Some(p) = path_of(&dep.obj) {
                    self.drop_owners(&p, &[uid.to_string()]).await?;
                }
            }
            self.drop_finalizer(path, ORPHAN).await?;
        } else if fins.iter().any(|f| f == FOREGROUND) {
            if deps.is_empty() {
                self.drop_finalizer(path, FOREGROUND).await?;
                return Ok(Action::Done);
            }
            for (dep_uid, dep) in &deps {
                if dep.deleting {
                    continue;
                }
                let Some(p) = path_of(&dep.obj) else { continue };
                let nested = !self.graph.read().dependents(dep_uid).is_empty();
                let q = if nested { "propagationPolicy=Foreground" } else { "" };
                let a = self.api.call("DELETE", &p, q, None).await.map_err(|e| e.to_string())?;
                if !matches!(a.status, 200 | 404) {
                    return Err(format!("DELETE {p}: {}", a.status));
                }
            }
            return Ok(Action::RequeueAfter(FOREGROUND_RECHECK));
        }
        Ok(Action::Done)
    }

    /// A dependent some of whose owners the graph does not hold: look them up, and delete the
    /// object when none is left, or drop the references to the gone ones.
    async fn check_owners(&self, path: &str, obj: &Value, absent: &[String]) -> Result<Action, String> {
        let refs = obj["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
        let mut gone = Vec::new();
        for r in &refs {
            let uid = r["uid"].as_str().unwrap_or("");
            if !absent.iter().any(|a| a == uid) {
                continue;
            }
            let Some(rt) = r["kind"].as_str().and_then(by_kind) else {
                gone.push(uid.to_string());
                continue;
            };
            let owner_path = rt.object_path(rt.namespaced.then_some(ns), r["name"].as_str().unwrap_or(""));
            let owner = self.get(&owner_path).await?;
            if owner.as_ref().and_then(|o| o["metadata"]["uid"].as_str()) != Some(uid) {
                gone.push(uid.to_string());
            }
        }
        if gone.is_empty() {
            return Ok(Action::Done);
        }
        if gone.len() == refs.len() {
            let a = self
                .api
                .call("DELETE", path, "", None)
                .await
                .map_err(|e| e.to_string())?;
            if !matches!(a.status, 200 | 404) {
                return Err(format!("DELETE {path}: {}", a.status));
            }
        } else {
            self.drop_owners(path, &gone).await?;
        }
        Ok(Action::Done)
    }

    async fn sync(&self, key: &ObjRef) -> Result<Action, String> {
        if self.synced.read().len() < followed().count() {
            return Ok(Action::RequeueAfter(Duration::from_millis(300)));
        }
        let Some((uid, node)) = self.graph.read().find(key) else {
            return Ok(Action::Done);
        };
        let absent = self.graph.read().absent_owners(&node);
        if !node.deleting && absent.is_empty() {
            return Ok(Action::Done);
        }
        let Some(path) = path_of(key) else {
            return Ok(Action::Done);
        };
        let Some(obj) = self.get(&path).await? else {
            return Ok(Action::Done);
        };
        if obj["metadata"]["uid"].as_str() != Some(uid.as_str()) {
            return Ok(Action::Done);
        }
        let mut next = Action::Done;
        if node.deleting {
            next = self.finish_owner(&uid, &path, &obj).await?;
        }
        if !absent.is_empty() {
            self.check_owners(&path, &obj, &absent).await?;
        }
        Ok(next)
    }
}

impl Reconciler for Collector {
    type Key = ObjRef;

    fn name(&self) -> &'static str {
        "garbage-collector"
    }

    fn reconcile(self: Arc<Self>, key: ObjRef) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the collector from one informer per kind.
pub struct GarbageCollector {
    graph: Arc<RwLock<Graph>>,
    synced: Arc<RwLock<HashSet<&'static str>>>,
    controller: Addr<Controller<Collector>>,
}

/// A change seen by the informer of one kind.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Changed(pub &'static str, pub InformerEvent);

impl Actor for GarbageCollector {
    type Context = Context<Self>;
}

impl GarbageCollector {
    /// Starts the collector under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<GarbageCollector> {
        let graph = Arc::new(RwLock::new(Graph::default()));
        let synced = Arc::new(RwLock::new(HashSet::new()));
        let collector = Collector {
            api: api.clone(),
            graph: graph.clone(),
            synced: synced.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(collector, CONCURRENCY));
        supervise("garbage-collector", move |ctx: &mut Context<GarbageCollector>| {
            *graph.write() = Graph::default();
            synced.write().clear();
            for rt in followed() {
                let kind = rt.kind;
                let events = informer::start(
                    api.clone(),
                    InformerSpec::new(&rt.collection_path(None), "").keys_only(),
                    Store::default(),
                );
                ctx.add_message_stream(futures::StreamExt::map(events, move |e| Changed(kind, e)));
            }
            GarbageCollector {
                graph: graph.clone(),
                synced: synced.clone(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<Changed> for GarbageCollector {
    type Result = ();
    fn handle(&mut self, Changed(kind, ev): Changed, _: &mut Context<Self>) {
        let first_sync = matches!(ev, InformerEvent::Synced(_));
        let mut wake = Vec::new();
        {
            let mut g = self.graph.write();
            for d in ev.into_deltas() {
                match &d.new {
                    Some(c) => {
                        let node = Node {
                            obj: (kind, c.key.0.clone(), c.key.1.clone()),
                            owners: c.header.owners.clone(),
                            deleting: c.header.deleting,
                        };
                        if node.deleting || !node.owners.is_empty() {
                            wake.push(node.obj.clone());
                        }
                        // An owner waiting in the foreground hears of a dependent that starts going.
                        for o in &node.owners {
                            if let Some(owner) = g.get(o).filter(|n| n.deleting) {
                                wake.push(owner.obj.clone());
                            }
                        }
                        g.upsert(&c.uid, node);
                    }
                    None => {
                        let Some(uid) = d.old.as_ref().map(|c| c.uid.clone()) else {
                            continue;
                        };
                        let Some(gone) = g.remove(&uid) else { continue };
                        wake.extend(g.dependents(&uid).into_iter().map(|(_, n)| n.obj));
                        for o in &gone.owners {
                            if let Some(owner) = g.get(o).filter(|n| n.deleting) {
                                wake.push(owner.obj.clone());
                            }
                        }
                    }
                }
            }
        }
        if first_sync {
            self.synced.write().insert(kind);
        }
        for k in wake {
            self.controller.do_send(Enqueue(k));
        }
    }
}
