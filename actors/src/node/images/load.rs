//! Loading an image tarball: an OCI image layout (`index.json`, `blobs/`) or a docker-save archive
//! (`manifest.json`), gzipped or not.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::layers::{apply, open_layer};
use super::store::{ImageConfig, ImageStore};
use super::Error;

fn read_all(path: &Path) -> Result<HashMap<String, Vec<u8>>, Error> {
    let bytes = std::fs::read(path)?;
    let mut archive = tar::Archive::new(open_layer(bytes));
    let mut files = HashMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path()?.to_string_lossy().trim_start_matches("./").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        files.insert(name, data);
    }
    Ok(files)
}

fn json(files: &HashMap<String, Vec<u8>>, name: &str) -> Result<Value, Error> {
    let bytes = files
        .get(name)
        .ok_or_else(|| Error::Format(format!("the tarball has no {name}")))?;
    serde_json::from_slice(bytes).map_err(|e| Error::Format(format!("{name} is not valid JSON: {e}")))
}

fn blob(files: &HashMap<String, Vec<u8>>, digest: &str) -> Result<Vec<u8>, Error> {
    let path = format!("blobs/{}", digest.replacen(':', "/", 1));
    files
        .get(&path)
        .cloned()
        .ok_or_else(|| Error::Format(format!("the OCI layout lacks blob {digest}")))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn config_of(cfg: &Value) -> ImageConfig {
    let c = &cfg["config"];
    ImageConfig {
        env: strings(&c["Env"]),
        entrypoint: strings(&c["Entrypoint"]),
        cmd: strings(&c["Cmd"]),
        working_dir: c["WorkingDir"].as_str().unwrap_or("").to_string(),
        user: c["User"].as_str().unwrap_or("").to_string(),
    }
}

fn install(store: &ImageStore, reference: &str, layers: &[Vec<u8>], config: &ImageConfig) -> Result<(), Error> {
    if !super::store::valid_reference(reference) {
        return Err(Error::Format(format!(
            "{reference:?} is not an image reference (name[:tag])"
        )));
    }
    let dir = store.dir(reference);
    let staging = dir.with_extension("loading");
    let _ = std::fs::remove_dir_all(&staging);
    let rootfs = staging.join("rootfs");
    std::fs::create_dir_all(&rootfs)?;
    for l in layers {
        apply(&rootfs, open_layer(l.clone()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::remove_dir_all(dir.join("rootfs"));
    std::fs::rename(&rootfs, dir.join("rootfs"))?;
    let _ = std::fs::remove_dir_all(&staging);
    store.commit(reference, config)
}

/// Loads every image in the tarball; returns their references. `name` names an image that the
/// tarball does not name.
pub fn load(store: &ImageStore, path: &Path, name: Option<&str>) -> Result<Vec<String>, Error> {
    let files = read_all(path)?;
    let mut loaded = Vec::new();
    if files.contains_key("manifest.json") {
        for m in json(&files, "manifest.json")?.as_array().cloned().unwrap_or_default() {
            let cfg: Value = files
                .get(m["Config"].as_str().unwrap_or(""))
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            let layers: Vec<Vec<u8>> = strings(&m["Layers"])
                .iter()
                .map(|l| {
                    files
                        .get(l)
                        .cloned()
                        .ok_or_else(|| Error::Format(format!("docker-save archive lacks layer {l}")))
                })
                .collect::<Result<_, _>>()?;
            let mut tags = strings(&m["RepoTags"]);
            if tags.is_empty() {
                tags.push(
                    name.ok_or_else(|| Error::Format("the image has no tag; give one with --name".into()))?
                        .to_string(),
                );
            }
            for t in tags {
                install(store, &t, &layers, &config_of(&cfg))?;
                loaded.push(t);
            }
        }
    } else if files.contains_key("index.json") {
        for m in json(&files, "index.json")?["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let manifest: Value = serde_json::from_slice(&blob(&files, m["digest"].as_str().unwrap_or(""))?)
                .map_err(|e| Error::Format(format!("manifest: {e}")))?;
            let cfg: Value =
                serde_json::from_slice(&blob(&files, manifest["config"]["digest"].as_str().unwrap_or(""))?)
                    .map_err(|e| Error::Format(format!("config: {e}")))?;
            let layers: Vec<Vec<u8>> = manifest["layers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|l| blob(&files, l["digest"].as_str().unwrap_or("")))
                .collect::<Result<_, _>>()?;
            let annotated = m
                .pointer("/annotations/io.containerd.image.name")
                .or_else(|| m.pointer("/annotations/org.opencontainers.image.ref.name"))
                .and_then(Value::as_str);
            let reference = match (annotated, name) {
                (_, Some(n)) => n.to_string(),
                (Some(a), None) if a.contains(':') || a.contains('/') => a.to_string(),
                (Some(tag), None) => {
                    return Err(Error::Format(format!(
                        "the OCI layout names only the tag {tag:?}; give the image a name with --name NAME:{tag}"
                    )))
                }
                (None, None) => {
                    return Err(Error::Format(
                        "the OCI layout does not name its image; give one with --name".into(),
                    ))
                }
            };
            install(store, &reference, &layers, &config_of(&cfg))?;
            loaded.push(reference);
        }
    } else {
        return Err(Error::Format(format!(
            "{} is neither an OCI image layout (index.json) nor a docker-save archive (manifest.json)",
            path.display()
        )));
    }
    Ok(loaded)
}
