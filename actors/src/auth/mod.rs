//! Who calls the API and what they may do: the cluster PKI, client certificates and bearer tokens
//! (authentication), request attributes and RBAC (authorization).

pub mod attributes;
pub mod escalation;
pub mod node_authz;
pub mod pki;
pub mod rbac;
pub mod roles;
pub mod tls;
pub mod tokens;
pub mod x509;

use std::sync::Arc;

pub use attributes::Attributes;

/// Every authenticated caller is in this group.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The user of a request without credentials.
pub const ANONYMOUS: &str = "system:anonymous";

/// An authenticated caller: Kubernetes' user.Info.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub user: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl Identity {
    /// An authenticated user in `groups` (and `system:authenticated`).
    pub fn new(user: &str, uid: &str, mut groups: Vec<String>) -> Identity {
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.to_string());
        }
        Identity {
            user: user.to_string(),
            uid: uid.to_string(),
            groups,
        }
    }

    /// A caller without credentials.
    pub fn anonymous() -> Identity {
        Identity {
            user: ANONYMOUS.to_string(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".to_string()],
        }
    }

    /// Who a plain-HTTP development server takes every caller without credentials for.
    pub fn insecure_admin() -> Identity {
        Identity::new("system:admin", "", vec![pki::MASTERS.to_string()])
    }

    /// Whether the caller may do anything (`system:masters`).
    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == pki::MASTERS)
    }

    /// Whether the caller presented no credentials.
    pub fn is_anonymous(&self) -> bool {
        self.user == ANONYMOUS
    }
}

/// How the API server authenticates: the token key, static tokens, and whether callers without
/// credentials are admins (`--insecure-http`, loopback only).
pub struct Auth {
    pub token_key: Vec<u8>,
    pub static_tokens: tokens::StaticTokens,
    pub insecure: bool,
    pub policy: rbac::PolicyCache,
}

impl Auth {
    /// Authentication with the given token key and static tokens.
    pub fn new(token_key: Vec<u8>, static_tokens: tokens::StaticTokens, insecure: bool) -> Arc<Auth> {
        Arc::new(Auth {
            token_key,
            static_tokens,
            insecure,
            policy: Default::default(),
        })
    }

    /// The caller of a request: a verified client certificate's subject, else its bearer token,
    /// else anonymous (an admin on an insecure server). A token that names no one is an error.
    pub fn authenticate(
        &self,
        cert: Option<&(String, Vec<String>)>,
        bearer: Option<&str>,
        log: &crate::eventlog::EventLog,
    ) -> Result<Identity, String> {
        if let Some((user, groups)) = cert {
            return Ok(Identity::new(user, "", groups.clone()));
        }
        let Some(token) = bearer else {
            return Ok(if self.insecure {
                Identity::insecure_admin()
            } else {
                Identity::anonymous()
            });
        };
        if let Some(id) = self.static_tokens.get(token) {
            return Ok(id.clone());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claim = tokens::verify(&self.token_key, token, now).ok_or("invalid bearer token")?;
        let sa = log
            .projection()
            .get("ServiceAccount", &claim.namespace, &claim.name)
            .filter(|ev| ev.uid == claim.uid)
            .ok_or("the token's ServiceAccount no longer exists")?;
        let ns = &sa.namespace;
        Ok(Identity::new(
            &format!("system:serviceaccount:{ns}:{}", sa.name),
            &claim.uid,
            vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")],
        ))
    }
}
