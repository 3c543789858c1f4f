//! ClusterIP allocation for Services from the service range, checked against the Services that exist.

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
        (2..size - 1)
            .map(|i| Ipv4Addr::from(start + i).to_string())
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
    Ok(())
}

/// Keeps a Service's ClusterIP across updates that leave it out (as `kubectl apply` does).
pub fn carry_over(old: &Value, new: &mut Value) {
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
