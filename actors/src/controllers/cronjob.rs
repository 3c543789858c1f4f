//! The CronJob controller: starts a Job (`<name>-<scheduled minute>`) each time the schedule is
//! due in the CronJob's time zone, following startingDeadlineSeconds, concurrencyPolicy and
//! suspend; keeps `status.active`, lastScheduleTime and lastSuccessfulTime; prunes finished Jobs
//! beyond the history limits; and wakes itself for the next due time.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use jiff::Timestamp;
use serde_json::{json, Value};

use orca_schemas::cron::{time_zone, Schedule};

use super::cronjob_plan::{plan, ChildJob, CronFacts, Policy};
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// The annotation on a Job holding the due time it was made for.
pub const SCHEDULED: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// The reconciler.
pub struct CronJobSync {
    api: ApiClient,
    cronjobs: Store,
}

fn ts(v: &Value) -> Option<Timestamp> {
    v.as_str()?.parse().ok()
}

fn child(j: &Value) -> ChildJob {
    let finished = j["status"]["conditions"].as_array().and_then(|cs| {
        cs.iter().find_map(|c| {
            let ends = (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True";
            ends.then(|| {
                (
                    c["type"] == "Complete",
                    ts(&c["lastTransitionTime"]).unwrap_or(Timestamp::UNIX_EPOCH),
                )
            })
        })
    });
    ChildJob {
        name: j["metadata"]["name"].as_str().unwrap_or("").into(),
        scheduled: ts(&j["metadata"]["annotations"][SCHEDULED]),
        finished,
    }
}

fn job_for(cj: &Value, name: &str, uid: &str, due: Timestamp) -> Value {
    let template = &cj["spec"]["jobTemplate"];
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    meta["name"] = json!(format!("{name}-{}", due.as_second() / 60));
    meta["annotations"][SCHEDULED] = json!(due.to_string());
    meta["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": template["spec"].clone()})
}

