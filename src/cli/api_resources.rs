//! `orcactl api-resources`, `api-versions` and `cluster-info`, read from the server's discovery.

use anyhow::Result;
use serde_json::Value;

use super::client::Client;

/// Every group-version the server serves (`v1` first).
fn group_versions(client: &Client) -> Result<Vec<String>> {
    let groups = client.expect(client.send("GET", "/apis", None)?)?;
    let mut out = vec!["v1".to_string()];
    for g in groups["groups"].as_array().into_iter().flatten() {
        for v in g["versions"].as_array().into_iter().flatten() {
            out.extend(v["groupVersion"].as_str().map(str::to_string));
        }
    }
    Ok(out)
}

/// `api-versions`.
pub fn versions(client: &Client) -> Result<i32> {
    let mut all = group_versions(client)?;
    all.sort();
    for gv in all {
        println!("{gv}");
    }
    Ok(0)
}

/// `api-resources [--namespaced=true|false]`.
pub fn resources(client: &Client, namespaced: Option<bool>) -> Result<i32> {
    let mut rows = vec![["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    for gv in group_versions(client)? {
        let path = if gv == "v1" {
            "/api/v1".to_string()
        } else {
            format!("/apis/{gv}")
        };
        let list = client.expect(client.send("GET", &path, None)?)?;
        for r in list["resources"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or("");
            if name.contains('/') || namespaced.is_some_and(|n| r["namespaced"] != n) {
                continue;
            }
            let shorts: Vec<&str> = r["shortNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            rows.push(vec![
                name.to_string(),
                shorts.join(","),
                gv.clone(),
                r["namespaced"].as_bool().unwrap_or(false).to_string(),
                r["kind"].as_str().unwrap_or("").to_string(),
            ]);
        }
    }
    print!("{}", super::table::aligned(rows));
    Ok(0)
}

/// `cluster-info`.
pub fn cluster_info(client: &Client) -> Result<i32> {
    println!("Kubernetes control plane is running at {}", client.base);
    let dns = client.send("GET", "/api/v1/namespaces/kube-system/services/kube-dns", None)?;
    if dns.status == 200 {
        println!(
            "CoreDNS is running at {}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy",
            client.base
        );
    }
    println!("\nTo further debug and diagnose cluster problems, use 'orcactl get events' and 'orcactl events'.");
    Ok(0)
}
