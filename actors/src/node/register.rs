//! The Node object an agent registers: capacity, allocatable, addresses, labels and conditions.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::network::PodNet;
use crate::bus::client::ApiClient;

/// What the node offers; defaults come from the machine.
#[derive(Debug, Clone)]
pub struct Capacity {
    /// CPUs (Kubernetes quantity).
    pub cpu: String,
    /// Memory (Kubernetes quantity).
    pub memory: String,
    /// Pod count.
    pub pods: u32,
}

impl Capacity {
    /// This machine's CPUs and memory, 110 pods.
    pub fn detect() -> Capacity {
        let cpu = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .to_string();
        let mem_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(1 << 20);
        Capacity {
            cpu,
            memory: format!("{mem_kib}Ki"),
            pods: 110,
        }
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The status an agent reports.
pub fn node_status(cap: &Capacity, name: &str, host_ip: &str, runtime: &str) -> Value {
    let resources = json!({"cpu": cap.cpu, "memory": cap.memory, "pods": cap.pods.to_string()});
    json!({
        "capacity": resources,
        "allocatable": resources,
        "addresses": [{"type": "InternalIP", "address": host_ip}, {"type": "Hostname", "address": name}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "orca agent is posting ready status", "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
        "nodeInfo": {"kubeletVersion": format!("orca-{}", env!("CARGO_PKG_VERSION")), "operatingSystem": "linux", "architecture": std::env::consts::ARCH, "osImage": "orca node", "containerRuntimeVersion": runtime},
    })
}

/// Creates the Node, or refreshes its labels and status when it exists.
pub async fn register(
    api: &ApiClient,
    name: &str,
    labels: &BTreeMap<String, String>,
    status: &Value,
) -> Result<(), String> {
    let mut all = labels.clone();
    all.insert("kubernetes.io/hostname".into(), name.into());
    all.insert("kubernetes.io/os".into(), "linux".into());
    all.insert("kubernetes.io/arch".into(), std::env::consts::ARCH.into());
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": all}, "spec": {}, "status": status});
    let created = api
        .call("POST", "/api/v1/nodes", "", Some(&node))
        .await
        .map_err(|e| e.to_string())?;
    match created.status {
        201 => {}
        409 => {
            let patch = json!({"metadata": {"labels": all}});
            api.call("PATCH", &format!("/api/v1/nodes/{name}"), "", Some(&patch))
                .await
                .map_err(|e| e.to_string())?;
        }
        s => {
            return Err(format!(
                "registering node {name}: status {s}: {}",
                String::from_utf8_lossy(&created.body)
            ))
        }
    }
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/nodes/{name}/status"),
            "",
            Some(&json!({"status": status})),
        )
        .await
        .map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!(
            "reporting node {name} status: {}",
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(())
}

/// Waits until the node-ipam controller has given the Node its `spec.podCIDR` (kept for the node's
/// life, so a restarted agent finds it at once).
pub async fn wait_for_pod_cidr(api: &ApiClient, name: &str) -> PodNet {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(5);
    let mut warned = false;
    loop {
        let node = api.call("GET", &format!("/api/v1/nodes/{name}"), "", None).await;
        let cidr = node
            .ok()
            .filter(|r| r.status == 200)
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .and_then(|n| n["spec"]["podCIDR"].as_str().map(PodNet::parse));
        match cidr {
            Some(Ok(net)) => return net,
            Some(Err(e)) => tracing::warn!("node {name}: {e}; waiting for another"),
            None => {}
        }
        if !warned && started.elapsed() > std::time::Duration::from_secs(5) {
            tracing::warn!("node {name} has no spec.podCIDR yet: pods wait for it (the control plane's node-ipam controller gives one when the cluster range has room)");
            warned = true;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(500));
    }
}
