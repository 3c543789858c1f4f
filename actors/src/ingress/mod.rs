//! The Ingress controller of a node agent (class `orca`): follows Ingresses, IngressClasses,
//! Services and EndpointSlices through informers, rebuilds the routing table a few milliseconds
//! after a change, loads the TLS Secrets the Ingresses name, serves HTTP and HTTPS (hyper, rustls)
//! and writes the address and ports it serves on into each Ingress's status.

pub mod routes;
pub mod serve;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use self::routes::{build, ours, Sources, TlsEntry};
use self::serve::Shared;
use crate::api_server::bootstrap::DEFAULT_INGRESS_CLASS;
use crate::bus::client::ApiClient;
use crate::controllers::endpoints::SERVICE_NAME;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};
use crate::runtime::Store;

/// How long changes gather before the table is rebuilt.
pub const GATHER: Duration = Duration::from_millis(5);
/// How often TLS Secrets are read again (a renewed certificate is picked up within this).
pub const TLS_REFRESH: Duration = Duration::from_secs(30);

/// Where the controller listens and what it reports.
#[derive(Debug, Clone)]
pub struct IngressOptions {
    /// HTTP listen address (`0.0.0.0:80`).
    pub http: String,
    /// HTTPS listen address (`0.0.0.0:443`), if any.
    pub https: Option<String>,
    /// The node's address, reported in the Ingresses' status.
    pub host_ip: String,
}

/// The controller actor.
pub struct IngressController {
    api: ApiClient,
    ingresses: Store,
    classes: Store,
    services: Store,
    slices: Store,
    shared: Arc<Shared>,
    pending: bool,
    load_balancer: Value,
    tls_loaded: Vec<TlsEntry>,
}

/// A change of a followed object.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IngressChanged(pub InformerEvent);

impl Actor for IngressController {
    type Context = Context<Self>;
}

impl Handler<IngressChanged> for IngressController {
    type Result = ();
    fn handle(&mut self, _: IngressChanged, ctx: &mut Context<Self>) {
        self.schedule(ctx);
    }
}

async fn listen(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("ingress cannot listen on {addr}: {e}"))
}

