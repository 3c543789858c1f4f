//! `GET /api/v1/nodes/NAME/proxy/metrics`: a node agent's metrics, fetched over NATS (RBAC: `get`
//! on `nodes/proxy`, as Kubernetes asks of a Prometheus scraping kubelets through the API).

use actix_web::{web, HttpResponse};

use super::status::ApiError;
use super::{pods, ApiCore, ApiResponse};
use crate::bus::subjects;

/// The agent's metrics text, or the Status of why not.
pub async fn metrics(core: web::Data<ApiCore>, path: web::Path<String>) -> HttpResponse {
    let node = path.into_inner();
    let answer = async {
        if core.log.projection().get("Node", "", &node).is_none() {
            return Err(ApiError::not_found("nodes", &node));
        }
        let nats = core
            .nats
            .clone()
            .ok_or_else(|| ApiError::unavailable("this API server has no NATS connection to reach nodes"))?;
        pods::ask_node(&nats, subjects::node_metrics(&node), Vec::new(), &node).await
    };
    match answer.await {
        Ok(reply) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(reply.stdout),
        Err(e) => {
            let resp = ApiResponse::error(&e);
            let code = actix_web::http::StatusCode::from_u16(resp.status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
            HttpResponse::build(code)
                .content_type("application/json")
                .body(resp.body)
        }
    }
}
