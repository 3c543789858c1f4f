//! Who may call: the authenticator and policy an API core holds, and the authorization of calls
//! that come over NATS (node agents by the node authorizer, others by RBAC).

use serde_json::Value;

use super::{ApiCore, ApiError, ApiRequest, ApiResult};

impl ApiCore {
    /// Authenticates and authorizes HTTP callers with `auth`.
    pub fn with_auth(mut self, auth: std::sync::Arc<crate::auth::Auth>) -> ApiCore {
        self.auth = Some(auth);
        self
    }

    /// Authorizes a call that came over NATS: a node's by the node authorizer (a Node it creates
    /// must be itself), the control plane's own (no identity) as trusted.
    pub fn authorize_call(&self, req: &ApiRequest) -> ApiResult<()> {
        let Some(who) = &req.identity else { return Ok(()) };
        let what = crate::auth::attributes::of_request(&req.method, &req.path, &req.query);
        let projection = self.log.projection();
        let decision = match who.user.strip_prefix(crate::auth::node_authz::NODE_PREFIX) {
            Some(node) => crate::auth::node_authz::decide(&projection, node, &what).and_then(|()| {
                let creates_node = what.resource == "nodes" && what.verb == "create";
                let named = serde_json::from_slice::<Value>(&req.body)
                    .ok()
                    .and_then(|b| b["metadata"]["name"].as_str().map(str::to_string));
                match named {
                    Some(n) if creates_node && n != node => Err(format!("node \"{node}\" cannot create Node \"{n}\"")),
                    _ => Ok(()),
                }
            }),
            None => match &self.auth {
                Some(auth) => auth.policy.get(&projection).decide(who, &what).map(|_| ()),
                None => Ok(()),
            },
        };
        decision.map_err(ApiError::forbidden)
    }

    /// How callers are authenticated, if they are.
    pub fn auth(&self) -> Option<&std::sync::Arc<crate::auth::Auth>> {
        self.auth.as_ref()
    }

    /// Serves reads only (a replayed data directory): every write gets 405.
    pub fn read_only(mut self) -> ApiCore {
        self.read_only = true;
        self
    }

    /// Gives the API the NATS connection it proxies pod logs and exec through.
    pub fn with_nats(mut self, nats: async_nats::Client) -> ApiCore {
        self.nats = Some(nats);
        self
    }
}
