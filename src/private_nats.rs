//! The private nats-server `orca up` runs, with its users: the control plane, joining nodes and
//! the local agent's key.

use anyhow::{Context, Result};
use orca_actors::cluster::natsd::NatsServer;

/// Who connects to NATS how: the control plane, the agent `orca up` runs, and the users nodes
/// join as (a private, secured nats-server).
#[derive(Default)]
pub struct NatsSecurity {
    pub plane: orca_actors::bus::Credentials,
    pub agent: orca_actors::bus::Credentials,
    pub join: Option<(orca_actors::cluster::nats_auth::NatsAuth, u32)>,
}

/// Starts the private nats-server with users: the control plane, joining nodes and the local
/// agent's key (registered here, so it needs no join).
pub fn start(
    data_dir: &std::path::Path,
    agent: Option<(&str, &std::path::Path)>,
) -> Result<(NatsServer, NatsSecurity)> {
    use orca_actors::bus::Credentials;
    use orca_actors::cluster::nats_auth::{NatsAuth, CONTROL_PLANE_USER};
    let users = NatsAuth::ensure(&data_dir.join("nats")).map_err(anyhow::Error::msg)?;
    let mut agent_creds = Credentials::None;
    if let Some((name, dir)) = agent {
        let (seed, public) = orca_actors::cluster::join::local_node_key(dir).map_err(anyhow::Error::msg)?;
        users.set_node(name, &public).map_err(anyhow::Error::msg)?;
        agent_creds = Credentials::NodeKey {
            node: name.to_string(),
            seed,
        };
    }
    let config = users.write_config().map_err(anyhow::Error::msg)?;
    // The same port as last time when it is free, so that joined agents (whose token names it)
    // find the cluster again after `orca up` restarts.
    let port_file = users.dir.join("port");
    let kept = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok());
    let port = match kept {
        Some(p) => p,
        None => orca_actors::cluster::natsd::free_port()?,
    };
    std::fs::write(&port_file, port.to_string()).with_context(|| format!("writing {}", port_file.display()))?;
    let nats = NatsServer::start_with_config(port, &config).context("failed to start the private NATS server")?;
    let security = NatsSecurity {
        plane: Credentials::Password {
            user: CONTROL_PLANE_USER.into(),
            password: users.control_plane_password().map_err(anyhow::Error::msg)?,
        },
        agent: agent_creds,
        join: Some((users, nats.pid())),
    };
    Ok((nats, security))
}
