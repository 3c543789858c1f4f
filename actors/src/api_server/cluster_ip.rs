//! ClusterIP and NodePort allocation for Services: a random free address of the service range and
//! a random free port of 30000-32767, checked against the Services that exist.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::status::{ApiError, ApiResult};
use crate::eventlog::Staging;

/// The service range: 10.96.0.0/16 (the first two addresses are reserved).
pub const SERVICE_RANGE: (Ipv4Addr, u32) = (Ipv4Addr::new(10, 96, 0, 0), 16);

fn used(st: &Staging) -> HashSet<String> {
    st.list("Service", None)
        .iter()
        .filter_map(|s| {
            s.object()
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// Gives a new Service its ClusterIP (unless headless or ExternalName), or checks the one it asks for.
pub fn allocate(st: &Staging, obj: &mut Value) -> ApiResult<()> {
    if obj.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return Ok(());
    }
    let asked = obj
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if asked == "None" {
        return Ok(());
    }
    let taken = used(st);
    let ip = if asked.is_empty() {
        let (base, bits) = SERVICE_RANGE;
        let size = 1u32 << (32 - bits);
        let start = u32::from(base);
        // Random, as Kubernetes does: clusters sharing a machine rarely pick the same address.
        let first = rand::random_range(2..size - 1);
        (0..size - 3)
            .map(|i| Ipv4Addr::from(start + 2 + (first - 2 + i) % (size - 3)).to_string())
            .find(|ip| !taken.contains(ip))
            .ok_or_else(|| ApiError::internal("the service IP range 10.96.0.0/16 is full"))?
    } else if taken.contains(&asked) {
        let errs = [orca_schemas::FieldError {
            kind: orca_schemas::validate::ErrorType::Invalid,
            field: "spec.clusterIP".into(),
            message: format!("Invalid value: \"{asked}\": provided IP is already allocated"),
        }];
        return Err(ApiError::invalid(
            "Service",
            obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(""),
            &errs,
        ));
    } else {
        asked
    };
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    node_ports(st, obj, None)
}

/// NodePorts of every Service but `except`.
fn node_ports_used(st: &Staging, except: Option<(&str, &str)>) -> HashSet<i64> {
    st.list("Service", None)
        .iter()
        .filter(|s| except != Some((s.namespace.as_str(), s.name.as_str())))
        .flat_map(|s| {
            s.object()["spec"]["ports"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p["nodePort"].as_i64())
        })
        .collect()
}

/// The range NodePorts come from.
pub const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Gives each port of a NodePort or LoadBalancer Service a free node port (random), or checks the
/// one it asks for; `except` is the Service itself on an update.
pub fn node_ports(st: &Staging, obj: &mut Value, except: Option<(&str, &str)>) -> ApiResult<()> {
    let wants = matches!(obj["spec"]["type"].as_str(), Some("NodePort" | "LoadBalancer"));
    if !wants {
        return Ok(());
    }
    let mut taken = node_ports_used(st, except);
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let mut errs = Vec::new();
    for (i, p) in obj["spec"]["ports"].as_array_mut().into_iter().flatten().enumerate() {
        match p["nodePort"].as_i64() {
            Some(n) if !NODE_PORTS.contains(&n) => errs.push(orca_schemas::FieldError {
                kind: orca_schemas::validate::ErrorType::Invalid,
                field: format!("spec.ports[{i}].nodePort"),
                message: format!("Invalid value: {n}: provided port is not in the valid range. The range of valid ports is 30000-32767"),
            }),
            Some(n) if !taken.insert(n) => errs.push(orca_schemas::FieldError {
                kind: orca_schemas::validate::ErrorType::Invalid,
                field: format!("spec.ports[{i}].nodePort"),
                message: format!("Invalid value: {n}: provided port is already allocated"),
            }),
            Some(_) => {}
            None => {
                let span = NODE_PORTS.end() - NODE_PORTS.start() + 1;
                let first = rand::random_range(0..span);
                let free = (0..span)
                    .map(|k| NODE_PORTS.start() + (first + k) % span)
                    .find(|n| !taken.contains(n))
                    .ok_or_else(|| ApiError::internal("every node port of 30000-32767 is allocated"))?;
                taken.insert(free);
                p["nodePort"] = json!(free);
            }
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid("Service", &name, &errs));
    }
    Ok(())
}

/// Keeps a Service's ClusterIP across updates that leave it out (as `kubectl apply` does).
pub fn carry_over(old: &Value, new: &mut Value) {
    // Node ports stay with their port (matched by port number and protocol).
    let old_ports = old["spec"]["ports"].as_array().cloned().unwrap_or_default();
    for p in new["spec"]["ports"].as_array_mut().into_iter().flatten() {
        if p["nodePort"].is_null() {
            if let Some(o) = old_ports
                .iter()
                .find(|o| o["port"] == p["port"] && o["protocol"] == p["protocol"])
            {
                if !o["nodePort"].is_null() {
                    p["nodePort"] = o["nodePort"].clone();
                }
            }
        }
    }
    for field in ["clusterIP", "clusterIPs"] {
        let missing = new
            .pointer(&format!("/spec/{field}"))
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""));
        if let (true, Some(v), Some(spec)) = (
            missing,
            old.pointer(&format!("/spec/{field}")),
            new.get_mut("spec").and_then(Value::as_object_mut),
        ) {
            spec.insert(field.into(), v.clone());
        }
    }
}
