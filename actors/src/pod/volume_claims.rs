//! PersistentVolumeClaims on the node: a bound claim gives its volume's directory; an unbound
//! claim of the built-in `orca.dev/local-path` class gets a directory on this node (its first
//! consumer's, as WaitForFirstConsumer has it), a PersistentVolume pinned to the node, and the
//! binding; the claim is annotated with the node so the scheduler keeps its later pods here.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::bus::client::ApiClient;
use crate::runtime::write;

/// The provisioner of the built-in StorageClass.
pub const LOCAL_PATH: &str = "orca.dev/local-path";
/// The annotation naming the node a claim's volume lives on.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

async fn get(api: &ApiClient, path: &str) -> Result<Option<Value>, String> {
    let a = api
        .call("GET", path, "", None)
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    match a.status {
        200 => serde_json::from_slice(&a.body).map(Some).map_err(|e| e.to_string()),
        404 => Ok(None),
        s => Err(format!("GET {path}: status {s}")),
    }
}

/// The node a volume is pinned to, if any.
fn pinned_node(pv: &Value) -> Option<String> {
    let terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"].as_array()?;
    terms.iter().find_map(|t| {
        t["matchFields"]
            .as_array()?
            .iter()
            .find(|f| f["key"] == "metadata.name")
            .and_then(|f| f["values"][0].as_str().map(str::to_string))
    })
}

fn local_dir(pv: &Value) -> Option<PathBuf> {
    pv["spec"]["hostPath"]["path"]
        .as_str()
        .or_else(|| pv["spec"]["local"]["path"].as_str())
        .map(PathBuf::from)
}

/// The host directory of claim `claim` for a pod in `ns` on `node`; `store` is where this node
/// keeps local-path volumes.
pub async fn claim_dir(
    api: &ApiClient,
    ns: &str,
    claim: &str,
    node: &str,
    store: &std::path::Path,
) -> Result<PathBuf, String> {
    let pvc_path = format!("/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}");
    let pvc = get(api, &pvc_path)
        .await?
        .ok_or_else(|| format!("persistentvolumeclaim {claim:?} not found"))?;
    if let Some(pv_name) = pvc["spec"]["volumeName"].as_str().filter(|v| !v.is_empty()) {
        let pv = get(api, &format!("/api/v1/persistentvolumes/{pv_name}"))
            .await?
            .ok_or_else(|| format!("persistentvolume {pv_name:?} of claim {claim:?} not found"))?;
        if let Some(other) = pinned_node(&pv).filter(|n| n != node) {
            return Err(format!(
                "volume node affinity conflict: claim {claim:?} lives on node {other:?}"
            ));
        }
        let dir = local_dir(&pv)
            .ok_or_else(|| format!("persistentvolume {pv_name:?} has no hostPath or local path this node can mount"))?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        return Ok(dir);
    }
    // Unbound: provision on this node if the class is ours.
    let class_name = pvc["spec"]["storageClassName"].as_str().unwrap_or("");
    let class = get(api, &format!("/apis/storage.k8s.io/v1/storageclasses/{class_name}"))
        .await?
        .ok_or_else(|| format!("claim {claim:?} waits: storageclass {class_name:?} not found"))?;
    if class["provisioner"] != LOCAL_PATH {
        return Err(format!(
            "claim {claim:?} waits for provisioner {} to bind it",
            class["provisioner"]
        ));
    }
    let uid = pvc["metadata"]["uid"].as_str().unwrap_or("");
    let pv_name = format!("pvc-{uid}");
    let dir = store.join(&pv_name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let capacity = pvc["spec"]["resources"]["requests"]["storage"].clone();
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": LOCAL_PATH}},
        "spec": {"capacity": {"storage": capacity}, "accessModes": pvc["spec"]["accessModes"].clone(),
            "storageClassName": class_name,
            "persistentVolumeReclaimPolicy": class["reclaimPolicy"].as_str().unwrap_or("Delete"),
            "hostPath": {"path": dir.display().to_string(), "type": "DirectoryOrCreate"},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": claim, "uid": uid},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}});
    let a = api
        .call("POST", "/api/v1/persistentvolumes", "", Some(&pv))
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(a.status, 201 | 409) {
        return Err(format!(
            "creating persistentvolume {pv_name}: {}",
            crate::bus::client::status_message(&a.body)
        ));
    }
    let mut lost = None;
    write::update(api, &pvc_path, "", |c| {
        match c["spec"]["volumeName"].as_str().filter(|v| !v.is_empty()) {
            Some(v) if v != pv_name => {
                lost = Some(v.to_string());
                false
            }
            // Bound to this volume already (the binding controller found it first): the claim
            // still says which node holds the data.
            Some(_) if c["metadata"]["annotations"][SELECTED_NODE] == node => false,
            Some(_) => {
                c["metadata"]["annotations"][SELECTED_NODE] = json!(node);
                true
            }
            None => {
                c["spec"]["volumeName"] = json!(pv_name);
                c["metadata"]["annotations"][SELECTED_NODE] = json!(node);
                c["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = json!("yes");
                true
            }
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    if let Some(v) = lost {
        let _ = std::fs::remove_dir(&dir);
        return Err(format!(
            "claim {claim:?} was bound elsewhere (to {v}) meanwhile; retrying"
        ));
    }
    let phase = |kind: &'static str| {
        let capacity = capacity.clone();
        move |o: &mut Value| {
            if o["status"]["phase"] == "Bound" {
                return false;
            }
            o["status"]["phase"] = json!("Bound");
            if kind == "pvc" {
                o["status"]["capacity"] = json!({"storage": capacity.clone()});
                o["status"]["accessModes"] = o["spec"]["accessModes"].clone();
            }
            true
        }
    };
    write::update(api, &pvc_path, "/status", phase("pvc"))
        .await
        .map_err(|e| e.to_string())?;
    write::update(
        api,
        &format!("/api/v1/persistentvolumes/{pv_name}"),
        "/status",
        phase("pv"),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(dir)
}
