//! A pod's volumes on the node: emptyDir (a directory of the pod, tmpfs for `medium: Memory`),
//! hostPath (with its type checked), file volumes (configMap, secret, downwardAPI, projected,
//! refreshed while the pod runs) and claims; then each container's mounts, with `subPath`
//! resolved inside its volume so that a symlink planted in a volume cannot lead a mount out.

use std::collections::HashMap;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{volume_claims, volume_files};
use crate::bus::client::ApiClient;
use crate::node::runtime::Mount;

/// The host path of each volume of a pod, by volume name.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Volume name -> host path.
    pub paths: HashMap<String, PathBuf>,
}

/// Where a pod keeps its volumes.
pub fn volumes_dir(pod_dir: &Path) -> PathBuf {
    pod_dir.join("volumes")
}

fn is_mounted(path: &Path) -> bool {
    let p = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| m.lines().any(|l| l.split_whitespace().nth(4) == Some(p.as_str())))
        .unwrap_or(false)
}

fn tmpfs(dir: &Path, size: Option<&str>) -> Result<(), String> {
    if is_mounted(dir) {
        return Ok(());
    }
    let mut opts = "mode=0777".to_string();
    if let Some(bytes) = size.and_then(orca_schemas::quantity::parse_milli) {
        opts.push_str(&format!(",size={}", (bytes / 1000).max(4096)));
    }
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("mounting tmpfs: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mounting tmpfs for emptyDir (medium: Memory needs root): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn host_path(v: &Value) -> Result<PathBuf, String> {
    let path = PathBuf::from(v["path"].as_str().unwrap_or(""));
    let meta = std::fs::metadata(&path);
    let kind = v["type"].as_str().unwrap_or("");
    let bad = |what: &str| Err(format!("hostPath type check failed: {} is not {what}", path.display()));
    match kind {
        "DirectoryOrCreate" => {
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        "FileOrCreate" if meta.is_err() => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        "Directory" if !meta.as_ref().is_ok_and(|m| m.is_dir()) => return bad("a directory"),
        "File" if !meta.as_ref().is_ok_and(|m| m.is_file()) => return bad("a file"),
        "Socket" if !meta.as_ref().is_ok_and(|m| m.file_type().is_socket()) => return bad("a socket"),
        "CharDevice" if !meta.as_ref().is_ok_and(|m| m.file_type().is_char_device()) => {
            return bad("a character device")
        }
        "BlockDevice" if !meta.as_ref().is_ok_and(|m| m.file_type().is_block_device()) => return bad("a block device"),
        _ => {}
    }
    Ok(path)
}

/// Sets up every volume of the pod; an error says which volume and why.
pub async fn prepare(api: &ApiClient, pod: &Value, pod_dir: &Path, pod_ip: &str) -> Result<Prepared, String> {
    let mut out = Prepared::default();
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
    let store = pod_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(pod_dir)
        .join("local-path");
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or("").to_string();
        let own = volumes_dir(pod_dir).join(&name);
        let path = if let Some(e) = v.get("emptyDir") {
            std::fs::create_dir_all(&own).map_err(|e| format!("volume {name}: {e}"))?;
            if e["medium"] == "Memory" {
                tmpfs(&own, e["sizeLimit"].as_str()).map_err(|e| format!("volume {name}: {e}"))?;
            }
            own
        } else if let Some(h) = v.get("hostPath") {
            host_path(h).map_err(|e| format!("volume {name}: {e}"))?
        } else if let Some(c) = v.get("persistentVolumeClaim") {
            let claim = c["claimName"].as_str().unwrap_or("");
            volume_claims::claim_dir(api, ns, claim, node, &store)
                .await
                .map_err(|e| format!("volume {name}: {e}"))?
        } else {
            let files = volume_files::render(api, pod, pod_ip, v)
                .await
                .map_err(|e| format!("volume {name}: {e}"))?;
            volume_files::write_atomic(&own, &files).map_err(|e| format!("volume {name}: {e}"))?;
            own
        };
        out.paths.insert(name, path);
    }
    Ok(out)
}

/// Writes the file volumes again from the API (ConfigMap and Secret updates reach running pods).
pub async fn refresh(api: &ApiClient, pod: &Value, pod_dir: &Path, pod_ip: &str) {
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        if !["configMap", "secret", "downwardAPI", "projected"]
            .iter()
            .any(|k| v.get(*k).is_some())
        {
            continue;
        }
        let name = v["name"].as_str().unwrap_or("");
        match volume_files::render(api, pod, pod_ip, v).await {
            Ok(files) => {
                if let Err(e) = volume_files::write_atomic(&volumes_dir(pod_dir).join(name), &files) {
                    tracing::warn!("volume {name}: {e}");
                }
            }
            Err(e) => tracing::debug!("volume {name} not refreshed: {e}"),
        }
    }
}

