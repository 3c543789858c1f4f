//! The HTTP front of the API server (actix-web): Kubernetes paths, JSON or YAML, chunked watches.

use std::net::SocketAddr;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::{json, Value};

use super::discovery;
use super::request::MAX_BODY;
use super::{ApiCore, ApiError, ApiRequest, ApiResponse, Reply};

/// orca's version, as `/version` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn wants_yaml(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("yaml") && !a.starts_with("application/json"))
}

fn respond(resp: ApiResponse, yaml: bool) -> HttpResponse {
    let code = actix_web::http::StatusCode::from_u16(resp.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = HttpResponse::build(code);
    for w in &resp.warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{}\"", w.replace('"', "'"))) {
            b.append_header((header::WARNING, v));
        }
    }
    if let Some(offset) = resp.offset {
        return b
            .content_type("text/plain; charset=utf-8")
            .insert_header(("x-orca-log-offset", offset.to_string()))
            .body(resp.body);
    }
    if yaml {
        let text = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| serde_yaml_ng::to_string(&v).ok())
            .unwrap_or_default();
        b.content_type("application/yaml").body(text)
    } else {
        b.content_type("application/json").body(resp.body)
    }
}

pub(super) async fn api(req: HttpRequest, mut payload: web::Payload, core: web::Data<ApiCore>) -> HttpResponse {
    let yaml = wants_yaml(&req);
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(c) => {
                if body.len() + c.len() > MAX_BODY {
                    return respond(ApiResponse::error(&ApiError::too_large(MAX_BODY)), yaml);
                }
                body.extend_from_slice(&c);
            }
            Err(e) => {
                return respond(
                    ApiResponse::error(&ApiError::bad_request(format!("failed to read the request body: {e}"))),
                    yaml,
                )
            }
        }
    }
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    // The log records who the guard authenticated, never what a header claims.
    let who = super::guard::identity(&req);
    let api_req = ApiRequest {
        method: req.method().as_str().to_string(),
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        content_type: header(header::CONTENT_TYPE),
        actor: who.user.clone(),
        identity: Some(who),
        body: body.freeze(),
    };
    let table_path = super::events_v1::core_path(req.path()).unwrap_or_else(|| req.path().to_string());
    let table = (req.method() == actix_web::http::Method::GET && wants_table(&req))
        .then(|| super::routes::parse(&table_path).ok())
        .flatten()
        .filter(|r| r.subresource.is_none() || r.subresource.as_deref() == Some("status"))
        .map(|r| {
            let include = crate::printers::table::Include::parse(
                req.query_string()
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("includeObject=")),
            );
            (r.rt.kind, include)
        });
    match core.handle(api_req).await {
        Reply::Done(mut resp) => {
            if let (Some((kind, include)), 200) = (table, resp.status) {
                if let Some(t) = as_table(kind, &resp.body, include) {
                    resp.body = t;
                }
            }
            respond(resp, yaml)
        }
        Reply::Watch(lines) => {
            let stream = lines.map(move |(_, line)| {
                let Some((kind, include)) = table else {
                    return Ok::<Bytes, actix_web::Error>(line);
                };
                // Each event's object becomes a one-row Table.
                let mut ev: Value = match serde_json::from_slice(&line) {
                    Ok(v) => v,
                    Err(_) => return Ok(line),
                };
                if matches!(ev["type"].as_str(), Some("ADDED" | "MODIFIED" | "DELETED")) {
                    let obj = std::mem::take(&mut ev["object"]);
                    let rv = obj["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
                    ev["object"] = crate::printers::table::table(kind, &[obj], &rv, include, None);
                }
                let mut out = serde_json::to_vec(&ev).unwrap_or_default();
                out.push(b'\n');
                Ok(Bytes::from(out))
            });
            let content_type = if req.path().ends_with("/log") {
                "text/plain"
            } else {
                "application/json"
            };
            HttpResponse::Ok()
                .content_type(content_type)
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .streaming(stream)
        }
    }
}

