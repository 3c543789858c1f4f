//! Volumes made of files (configMap, secret, downwardAPI, projected): rendered from the API and
//! written as Kubernetes' atomic writer does, into a fresh `..<time>` directory that a `..data`
//! symlink is switched to in one rename, so a reader never sees half an update.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use orca_schemas::validate::other::base64_decode;

use crate::bus::client::ApiClient;

/// Files of a volume: path inside the volume -> (content, mode).
pub type Files = BTreeMap<String, (Vec<u8>, u32)>;

async fn fetch(api: &ApiClient, plural: &str, ns: &str, name: &str) -> Result<Option<Value>, String> {
    let path = format!("/api/v1/namespaces/{ns}/{plural}/{name}");
    let a = api
        .call("GET", &path, "", None)
        .await
        .map_err(|e| format!("reading {plural} {name}: {e}"))?;
    match a.status {
        200 => serde_json::from_slice(&a.body).map(Some).map_err(|e| e.to_string()),
        404 => Ok(None),
        s => Err(format!("reading {plural} {name}: status {s}")),
    }
}

fn mode_of(v: &Value, default: u32) -> u32 {
    v.as_u64().map_or(default, |m| (m & 0o777) as u32)
}

/// A ConfigMap's or Secret's keys as files (all, or `items`).
async fn keys(
    api: &ApiClient,
    ns: &str,
    src: &Value,
    secret: bool,
    default_mode: u32,
    out: &mut Files,
) -> Result<(), String> {
    let name = src[if secret && src.get("secretName").is_some() {
        "secretName"
    } else {
        "name"
    }]
    .as_str()
    .unwrap_or("");
    let optional = src["optional"] == true;
    let plural = if secret { "secrets" } else { "configmaps" };
    let what = if secret { "secret" } else { "configmap" };
    let Some(obj) = fetch(api, plural, ns, name).await? else {
        if optional {
            return Ok(());
        }
        return Err(format!("{what} {name:?} not found"));
    };
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (k, v) in obj["data"].as_object().into_iter().flatten() {
        let s = v.as_str().unwrap_or("");
        let bytes = if secret {
            base64_decode(s).ok_or_else(|| format!("{what} {name:?}: key {k} is not base64"))?
        } else {
            s.as_bytes().to_vec()
        };
        data.insert(k.clone(), bytes);
    }
    for (k, v) in obj["binaryData"].as_object().into_iter().flatten() {
        data.insert(k.clone(), base64_decode(v.as_str().unwrap_or("")).unwrap_or_default());
    }
    let mode = mode_of(&src["defaultMode"], default_mode);
    match src["items"].as_array() {
        Some(items) => {
            for it in items {
                let key = it["key"].as_str().unwrap_or("");
                let Some(bytes) = data.get(key) else {
                    if optional {
                        continue;
                    }
                    return Err(format!("{what} {name:?} has no key {key:?}"));
                };
                out.insert(
                    it["path"].as_str().unwrap_or(key).to_string(),
                    (bytes.clone(), mode_of(&it["mode"], mode)),
                );
            }
        }
        None => {
            for (k, bytes) in data {
                out.insert(k, (bytes, mode));
            }
        }
    }
    Ok(())
}

fn downward(pod: &Value, pod_ip: &str, src: &Value, default_mode: u32, out: &mut Files) {
    let mode = mode_of(&src["defaultMode"], default_mode);
    for it in src["items"].as_array().into_iter().flatten() {
        let path = it["path"].as_str().unwrap_or("").to_string();
        let m = mode_of(&it["mode"], mode);
        let text = if let Some(field) = it["fieldRef"]["fieldPath"].as_str() {
            match field {
                "metadata.labels" | "metadata.annotations" => {
                    let map = &pod["metadata"][field.trim_start_matches("metadata.")];
                    map.as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}\n",
                                serde_json::to_string(v.as_str().unwrap_or("")).unwrap_or_default()
                            )
                        })
                        .collect()
                }
                f => super::env::field(pod, f, pod_ip),
            }
        } else {
            let resource = it["resourceFieldRef"]["resource"].as_str().unwrap_or("");
            let container = it["resourceFieldRef"]["containerName"].as_str();
            let c = pod["spec"]["containers"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| container.is_none_or(|n| c["name"] == n)))
                .cloned()
                .unwrap_or(Value::Null);
            let (section, name) = resource.split_once('.').unwrap_or(("", ""));
            c["resources"][section][name]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| c["resources"][section][name].to_string())
        };
        out.insert(path, (text.into_bytes(), m));
    }
}

