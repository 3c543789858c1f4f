//! Validation of `metadata` and of label selectors.

use std::collections::BTreeMap;

use super::names::{dns1123_label, label_value, qualified_key};
use super::{Errors, Path};
use crate::meta::{LabelSelector, ObjectMeta};

/// Which rule an object's name follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most kinds).
    Subdomain,
    /// DNS-1123 label (Namespace).
    Label,
    /// DNS-1035 label (Service).
    Dns1035,
    /// Any path segment (roles and bindings: `system:discovery`).
    Segment,
}

/// Kubernetes' path segment name rule: not `.` or `..`, no `/` or `%`.
fn path_segment(s: &str) -> Result<(), String> {
    if s == "." || s == ".." {
        return Err(format!("may not be '{s}'"));
    }
    match s.chars().find(|c| *c == '/' || *c == '%') {
        Some(c) => Err(format!("may not contain '{c}'")),
        None => Ok(()),
    }
}

/// Checks name (or generateName), namespace, labels, annotations, owner references and finalizers.
pub fn validate_object_meta(meta: &ObjectMeta, rule: NameRule, namespaced: bool, errs: &mut Errors) {
    let p = Path::new("metadata");
    let check = |s: &str| match rule {
        NameRule::Subdomain => super::names::dns1123_subdomain(s),
        NameRule::Label => dns1123_label(s),
        NameRule::Dns1035 => super::names::dns1035_label(s),
        NameRule::Segment => path_segment(s),
    };
    match (&meta.name, &meta.generate_name) {
        (Some(name), _) if !name.is_empty() => {
            if let Err(e) = check(name) {
                errs.invalid(&p.child("name"), name, &e);
            }
        }
        (_, Some(prefix)) if !prefix.is_empty() => {
            // A generated name appends 5 characters; the prefix must make a valid name with them.
            if let Err(e) = check(&format!("{prefix}abcde")) {
                errs.invalid(&p.child("generateName"), prefix, &e);
            }
        }
        _ => errs.required(&p.child("name"), "name or generateName is required"),
    }
    if namespaced {
        if let Some(ns) = &meta.namespace {
            if let Err(e) = dns1123_label(ns) {
                errs.invalid(&p.child("namespace"), ns, &e);
            }
        }
    }
    validate_labels(meta.labels.as_ref(), &p.child("labels"), errs);
    for k in meta.annotations.iter().flat_map(|a| a.keys()) {
        if let Err(e) = qualified_key(k) {
            errs.invalid(&p.child("annotations"), k, &e);
        }
    }
    let annotation_bytes: usize = meta.annotations.iter().flatten().map(|(k, v)| k.len() + v.len()).sum();
    if annotation_bytes > 256 * 1024 {
        errs.invalid(
            &p.child("annotations"),
            annotation_bytes,
            "must have at most 262144 bytes",
        );
    }
    for (i, o) in meta.owner_references.iter().flatten().enumerate() {
        let op = p.child("ownerReferences").index(i);
        for (field, value) in [
            ("apiVersion", &o.api_version),
            ("kind", &o.kind),
            ("name", &o.name),
            ("uid", &o.uid),
        ] {
            if value.is_empty() {
                errs.required(&op.child(field), "");
            }
        }
    }
    if let Some(g) = meta.generation {
        errs.at_least(&p.child("generation"), g, 0);
    }
    for (i, f) in meta.finalizers.iter().flatten().enumerate() {
        if let Err(e) = qualified_key(f) {
            errs.invalid(&p.child("finalizers").index(i), f, &e);
        }
    }
}

/// Checks label keys and values.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, p: &Path, errs: &mut Errors) {
    for (k, v) in labels.into_iter().flatten() {
        if let Err(e) = qualified_key(k) {
            errs.invalid(p, k, &e);
        }
        if let Err(e) = label_value(v) {
            errs.invalid(&p.key(k), v, &e);
        }
    }
}

/// Checks a label selector's keys, values and operators.
pub fn validate_label_selector(sel: &LabelSelector, p: &Path, errs: &mut Errors) {
    validate_labels(sel.match_labels.as_ref(), &p.child("matchLabels"), errs);
    for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
        let ep = p.child("matchExpressions").index(i);
        if let Err(m) = qualified_key(&e.key) {
            errs.invalid(&ep.child("key"), &e.key, &m);
        }
        let n = e.values.as_ref().map_or(0, Vec::len);
        match e.operator.as_str() {
            "In" | "NotIn" if n == 0 => errs.required(
                &ep.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ),
            "Exists" | "DoesNotExist" if n > 0 => errs.forbidden(
                &ep.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.not_supported(&ep.child("operator"), other, &["In", "NotIn", "Exists", "DoesNotExist"]),
        }
    }
}
