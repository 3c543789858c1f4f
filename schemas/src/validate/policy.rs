//! Validation of PodDisruptionBudgets, StorageClasses and EndpointSlices.

use super::workloads::validate_int_or_percent;
use super::{Errors, Path};
use crate::kinds::discovery::EndpointSlice;
use crate::kinds::policy::{PodDisruptionBudget, StorageClass};

/// Checks a PodDisruptionBudget: one of minAvailable and maxUnavailable, a selector.
pub fn validate_pdb(p: &PodDisruptionBudget, errs: &mut Errors) {
    let spec = Path::new("spec");
    match (&p.spec.min_available, &p.spec.max_unavailable) {
        (Some(_), Some(_)) => errs.invalid(
            &spec.child("minAvailable"),
            "...",
            "minAvailable and maxUnavailable cannot be both set",
        ),
        (None, None) => errs.required(&spec.child("minAvailable"), "set minAvailable or maxUnavailable"),
        _ => {}
    }
    if let Some(v) = &p.spec.min_available {
        validate_int_or_percent(v, &spec.child("minAvailable"), errs);
    }
    if let Some(v) = &p.spec.max_unavailable {
        validate_int_or_percent(v, &spec.child("maxUnavailable"), errs);
    }
    match &p.spec.selector {
        Some(sel) => super::meta::validate_label_selector(sel, &spec.child("selector"), errs),
        None => errs.required(&spec.child("selector"), "the pods this budget covers"),
    }
}

/// Checks a StorageClass.
pub fn validate_storageclass(s: &StorageClass, errs: &mut Errors) {
    if s.provisioner.is_empty() {
        errs.required(&Path::new("provisioner"), "for example orca.dev/local-path");
    }
    if let Some(r) = &s.reclaim_policy {
        errs.one_of(&Path::new("reclaimPolicy"), r, &["Delete", "Retain"]);
    }
    if let Some(m) = &s.volume_binding_mode {
        errs.one_of(
            &Path::new("volumeBindingMode"),
            m,
            &["Immediate", "WaitForFirstConsumer"],
        );
    }
}

/// Checks an EndpointSlice: a known address type, addresses on every endpoint, 1000 at most.
pub fn validate_endpointslice(e: &EndpointSlice, errs: &mut Errors) {
    errs.one_of(&Path::new("addressType"), &e.address_type, &["IPv4", "IPv6", "FQDN"]);
    let eps = e.endpoints.as_deref().unwrap_or_default();
    if eps.len() > 1000 {
        errs.invalid(&Path::new("endpoints"), eps.len(), "must have at most 1000 items");
    }
    for (i, ep) in eps.iter().enumerate() {
        if ep.addresses.is_empty() {
            errs.required(&Path::new("endpoints").index(i).child("addresses"), "");
        }
    }
    for (i, p) in e.ports.iter().flatten().enumerate() {
        if let Some(port) = p.port {
            errs.port(&Path::new("ports").index(i).child("port"), port);
        }
    }
}
