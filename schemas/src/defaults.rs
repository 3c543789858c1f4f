//! Defaulting as Kubernetes does it: restart policy, grace periods, strategies, protocols.

use crate::kinds::cluster::{Namespace, NamespaceStatus};
use crate::kinds::config::Secret;
use crate::kinds::network::Service;
use crate::kinds::pod::{Container, PodSpec};
use crate::kinds::workloads::{
    DaemonSet, Deployment, DeploymentStrategy, Job, ReplicaSet, RollingUpdate, StatefulSet, UpdateStrategy,
};
use crate::meta::IntOrString;

fn set<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// Defaults a pod spec.
pub fn pod_spec(spec: &mut PodSpec) {
    set(&mut spec.restart_policy, "Always".to_string());
    set(&mut spec.termination_grace_period_seconds, 30);
    set(&mut spec.dns_policy, "ClusterFirst".to_string());
    set(&mut spec.scheduler_name, "default-scheduler".to_string());
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        container(c);
    }
}

fn container(c: &mut Container) {
    let image = c.image.clone().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or("");
    let tagged = last.contains(':') && !last.ends_with(":latest");
    let digest = image.contains('@');
    set(
        &mut c.image_pull_policy,
        if tagged || digest { "IfNotPresent" } else { "Always" }.to_string(),
    );
    set(&mut c.termination_message_path, "/dev/termination-log".to_string());
    for p in c.ports.iter_mut().flatten() {
        set(&mut p.protocol, "TCP".to_string());
    }
    for probe in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe]
        .into_iter()
        .flatten()
    {
        set(&mut probe.period_seconds, 10);
        set(&mut probe.timeout_seconds, 1);
        set(&mut probe.success_threshold, 1);
        set(&mut probe.failure_threshold, 3);
        if let Some(h) = &mut probe.http_get {
            set(&mut h.path, "/".to_string());
            set(&mut h.scheme, "HTTP".to_string());
        }
    }
}

fn rolling(max_surge: Option<&str>, max_unavailable: &str) -> RollingUpdate {
    RollingUpdate {
        max_surge: max_surge.map(|s| IntOrString::Str(s.to_string())),
        max_unavailable: Some(if max_unavailable.ends_with('%') {
            IntOrString::Str(max_unavailable.to_string())
        } else {
            IntOrString::Int(max_unavailable.parse().unwrap_or(1))
        }),
        partition: None,
    }
}

/// Defaults a Deployment.
pub fn deployment(d: &mut Deployment) {
    set(&mut d.spec.replicas, 1);
    set(&mut d.spec.revision_history_limit, 10);
    set(&mut d.spec.progress_deadline_seconds, 600);
    let strategy = d.spec.strategy.get_or_insert_with(DeploymentStrategy::default);
    set(&mut strategy.type_, "RollingUpdate".to_string());
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(|| rolling(Some("25%"), "25%"));
        set(&mut ru.max_surge, IntOrString::Str("25%".into()));
        set(&mut ru.max_unavailable, IntOrString::Str("25%".into()));
    }
    pod_spec(&mut d.spec.template.spec);
}

/// Defaults a ReplicaSet.
pub fn replicaset(rs: &mut ReplicaSet) {
    set(&mut rs.spec.replicas, 1);
    pod_spec(&mut rs.spec.template.spec);
}

/// Defaults a StatefulSet.
pub fn statefulset(s: &mut StatefulSet) {
    set(&mut s.spec.replicas, 1);
    set(&mut s.spec.pod_management_policy, "OrderedReady".to_string());
    set(&mut s.spec.revision_history_limit, 10);
    let us = s.spec.update_strategy.get_or_insert_with(UpdateStrategy::default);
    set(&mut us.type_, "RollingUpdate".to_string());
    if us.type_.as_deref() == Some("RollingUpdate") {
        let ru = us.rolling_update.get_or_insert_with(RollingUpdate::default);
        set(&mut ru.partition, 0);
    }
    pod_spec(&mut s.spec.template.spec);
}

/// Defaults a DaemonSet.
pub fn daemonset(d: &mut DaemonSet) {
    set(&mut d.spec.revision_history_limit, 10);
    let us = d.spec.update_strategy.get_or_insert_with(UpdateStrategy::default);
    set(&mut us.type_, "RollingUpdate".to_string());
    if us.type_.as_deref() == Some("RollingUpdate") {
        let ru = us.rolling_update.get_or_insert_with(|| rolling(None, "1"));
        set(&mut ru.max_unavailable, IntOrString::Int(1));
        set(&mut ru.max_surge, IntOrString::Int(0));
    }
    pod_spec(&mut d.spec.template.spec);
}

/// Defaults a Job.
pub fn job(j: &mut Job) {
    if j.spec.completions.is_none() && j.spec.parallelism.is_none() {
        j.spec.completions = Some(1);
    }
    set(&mut j.spec.parallelism, 1);
    set(&mut j.spec.backoff_limit, 6);
    set(&mut j.spec.completion_mode, "NonIndexed".to_string());
    set(&mut j.spec.suspend, false);
    pod_spec(&mut j.spec.template.spec);
}

/// Defaults a CronJob: Allow, not suspended, 3 successful and 1 failed Job kept.
pub fn cronjob(c: &mut crate::kinds::batch::CronJob) {
    set(&mut c.spec.concurrency_policy, "Allow".to_string());
    set(&mut c.spec.suspend, false);
    set(&mut c.spec.successful_jobs_history_limit, 3);
    set(&mut c.spec.failed_jobs_history_limit, 1);
    let mut job = Job {
        spec: std::mem::take(&mut c.spec.job_template.spec),
        ..Default::default()
    };
    self::job(&mut job);
    c.spec.job_template.spec = job.spec;
}

/// Defaults a StorageClass: reclaimPolicy Delete, volumeBindingMode Immediate.
pub fn storageclass(s: &mut crate::kinds::policy::StorageClass) {
    set(&mut s.reclaim_policy, "Delete".to_string());
    set(&mut s.volume_binding_mode, "Immediate".to_string());
}

/// Defaults a Service.
pub fn service(s: &mut Service) {
    set(&mut s.spec.type_, "ClusterIP".to_string());
    if s.spec.type_.as_deref() != Some("ExternalName") {
        set(&mut s.spec.session_affinity, "None".to_string());
    }
    for p in s.spec.ports.iter_mut().flatten() {
        set(&mut p.protocol, "TCP".to_string());
        set(&mut p.target_port, IntOrString::Int(p.port));
    }
}

/// Defaults a Secret: type Opaque; `stringData` merged into base64 `data`.
pub fn secret(s: &mut Secret) {
    set(&mut s.type_, "Opaque".to_string());
    if let Some(plain) = s.string_data.take() {
        let data = s.data.get_or_insert_with(Default::default);
        for (k, v) in plain {
            data.insert(k, crate::validate::other::base64_encode(v.as_bytes()));
        }
    }
}

/// Defaults a Namespace: phase Active, finalizer `kubernetes`.
pub fn namespace(n: &mut Namespace) {
    n.status
        .get_or_insert_with(NamespaceStatus::default)
        .phase
        .get_or_insert_with(|| "Active".to_string());
}
