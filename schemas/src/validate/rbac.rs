//! Validation of ServiceAccounts, roles and bindings, with Kubernetes' messages.

use super::{Errors, Path};
use crate::kinds::rbac::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};

/// The API group of roles and bindings.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn validate_rule(r: &PolicyRule, path: &Path, namespaced: bool, errs: &mut Errors) {
    if r.verbs.is_empty() {
        errs.required(&path.child("verbs"), "verbs must contain at least one value");
    }
    let urls = r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty());
    if urls {
        if namespaced {
            errs.invalid(
                &path.child("nonResourceURLs"),
                format!("{:?}", r.non_resource_urls.clone().unwrap_or_default()),
                "namespaced rules cannot apply to non-resource URLs",
            );
        }
        if r.resources.as_ref().is_some_and(|v| !v.is_empty()) || r.api_groups.as_ref().is_some_and(|v| !v.is_empty()) {
            errs.invalid(
                &path.child("nonResourceURLs"),
                format!("{:?}", r.non_resource_urls.clone().unwrap_or_default()),
                "rules cannot apply to both regular resources and non-resource URLs",
            );
        }
        return;
    }
    if r.api_groups.is_none() {
        errs.required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        );
    }
    if r.resources.as_ref().is_none_or(Vec::is_empty) {
        errs.required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        );
    }
}

fn validate_rules(rules: Option<&Vec<PolicyRule>>, namespaced: bool, errs: &mut Errors) {
    for (i, r) in rules.into_iter().flatten().enumerate() {
        validate_rule(r, &Path::new("rules").index(i), namespaced, errs);
    }
}

pub fn validate_role(r: &Role, errs: &mut Errors) {
    validate_rules(r.rules.as_ref(), true, errs);
}

pub fn validate_clusterrole(r: &ClusterRole, errs: &mut Errors) {
    validate_rules(r.rules.as_ref(), false, errs);
}

fn validate_role_ref(r: &RoleRef, kinds: &[&str], errs: &mut Errors) {
    let path = Path::new("roleRef");
    if r.api_group != RBAC_GROUP {
        errs.not_supported(&path.child("apiGroup"), &r.api_group, &[RBAC_GROUP]);
    }
    if !kinds.contains(&r.kind.as_str()) {
        errs.not_supported(&path.child("kind"), &r.kind, kinds);
    }
    if r.name.is_empty() {
        errs.required(&path.child("name"), "");
    }
}

fn validate_subjects(subjects: Option<&Vec<Subject>>, binding_namespaced: bool, errs: &mut Errors) {
    for (i, s) in subjects.into_iter().flatten().enumerate() {
        let path = Path::new("subjects").index(i);
        if s.name.is_empty() {
            errs.required(&path.child("name"), "");
        }
        match s.kind.as_str() {
            "ServiceAccount" => {
                if s.api_group.as_deref().is_some_and(|g| !g.is_empty()) {
                    errs.not_supported(&path.child("apiGroup"), s.api_group.as_deref().unwrap_or(""), &[""]);
                }
                if !binding_namespaced && s.namespace.as_deref().is_none_or(str::is_empty) {
                    errs.required(&path.child("namespace"), "");
                }
            }
            "User" | "Group" => {
                if s.api_group.as_deref().is_some_and(|g| g != RBAC_GROUP) {
                    errs.not_supported(
                        &path.child("apiGroup"),
                        s.api_group.as_deref().unwrap_or(""),
                        &[RBAC_GROUP],
                    );
                }
            }
            other => errs.not_supported(&path.child("kind"), other, &["ServiceAccount", "User", "Group"]),
        }
    }
}

pub fn validate_rolebinding(b: &RoleBinding, errs: &mut Errors) {
    validate_role_ref(&b.role_ref, &["Role", "ClusterRole"], errs);
    validate_subjects(b.subjects.as_ref(), true, errs);
}

pub fn validate_clusterrolebinding(b: &ClusterRoleBinding, errs: &mut Errors) {
    validate_role_ref(&b.role_ref, &["ClusterRole"], errs);
    validate_subjects(b.subjects.as_ref(), false, errs);
}

/// Subjects written without an apiGroup get the one their kind implies, as Kubernetes defaults it.
pub fn default_subjects(subjects: &mut Option<Vec<Subject>>) {
    for s in subjects.iter_mut().flatten() {
        if s.api_group.is_none() && matches!(s.kind.as_str(), "User" | "Group") {
            s.api_group = Some(RBAC_GROUP.to_string());
        }
    }
}
