//! Every NATS subject orca uses, built in this one module.

/// API requests (request/reply), served by a queue group of API servers.
pub const API: &str = "orca.api";
/// Watch stream openings (request/reply).
pub const API_WATCH: &str = "orca.api.watch";
/// Queue group of the API servers.
pub const API_QUEUE: &str = "orca-api";

/// Where one API server hands out the remaining parts of its large answers.
pub fn api_parts(server_id: &str) -> String {
    format!("orca.api.parts.{server_id}")
}

/// Where one watch stream's frames are delivered.
pub fn watch_stream(stream_id: &str) -> String {
    format!("orca.watch.{stream_id}")
}

/// A node name as one subject token: its dots become underscores (a node name has no
/// underscore), so that one node's subjects are never a prefix of another's.
pub fn node_token(node: &str) -> String {
    node.replace('.', "_")
}

/// The node name a subject token stands for.
pub fn token_node(token: &str) -> String {
    token.replace('_', ".")
}

/// API requests of one node agent (its identity is the subject, which only it may publish on).
pub fn api_node(node: &str) -> String {
    format!("orca.api.node.{}", node_token(node))
}

/// Watch openings of one node agent.
pub fn api_node_watch(node: &str) -> String {
    format!("orca.api.node.{}.watch", node_token(node))
}

/// Every node's API requests and watch openings.
pub const API_NODES: &str = "orca.api.node.*";
/// Every node's watch openings.
pub const API_NODES_WATCH: &str = "orca.api.node.*.watch";

/// The node an `orca.api.node.NODE[.watch]` subject names.
pub fn api_subject_node(subject: &str) -> Option<String> {
    let rest = subject.strip_prefix("orca.api.node.")?;
    Some(token_node(rest.strip_suffix(".watch").unwrap_or(rest)))
}

/// Where one node's watch frames are delivered (only it may subscribe there).
pub fn node_watch_stream(node: &str, stream_id: &str) -> String {
    format!("orca.watch.node.{}.{stream_id}", node_token(node))
}

/// The inbox prefix of a node's connection (replies to its requests).
pub fn node_inbox(node: &str) -> String {
    format!("_INBOX_{}", node_token(node))
}

/// Where a joining node asks for its NATS user.
pub const JOIN: &str = "orca.join";
/// The inbox prefix of joining nodes.
pub const JOIN_INBOX: &str = "_INBOX_join";

/// A node's heartbeats (liveness; not written to the log).
pub fn node_heartbeat(node: &str) -> String {
    format!("orca.node.{}.heartbeat", node_token(node))
}

/// Every node's heartbeats.
pub const NODE_HEARTBEATS: &str = "orca.node.*.heartbeat";

/// The node a heartbeat subject names.
pub fn heartbeat_node(subject: &str) -> Option<String> {
    Some(token_node(
        subject.strip_prefix("orca.node.")?.strip_suffix(".heartbeat")?,
    ))
}

/// Log requests served by a node agent.
pub fn node_logs(node: &str) -> String {
    format!("orca.node.{}.logs", node_token(node))
}

/// Exec requests served by a node agent.
pub fn node_exec(node: &str) -> String {
    format!("orca.node.{}.exec", node_token(node))
}

/// Interactive exec sessions opened on a node agent.
pub fn node_exec_session(node: &str) -> String {
    format!("orca.node.{}.exec-session", node_token(node))
}

/// The metrics of a node agent (`nodes/NAME/proxy/metrics`).
pub fn node_metrics(node: &str) -> String {
    format!("orca.node.{}.metrics", node_token(node))
}

/// Input for the stdin of containers on a node agent (`kubectl attach -i`).
pub fn node_attach(node: &str) -> String {
    format!("orca.node.{}.attach", node_token(node))
}

/// A session id on `node`: its subjects lie under the node's token, where only that node's
/// agent may listen and answer.
pub fn exec_session_id(node: &str, unique: &str) -> String {
    format!("{}.{unique}", node_token(node))
}

/// A session's output, sent by the node's agent to the API server.
pub fn exec_output(session: &str) -> String {
    format!("orca.exec.{session}.out")
}

/// A session's input, sent by the API server to the node's agent.
pub fn exec_input(session: &str) -> String {
    format!("orca.exec.{session}.in")
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_live_under_orca() {
        assert_eq!(super::watch_stream("abc"), "orca.watch.abc");
        assert_eq!(super::node_heartbeat("n1"), "orca.node.n1.heartbeat");
        assert!(super::API.starts_with("orca."));
        assert_eq!(
            super::heartbeat_node(&super::node_heartbeat("n1")).as_deref(),
            Some("n1")
        );
        assert_eq!(super::node_heartbeat("a.b"), "orca.node.a_b.heartbeat");
        assert_eq!(super::heartbeat_node("orca.node.a_b.heartbeat").as_deref(), Some("a.b"));
        assert_eq!(
            super::api_subject_node(&super::api_node_watch("a.b")).as_deref(),
            Some("a.b")
        );
        assert_eq!(super::api_subject_node(&super::api_node("n1")).as_deref(), Some("n1"));
    }
}
