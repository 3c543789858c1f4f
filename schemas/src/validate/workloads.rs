//! Validation of workloads: selector and template agree, replica counts, strategies, Job limits.

use super::meta::{validate_label_selector, validate_labels};
use super::pod::validate_pod_spec;
use super::{Errors, Path};
use crate::kinds::pod::PodTemplateSpec;
use crate::kinds::workloads::{
    DaemonSet, Deployment, Job, JobSpec, ReplicaSet, RollingUpdate, StatefulSet, UpdateStrategy,
};

use crate::kinds::volume::{PvcSource, Volume};

struct JobHolder<'a> {
    spec: &'a JobSpec,
}
use crate::meta::{IntOrString, LabelSelector};
use crate::selector::Selector;

/// Checks a selector is present, valid, non-empty and matches the template's labels.
fn validate_selector_and_template(
    sel: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    spec: &Path,
    errs: &mut Errors,
) {
    let tp = spec.child("template");
    validate_labels(
        template.metadata.labels.as_ref(),
        &tp.child("metadata").child("labels"),
        errs,
    );
    validate_pod_spec(&template.spec, &tp.child("spec"), errs);
    let Some(sel) = sel else {
        errs.required(&spec.child("selector"), "");
        return;
    };
    validate_label_selector(sel, &spec.child("selector"), errs);
    match Selector::from_label_selector(sel) {
        Ok(s) if s.is_empty() => errs.invalid(
            &spec.child("selector"),
            "{}",
            "empty selector is invalid for deployment",
        ),
        Ok(s) => {
            let labels = template.metadata.labels.clone().unwrap_or_default();
            if !s.matches(&labels) {
                errs.invalid(
                    &tp.child("metadata").child("labels"),
                    format_labels(&labels),
                    "`selector` does not match template `labels`",
                );
            }
        }
        Err(_) => {} // reported by validate_label_selector
    }
}

fn format_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn validate_replicas(replicas: Option<i64>, spec: &Path, errs: &mut Errors) {
    if let Some(r) = replicas {
        errs.at_least(&spec.child("replicas"), r, 0);
        if r > i64::from(i32::MAX) {
            errs.invalid(
                &spec.child("replicas"),
                r,
                "must be less than or equal to 2147483647 (an int32)",
            );
        }
    }
}

/// A count, or a percentage between 0% and 100% (maxSurge, maxUnavailable, minAvailable).
pub(crate) fn validate_int_or_percent(v: &IntOrString, p: &Path, errs: &mut Errors) {
    match v {
        IntOrString::Int(n) => errs.at_least(p, *n, 0),
        IntOrString::Str(s) => {
            let ok = s
                .strip_suffix('%')
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= 100);
            if !ok {
                errs.invalid(p, s, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%'), at most 100%");
            }
        }
    }
}

fn validate_rolling(ru: &RollingUpdate, p: &Path, errs: &mut Errors) {
    if let Some(s) = &ru.max_surge {
        validate_int_or_percent(s, &p.child("maxSurge"), errs);
    }
    if let Some(u) = &ru.max_unavailable {
        validate_int_or_percent(u, &p.child("maxUnavailable"), errs);
    }
    let zero = |v: &Option<IntOrString>| {
        matches!(v, Some(IntOrString::Int(0))) || matches!(v, Some(IntOrString::Str(s)) if s == "0%")
    };
    if zero(&ru.max_surge) && zero(&ru.max_unavailable) {
        errs.invalid(&p.child("maxUnavailable"), 0, "may not be 0 when `maxSurge` is 0");
    }
    if let Some(part) = ru.partition {
        errs.at_least(&p.child("partition"), part, 0);
    }
}

fn validate_update_strategy(us: &Option<UpdateStrategy>, p: &Path, supported: &[&str], errs: &mut Errors) {
    if let Some(us) = us {
        if let Some(t) = &us.type_ {
            errs.one_of(&p.child("type"), t, supported);
        }
        if let Some(ru) = &us.rolling_update {
            validate_rolling(ru, &p.child("rollingUpdate"), errs);
        }
    }
}

/// Checks a ReplicaSet.
pub fn validate_replicaset(rs: &ReplicaSet, errs: &mut Errors) {
    let spec = Path::new("spec");
    validate_replicas(rs.spec.replicas, &spec, errs);
    validate_selector_and_template(rs.spec.selector.as_ref(), &rs.spec.template, &spec, errs);
}

