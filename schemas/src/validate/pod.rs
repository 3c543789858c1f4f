//! Validation of pod specs: containers, ports, env, resources, probes, volumes, scheduling.

use std::collections::HashSet;

use super::names::{config_key, dns1123_label, env_var_name, qualified_key};
use super::{Errors, Path};
use crate::kinds::pod::{Container, PodSpec};

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];

/// Checks a pod spec at `p` (`spec` or `spec.template.spec`).
pub fn validate_pod_spec(spec: &PodSpec, p: &Path, errs: &mut Errors) {
    let volumes: HashSet<&str> = spec.volumes.iter().flatten().map(|v| v.name.as_str()).collect();
    if spec.containers.is_empty() {
        errs.required(&p.child("containers"), "a pod needs at least one container");
    }
    let mut names = HashSet::new();
    let all = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (p.child("containers").index(i), c))
        .chain(
            spec.init_containers
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| (p.child("initContainers").index(i), c)),
        );
    for (cp, c) in all {
        if !c.name.is_empty() && !names.insert(c.name.as_str()) {
            errs.duplicate(&cp.child("name"), &c.name);
        }
        validate_container(c, &cp, &volumes, errs);
    }
    if let Some(rp) = &spec.restart_policy {
        errs.one_of(&p.child("restartPolicy"), rp, RESTART_POLICIES);
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        errs.at_least(&p.child("terminationGracePeriodSeconds"), g, 0);
    }
    if let Some(d) = spec.active_deadline_seconds {
        errs.at_least(&p.child("activeDeadlineSeconds"), d, 1);
    }
    if let Some(dns) = &spec.dns_policy {
        errs.one_of(
            &p.child("dnsPolicy"),
            dns,
            &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        );
    }
    for (k, _) in spec.node_selector.iter().flatten() {
        if let Err(e) = qualified_key(k) {
            errs.invalid(&p.child("nodeSelector"), k, &e);
        }
    }
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let tp = p.child("tolerations").index(i);
        let op = t.operator.as_deref().unwrap_or("Equal");
        errs.one_of(&tp.child("operator"), op, &["Equal", "Exists"]);
        if op == "Exists" && t.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errs.invalid(
                &tp.child("operator"),
                op,
                "value must be empty when `operator` is 'Exists'",
            );
        }
        if t.key.as_deref().unwrap_or("").is_empty() && op != "Exists" {
            errs.invalid(
                &tp.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        if let Some(effect) = &t.effect {
            if !effect.is_empty() {
                errs.one_of(
                    &tp.child("effect"),
                    effect,
                    &["NoSchedule", "PreferNoSchedule", "NoExecute"],
                );
            }
        }
    }
    if let Some(na) = spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()) {
        let ap = p.child("affinity").child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            let rp = ap
                .child("requiredDuringSchedulingIgnoredDuringExecution")
                .child("nodeSelectorTerms");
            if req.node_selector_terms.is_empty() {
                errs.required(&rp, "must have at least one node selector term");
            }
            for (i, term) in req.node_selector_terms.iter().enumerate() {
                validate_node_term(&term.match_expressions, &rp.index(i).child("matchExpressions"), errs);
            }
        }
        for (i, pref) in na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            let pp = ap.child("preferredDuringSchedulingIgnoredDuringExecution").index(i);
            if !(1..=100).contains(&pref.weight) {
                errs.invalid(&pp.child("weight"), pref.weight, "must be in the range 1-100");
            }
            validate_node_term(
                &pref.preference.match_expressions,
                &pp.child("preference").child("matchExpressions"),
                errs,
            );
        }
    }
    let mut vol_names = HashSet::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let vp = p.child("volumes").index(i);
        if v.name.is_empty() {
            errs.required(&vp.child("name"), "");
        } else if let Err(e) = dns1123_label(&v.name) {
            errs.invalid(&vp.child("name"), &v.name, &e);
        } else if !vol_names.insert(v.name.as_str()) {
            errs.duplicate(&vp.child("name"), &v.name);
        }
        let sources = [
            v.empty_dir.is_some(),
            v.host_path.is_some(),
            v.config_map.is_some(),
            v.secret.is_some(),
            v.persistent_volume_claim.is_some(),
            v.downward_api.is_some(),
            v.projected.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if sources > 1 {
            errs.forbidden(&vp, "may not specify more than 1 volume type");
        }
        if sources == 0 {
            let kinds: Vec<&str> = v.extra.keys().map(String::as_str).collect();
            if kinds.is_empty() {
                errs.required(&vp, "must specify a volume type: emptyDir, hostPath, configMap, secret, downwardAPI, projected or persistentVolumeClaim");
            } else {
                errs.forbidden(&vp, &format!("volume type {} is not supported; use emptyDir, hostPath, configMap, secret, downwardAPI, projected or persistentVolumeClaim", kinds.join(", ")));
            }
        }
        if let Some(hp) = &v.host_path {
            if hp.path.is_empty() {
                errs.required(&vp.child("hostPath").child("path"), "");
            } else if !hp.path.starts_with('/') {
                errs.invalid(
                    &vp.child("hostPath").child("path"),
                    &hp.path,
                    "must be an absolute path",
                );
            }
            if let Some(t) = hp.type_.as_deref().filter(|t| !t.is_empty()) {
                errs.one_of(
                    &vp.child("hostPath").child("type"),
                    t,
                    &[
                        "DirectoryOrCreate",
                        "Directory",
                        "FileOrCreate",
                        "File",
                        "Socket",
                        "CharDevice",
                        "BlockDevice",
                    ],
                );
            }
        }
        if v.empty_dir
            .as_ref()
            .and_then(|e| e.medium.as_deref())
            .is_some_and(|m| !m.is_empty() && m != "Memory")
        {
            errs.one_of(
                &vp.child("emptyDir").child("medium"),
                v.empty_dir.as_ref().and_then(|e| e.medium.as_deref()).unwrap_or(""),
                &["", "Memory"],
            );
        }
        super::volumes::validate_files(v, &vp, errs);
        if let Some(cm) = &v.config_map {
            if cm.name.is_empty() {
                errs.required(&vp.child("configMap").child("name"), "");
            }
        }
        if let Some(s) = &v.secret {
            if s.secret_name.is_empty() {
                errs.required(&vp.child("secret").child("secretName"), "");
            }
        }
        if let Some(pvc) = &v.persistent_volume_claim {
            if pvc.claim_name.is_empty() {
                errs.required(&vp.child("persistentVolumeClaim").child("claimName"), "");
            }
        }
    }
}

