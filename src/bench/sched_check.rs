//! The scheduler bench's correctness check, read from the event log: each pod bound exactly once, to a
//! node that passes the filters, and no node over its capacity.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use serde_json::Value;

use orca_actors::scheduler::cache::NodeInfo;
use orca_actors::scheduler::plugins::FILTERS;
use orca_actors::scheduler::pod_info::PodInfo;

/// From the event log (a watch from revision 1): each pod bound exactly once, to a node that passes
/// the filters, and no node over its capacity.
pub async fn check(http: &reqwest::Client, base: &str, pods: usize) -> Result<Vec<String>> {
    let mut errors = Vec::new();
    let nodes: Value = http.get(format!("{base}/api/v1/nodes")).send().await?.json().await?;
    let nodes: HashMap<String, NodeInfo> = nodes["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let mut info = NodeInfo::from_node(n).map_err(|e| anyhow::anyhow!("a node does not decode: {e}"))?;
            info.taints.retain(|t| t.key != "node.kubernetes.io/not-ready");
            Ok((info.name.clone(), info))
        })
        .collect::<Result<_>>()?;
    // Read the whole log of pods, page by page, up to the head revision.
    let head: u64 = http
        .get(format!("{base}/api/v1/namespaces/default/pods?limit=1"))
        .send()
        .await?
        .json::<Value>()
        .await?["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let mut binds: HashMap<String, (usize, Option<Value>)> = HashMap::new();
    let mut was_bound: HashMap<String, bool> = HashMap::new();
    let mut after = 0u64;
    while after < head {
        let text = http
            .get(format!(
                "{base}/api/v1/namespaces/default/pods?watch=true&resourceVersion={after}&timeoutSeconds=2"
            ))
            .send()
            .await?
            .text()
            .await?;
        let mut progressed = false;
        for line in text.lines() {
            let Ok(ev) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let obj = &ev["object"];
            if let Some(rv) = obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|r| r.parse::<u64>().ok())
            {
                after = after.max(rv);
                progressed = true;
            }
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let now_bound = obj
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            let before = was_bound.insert(name.clone(), now_bound).unwrap_or(false);
            let entry = binds.entry(name).or_insert((0, None));
            if now_bound && !before {
                entry.0 += 1;
            }
            entry.1 = Some(obj.clone());
        }
        if !progressed {
            // No pod events left below the head (the rest are other kinds).
            break;
        }
    }
    let mut used: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for i in 0..pods {
        let name = format!("pod-{i}");
        match binds.get(&name) {
            Some((1, Some(obj))) => {
                let node = obj.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
                let typed = serde_json::from_value(obj.clone())?;
                let info = PodInfo::from_pod(&typed).map_err(|e| anyhow::anyhow!("pod {name}: {e}"))?;
                match nodes.get(node) {
                    Some(n) => {
                        let mut empty = n.clone();
                        empty.req_cpu = 0;
                        empty.req_mem = 0;
                        empty.pods = 0;
                        if let Some(reason) = FILTERS.iter().find_map(|f| f(&info, &empty).err()) {
                            errors.push(format!("{name} on {node}: {reason}"));
                        }
                        let u = used.entry(node.to_string()).or_default();
                        u.0 += info.cpu_milli;
                        u.1 += info.memory;
                        u.2 += 1;
                    }
                    None => errors.push(format!("{name} bound to unknown node {node:?}")),
                }
            }
            Some((n, _)) => errors.push(format!("{name} was bound {n} times")),
            None => errors.push(format!("{name} has no events")),
        }
    }
    for (node, (cpu, mem, pods)) in used {
        if let Some(n) = nodes.get(&node) {
            if cpu > n.alloc_cpu || mem > n.alloc_mem || pods > n.alloc_pods {
                errors.push(format!(
                    "{node} over capacity: cpu {cpu}m/{}m, memory {mem}/{}, pods {pods}/{}",
                    n.alloc_cpu, n.alloc_mem, n.alloc_pods
                ));
            }
        }
    }
    errors.truncate(20);
    Ok(errors)
}