fn accept(req: &HttpRequest) -> &str {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether the client asks for a `meta.k8s.io` Table (kubectl's `get`).
fn wants_table(req: &HttpRequest) -> bool {
    accept(req)
        .split(',')
        .next()
        .is_some_and(|a| a.contains("as=Table") && a.contains("g=meta.k8s.io"))
}

/// The answer as a Table: a list's items or a single object (watch events are done one by one).
fn as_table(kind: &str, body: &[u8], include: crate::printers::table::Include) -> Option<Bytes> {
    if let Some(text) = crate::printers::table::list_table_text(kind, body, include) {
        return Some(Bytes::from(text));
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    if !v["metadata"]["name"].is_string() {
        return None;
    }
    let rv = v["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
    let t = crate::printers::table::table(kind, std::slice::from_ref(&v), &rv, include, None);
    Some(Bytes::from(t.to_string()))
}

fn discovery_answer(req: &HttpRequest, legacy: Option<Value>, core: bool) -> HttpResponse {
    if discovery::wants_aggregated(accept(req)) {
        return HttpResponse::Ok()
            .content_type(discovery::AGGREGATED)
            .body(discovery::aggregated(core).to_string());
    }
    match legacy {
        Some(v) => HttpResponse::Ok().json(v),
        None => respond(ApiResponse::error(&ApiError::no_route(req.path())), false),
    }
}

async fn api_root(req: HttpRequest) -> HttpResponse {
    discovery_answer(&req, Some(discovery::api_versions()), true)
}

async fn apis_root(req: HttpRequest) -> HttpResponse {
    discovery_answer(&req, Some(discovery::group_list()), false)
}

async fn api_version_list(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(match discovery::resource_list("", &path) {
        Some(v) => v,
        None => return respond(ApiResponse::error(&ApiError::no_route(req.path())), false),
    })
}

async fn api_group(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match discovery::group(&path) {
        Some(v) => HttpResponse::Ok().json(v),
        None => respond(ApiResponse::error(&ApiError::no_route(req.path())), false),
    }
}

async fn api_group_version(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (g, v) = path.into_inner();
    match discovery::resource_list(&g, &v) {
        Some(v) => HttpResponse::Ok().json(v),
        None => respond(ApiResponse::error(&ApiError::no_route(req.path())), false),
    }
}

async fn openapi_root() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi::root())
}

/// `/openapi/v2` as JSON; a client that takes only the protobuf form is told it is not served.
async fn openapi_v2(req: HttpRequest) -> HttpResponse {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json_ok = accept.is_empty() || accept.split(',').any(|a| a.contains("json") || a.contains("*/*"));
    if !json_ok {
        let mut e = ApiError::bad_request(format!(
            "/openapi/v2 is served as application/json only, not {accept}; /openapi/v3 has the same schemas"
        ));
        e.code = 406;
        e.reason = "NotAcceptable";
        return respond(ApiResponse::error(&e), false);
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(super::openapi_v2::document())
}

async fn openapi_doc(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match super::openapi::group_version(&path) {
        Some(text) => HttpResponse::Ok().content_type("application/json").body(text),
        None => respond(ApiResponse::error(&ApiError::no_route(req.path())), false),
    }
}

/// `/metrics`: Prometheus text (RBAC: `get` on the non-resource URL, cluster-admin by default).
async fn metrics(core: web::Data<ApiCore>) -> HttpResponse {
    let (head, oldest) = {
        let p = core.log().projection();
        (p.head, p.oldest)
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::api::render(head, oldest))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

fn health_response(endpoint: &str, outcomes: &[(String, Result<(), String>)], req: &HttpRequest) -> HttpResponse {
    let verbose = req
        .query_string()
        .split('&')
        .any(|p| p == "verbose" || p.starts_with("verbose="));
    let (code, body) = super::health::report(endpoint, outcomes, verbose);
    let status =
        actix_web::http::StatusCode::from_u16(code).unwrap_or(actix_web::http::StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).content_type("text/plain").body(body)
}

async fn readyz(core: web::Data<ApiCore>, req: HttpRequest) -> HttpResponse {
    health_response("readyz", &core.ready(), &req)
}

async fn livez(core: web::Data<ApiCore>, req: HttpRequest) -> HttpResponse {
    health_response("livez", &core.live(), &req)
}

async fn version() -> HttpResponse {
    HttpResponse::Ok().json(json!({"major": "1", "minor": "32", "gitVersion": format!("v1.32.0-orca.{VERSION}"), "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH), "orcaVersion": VERSION}))
}

/// Binds the HTTP front (TLS when given a configuration) and returns the server (to await) and
/// the bound addresses.
pub fn serve(
    core: ApiCore,
    listen: &str,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<(actix_web::dev::Server, Vec<SocketAddr>)> {
    let data = web::Data::new(core);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(super::guard::guard))
            .app_data(data.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics))
            .route("/readyz", web::get().to(readyz))
            .route("/livez", web::get().to(livez))
            .route("/version", web::get().to(version))
            .route("/version/", web::get().to(version))
            .route("/openapi/v2", web::get().to(openapi_v2))
            .route("/openapi/v3", web::get().to(openapi_root))
            .route("/openapi/v3/", web::get().to(openapi_root))
            .route("/openapi/v3/{path:.*}", web::get().to(openapi_doc))
            .route("/api", web::get().to(api_root))
            .route("/api/", web::get().to(api_root))
            .route("/apis", web::get().to(apis_root))
            .route("/apis/", web::get().to(apis_root))
            .route("/api/{version}", web::get().to(api_version_list))
            .route("/apis/{group}", web::get().to(api_group))
            .route("/apis/{group}/{version}", web::get().to(api_group_version))
            .route(
                "/api/v1/nodes/{name}/proxy/metrics",
                web::get().to(super::node_proxy::metrics),
            )
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}/exec",
                web::route().to(super::exec_ws::exec),
            )
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}/attach",
                web::route().to(super::attach::attach),
            )
            .route(
                "/api/v1/namespaces/{ns}/pods/{name}/portforward",
                web::route().to(super::portforward::portforward),
            )
            .default_service(web::to(api))
    })
    .on_connect(|conn, ext| {
        use actix_tls::accept::rustls_0_23::TlsStream;
        if let Some(tls) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() {
            ext.insert(super::guard::PeerSubject(crate::auth::tls::peer_subject(
                tls.get_ref().1,
            )));
        }
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(1);
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(listen, config)?,
        None => server.bind(listen)?,
    };
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}
