//! How pods find the DNS server: the selector-less Service `kube-system/kube-dns` (ports 53 UDP and
//! TCP, a ClusterIP like any other) and this server's EndpointSlice and Endpoints behind it, written
//! at start and checked again every few seconds.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use crate::bus::client::ApiClient;
use crate::controllers::endpoints::{MANAGED_BY, SERVICE_NAME};
use crate::runtime::write::upsert;

/// Namespace of the DNS Service.
pub const NAMESPACE: &str = "kube-system";
/// Name of the DNS Service.
pub const SERVICE: &str = "kube-dns";
/// How often the published objects are checked.
pub const RECHECK: Duration = Duration::from_secs(10);

fn ports(port: u16) -> Value {
    json!([{"name": "dns", "protocol": "UDP", "port": port}, {"name": "dns-tcp", "protocol": "TCP", "port": port}])
}

/// Writes the Service, this member's EndpointSlice and the Endpoints.
pub async fn publish(api: &ApiClient, addr: SocketAddr, member: &str) -> Result<(), String> {
    let base = format!("/api/v1/namespaces/{NAMESPACE}");
    let labels =
        json!({"k8s-app": SERVICE, "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "ClusterDNS"});
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": labels},
        "spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}});
    let create_only = api
        .call("GET", &format!("{base}/services/{SERVICE}"), "", None)
        .await
        .map_err(|e| e.to_string())?;
    if create_only.status == 404 {
        let a = api
            .call("POST", &format!("{base}/services"), "", Some(&svc))
            .await
            .map_err(|e| e.to_string())?;
        if !matches!(a.status, 200 | 201 | 409) {
            return Err(format!("creating {NAMESPACE}/{SERVICE}: {}", a.status));
        }
    }
    let ip = addr.ip().to_string();
    let slice_name = format!("{SERVICE}-{member}");
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": slice_name, "namespace": NAMESPACE,
            "labels": {SERVICE_NAME: SERVICE, MANAGED_BY: "dns.orca.dev"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false}}],
        "ports": ports(addr.port())});
    upsert(
        api,
        &format!("/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices"),
        &slice_name,
        &slice,
    )
    .await?;
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": labels},
        "subsets": [{"addresses": [{"ip": ip}], "ports": ports(addr.port())}]});
    upsert(api, &format!("{base}/endpoints"), SERVICE, &endpoints).await
}

/// Checks the published objects every [`RECHECK`] (a deleted Service or slice comes back).
pub async fn keep_published(api: ApiClient, addr: SocketAddr, member: String) {
    loop {
        tokio::time::sleep(RECHECK).await;
        if let Err(e) = publish(&api, addr, &member).await {
            tracing::warn!("cluster dns: publishing {NAMESPACE}/{SERVICE}: {e}");
        }
    }
}
