//! Checking a rollout against its bounds from the record of every pod change (watch events from a
//! revision): the most pods that existed at once and the fewest that were available, replayed
//! event by event.

use std::collections::HashMap;

use serde_json::Value;

/// What a replay of pod changes saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most pods (not being deleted) at any point.
    pub most_pods: usize,
    /// Fewest Ready pods (not being deleted) at any point after the first event.
    pub fewest_available: usize,
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// Replays watch events (`{"type", "object"}`) over the pods that existed before them (`start`).
pub fn replay(start: &[Value], events: &[Value]) -> Bounds {
    let mut pods: HashMap<String, (bool, bool)> = HashMap::new();
    let put = |pods: &mut HashMap<String, (bool, bool)>, p: &Value, deleted: bool| {
        let key = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        let live = !deleted && p["metadata"]["deletionTimestamp"].is_null();
        if live {
            pods.insert(key, (true, ready(p)));
        } else {
            pods.remove(&key);
        }
    };
    for p in start {
        put(&mut pods, p, false);
    }
    let count = |pods: &HashMap<String, (bool, bool)>| (pods.len(), pods.values().filter(|(_, r)| *r).count());
    let (n, a) = count(&pods);
    let mut b = Bounds {
        most_pods: n,
        fewest_available: a,
    };
    for ev in events {
        if ev["type"] == "BOOKMARK" {
            continue;
        }
        put(&mut pods, &ev["object"], ev["type"] == "DELETED");
        let (n, a) = count(&pods);
        b.most_pods = b.most_pods.max(n);
        b.fewest_available = b.fewest_available.min(a);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ready: bool, deleting: bool) -> Value {
        let mut p = json!({"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}});
        if deleting {
            p["metadata"]["deletionTimestamp"] = json!("t");
        }
        p
    }

    #[test]
    fn counts_pods_and_availability_through_a_surge() {
        let start = [pod("a", true, false), pod("b", true, false)];
        let events = [
            json!({"type": "ADDED", "object": pod("c", false, false)}),
            json!({"type": "MODIFIED", "object": pod("c", true, false)}),
            json!({"type": "MODIFIED", "object": pod("a", true, true)}),
            json!({"type": "DELETED", "object": pod("a", true, true)}),
        ];
        assert_eq!(
            replay(&start, &events),
            Bounds {
                most_pods: 3,
                fewest_available: 2
            }
        );
    }
}