impl CronJobSync {
    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.cronjobs.get(key) else {
            return Ok(Action::Done);
        };
        if cached.header.deleting {
            return Ok(Action::Done);
        }
        let cj: Value = cached.view().map_err(|e| e.to_string())?;
        let (ns, name, uid) = (&key.0, &key.1, cached.uid.clone());
        let spec = &cj["spec"];
        let schedule = Schedule::parse(spec["schedule"].as_str().unwrap_or(""))?;
        let tz = time_zone(spec["timeZone"].as_str())?;
        let facts = CronFacts {
            schedule,
            tz,
            starting_deadline: spec["startingDeadlineSeconds"].as_i64(),
            policy: Policy::parse(spec["concurrencyPolicy"].as_str()),
            suspend: spec["suspend"] == true,
            last_schedule: ts(&cj["status"]["lastScheduleTime"]),
            created: ts(&cj["metadata"]["creationTimestamp"]).unwrap_or_else(Timestamp::now),
            successful_limit: spec["successfulJobsHistoryLimit"].as_u64().unwrap_or(3) as usize,
            failed_limit: spec["failedJobsHistoryLimit"].as_u64().unwrap_or(1) as usize,
        };
        let jobs = write::owned_by(&self.api, &format!("/apis/batch/v1/namespaces/{ns}/jobs"), &uid).await?;
        let now = Timestamp::now();
        let p = plan(&facts, &jobs.iter().map(child).collect::<Vec<_>>(), now);
        let jobs_path = format!("/apis/batch/v1/namespaces/{ns}/jobs");
        for j in p.replace.iter().chain(&p.prune) {
            let a = self
                .api
                .call(
                    "DELETE",
                    &format!("{jobs_path}/{j}"),
                    "propagationPolicy=Background",
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            if !matches!(a.status, 200 | 404) {
                return Err(format!("DELETE job {j}: {}", a.status));
            }
        }
        if p.many_missed {
            let msg = "too many missed start times: check the clock, or set startingDeadlineSeconds";
            crate::events::record(
                &self.api,
                &cj,
                "CronJob",
                "Warning",
                "TooManyMissedTimes",
                msg,
                "cronjob-controller",
            )
            .await;
        }
        let mut made = None;
        if let Some(due) = p.create {
            let job = job_for(&cj, name, &uid, due);
            let a = self
                .api
                .call("POST", &jobs_path, "", Some(&job))
                .await
                .map_err(|e| e.to_string())?;
            match a.status {
                201 => {
                    let msg = format!("Created job {}", job["metadata"]["name"].as_str().unwrap_or(""));
                    crate::events::record(
                        &self.api,
                        &cj,
                        "CronJob",
                        "Normal",
                        "SuccessfulCreate",
                        &msg,
                        "cronjob-controller",
                    )
                    .await;
                    made = Some(serde_json::from_slice::<Value>(&a.body).map_err(|e| e.to_string())?);
                }
                409 => {}
                s => {
                    let msg = crate::bus::client::status_message(&a.body);
                    crate::events::record(
                        &self.api,
                        &cj,
                        "CronJob",
                        "Warning",
                        "FailedCreate",
                        &msg,
                        "cronjob-controller",
                    )
                    .await;
                    return Err(format!("creating the job for {due}: {s}: {msg}"));
                }
            }
        }
        let gone: Vec<&String> = p.replace.iter().chain(&p.prune).collect();
        let active: Vec<Value> = jobs
            .iter()
            .chain(made.iter())
            .filter(|j| child(j).finished.is_none() && !gone.contains(&&j["metadata"]["name"].as_str().unwrap_or("").to_string()))
            .map(|j| json!({"apiVersion": "batch/v1", "kind": "Job", "namespace": ns, "name": j["metadata"]["name"], "uid": j["metadata"]["uid"]}))
            .collect();
        let last_success = jobs
            .iter()
            .map(child)
            .filter_map(|c| c.finished.filter(|f| f.0).map(|f| f.1))
            .max();
        let path = format!("/apis/batch/v1/namespaces/{ns}/cronjobs/{name}");
        write::update(&self.api, &path, "/status", |o| {
            let mut st = o["status"].clone();
            if !st.is_object() {
                st = json!({});
            }
            st["active"] = json!(active);
            if let Some(due) = p.create {
                st["lastScheduleTime"] = json!(due.to_string());
            }
            if let Some(t) = last_success {
                st["lastSuccessfulTime"] = json!(t.to_string());
            }
            if st == o["status"] {
                return false;
            }
            o["status"] = st;
            true
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(match p.next {
            Some(n) => {
                let wait = (n - now).unsigned_abs() + Duration::from_millis(50);
                Action::RequeueAfter(wait.min(Duration::from_secs(3600)))
            }
            None => Action::Done,
        })
    }
}

impl Reconciler for CronJobSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "cronjob-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: CronJob changes, and changes of the Jobs they own.
pub struct CronJobs {
    cronjobs: Store,
    controller: Addr<Controller<CronJobSync>>,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub enum CronJobsChanged {
    /// A CronJob.
    CronJob(InformerEvent),
    /// A Job.
    Job(InformerEvent),
}

impl Actor for CronJobs {
    type Context = Context<Self>;
}

impl CronJobs {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<CronJobs> {
        let cronjobs = Store::default();
        let sync = CronJobSync {
            api: api.clone(),
            cronjobs: cronjobs.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 2));
        supervise("cronjob-controller", move |ctx: &mut Context<CronJobs>| {
            let c = informer::start(
                api.clone(),
                InformerSpec::new("/apis/batch/v1/cronjobs", ""),
                cronjobs.clone(),
            );
            let j = informer::start(
                api.clone(),
                InformerSpec::new("/apis/batch/v1/jobs", "").keys_only(),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(c, CronJobsChanged::CronJob));
            ctx.add_message_stream(futures::StreamExt::map(j, CronJobsChanged::Job));
            CronJobs {
                cronjobs: cronjobs.clone(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<CronJobsChanged> for CronJobs {
    type Result = ();
    fn handle(&mut self, msg: CronJobsChanged, _: &mut Context<Self>) {
        match msg {
            CronJobsChanged::CronJob(ev) => {
                for d in ev.into_deltas() {
                    self.controller.do_send(Enqueue(d.key));
                }
            }
            CronJobsChanged::Job(ev) => {
                for d in ev.into_deltas() {
                    let owner = d.new.as_ref().and_then(|j| j.header.controller.clone());
                    for c in self.cronjobs.list(Some(&d.key.0)) {
                        // A removed Job carries no header here: every CronJob of the namespace looks.
                        if owner.is_none() && d.new.is_none() || owner.as_deref() == Some(c.uid.as_str()) {
                            self.controller.do_send(Enqueue(c.key.clone()));
                        }
                    }
                }
            }
        }
    }
}
