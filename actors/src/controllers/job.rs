//! The Job controller: runs pods until `completions` succeed (`parallelism` at once, Indexed mode
//! with `JOB_COMPLETION_INDEX`), backs off after failures up to `backoffLimit`, fails at
//! `activeDeadlineSeconds`, writes Complete or Failed, and deletes a finished Job after
//! `ttlSecondsAfterFinished`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use super::job_plan::{plan, JobFacts, JobPod, Outcome, PodPhase};
use super::job_pods::{finished, job_pod, pod_facts, rfc3339, time_of};
use super::replicaset_plan::slow_start;
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// The label naming the Job's uid on its pods.
pub const UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The label naming the Job on its pods.
pub const NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The annotation (and label) holding a pod's completion index.
pub const INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// The reconciler.
pub struct JobSync {
    api: ApiClient,
    jobs: Store,
}

impl JobSync {
    async fn pods(&self, ns: &str, uid: &str) -> Result<Vec<Value>, String> {
        let list = self
            .api
            .list_raw(
                &format!("/api/v1/namespaces/{ns}/pods"),
                &format!("labelSelector={}%3D{uid}", UID_LABEL.replace('/', "%2F")),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for b in &list.items {
            let p: Value = serde_json::from_slice(b).map_err(|e| e.to_string())?;
            let ours = p["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["uid"] == uid && r["controller"] == true));
            if ours {
                out.push(p);
            }
        }
        Ok(out)
    }

    async fn delete_pods(&self, ns: &str, names: &[String]) -> Result<(), String> {
        for n in names {
            write::call_ok(&self.api, "DELETE", &format!("/api/v1/namespaces/{ns}/pods/{n}"), None).await?;
        }
        Ok(())
    }

    /// A finished Job: stop what still runs, and delete the Job when its TTL is up.
    async fn after_finish(
        &self,
        job: &Value,
        path: &str,
        pods: &[Value],
        at: Option<SystemTime>,
    ) -> Result<Action, String> {
        let ns = job["metadata"]["namespace"].as_str().unwrap_or("default");
        let running: Vec<String> = pods
            .iter()
            .map(pod_facts)
            .filter(|p| p.phase == PodPhase::Active && !p.terminating)
            .map(|p| p.name)
            .collect();
        self.delete_pods(ns, &running).await?;
        let Some(ttl) = job["spec"]["ttlSecondsAfterFinished"].as_u64() else {
            return Ok(Action::Done);
        };
        let expires = at.unwrap_or_else(SystemTime::now) + Duration::from_secs(ttl);
        match expires.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => Ok(Action::RequeueAfter(left)),
            _ => {
                let a = self
                    .api
                    .call("DELETE", path, "propagationPolicy=Background", None)
                    .await
                    .map_err(|e| e.to_string())?;
                match a.status {
                    200 | 404 => Ok(Action::Done),
                    s => Err(format!("DELETE {path}: {s}")),
                }
            }
        }
    }

    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let Some(cached) = self.jobs.get(key) else {
            return Ok(Action::Done);
        };
        if cached.header.deleting {
            return Ok(Action::Done);
        }
        let job: Value = cached.view().map_err(|e| e.to_string())?;
        let (ns, name) = (&key.0, &key.1);
        let uid = cached.uid.clone();
        let path = format!("/apis/batch/v1/namespaces/{ns}/jobs/{name}");
        let pods = self.pods(ns, &uid).await?;
        if let Some((_, at)) = finished(&job) {
            return self.after_finish(&job, &path, &pods, at).await;
        }
        let spec = &job["spec"];
        let now = SystemTime::now();
        let suspend = spec["suspend"] == true;
        let start = time_of(&job["status"]["startTime"]).or((!suspend).then_some(now));
        let facts = JobFacts {
            parallelism: spec["parallelism"].as_i64().unwrap_or(1),
            completions: spec["completions"].as_i64(),
            backoff_limit: spec["backoffLimit"].as_i64().unwrap_or(6),
            active_deadline: spec["activeDeadlineSeconds"].as_i64(),
            indexed: spec["completionMode"] == "Indexed",
            suspend,
            start,
        };
        let facts_of: Vec<JobPod> = pods.iter().map(pod_facts).collect();
        let p = plan(&facts, &facts_of, now);
        self.delete_pods(ns, &p.delete).await?;
        let mut created = 0;
        let pods_path = format!("/api/v1/namespaces/{ns}/pods");
        let mut rest = p.create.iter();
        'batches: for batch in slow_start(p.create.len()) {
            let calls: Vec<_> = rest
                .by_ref()
                .take(batch)
                .map(|i| job_pod(&job, ns, name, &uid, *i))
                .collect();
            let sent = calls
                .iter()
                .map(|pod| write::call_ok(&self.api, "POST", &pods_path, Some(pod)));
            for r in futures::future::join_all(sent).await {
                if let Err(e) = r {
                    crate::events::record(&self.api, &job, "Job", "Warning", "FailedCreate", &e, "job-controller")
                        .await;
                    break 'batches;
                }
                created += 1;
            }
        }
        self.write_status(&path, &job, &p, start, created, now).await?;
        if let Outcome::Failed(reason, message) = &p.outcome {
            crate::events::record(&self.api, &job, "Job", "Warning", reason, message, "job-controller").await;
        }
        if p.outcome == Outcome::Complete {
            crate::events::record(
                &self.api,
                &job,
                "Job",
                "Normal",
                "Completed",
                "Job completed",
                "job-controller",
            )
            .await;
        }
        if p.outcome != Outcome::Running {
            return self.after_finish(&job, &path, &[], Some(now)).await;
        }
        if created < p.create.len() {
            return Err(format!("created {created} of {} pods", p.create.len()));
        }
        Ok(p.recheck.map_or(Action::Done, Action::RequeueAfter))
    }

    async fn write_status(
        &self,
        path: &str,
        job: &Value,
        p: &super::job_plan::JobPlan,
        start: Option<SystemTime>,
        created: usize,
        now: SystemTime,
    ) -> Result<(), String> {
        let mut status = json!({
            "active": p.active + created as i64,
            "ready": p.ready,
            "succeeded": p.succeeded,
            "failed": p.failed,
        });
        if let Some(s) = start {
            status["startTime"] = json!(rfc3339(s));
        }
        if job["spec"]["completionMode"] == "Indexed" {
            status["completedIndexes"] = json!(p.completed_indexes);
        }
        let stamp = rfc3339(now);
        let condition = match &p.outcome {
            Outcome::Running => None,
            Outcome::Complete => {
                status["completionTime"] = json!(stamp);
                Some(
                    json!({"type": "Complete", "status": "True", "reason": "Completed", "message": "Reached expected number of succeeded pods"}),
                )
            }
            Outcome::Failed(reason, message) => {
                Some(json!({"type": "Failed", "status": "True", "reason": reason, "message": message}))
            }
        };
        let suspended = job["spec"]["suspend"] == true;
        write::update(&self.api, path, "/status", |o| {
            let mut merged = o["status"].clone();
            if !merged.is_object() {
                merged = json!({});
            }
            for (k, v) in status.as_object().into_iter().flatten() {
                if merged.get("startTime").is_some() && k == "startTime" {
                    continue;
                }
                merged[k] = v.clone();
            }
            let mut conds = merged["conditions"].as_array().cloned().unwrap_or_default();
            let was_suspended = conds.iter().any(|c| c["type"] == "Suspended");
            let mut set = |c: Value| {
                match conds.iter_mut().find(|x| x["type"] == c["type"]) {
                    Some(x) if x["status"] == c["status"] => {}
                    Some(x) => *x = with_times(c, &stamp),
                    None => conds.push(with_times(c, &stamp)),
                }
            };
            if let Some(c) = &condition {
                set(c.clone());
            }
            if suspended {
                set(json!({"type": "Suspended", "status": "True", "reason": "JobSuspended", "message": "Job suspended"}));
            } else if was_suspended {
                set(json!({"type": "Suspended", "status": "False", "reason": "JobResumed", "message": "Job resumed"}));
            }
            if !conds.is_empty() {
                merged["conditions"] = Value::Array(conds);
            }
            if merged == o["status"] {
                return false;
            }
            o["status"] = merged;
            true
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

fn with_times(mut c: Value, stamp: &str) -> Value {
    c["lastProbeTime"] = json!(stamp);
    c["lastTransitionTime"] = json!(stamp);
    c
}

impl Reconciler for JobSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "job-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller: Job changes, and changes of the pods Jobs own.
pub struct Jobs {
    jobs: Store,
    controller: Addr<Controller<JobSync>>,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub enum JobsChanged {
    /// A Job.
    Job(InformerEvent),
    /// A pod of a Job.
    Pod(InformerEvent),
}

impl Actor for Jobs {
    type Context = Context<Self>;
}

impl Jobs {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<Jobs> {
        let jobs = Store::default();
        let sync = JobSync {
            api: api.clone(),
            jobs: jobs.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 4));
        supervise("job-controller", move |ctx: &mut Context<Jobs>| {
            let j = informer::start(api.clone(), InformerSpec::new("/apis/batch/v1/jobs", ""), jobs.clone());
            let query = format!("labelSelector={}", UID_LABEL.replace('/', "%2F"));
            let p = informer::start(
                api.clone(),
                InformerSpec::new("/api/v1/pods", &query).keys_only(),
                Store::default(),
            );
            ctx.add_message_stream(futures::StreamExt::map(j, JobsChanged::Job));
            ctx.add_message_stream(futures::StreamExt::map(p, JobsChanged::Pod));
            Jobs {
                jobs: jobs.clone(),
                controller: controller.clone(),
            }
        })
    }
}

impl Handler<JobsChanged> for Jobs {
    type Result = ();
    fn handle(&mut self, msg: JobsChanged, _: &mut Context<Self>) {
        match msg {
            JobsChanged::Job(ev) => {
                for d in ev.into_deltas() {
                    self.controller.do_send(Enqueue(d.key));
                }
            }
            JobsChanged::Pod(ev) => {
                for d in ev.into_deltas() {
                    let Some(owner) = d
                        .new
                        .as_ref()
                        .and_then(|p| p.header.label(UID_LABEL).map(str::to_string))
                    else {
                        // A removed pod: its Job is found by the namespace's jobs.
                        for j in self.jobs.list(Some(&d.key.0)) {
                            self.controller.do_send(Enqueue(j.key.clone()));
                        }
                        continue;
                    };
                    if let Some(j) = self.jobs.list(Some(&d.key.0)).into_iter().find(|j| j.uid == owner) {
                        self.controller.do_send(Enqueue(j.key.clone()));
                    }
                }
            }
        }
    }
}
