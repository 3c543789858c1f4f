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
    let port = orca_actors::cluster::natsd::free_port()?;
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
