//! Every HTTP request is authenticated (client certificate, bearer token, or anonymous) and
//! authorized (RBAC) before it is served; the identity rides in the request's extensions.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use serde_json::json;

use super::{ApiCore, ApiError, ApiResponse};
use crate::auth::{attributes, Identity};

/// The verified client certificate subject of a connection (set when the TLS connection opens).
#[derive(Clone, Debug, Default)]
pub struct PeerSubject(pub Option<(String, Vec<String>)>);

fn status(e: &ApiError) -> HttpResponse {
    let resp = ApiResponse::error(e);
    let code = actix_web::http::StatusCode::from_u16(resp.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(code)
        .content_type("application/json")
        .body(resp.body)
}

fn unauthorized(message: &str) -> HttpResponse {
    status(&ApiError::new(401, "Unauthorized", message))
}

/// The identity of a request the guard let through (an insecure server's admin when unguarded).
pub fn identity(req: &actix_web::HttpRequest) -> Identity {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_else(Identity::insecure_admin)
}

/// Kubernetes' verb label of `apiserver_request_total`.
fn metric_verb(a: &attributes::Attributes) -> &'static str {
    match (a.verb.as_str(), a.subresource.as_str()) {
        (_, "exec" | "attach" | "portforward" | "proxy") => "CONNECT",
        ("list", _) => "LIST",
        ("watch", _) => "WATCH",
        ("get", _) => "GET",
        ("create", _) => "POST",
        ("update", _) => "PUT",
        ("patch", _) => "PATCH",
        ("delete" | "deletecollection", _) => "DELETE",
        _ => "OTHER",
    }
}

/// The middleware.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = std::time::Instant::now();
    let what = attributes::of_request(req.method().as_str(), req.path(), req.query_string());
    let served = checked(req, next, &what).await;
    if let Ok(res) = &served {
        let resource = if what.subresource.is_empty() {
            what.resource.clone()
        } else {
            format!("{}/{}", what.resource, what.subresource)
        };
        crate::metrics::api::request(
            metric_verb(&what),
            &resource,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    served
}

async fn checked(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
    what: &attributes::Attributes,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(core) = req.app_data::<web::Data<ApiCore>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let Some(auth) = core.auth().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let cert = req.conn_data::<PeerSubject>().and_then(|p| p.0.clone());
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let who = match auth.authenticate(cert.as_ref(), bearer.as_deref(), core.log()) {
        Ok(who) => who,
        Err(e) => {
            let resp = unauthorized(&format!("Unauthorized: {e}"));
            return Ok(req.into_response(resp).map_into_right_body());
        }
    };
    // Masters need no policy (and no look at the projection).
    let decision = if who.is_master() {
        Ok(String::new())
    } else {
        let projection = core.log().projection();
        auth.policy.get(&projection).decide(&who, what)
    };
    match decision {
        Ok(_) => {
            req.extensions_mut().insert(who);
            next.call(req).await.map(ServiceResponse::map_into_left_body)
        }
        Err(_) if who.is_anonymous() => Ok(req.into_response(unauthorized("Unauthorized")).map_into_right_body()),
        Err(message) => {
            let mut e = ApiError::forbidden(message);
            if what.resource_request {
                e.details = Some(Box::new(
                    json!({"name": what.name, "group": what.api_group, "kind": what.resource}),
                ));
            }
            Ok(req.into_response(status(&e)).map_into_right_body())
        }
    }
}
