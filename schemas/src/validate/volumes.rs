//! Validation of the file-producing volumes (configMap, secret, downwardAPI, projected): paths
//! stay inside the volume, modes are file modes, downward fields are ones Kubernetes offers.

use super::{Errors, Path};
use crate::kinds::volume::{DownwardApiSource, KeyToPath, Volume};

/// A path inside a volume: relative, without `..`, not empty.
pub fn relative_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("must not be empty".into());
    }
    if p.starts_with('/') {
        return Err("must be a relative path".into());
    }
    if p.split('/').any(|c| c == "..") {
        return Err("must not contain '..'".into());
    }
    Ok(())
}

/// Pod fields a downwardAPI volume may write.
pub const DOWNWARD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.podIP",
    "status.hostIP",
];

fn mode(m: Option<i64>, p: &Path, errs: &mut Errors) {
    if let Some(m) = m {
        if !(0..=0o777).contains(&m) {
            errs.invalid(p, m, "must be a number between 0 and 0777 (octal), both inclusive");
        }
    }
}

fn items(items: &Option<Vec<KeyToPath>>, p: &Path, errs: &mut Errors) {
    for (i, it) in items.iter().flatten().enumerate() {
        let ip = p.child("items").index(i);
        if it.key.is_empty() {
            errs.required(&ip.child("key"), "");
        }
        if let Err(e) = relative_path(&it.path) {
            errs.invalid(&ip.child("path"), &it.path, &e);
        }
        mode(it.mode, &ip.child("mode"), errs);
    }
}

fn downward(d: &DownwardApiSource, p: &Path, errs: &mut Errors) {
    mode(d.default_mode, &p.child("defaultMode"), errs);
    for (i, f) in d.items.iter().flatten().enumerate() {
        let fp = p.child("items").index(i);
        if let Err(e) = relative_path(&f.path) {
            errs.invalid(&fp.child("path"), &f.path, &e);
        }
        mode(f.mode, &fp.child("mode"), errs);
        match (&f.field_ref, &f.resource_field_ref) {
            (Some(r), None) => {
                let field = r["fieldPath"].as_str().unwrap_or("");
                let ok = DOWNWARD_FIELDS.contains(&field)
                    || field.starts_with("metadata.labels['")
                    || field.starts_with("metadata.annotations['");
                if !ok {
                    errs.not_supported(&fp.child("fieldRef").child("fieldPath"), field, DOWNWARD_FIELDS);
                }
            }
            (None, Some(r)) => {
                if r["resource"].as_str().unwrap_or("").is_empty() {
                    errs.required(&fp.child("resourceFieldRef").child("resource"), "");
                }
            }
            _ => errs.invalid(&fp, "...", "exactly one of fieldRef and resourceFieldRef must be set"),
        }
    }
}

/// Checks the file-producing sources of a volume.
pub fn validate_files(v: &Volume, p: &Path, errs: &mut Errors) {
    if let Some(c) = &v.config_map {
        items(&c.items, &p.child("configMap"), errs);
        mode(c.default_mode, &p.child("configMap").child("defaultMode"), errs);
    }
    if let Some(s) = &v.secret {
        items(&s.items, &p.child("secret"), errs);
        mode(s.default_mode, &p.child("secret").child("defaultMode"), errs);
    }
    if let Some(d) = &v.downward_api {
        downward(d, &p.child("downwardAPI"), errs);
    }
    if let Some(pr) = &v.projected {
        let pp = p.child("projected");
        mode(pr.default_mode, &pp.child("defaultMode"), errs);
        for (i, src) in pr.sources.iter().flatten().enumerate() {
            let sp = pp.child("sources").index(i);
            if let Some(c) = &src.config_map {
                items(&c.items, &sp.child("configMap"), errs);
            }
            if let Some(s) = &src.secret {
                items(&s.items, &sp.child("secret"), errs);
            }
            if let Some(d) = &src.downward_api {
                downward(d, &sp.child("downwardAPI"), errs);
            }
            if !src.extra.is_empty() {
                let names: Vec<&str> = src.extra.keys().map(String::as_str).collect();
                errs.forbidden(
                    &sp,
                    &format!(
                        "projected sources other than configMap, secret and downwardAPI are not supported (found {})",
                        names.join(", ")
                    ),
                );
            }
        }
    }
}
