//! `pods/NAME/portforward`: kubectl's SPDY session in a WebSocket (`portforward_spdy.rs`), or `CONNECT ...?ports=P`, a TCP tunnel from the caller to
//! port P of a running pod (what `orcactl port-forward` opens per connection). The API server
//! dials the pod's IP; after the 200 the connection carries the raw bytes both ways.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ApiCore, ApiError, ApiRequest, ApiResponse, Reply};

/// How long dialing the pod may take.
pub const DIAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn fail(e: &ApiError) -> HttpResponse {
    let resp = ApiResponse::error(e);
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(resp.status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .content_type("application/json")
    .body(resp.body)
}

fn unavailable(message: String) -> ApiError {
    let mut e = ApiError::bad_request(message);
    e.code = 503;
    e.reason = "ServiceUnavailable";
    e
}

/// The pod's IP and the port asked for, or why there is nothing to forward to.
async fn target(core: &ApiCore, ns: &str, name: &str, query: &str) -> Result<std::net::SocketAddr, ApiError> {
    let port: u16 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("ports="))
        .and_then(|p| p.split(',').next())
        .and_then(|p| p.parse().ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::bad_request("port-forward needs ?ports=PORT (1-65535)"))?;
    Ok(std::net::SocketAddr::new(pod_ip(core, ns, name).await?, port))
}

/// The IP of a running pod, or why there is nothing to forward to.
async fn pod_ip(core: &ApiCore, ns: &str, name: &str) -> Result<std::net::IpAddr, ApiError> {
    let get = ApiRequest {
        method: "GET".into(),
        path: format!("/api/v1/namespaces/{ns}/pods/{name}"),
        query: String::new(),
        content_type: String::new(),
        actor: "orca-portforward".into(),
        identity: None,
        body: Bytes::new(),
    };
    let pod: Value = match core.handle(get).await {
        Reply::Done(r) if r.status == 200 => {
            serde_json::from_slice(&r.body).map_err(|e| ApiError::bad_request(e.to_string()))?
        }
        Reply::Done(_) => return Err(ApiError::not_found("pods", name)),
        Reply::Watch(_) => return Err(ApiError::bad_request("unexpected watch")),
    };
    if pod["status"]["phase"] != "Running" {
        return Err(unavailable(format!(
            "pod {ns}/{name} is {}, not Running; port-forward needs a running pod",
            pod["status"]["phase"].as_str().unwrap_or("Pending")
        )));
    }
    pod["status"]["podIP"]
        .as_str()
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| unavailable(format!("pod {ns}/{name} has no IP yet")))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// kubectl's session: a WebSocket carrying SPDY.
async fn spdy_session(req: &HttpRequest, payload: web::Payload, core: &ApiCore, ns: &str, name: &str) -> HttpResponse {
    use super::portforward_spdy::{serve, TUNNEL_PROTOCOL};
    let tunnel = header(req, "upgrade").eq_ignore_ascii_case("websocket")
        && header(req, "sec-websocket-protocol")
            .split(',')
            .any(|p| p.trim() == TUNNEL_PROTOCOL);
    if !tunnel {
        return fail(&ApiError::bad_request(format!(
            "port-forward is served as SPDY in a WebSocket ({TUNNEL_PROTOCOL}), what kubectl opens since 1.31; \
             with an older kubectl set KUBECTL_PORT_FORWARD_WEBSOCKETS=true, or use orcactl port-forward"
        )));
    }
    let ip = match pod_ip(core, ns, name).await {
        Ok(ip) => ip,
        Err(e) => return fail(&e),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    actix_web::rt::spawn(serve(payload, tx, ip));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, actix_web::Error>(b), rx))
    });
    let key = super::websocket::accept_key(header(req, "sec-websocket-key"));
    HttpResponse::SwitchingProtocols()
        .upgrade("websocket")
        .insert_header(("sec-websocket-accept", key))
        .insert_header(("sec-websocket-protocol", TUNNEL_PROTOCOL))
        .streaming(body)
}

/// The tunnel handler.
pub async fn portforward(
    req: HttpRequest,
    payload: web::Payload,
    core: web::Data<ApiCore>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (ns, name) = path.into_inner();
    if req.method() != Method::CONNECT {
        return spdy_session(&req, payload, &core, &ns, &name).await;
    }
    let mut payload = payload;
    let addr = match target(&core, &ns, &name, req.query_string()).await {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let conn = match tokio::time::timeout(DIAL_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return fail(&unavailable(format!("pod {ns}/{name}: connecting to {addr}: {e}"))),
        Err(_) => return fail(&unavailable(format!("pod {ns}/{name}: connecting to {addr} timed out"))),
    };
    let _ = conn.set_nodelay(true);
    let (rd, mut wr) = conn.into_split();
    actix_web::rt::spawn(async move {
        while let Some(Ok(chunk)) = payload.next().await {
            if wr.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let out = futures::stream::unfold((rd, BytesMut::new()), |(mut rd, mut buf)| async move {
        buf.reserve(16 * 1024);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                let chunk = buf.split().freeze();
                Some((Ok::<Bytes, actix_web::Error>(chunk), (rd, buf)))
            }
        }
    });
    HttpResponse::Ok().streaming(out)
}