/// Checks a Deployment.
pub fn validate_deployment(d: &Deployment, errs: &mut Errors) {
    let spec = Path::new("spec");
    validate_replicas(d.spec.replicas, &spec, errs);
    validate_selector_and_template(d.spec.selector.as_ref(), &d.spec.template, &spec, errs);
    if d.spec
        .template
        .spec
        .restart_policy
        .as_deref()
        .is_some_and(|r| r != "Always")
    {
        errs.not_supported(
            &spec.child("template").child("spec").child("restartPolicy"),
            d.spec.template.spec.restart_policy.as_deref().unwrap_or(""),
            &["Always"],
        );
    }
    if let Some(st) = &d.spec.strategy {
        let sp = spec.child("strategy");
        let t = st.type_.as_deref().unwrap_or("RollingUpdate");
        errs.one_of(&sp.child("type"), t, &["Recreate", "RollingUpdate"]);
        if let Some(ru) = &st.rolling_update {
            if t == "Recreate" {
                errs.forbidden(
                    &sp.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                );
            }
            validate_rolling(ru, &sp.child("rollingUpdate"), errs);
        }
    }
    for (field, v) in [
        ("revisionHistoryLimit", d.spec.revision_history_limit),
        ("minReadySeconds", d.spec.min_ready_seconds),
    ] {
        if let Some(v) = v {
            errs.at_least(&spec.child(field), v, 0);
        }
    }
    if let Some(p) = d.spec.progress_deadline_seconds {
        errs.at_least(&spec.child("progressDeadlineSeconds"), p, 1);
    }
}

/// Checks a StatefulSet.
pub fn validate_statefulset(s: &StatefulSet, errs: &mut Errors) {
    let spec = Path::new("spec");
    validate_replicas(s.spec.replicas, &spec, errs);
    // Containers may mount the claim templates by name: each becomes a volume of the pod.
    let mut template = s.spec.template.clone();
    for (i, claim) in s.spec.volume_claim_templates.iter().flatten().enumerate() {
        match claim.pointer("/metadata/name").and_then(serde_json::Value::as_str) {
            Some(name) if !name.is_empty() => template.spec.volumes.get_or_insert_with(Vec::new).push(Volume {
                name: name.to_string(),
                persistent_volume_claim: Some(PvcSource {
                    claim_name: name.to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            _ => errs.required(
                &spec
                    .child("volumeClaimTemplates")
                    .index(i)
                    .child("metadata")
                    .child("name"),
                "",
            ),
        }
    }
    validate_selector_and_template(s.spec.selector.as_ref(), &template, &spec, errs);
    let policy = s.spec.extra.get("persistentVolumeClaimRetentionPolicy");
    for field in ["whenDeleted", "whenScaled"] {
        if let Some(v) = policy.and_then(|p| p.get(field)) {
            let path = spec.child("persistentVolumeClaimRetentionPolicy").child(field);
            errs.one_of(&path, v.as_str().unwrap_or(""), &["Retain", "Delete"]);
        }
    }
    if let Some(p) = &s.spec.pod_management_policy {
        errs.one_of(&spec.child("podManagementPolicy"), p, &["OrderedReady", "Parallel"]);
    }
    validate_update_strategy(
        &s.spec.update_strategy,
        &spec.child("updateStrategy"),
        &["RollingUpdate", "OnDelete"],
        errs,
    );
}

/// Checks a DaemonSet.
pub fn validate_daemonset(d: &DaemonSet, errs: &mut Errors) {
    let spec = Path::new("spec");
    validate_selector_and_template(d.spec.selector.as_ref(), &d.spec.template, &spec, errs);
    validate_update_strategy(
        &d.spec.update_strategy,
        &spec.child("updateStrategy"),
        &["RollingUpdate", "OnDelete"],
        errs,
    );
}

/// Checks a Job.
pub fn validate_job(j: &Job, errs: &mut Errors) {
    validate_job_spec(&j.spec, &Path::new("spec"), errs);
}

/// Checks a Job's spec at `spec` (a Job's, or a CronJob's job template).
pub fn validate_job_spec(js: &JobSpec, spec: &Path, errs: &mut Errors) {
    let j = JobHolder { spec: js };
    let tp = spec.child("template");
    validate_labels(
        j.spec.template.metadata.labels.as_ref(),
        &tp.child("metadata").child("labels"),
        errs,
    );
    validate_pod_spec(&j.spec.template.spec, &tp.child("spec"), errs);
    match j.spec.template.spec.restart_policy.as_deref() {
        Some("OnFailure") | Some("Never") => {}
        Some(other) => errs.not_supported(&tp.child("spec").child("restartPolicy"), other, &["OnFailure", "Never"]),
        None => errs.required(
            &tp.child("spec").child("restartPolicy"),
            "a Job's pods need restartPolicy OnFailure or Never",
        ),
    }
    for (field, v) in [
        ("parallelism", j.spec.parallelism),
        ("completions", j.spec.completions),
        ("backoffLimit", j.spec.backoff_limit),
        ("ttlSecondsAfterFinished", j.spec.ttl_seconds_after_finished),
    ] {
        if let Some(v) = v {
            errs.at_least(&spec.child(field), v, 0);
        }
    }
    if let Some(a) = j.spec.active_deadline_seconds {
        errs.at_least(&spec.child("activeDeadlineSeconds"), a, 1);
    }
    if let Some(m) = &j.spec.completion_mode {
        errs.one_of(&spec.child("completionMode"), m, &["NonIndexed", "Indexed"]);
    }
    if let Some(sel) = &j.spec.selector {
        validate_label_selector(sel, &spec.child("selector"), errs);
    }
}
