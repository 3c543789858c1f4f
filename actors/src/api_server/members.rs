//! `GET /apis/orca.dev/v1/members`: the control plane's members, which one leads, and how far
//! each is behind the leader's log (answered by the leader; a single member lists itself).

use bytes::Bytes;
use serde_json::{json, Value};

use super::forward::Replica;

/// The path of the members endpoint.
pub const PATH: &str = "/apis/orca.dev/v1/members";

/// The members as this member sees them.
pub fn list(replica: Option<&Replica>, head: u64) -> Bytes {
    let items: Vec<Value> = match replica {
        None => {
            vec![json!({"name": "self", "id": 1, "role": "Leader", "matchedIndex": null, "lag": 0, "revision": head})]
        }
        Some(r) => {
            let m = r.member.raft.metrics().borrow().clone();
            let last = m.last_log_index.unwrap_or(0);
            m.membership_config
                .nodes()
                .map(|(id, node)| {
                    let matched = if *id == m.id {
                        m.last_log_index
                    } else {
                        m.replication
                            .as_ref()
                            .and_then(|rep| rep.get(id).cloned().flatten())
                            .map(|l| l.index)
                    };
                    let role = if m.current_leader == Some(*id) {
                        "Leader"
                    } else {
                        "Follower"
                    };
                    let mut item = json!({"name": node.addr, "id": id, "role": role, "matchedIndex": matched,
                        "lag": matched.map(|i| last.saturating_sub(i))});
                    if *id == m.id {
                        item["revision"] = json!(head);
                    }
                    item
                })
                .collect()
        }
    };
    let leader = items.iter().find(|i| i["role"] == "Leader").map(|i| i["name"].clone());
    let out = json!({"kind": "MemberList", "apiVersion": "orca.dev/v1", "leader": leader, "items": items});
    Bytes::from(serde_json::to_vec(&out).unwrap_or_default())
}
