//! The users of the private nats-server `orca up` runs: the control plane (everything), joining
//! nodes (a join secret: they may only ask to join), and one nkey user per joined node that may
//! only publish its own heartbeats and API calls, answer the requests sent to it, and listen on
//! its own subjects and inbox. Kept in `DATA/nats`; the configuration is written from it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::auth::pki::write_private;
use crate::auth::tokens::hex;
use crate::bus::subjects;

/// The control plane's NATS user.
pub const CONTROL_PLANE_USER: &str = "orca-control-plane";
/// The user nodes join as.
pub const JOIN_USER: &str = "orca-join";

/// The NATS users of a cluster.
#[derive(Debug, Clone)]
pub struct NatsAuth {
    pub dir: PathBuf,
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

/// What node `node`'s user may do.
pub fn node_permissions(node: &str) -> String {
    let t = subjects::node_token(node);
    let publish = [
        subjects::api_node(node),
        subjects::api_node_watch(node),
        "orca.api.parts.*".to_string(),
        subjects::node_heartbeat(node),
        format!("orca.exec.{t}.*.out"),
    ];
    let subscribe = [
        format!("orca.node.{t}.>"),
        format!("{}>", subjects::node_watch_stream(node, "")),
        format!("orca.exec.{t}.*.in"),
        format!("{}.>", subjects::node_inbox(node)),
    ];
    format!(
        "permissions: {{publish: {{allow: [{}]}}, subscribe: {{allow: [{}]}}, allow_responses: true}}",
        quoted(&publish),
        quoted(&subscribe)
    )
}

impl NatsAuth {
    /// Opens `dir`, making the control plane's password and the join secret on first use.
    pub fn ensure(dir: &Path) -> Result<NatsAuth, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let auth = NatsAuth { dir: dir.to_path_buf() };
        for name in ["control-plane.pass", "join.secret"] {
            if !auth.dir.join(name).exists() {
                let secret: [u8; 24] = rand::random();
                write_private(&auth.dir.join(name), &hex(&secret))?;
            }
        }
        Ok(auth)
    }

    /// The control plane's password.
    pub fn control_plane_password(&self) -> Result<String, String> {
        read(&self.dir.join("control-plane.pass"))
    }

    /// The secret a joining node presents.
    pub fn join_secret(&self) -> Result<String, String> {
        read(&self.dir.join("join.secret"))
    }

    /// Joined nodes and their public nkeys.
    pub fn nodes(&self) -> BTreeMap<String, String> {
        read(&self.dir.join("nodes.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Registers `node` with the public nkey `nkey`; a node already joined with another key is
    /// refused. Returns whether anything changed.
    pub fn add_node(&self, node: &str, nkey: &str) -> Result<bool, String> {
        if nkeys::KeyPair::from_public_key(nkey).is_err() || !nkey.starts_with('U') {
            return Err(format!("{nkey} is not a NATS user's public nkey"));
        }
        let mut nodes = self.nodes();
        match nodes.get(node) {
            Some(k) if k == nkey => return Ok(false),
            Some(_) => {
                return Err(format!(
                    "node {node} has already joined with another key; remove it from {} to let another machine take the name",
                    self.dir.join("nodes.json").display()
                ))
            }
            None => {}
        }
        nodes.insert(node.to_string(), nkey.to_string());
        let text = serde_json::to_string_pretty(&nodes).map_err(|e| e.to_string())?;
        write_private(&self.dir.join("nodes.json"), &text)?;
        Ok(true)
    }

    /// Registers `node`'s key, replacing any other (the agent `orca up` runs itself).
    pub fn set_node(&self, node: &str, nkey: &str) -> Result<(), String> {
        let mut nodes = self.nodes();
        nodes.insert(node.to_string(), nkey.to_string());
        let text = serde_json::to_string_pretty(&nodes).map_err(|e| e.to_string())?;
        write_private(&self.dir.join("nodes.json"), &text)
    }

    /// The nats-server configuration.
    pub fn config(&self) -> Result<String, String> {
        let mut users = vec![
            format!("{{user: \"{CONTROL_PLANE_USER}\", password: \"{}\"}}", self.control_plane_password()?),
            format!(
                "{{user: \"{JOIN_USER}\", password: \"{}\", permissions: {{publish: {{allow: [\"{}\"]}}, subscribe: {{allow: [\"{}.>\"]}}}}}}",
                self.join_secret()?,
                subjects::JOIN,
                subjects::JOIN_INBOX
            ),
        ];
        for (node, key) in self.nodes() {
            users.push(format!("{{nkey: \"{key}\", {}}}", node_permissions(&node)));
        }
        Ok(format!(
            "# Written by orca from {}; edits are overwritten.\nauthorization {{\n  users = [\n    {}\n  ]\n}}\n",
            self.dir.display(),
            users.join("\n    ")
        ))
    }

    /// Writes the configuration; returns its path.
    pub fn write_config(&self) -> Result<PathBuf, String> {
        let path = self.dir.join("nats.conf");
        write_private(&path, &self.config()?)?;
        Ok(path)
    }
}

/// The token `orca agent --join` takes: the join secret and where NATS listens.
pub fn join_token(secret: &str, nats_url: &str) -> String {
    format!("{secret}@{}", nats_url.trim_start_matches("nats://"))
}

/// The NATS URL and secret of a join token.
pub fn parse_join_token(token: &str) -> Option<(String, String)> {
    let (secret, addr) = token.rsplit_once('@')?;
    (!secret.is_empty() && !addr.is_empty()).then(|| (format!("nats://{addr}"), secret.to_string()))
}