/// Unmounts the pod's tmpfs volumes (before its directory is removed).
pub fn release(pod_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(volumes_dir(pod_dir)) else {
        return;
    };
    for e in entries.flatten() {
        if is_mounted(&e.path()) {
            let _ = std::process::Command::new("umount").arg("-l").arg(e.path()).status();
        }
    }
}

/// `base/sub` when it stays inside `base` after every symlink is followed; missing directories
/// are created, each under a parent already checked to be inside.
pub fn inside(base: &Path, sub: &str) -> Result<PathBuf, String> {
    let root = base.canonicalize().map_err(|e| format!("{}: {e}", base.display()))?;
    let mut cur = root.clone();
    for comp in Path::new(sub).components() {
        match comp {
            std::path::Component::Normal(c) => {
                let next = cur.join(c);
                if std::fs::symlink_metadata(&next).is_ok() {
                    let real = next.canonicalize().map_err(|e| format!("subPath {sub}: {e}"))?;
                    if !real.starts_with(&root) {
                        return Err(format!("subPath {sub:?} leads outside its volume"));
                    }
                    cur = real;
                } else {
                    std::fs::create_dir(&next).map_err(|e| format!("subPath {sub}: {e}"))?;
                    cur = next;
                }
            }
            std::path::Component::CurDir => {}
            _ => return Err(format!("subPath {sub:?} must be a relative path without '..'")),
        }
    }
    Ok(cur)
}

/// The mounts of one container (`c` is its spec entry).
pub fn mounts(c: &Value, prepared: &Prepared) -> Result<Vec<Mount>, String> {
    let mut out = Vec::new();
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let name = m["name"].as_str().unwrap_or("");
        let base = prepared
            .paths
            .get(name)
            .ok_or_else(|| format!("volume {name:?} is not prepared"))?;
        let source = match m["subPath"].as_str().filter(|s| !s.is_empty()) {
            Some(sub) => inside(base, sub)?,
            None => base.clone(),
        };
        out.push(Mount {
            source,
            destination: m["mountPath"].as_str().unwrap_or("").to_string(),
            read_only: m["readOnly"] == true,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_paths_stay_inside_their_volume() {
        let d = tempfile::tempdir().unwrap();
        let vol = d.path().join("vol");
        std::fs::create_dir_all(vol.join("data")).unwrap();
        assert_eq!(inside(&vol, "data").unwrap(), vol.canonicalize().unwrap().join("data"));
        assert!(inside(&vol, "fresh/dir").is_ok(), "a missing subPath is created");
        // A container plants a symlink to the host's /etc; mounting it as a subPath is refused.
        std::os::unix::fs::symlink("/etc", vol.join("escape")).unwrap();
        let err = inside(&vol, "escape").unwrap_err();
        assert!(err.contains("outside its volume"), "{err}");
        assert!(inside(&vol, "escape/new").is_err());
        assert!(!std::path::Path::new("/etc/new").exists(), "nothing is created outside");
        std::os::unix::fs::symlink("../..", vol.join("up")).unwrap();
        assert!(inside(&vol, "up/x").is_err());
    }
}
