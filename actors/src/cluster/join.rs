//! Nodes joining a secured NATS: a node presents the join secret and its public nkey on
//! `orca.join`; the control plane adds a user for that key with the node's own permissions,
//! makes nats-server read its configuration again and answers. Nothing in the answer is secret.

use std::sync::Arc;

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::nats_auth::NatsAuth;
use crate::bus::subjects;

/// What a joining node sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub node: String,
    pub nkey: String,
    pub secret: String,
}

/// The answer: empty `error` when the node may now connect with its nkey.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinAnswer {
    pub error: String,
}

/// Serves `orca.join`.
pub struct JoinService {
    auth: NatsAuth,
    nats: async_nats::Client,
    /// Makes nats-server read its configuration again.
    reload: Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>,
}

impl Actor for JoinService {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Asked(async_nats::Message);

impl JoinService {
    /// Subscribes and starts the actor.
    pub async fn start(
        auth: NatsAuth,
        nats: async_nats::Client,
        reload: Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>,
    ) -> Result<Addr<JoinService>, String> {
        let sub = nats
            .subscribe(subjects::JOIN)
            .await
            .map_err(|e| format!("subscribing to {}: {e}", subjects::JOIN))?;
        Ok(JoinService::create(move |ctx| {
            ctx.add_message_stream(futures::StreamExt::map(sub, Asked));
            JoinService { auth, nats, reload }
        }))
    }

    fn admit(&self, req: &JoinRequest) -> Result<(), String> {
        let secret = self.auth.join_secret()?;
        let same = secret.len() == req.secret.len()
            && secret
                .bytes()
                .zip(req.secret.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err("the join token is not this cluster's".into());
        }
        orca_schemas::validate::names::dns1123_subdomain(&req.node)
            .map_err(|e| format!("node name {:?}: {e}", req.node))?;
        if self.auth.add_node(&req.node, &req.nkey)? {
            self.auth.write_config()?;
            (self.reload)().map_err(|e| format!("reloading nats-server: {e}"))?;
            tracing::info!("node {} joined", req.node);
        }
        Ok(())
    }
}

impl Handler<Asked> for JoinService {
    type Result = ();
    fn handle(&mut self, Asked(msg): Asked, _: &mut Context<Self>) {
        let Some(reply) = msg.reply.clone() else { return };
        let answer = match serde_json::from_slice::<JoinRequest>(&msg.payload) {
            Ok(req) => JoinAnswer {
                error: self.admit(&req).err().unwrap_or_default(),
            },
            Err(e) => JoinAnswer {
                error: format!("malformed join request: {e}"),
            },
        };
        let nats = self.nats.clone();
        let body = serde_json::to_vec(&answer).unwrap_or_default();
        actix::spawn(async move {
            let _ = nats.publish(reply, body.into()).await;
        });
    }
}

/// Joins: asks the control plane (as the join user) to admit `node` with `nkey_public`.
pub async fn ask(nats_url: &str, secret: &str, node: &str, nkey_public: &str) -> Result<(), String> {
    let joiner = async_nats::ConnectOptions::new()
        .name(format!("orca-join-{node}"))
        .user_and_password(super::nats_auth::JOIN_USER.into(), secret.into())
        .custom_inbox_prefix(subjects::JOIN_INBOX)
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(nats_url)
        .await
        .map_err(|e| format!("joining through {nats_url}: {e} (is the join token right?)"))?;
    let req = JoinRequest {
        node: node.into(),
        nkey: nkey_public.into(),
        secret: secret.into(),
    };
    let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    let msg = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        joiner.request(subjects::JOIN, body.into()),
    )
    .await
    .map_err(|_| "no answer to the join request within 10 s".to_string())?
    .map_err(|e| format!("join request: {e}"))?;
    let answer: JoinAnswer = serde_json::from_slice(&msg.payload).map_err(|e| format!("join answer: {e}"))?;
    if answer.error.is_empty() {
        Ok(())
    } else {
        Err(answer.error)
    }
}

/// The node's NATS credentials from its data directory (`nats.nk`), joining first when it has
/// none and a join token (`nats URL`, secret) is given. Without either: an open NATS.
pub async fn node_credentials(
    data_dir: &std::path::Path,
    node: &str,
    join: Option<(&str, &str)>,
) -> Result<crate::bus::Credentials, String> {
    let path = data_dir.join("nats.nk");
    if let Ok(seed) = std::fs::read_to_string(&path) {
        return Ok(crate::bus::Credentials::NodeKey {
            node: node.into(),
            seed: seed.trim().into(),
        });
    }
    let Some((url, secret)) = join else {
        return Ok(crate::bus::Credentials::None);
    };
    let key = nkeys::KeyPair::new_user();
    let seed = key.seed().map_err(|e| e.to_string())?;
    ask(url, secret, node, &key.public_key()).await?;
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    crate::auth::pki::write_private(&path, &seed)?;
    admitted(url, node, &seed).await?;
    Ok(crate::bus::Credentials::NodeKey {
        node: node.into(),
        seed,
    })
}

/// Waits until nats-server has read its new users and takes the node's key (it reloads its
/// configuration on a signal, a moment after the control plane answered).
async fn admitted(url: &str, node: &str, seed: &str) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let attempt = async_nats::ConnectOptions::with_nkey(seed.to_string())
            .custom_inbox_prefix(subjects::node_inbox(node))
            .connection_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await;
        match attempt {
            Ok(_) => return Ok(()),
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(format!("joined, but nats-server does not take the node's key yet: {e}"))
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// The seed of `data_dir`'s node key, made when missing (for the agent `orca up` runs itself,
/// which the control plane registers directly).
pub fn local_node_key(data_dir: &std::path::Path) -> Result<(String, String), String> {
    let path = data_dir.join("nats.nk");
    let seed = match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().to_string(),
        Err(_) => {
            let seed = nkeys::KeyPair::new_user().seed().map_err(|e| e.to_string())?;
            std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
            crate::auth::pki::write_private(&path, &seed)?;
            seed
        }
    };
    let public = nkeys::KeyPair::from_seed(&seed)
        .map_err(|e| e.to_string())?
        .public_key();
    Ok((seed, public))
}