/// The files of a volume (`v` is the pod's volume entry).
pub async fn render(api: &ApiClient, pod: &Value, pod_ip: &str, v: &Value) -> Result<Files, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut out = Files::new();
    if let Some(cm) = v.get("configMap") {
        keys(api, ns, cm, false, 0o644, &mut out).await?;
    } else if let Some(s) = v.get("secret") {
        keys(api, ns, s, true, 0o644, &mut out).await?;
    } else if let Some(d) = v.get("downwardAPI") {
        downward(pod, pod_ip, d, 0o644, &mut out);
    } else if let Some(p) = v.get("projected") {
        let mode = mode_of(&p["defaultMode"], 0o644);
        for src in p["sources"].as_array().into_iter().flatten() {
            if let Some(cm) = src.get("configMap") {
                let mut c = cm.clone();
                c["defaultMode"] = mode.into();
                keys(api, ns, &c, false, mode, &mut out).await?;
            }
            if let Some(s) = src.get("secret") {
                let mut c = s.clone();
                c["defaultMode"] = mode.into();
                keys(api, ns, &c, true, mode, &mut out).await?;
            }
            if let Some(d) = src.get("downwardAPI") {
                downward(pod, pod_ip, d, mode, &mut out);
            }
        }
    }
    Ok(out)
}

/// The files `dir` shows now (through `..data`).
fn current(dir: &Path) -> Option<Files> {
    let data = dir.join("..data");
    let target = std::fs::read_link(&data).ok()?;
    let root = dir.join(target);
    let mut out = Files::new();
    fn walk(root: &Path, rel: &str, out: &mut Files) -> std::io::Result<()> {
        for e in std::fs::read_dir(root.join(rel))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let meta = e.metadata()?;
            if meta.is_dir() {
                walk(root, &path, out)?;
            } else {
                out.insert(
                    path.clone(),
                    (std::fs::read(root.join(&path))?, meta.permissions().mode() & 0o777),
                );
            }
        }
        Ok(())
    }
    walk(&root, "", &mut out).ok()?;
    Some(out)
}

/// Writes `files` into `dir` atomically; returns whether anything changed.
pub fn write_atomic(dir: &Path, files: &Files) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    if current(dir).as_ref() == Some(files) {
        return Ok(false);
    }
    let stamp = format!(
        "..{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let fresh = dir.join(&stamp);
    std::fs::create_dir_all(&fresh)?;
    for (path, (bytes, mode)) in files {
        let p = fresh.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, bytes)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))?;
    }
    let old = std::fs::read_link(dir.join("..data")).ok();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&stamp, &tmp)?;
    std::fs::rename(&tmp, dir.join("..data"))?;
    // Top-level names point through ..data; names no longer there go.
    let tops: std::collections::BTreeSet<String> = files
        .keys()
        .map(|p| p.split('/').next().unwrap_or("").to_string())
        .collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{top}"), &link)?;
        }
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !tops.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if let Some(old) = old.filter(|o| o.as_os_str() != stamp.as_str()) {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_swap_the_whole_directory() {
        let d = tempfile::tempdir().unwrap();
        let mut files = Files::new();
        files.insert("a".into(), (b"1".to_vec(), 0o644));
        files.insert("sub/b".into(), (b"2".to_vec(), 0o600));
        assert!(write_atomic(d.path(), &files).unwrap());
        assert!(!write_atomic(d.path(), &files).unwrap(), "no change, no write");
        assert_eq!(std::fs::read_to_string(d.path().join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(d.path().join("sub/b")).unwrap(), "2");
        let mode = std::fs::metadata(d.path().join("sub/b")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        files.remove("sub/b");
        files.insert("a".into(), (b"3".to_vec(), 0o644));
        assert!(write_atomic(d.path(), &files).unwrap());
        assert_eq!(std::fs::read_to_string(d.path().join("a")).unwrap(), "3");
        assert!(
            std::fs::symlink_metadata(d.path().join("sub")).is_err(),
            "a removed key goes"
        );
        let dirs = std::fs::read_dir(d.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("..1"))
            .count();
        assert_eq!(dirs, 1, "the old generation is removed");
    }
}
