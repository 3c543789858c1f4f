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

/// A node's heartbeats (liveness; not written to the log).
pub fn node_heartbeat(node: &str) -> String {
    format!("orca.node.{node}.heartbeat")
}

/// Every node's heartbeats.
pub const NODE_HEARTBEATS: &str = "orca.node.*.heartbeat";

/// The node a heartbeat subject names.
pub fn heartbeat_node(subject: &str) -> Option<&str> {
    subject.strip_prefix("orca.node.")?.strip_suffix(".heartbeat")
}

/// Log requests served by a node agent.
pub fn node_logs(node: &str) -> String {
    format!("orca.node.{node}.logs")
}

/// Exec requests served by a node agent.
pub fn node_exec(node: &str) -> String {
    format!("orca.node.{node}.exec")
}

/// Interactive exec sessions opened on a node agent.
pub fn node_exec_session(node: &str) -> String {
    format!("orca.node.{node}.exec-session")
}

/// Input for the stdin of containers on a node agent (`kubectl attach -i`).
pub fn node_attach(node: &str) -> String {
    format!("orca.node.{node}.attach")
}

/// A session's output, sent by the agent to the API server.
pub fn exec_output(session: &str) -> String {
    format!("orca.exec.{session}.out")
}

/// A session's input, sent by the API server to the agent.
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
        assert_eq!(super::heartbeat_node(&super::node_heartbeat("n1")), Some("n1"));
    }
}
