//! `GET /apis/orca.dev/v1/members`: the control plane's members, which one leads, and how far
//! each is behind the leader's log (answered by the leader; a single member lists itself).

use bytes::Bytes;
use serde_json::{json, Value};

use super::forward::Replica;
use super::status::{ApiError, ApiResult};
use super::ApiResponse;

/// The path of the members endpoint.
pub const PATH: &str = "/apis/orca.dev/v1/members";

/// The answer to a request on the members endpoint (None: another path).
pub async fn answer(req: &super::ApiRequest, replica: Option<&Replica>, head: u64) -> Option<ApiResult<ApiResponse>> {
    if req.path != PATH && !req.path.starts_with(&format!("{PATH}/")) {
        return None;
    }
    Some(match req.method.as_str() {
        "GET" if req.path == PATH => Ok(ApiResponse::json(200, list(replica, head))),
        _ => change(replica, &req.method, &req.path, &req.body).await,
    })
}

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

/// How long an added member may take to catch up with the leader's log before it votes.
pub const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(60);

/// `POST {"name": NAME}` adds a member (a learner until it has the leader's log, then a voter);
/// `DELETE .../members/NAME` removes one. Served by the leader.
pub async fn change(replica: Option<&Replica>, method: &str, path: &str, body: &[u8]) -> ApiResult<ApiResponse> {
    let Some(r) = replica else {
        return Err(ApiError::bad_request(
            "this control plane has one member: start its members with `orca server --peers A,B,C`",
        ));
    };
    let raft = &r.member.raft;
    let metrics = raft.metrics().borrow().clone();
    let voters: std::collections::BTreeMap<u64, String> = metrics
        .membership_config
        .nodes()
        .map(|(id, n)| (*id, n.addr.clone()))
        .collect();
    let failed = |e: String| ApiError::unavailable(format!("changing the members: {e}"));
    match (method, path.strip_prefix(PATH).unwrap_or("")) {
        ("POST", "") => {
            let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
            let name = v["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::bad_request("a member is {\"name\": NAME}"))?
                .to_string();
            let id = crate::cluster::members::member_id(&name);
            if voters.contains_key(&id) {
                return Err(ApiError::new(
                    409,
                    "AlreadyExists",
                    format!("member {name} is already a member"),
                ));
            }
            raft.add_learner(id, openraft::BasicNode::new(&name), false)
                .await
                .map_err(|e| failed(e.to_string()))?;
            // A voter that cannot yet hold the log would stall every write: wait until it has it.
            let mut m = raft.metrics();
            let caught_up = matches!(
                tokio::time::timeout(
                    CATCH_UP,
                    m.wait_for(|m| {
                        let last = m.last_log_index.unwrap_or(0);
                        m.replication
                            .as_ref()
                            .and_then(|rep| rep.get(&id).cloned().flatten())
                            .is_some_and(|l| l.index + 16 >= last)
                    }),
                )
                .await,
                Ok(Ok(_))
            );
            if !caught_up {
                return Err(ApiError::new(
                    504,
                    "Timeout",
                    format!("member {name} did not catch up within {CATCH_UP:?}: start it with `orca server --peers ...,{name} --member {name}` (it stays a learner until then; remove it with `orca members remove {name}`)"),
                ));
            }
            raft.change_membership(openraft::ChangeMembers::AddVoterIds([id].into()), false)
                .await
                .map_err(|e| failed(e.to_string()))?;
            Ok(ApiResponse::json(201, list(Some(r), 0)))
        }
        ("DELETE", rest) if rest.len() > 1 => {
            let name = &rest[1..];
            let id = crate::cluster::members::member_id(name);
            if !voters.contains_key(&id) {
                return Err(ApiError::not_found("members", name));
            }
            if voters.len() == 1 {
                return Err(ApiError::bad_request("the last member cannot be removed"));
            }
            raft.change_membership(openraft::ChangeMembers::RemoveVoters([id].into()), false)
                .await
                .map_err(|e| failed(e.to_string()))?;
            Ok(ApiResponse::json(200, list(Some(r), 0)))
        }
        _ => Err(ApiError::method_not_allowed(method)),
    }
}
