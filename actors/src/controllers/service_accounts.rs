//! The ServiceAccount controller: every namespace has a `default` ServiceAccount, and every
//! ServiceAccount a token Secret `NAME-token` (type `kubernetes.io/service-account-token`, with
//! `token`, `ca.crt` and `namespace`), made again when the ServiceAccount is recreated. Node agents
//! mount it into runc pods at `/var/run/secrets/kubernetes.io/serviceaccount`.

use std::sync::Arc;

use actix::prelude::*;
use base64::Engine;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::{write, Action, Controller, Enqueue, Key, Reconciler, Store};

/// Where the cluster CA is published for pods and controllers.
pub const ROOT_CA: (&str, &str) = ("kube-system", "kube-root-ca.crt");
/// Lifetime of the tokens kept in Secrets (they end sooner with their ServiceAccount).
const TOKEN_SECONDS: u64 = 10 * 365 * 24 * 3600;
/// The annotation naming the ServiceAccount's uid on its token Secret.
const SA_UID: &str = "kubernetes.io/service-account.uid";

/// The token Secret of ServiceAccount `sa`.
pub fn token_secret(sa: &str) -> String {
    format!("{sa}-token")
}

/// The reconciler, keyed by namespace.
pub struct ServiceAccountSync {
    api: ApiClient,
    namespaces: Store,
    accounts: Store,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

impl ServiceAccountSync {
    async fn ensure_token(&self, ns: &str, sa: &str, uid: &str, ca: &str) -> Result<(), String> {
        let name = token_secret(sa);
        let path = format!("/api/v1/namespaces/{ns}/secrets/{name}");
        let current = self.api.call("GET", &path, "", None).await.map_err(|e| e.to_string())?;
        if current.status == 200 {
            let v: Value = serde_json::from_slice(&current.body).map_err(|e| e.to_string())?;
            if v["metadata"]["annotations"][SA_UID] == uid {
                return Ok(());
            }
        }
        let req = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": TOKEN_SECONDS}});
        let a = self
            .api
            .call(
                "POST",
                &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"),
                "",
                Some(&req),
            )
            .await
            .map_err(|e| e.to_string())?;
        if a.status != 201 {
            return Err(format!(
                "token for {ns}/{sa}: {}",
                crate::bus::client::status_message(&a.body)
            ));
        }
        let answer: Value = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
        let token = answer["status"]["token"].as_str().unwrap_or_default();
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": name, "namespace": ns,
                "annotations": {"kubernetes.io/service-account.name": sa, SA_UID: uid}},
            "data": {"token": b64(token), "ca.crt": b64(ca), "namespace": b64(ns)}});
        write::upsert(&self.api, &format!("/api/v1/namespaces/{ns}/secrets"), &name, &secret).await
    }

    async fn sync(&self, key: &Key) -> Result<Action, String> {
        let ns = key.1.clone();
        let Some(n) = self.namespaces.get(key) else {
            return Ok(Action::Done);
        };
        if n.header.deleting {
            return Ok(Action::Done);
        }
        let collection = format!("/api/v1/namespaces/{ns}/serviceaccounts");
        if self.accounts.get(&(ns.clone(), "default".into())).is_none() {
            let sa =
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
            let a = self
                .api
                .call("POST", &collection, "", Some(&sa))
                .await
                .map_err(|e| e.to_string())?;
            if !matches!(a.status, 201 | 409) {
                return Err(format!(
                    "default ServiceAccount of {ns}: {}",
                    crate::bus::client::status_message(&a.body)
                ));
            }
        }
        let (ca_ns, ca_name) = ROOT_CA;
        let ca = self
            .api
            .call(
                "GET",
                &format!("/api/v1/namespaces/{ca_ns}/configmaps/{ca_name}"),
                "",
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
        let ca: Value = serde_json::from_slice(&ca.body).unwrap_or_default();
        let ca = ca["data"]["ca.crt"].as_str().unwrap_or_default().to_string();
        for sa in self.accounts.list(Some(&ns)) {
            if sa.header.deleting {
                continue;
            }
            self.ensure_token(&ns, &sa.key.1, &sa.uid, &ca).await?;
        }
        Ok(Action::Done)
    }
}

impl Reconciler for ServiceAccountSync {
    type Key = Key;

    fn name(&self) -> &'static str {
        "serviceaccount-controller"
    }

    fn reconcile(self: Arc<Self>, key: Key) -> BoxFuture<'static, Result<Action, String>> {
        async move { self.sync(&key).await }.boxed()
    }
}

/// Feeds the controller from namespace and ServiceAccount informers.
pub struct ServiceAccounts {
    controller: Addr<Controller<ServiceAccountSync>>,
}

/// A change seen by one of the informers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Changed(pub InformerEvent);

impl Actor for ServiceAccounts {
    type Context = Context<Self>;
}

impl ServiceAccounts {
    /// Starts the controller under a supervisor.
    pub fn start(api: ApiClient) -> Supervised<ServiceAccounts> {
        let (namespaces, accounts) = (Store::default(), Store::default());
        let sync = ServiceAccountSync {
            api: api.clone(),
            namespaces: namespaces.clone(),
            accounts: accounts.clone(),
        };
        let controller = Supervisor::start(move |_| Controller::new(sync, 2));
        supervise(
            "serviceaccount-controller",
            move |ctx: &mut Context<ServiceAccounts>| {
                let ns_events = informer::start(
                    api.clone(),
                    InformerSpec::new("/api/v1/namespaces", ""),
                    namespaces.clone(),
                );
                let sa_events = informer::start(
                    api.clone(),
                    InformerSpec::new("/api/v1/serviceaccounts", ""),
                    accounts.clone(),
                );
                ctx.add_message_stream(futures::StreamExt::map(ns_events, Changed));
                ctx.add_message_stream(futures::StreamExt::map(sa_events, Changed));
                ServiceAccounts {
                    controller: controller.clone(),
                }
            },
        )
    }
}

impl Handler<Changed> for ServiceAccounts {
    type Result = ();
    fn handle(&mut self, Changed(ev): Changed, _: &mut Context<Self>) {
        for d in ev.into_deltas() {
            // A namespace's key is ("", name); a ServiceAccount's namespace is its key's first part.
            let ns = if d.key.0.is_empty() {
                d.key.1.clone()
            } else {
                d.key.0.clone()
            };
            self.controller.do_send(Enqueue((String::new(), ns)));
        }
    }
}