impl IngressController {
    /// Binds the listeners, starts serving and starts the controller under a supervisor; returns
    /// it with the HTTP and HTTPS ports bound.
    pub async fn start(
        api: ApiClient,
        opts: IngressOptions,
    ) -> Result<(Supervised<IngressController>, u16, Option<u16>), String> {
        let shared = Shared::new();
        let http = listen(&opts.http).await?;
        let http_port = http.local_addr().map_err(|e| e.to_string())?.port();
        let mut ports = vec![json!({"port": http_port, "protocol": "TCP"})];
        let mut https_port = None;
        if let Some(addr) = &opts.https {
            let l = listen(addr).await?;
            let port = l.local_addr().map_err(|e| e.to_string())?.port();
            ports.push(json!({"port": port, "protocol": "TCP"}));
            https_port = Some(port);
            let cfg = tls::server_config(shared.certs.clone())?;
            tokio::spawn(serve::serve_https(l, shared.clone(), cfg));
        }
        tokio::spawn(serve::serve_http(http, shared.clone()));
        let load_balancer = json!({"ingress": [{"ip": opts.host_ip, "ports": ports}]});
        let sup = supervise("ingress-controller", move |ctx: &mut Context<IngressController>| {
            let stores: [Store; 4] = Default::default();
            let paths = [
                "/apis/networking.k8s.io/v1/ingresses",
                "/apis/networking.k8s.io/v1/ingressclasses",
                "/api/v1/services",
                "/apis/discovery.k8s.io/v1/endpointslices",
            ];
            for (path, store) in paths.iter().zip(stores.iter()) {
                let s = informer::start(api.clone(), InformerSpec::new(path, ""), store.clone());
                ctx.add_message_stream(futures::StreamExt::map(s, IngressChanged));
            }
            ctx.run_interval(TLS_REFRESH, |act, ctx| {
                act.tls_loaded.clear();
                act.schedule(ctx);
            });
            let [ingresses, classes, services, slices] = stores;
            IngressController {
                api: api.clone(),
                ingresses,
                classes,
                services,
                slices,
                shared: shared.clone(),
                pending: false,
                load_balancer: load_balancer.clone(),
                tls_loaded: Vec::new(),
            }
        });
        Ok((sup, http_port, https_port))
    }

    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if self.pending {
            return;
        }
        self.pending = true;
        ctx.run_later(GATHER, |act, ctx| {
            act.pending = false;
            act.rebuild(ctx);
        });
    }

    fn served(&self) -> Vec<Value> {
        let orca_is_default = self
            .classes
            .get(&(String::new(), DEFAULT_INGRESS_CLASS.to_string()))
            .and_then(|c| c.view::<Value>().ok())
            .is_some_and(|c| c["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true");
        let mut out: Vec<Value> = self
            .ingresses
            .list(None)
            .iter()
            .filter_map(|c| c.view::<Value>().ok())
            .filter(|i| ours(i, orca_is_default))
            .collect();
        out.sort_by(|a, b| {
            let key = |v: &Value| {
                (
                    v["metadata"]["creationTimestamp"].as_str().unwrap_or("").to_string(),
                    v["metadata"]["name"].as_str().unwrap_or("").to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        out
    }

    fn rebuild(&mut self, ctx: &mut Context<Self>) {
        let served = self.served();
        // Only the Services the Ingresses name are read.
        let mut wanted: HashSet<(String, String)> = HashSet::new();
        for ing in &served {
            let ns = ing["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
            let mut add = |b: &Value| {
                if let Some(n) = b["service"]["name"].as_str() {
                    wanted.insert((ns.clone(), n.to_string()));
                }
            };
            add(&ing["spec"]["defaultBackend"]);
            for r in ing["spec"]["rules"].as_array().into_iter().flatten() {
                for p in r["http"]["paths"].as_array().into_iter().flatten() {
                    add(&p["backend"]);
                }
            }
        }
        let mut services = HashMap::new();
        let mut slices: HashMap<(String, String), Vec<Value>> = HashMap::new();
        for key in &wanted {
            if let Some(v) = self.services.get(key).and_then(|c| c.view::<Value>().ok()) {
                services.insert(key.clone(), v);
            }
        }
        let namespaces: HashSet<&String> = wanted.iter().map(|(ns, _)| ns).collect();
        for ns in namespaces {
            for s in self.slices.list(Some(ns)) {
                let Some(svc) = s.header.label(SERVICE_NAME) else {
                    continue;
                };
                let key = (ns.clone(), svc.to_string());
                if wanted.contains(&key) {
                    if let Ok(v) = s.view::<Value>() {
                        slices.entry(key).or_default().push(v);
                    }
                }
            }
        }
        let table = build(
            &served,
            &Sources {
                services: &services,
                slices: &slices,
            },
        );
        if table.tls != self.tls_loaded {
            self.tls_loaded = table.tls.clone();
            let (api, certs, entries) = (self.api.clone(), self.shared.certs.clone(), table.tls.clone());
            ctx.spawn(async move { load_certs(&api, &certs, &entries).await }.into_actor(self));
        }
        *self.shared.table.write() = Arc::new(table);
        self.report(ctx, &served);
    }

    /// Adds this node's address and ports to each served Ingress that lacks them.
    fn report(&self, ctx: &mut Context<Self>, served: &[Value]) {
        let mine = &self.load_balancer["ingress"][0];
        for ing in served {
            let current = ing["status"]["loadBalancer"]["ingress"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if current.iter().any(|e| e == mine) {
                continue;
            }
            // Other nodes' entries stay, also one with this address but other ports (another agent
            // on this machine): replacing it would make the two agents overwrite each other forever.
            let mut list = current;
            list.push(mine.clone());
            let path = format!(
                "/apis/networking.k8s.io/v1/namespaces/{}/ingresses/{}",
                ing["metadata"]["namespace"].as_str().unwrap_or("default"),
                ing["metadata"]["name"].as_str().unwrap_or("")
            );
            let api = self.api.clone();
            let status = json!({"loadBalancer": {"ingress": list}});
            ctx.spawn(
                async move {
                    if let Err(e) = crate::runtime::write::merge_status(&api, &path, &status).await {
                        tracing::warn!("ingress status of {path}: {e}");
                    }
                }
                .into_actor(self),
            );
        }
    }
}

async fn load_certs(api: &ApiClient, certs: &tls::CertResolver, entries: &[TlsEntry]) {
    let mut loaded = Vec::new();
    for e in entries {
        let path = format!("/api/v1/namespaces/{}/secrets/{}", e.namespace, e.secret);
        let got = match api.call("GET", &path, "", None).await {
            Ok(a) if a.status == 200 => a,
            Ok(a) => {
                tracing::warn!("ingress TLS: {path}: {}", a.status);
                continue;
            }
            Err(err) => {
                tracing::warn!("ingress TLS: {path}: {err}");
                continue;
            }
        };
        match serde_json::from_slice::<Value>(&got.body)
            .map_err(|e| e.to_string())
            .and_then(|s| tls::from_secret(&s))
        {
            Ok(key) => loaded.push(tls::Loaded {
                hosts: e.hosts.clone(),
                key,
            }),
            Err(err) => tracing::warn!("ingress TLS: secret {}/{}: {err}", e.namespace, e.secret),
        }
    }
    certs.set(loaded);
}