fn validate_node_term(exprs: &Option<Vec<crate::kinds::pod::NodeSelectorRequirement>>, p: &Path, errs: &mut Errors) {
    for (i, e) in exprs.iter().flatten().enumerate() {
        let ep = p.index(i);
        if let Err(m) = qualified_key(&e.key) {
            errs.invalid(&ep.child("key"), &e.key, &m);
        }
        let n = e.values.as_ref().map_or(0, Vec::len);
        match e.operator.as_str() {
            "In" | "NotIn" if n == 0 => errs.required(
                &ep.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ),
            "Gt" | "Lt" if n != 1 => errs.required(
                &ep.child("values"),
                "must be specified single value when `operator` is 'Lt' or 'Gt'",
            ),
            "Exists" | "DoesNotExist" if n > 0 => errs.forbidden(
                &ep.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
            "In" | "NotIn" | "Gt" | "Lt" | "Exists" | "DoesNotExist" => {}
            other => errs.not_supported(
                &ep.child("operator"),
                other,
                &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"],
            ),
        }
    }
}

fn validate_container(c: &Container, p: &Path, volumes: &HashSet<&str>, errs: &mut Errors) {
    if c.name.is_empty() {
        errs.required(&p.child("name"), "");
    } else if let Err(e) = dns1123_label(&c.name) {
        errs.invalid(&p.child("name"), &c.name, &e);
    }
    if c.image.as_deref().unwrap_or("").trim().is_empty() {
        errs.required(&p.child("image"), "");
    }
    if let Some(pp) = &c.image_pull_policy {
        errs.one_of(&p.child("imagePullPolicy"), pp, PULL_POLICIES);
    }
    let mut port_names = HashSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let pp = p.child("ports").index(i);
        errs.port(&pp.child("containerPort"), port.container_port);
        if let Some(hp) = port.host_port {
            if hp != 0 {
                errs.port(&pp.child("hostPort"), hp);
            }
        }
        if let Some(proto) = &port.protocol {
            errs.one_of(&pp.child("protocol"), proto, PROTOCOLS);
        }
        if let Some(name) = &port.name {
            if name.len() > 15 || dns1123_label(name).is_err() || !name.chars().any(|c| c.is_ascii_lowercase()) {
                errs.invalid(&pp.child("name"), name, "must be no more than 15 characters, contain at least one letter, and be a lowercase RFC 1123 label");
            } else if !port_names.insert(name.as_str()) {
                errs.duplicate(&pp.child("name"), name);
            }
        }
    }
    for (i, e) in c.env.iter().flatten().enumerate() {
        let ep = p.child("env").index(i);
        if e.name.is_empty() {
            errs.required(&ep.child("name"), "");
        } else if let Err(m) = env_var_name(&e.name) {
            errs.invalid(&ep.child("name"), &e.name, &m);
        }
        if let Some(vf) = &e.value_from {
            let vp = ep.child("valueFrom");
            if e.value.as_deref().is_some_and(|v| !v.is_empty()) {
                errs.invalid(&vp, "", "may not be specified when `value` is not empty");
            }
            let n = [
                vf.config_map_key_ref.is_some(),
                vf.secret_key_ref.is_some(),
                vf.field_ref.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            if n != 1 {
                errs.invalid(
                    &vp,
                    "",
                    "must specify exactly one of: `configMapKeyRef`, `secretKeyRef` or `fieldRef`",
                );
            }
            for (field, r) in [
                ("configMapKeyRef", &vf.config_map_key_ref),
                ("secretKeyRef", &vf.secret_key_ref),
            ] {
                if let Some(r) = r {
                    if r.name.is_empty() {
                        errs.required(&vp.child(field).child("name"), "");
                    }
                    if let Err(m) = config_key(&r.key) {
                        errs.invalid(&vp.child(field).child("key"), &r.key, &m);
                    }
                }
            }
            if let Some(fr) = &vf.field_ref {
                const FIELDS: &[&str] = &[
                    "metadata.name",
                    "metadata.namespace",
                    "metadata.uid",
                    "spec.nodeName",
                    "spec.serviceAccountName",
                    "status.hostIP",
                    "status.podIP",
                ];
                let path = fr.field_path.as_str();
                let label_ref = path.starts_with("metadata.labels[") || path.starts_with("metadata.annotations[");
                if !label_ref {
                    errs.one_of(&vp.child("fieldRef").child("fieldPath"), path, FIELDS);
                }
            }
        }
    }
    for (i, ef) in c.env_from.iter().flatten().enumerate() {
        let ep = p.child("envFrom").index(i);
        match (&ef.config_map_ref, &ef.secret_ref) {
            (Some(_), Some(_)) => errs.invalid(&ep, "", "may not have more than one field specified at a time"),
            (None, None) => errs.required(&ep, "must specify one of: `configMapRef` or `secretRef`"),
            (Some(r), None) | (None, Some(r)) if r.name.is_empty() => {
                let field = if ef.config_map_ref.is_some() {
                    "configMapRef"
                } else {
                    "secretRef"
                };
                errs.required(&ep.child(field).child("name"), "")
            }
            _ => {}
        }
    }
    if let Some(r) = &c.resources {
        let rp = p.child("resources");
        for (field, map) in [("requests", &r.requests), ("limits", &r.limits)] {
            for (k, v) in map.iter().flatten() {
                errs.quantity(&rp.child(field).key(k), v);
            }
        }
        if let (Some(req), Some(lim)) = (&r.requests, &r.limits) {
            for (k, v) in req {
                let (q, l) = (
                    crate::quantity::parse_milli(v),
                    lim.get(k).and_then(|l| crate::quantity::parse_milli(l)),
                );
                if let (Some(q), Some(l)) = (q, l) {
                    if q > l {
                        errs.invalid(
                            &rp.child("requests").key(k),
                            v,
                            &format!("must be less than or equal to {k} limit of {}", lim[k]),
                        );
                    }
                }
            }
        }
    }
    let mut mount_paths = HashSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let mp = p.child("volumeMounts").index(i);
        if m.name.is_empty() {
            errs.required(&mp.child("name"), "");
        } else if !volumes.contains(m.name.as_str()) {
            errs.invalid(&mp.child("name"), &m.name, "not found in the pod's volumes");
        }
        if let Some(sp) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if let Err(e) = super::volumes::relative_path(sp) {
                errs.invalid(&mp.child("subPath"), sp, &e);
            }
        }
        if m.mount_path.is_empty() {
            errs.required(&mp.child("mountPath"), "");
        } else if !m.mount_path.starts_with('/') {
            errs.invalid(&mp.child("mountPath"), &m.mount_path, "must be an absolute path");
        } else if !mount_paths.insert(m.mount_path.as_str()) {
            errs.invalid(&mp.child("mountPath"), &m.mount_path, "must be unique");
        }
    }
    for (field, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        if let Some(probe) = probe {
            super::probe::validate_probe(probe, &p.child(field), field, errs);
        }
    }
}
