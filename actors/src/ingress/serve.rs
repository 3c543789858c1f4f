//! The Ingress HTTP and HTTPS listeners (hyper): each request is routed through the current table
//! and sent to a ready endpoint of its backend over a pool of kept-alive connections; 404 names the
//! host and path nothing matched, 503 the backend with nothing ready, 502 a backend that failed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::RwLock;
use tokio::net::TcpListener;

use super::routes::{NoRoute, Table};
use super::tls::CertResolver;

/// Response bodies: the backend's, or one of ours.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// What the listeners share with the controller.
pub struct Shared {
    /// The routing table, replaced whole on each change.
    pub table: RwLock<Arc<Table>>,
    /// Certificates by SNI.
    pub certs: Arc<CertResolver>,
    client: Client<HttpConnector, Incoming>,
}

impl Shared {
    /// An empty table and a client that keeps backend connections alive.
    pub fn new() -> Arc<Shared> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(http);
        Arc::new(Shared {
            table: RwLock::new(Arc::new(Table::default())),
            certs: Arc::default(),
            client,
        })
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).map_err(|n: Infallible| match n {}).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

async fn handle(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    scheme: &'static str,
) -> Response<Body> {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().host().map(str::to_string))
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let table = shared.table.read().clone();
    let backend = match table.route(&host, &path) {
        Ok(b) => b.clone(),
        Err(NoRoute) => {
            return text(
                StatusCode::NOT_FOUND,
                format!("404 page not found: no Ingress rule matches host {host:?} and path {path:?}, and no Ingress has a defaultBackend\n"),
            )
        }
    };
    let Some(addr) = backend.pick() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("503 service unavailable: {}\n", backend.why_none),
        );
    };
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    match Uri::try_from(format!("http://{addr}{pq}")) {
        Ok(u) => *req.uri_mut() = u,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("400 bad request: {e}\n")),
    }
    let headers = req.headers_mut();
    for h in HOP_BY_HOP {
        headers.remove(*h);
    }
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", v);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static(scheme));
    if let Ok(v) = HeaderValue::from_str(&host) {
        headers.insert("x-forwarded-host", v);
    }
    match shared.client.request(req).await {
        Ok(resp) => resp.map(|b| b.boxed()),
        Err(e) => text(
            StatusCode::BAD_GATEWAY,
            format!("502 bad gateway: backend {addr} of {}: {e}\n", backend.name),
        ),
    }
}

async fn serve_conn<IO>(shared: Arc<Shared>, io: IO, peer: SocketAddr, scheme: &'static str)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(shared, req, peer, scheme).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), svc)
        .await
    {
        tracing::debug!("ingress connection from {peer}: {e}");
    }
}

/// Serves plain HTTP on `listener`.
pub async fn serve_http(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((s, peer)) => {
                let _ = s.set_nodelay(true);
                tokio::spawn(serve_conn(shared.clone(), s, peer, "http"));
            }
            Err(e) => {
                tracing::warn!("ingress: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves HTTPS on `listener` with the certificates of `shared`.
pub async fn serve_https(listener: TcpListener, shared: Arc<Shared>, cfg: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    loop {
        match listener.accept().await {
            Ok((s, peer)) => {
                let _ = s.set_nodelay(true);
                let (acceptor, shared) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    match acceptor.accept(s).await {
                        Ok(tls) => serve_conn(shared, tls, peer, "https").await,
                        Err(e) => tracing::debug!("ingress TLS handshake from {peer}: {e}"),
                    }
                });
            }
            Err(e) => {
                tracing::warn!("ingress: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
