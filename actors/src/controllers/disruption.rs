//! The disruption controller: keeps each PodDisruptionBudget's status (expected and healthy pods,
//! disruptions allowed) current as its pods come, go and change readiness. Evictions check the
//! budget themselves, atomically, in the log; this status is what users read.

use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use orca_schemas::selector::Selector;

use crate::api_server::eviction::budget;
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// The reconciler.
pub struct BudgetSync {
    api: ApiClient,
    budgets: Store,
}

impl BudgetSync {
    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.budgets.get(key) else {
            return Ok(Action::Done);
        };
        let pdb: Value = cached.view().map_err(|e| e.to_string())?;
        let (ns, name) = (&key.0, &key.1);
        let list = self
            .api
            .list_raw(&format!("/api/v1/namespaces/{ns}/pods"), "")
            .await
            .map_err(|e| e.to_string())?;
        let pods: Vec<Value> = list
            .items
            .iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect();
        let b = budget(&pdb, &pods);
        let status = json!({
            "expectedPods": b.expected,
            "currentHealthy": b.healthy,
            "desiredHealthy": b.desired,
            "disruptionsAllowed": b.allowed(),
            "observedGeneration": pdb["metadata"]["generation"].as_i64().unwrap_or(1),
        });
        let path = format!("/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}");
        write::merge_status(&self.api, &path, &status).await?;
        Ok(Action::Done)
    }
}

impl Reconciler for BudgetSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "disruption-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: budgets, and pods mapped to the budgets that select them. Pods are
/// followed only once a budget exists, so a cluster without budgets pays nothing per pod change.
pub struct Disruption {
    api: ApiClient,
    budgets: Store,
    controller: Addr<Controller<BudgetSync>>,
    following_pods: bool,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub enum DisruptionChanged {
    /// A budget.
    Budget(InformerEvent),
    /// A pod.
    Pod(InformerEvent),
}

impl Actor for Disruption {
    type Context = Context<Self>;
}

impl Disruption {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<Disruption> {
        let budgets = Store::default();
        let sync = BudgetSync {
            api: api.clone(),
            budgets: budgets.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 2));
        supervise("disruption-controller", move |ctx: &mut Context<Disruption>| {
            let b = informer::start(
                api.clone(),
                InformerSpec::new("/apis/policy/v1/poddisruptionbudgets", ""),
                budgets.clone(),
            );
            ctx.add_message_stream(futures::StreamExt::map(b, DisruptionChanged::Budget));
            Disruption {
                api: api.clone(),
                budgets: budgets.clone(),
                controller: controller.clone(),
                following_pods: false,
            }
        })
    }
}

impl Handler<DisruptionChanged> for Disruption {
    type Result = ();
    fn handle(&mut self, msg: DisruptionChanged, ctx: &mut Context<Self>) {
        match msg {
            DisruptionChanged::Budget(ev) => {
                for d in ev.into_deltas() {
                    self.controller.do_send(Enqueue(d.key));
                }
                if !self.following_pods && !self.budgets.is_empty() {
                    self.following_pods = true;
                    let spec = InformerSpec::new("/api/v1/pods", "").keys_only();
                    let pods = informer::start(self.api.clone(), spec, Store::default());
                    ctx.add_message_stream(futures::StreamExt::map(pods, DisruptionChanged::Pod));
                }
            }
            DisruptionChanged::Pod(ev) => {
                for d in ev.into_deltas() {
                    let budgets = self.budgets.list(Some(&d.key.0));
                    if budgets.is_empty() {
                        continue;
                    }
                    for b in budgets {
                        let selects = match &d.new {
                            Some(p) => b
                                .view::<Value>()
                                .ok()
                                .and_then(|v| serde_json::from_value(v["spec"]["selector"].clone()).ok())
                                .and_then(|s| Selector::from_label_selector(&s).ok())
                                .is_some_and(|s| !s.is_empty() && p.header.matches(&s, &Selector::default())),
                            None => true,
                        };
                        if selects {
                            self.controller.do_send(Enqueue(b.key.clone()));
                        }
                    }
                }
            }
        }
    }
}
