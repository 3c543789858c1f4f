//! The environment Kubernetes gives a container for each Service of its namespace
//! (`enableServiceLinks`, on by default): `{NAME}_SERVICE_HOST`, `{NAME}_SERVICE_PORT`,
//! `{NAME}_SERVICE_PORT_{PORT}` and the Docker-link style `{NAME}_PORT_*` variables.

use serde_json::Value;

use crate::bus::client::ApiClient;

/// The variables of one Service (pure); none for a headless Service or one without ports.
pub fn of_service(svc: &Value) -> Vec<(String, String)> {
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("");
    let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    if ip.is_empty() || ip == "None" || ports.is_empty() {
        return Vec::new();
    }
    let name = svc["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_uppercase()
        .replace('-', "_");
    let mut out = vec![
        (format!("{name}_SERVICE_HOST"), ip.to_string()),
        (format!("{name}_SERVICE_PORT"), ports[0]["port"].to_string()),
    ];
    for p in &ports {
        if let Some(pn) = p["name"].as_str().filter(|n| !n.is_empty()) {
            out.push((
                format!("{name}_SERVICE_PORT_{}", pn.to_uppercase().replace('-', "_")),
                p["port"].to_string(),
            ));
        }
    }
    let proto_lower = |p: &Value| p["protocol"].as_str().unwrap_or("TCP").to_lowercase();
    out.push((
        format!("{name}_PORT"),
        format!("{}://{ip}:{}", proto_lower(&ports[0]), ports[0]["port"]),
    ));
    for p in &ports {
        let (port, proto) = (p["port"].to_string(), proto_lower(p));
        let prefix = format!("{name}_PORT_{port}_{}", proto.to_uppercase());
        out.push((prefix.clone(), format!("{proto}://{ip}:{port}")));
        out.push((format!("{prefix}_PROTO"), proto));
        out.push((format!("{prefix}_PORT"), port));
        out.push((format!("{prefix}_ADDR"), ip.to_string()));
    }
    out
}

/// The variables of every Service in `ns`, in name order (unless the pod turns them off).
pub async fn for_pod(api: &ApiClient, pod: &Value, ns: &str) -> Result<Vec<(String, String)>, String> {
    if pod["spec"]["enableServiceLinks"] == false {
        return Ok(Vec::new());
    }
    let list = api
        .list_raw(&format!("/api/v1/namespaces/{ns}/services"), "")
        .await
        .map_err(|e| format!("listing services for their environment variables: {e}"))?;
    let mut services: Vec<Value> = list
        .items
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    services.sort_by_key(|s| s["metadata"]["name"].as_str().unwrap_or("").to_string());
    Ok(services.iter().flat_map(of_service).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_as_kubernetes_names_them() {
        let svc = json!({"metadata": {"name": "redis-primary"}, "spec": {"clusterIP": "10.96.0.11",
            "ports": [{"name": "db", "port": 6379, "protocol": "TCP"}]}});
        let env = of_service(&svc);
        let get = |k: &str| env.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        assert_eq!(get("REDIS_PRIMARY_SERVICE_HOST"), Some("10.96.0.11"));
        assert_eq!(get("REDIS_PRIMARY_SERVICE_PORT"), Some("6379"));
        assert_eq!(get("REDIS_PRIMARY_SERVICE_PORT_DB"), Some("6379"));
        assert_eq!(get("REDIS_PRIMARY_PORT"), Some("tcp://10.96.0.11:6379"));
        assert_eq!(get("REDIS_PRIMARY_PORT_6379_TCP_ADDR"), Some("10.96.0.11"));
        let headless = json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}});
        assert!(of_service(&headless).is_empty());
    }
}
