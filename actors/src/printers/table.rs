//! The `meta.k8s.io/v1` Table the API server answers when a client asks for one
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, what kubectl sends for `get`): the
//! kind's columns (the `-o wide` ones with priority 1) and, per row, the cells and the object's
//! metadata (`includeObject=Metadata`, the default), the whole object (`Object`) or nothing.

use serde_json::{json, Value};

use super::columns::{columns, row};

/// What each row carries besides its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// Nothing.
    None,
    /// A PartialObjectMetadata.
    Metadata,
    /// The object.
    Object,
}

impl Include {
    /// From the `includeObject` query parameter.
    pub fn parse(v: Option<&str>) -> Include {
        match v {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// Column names as Kubernetes spells them (`UP-TO-DATE` -> `Up-to-date`, `NOMINATED NODE` ->
/// `Nominated Node`; kubectl prints them in capitals).
pub fn title(name: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for c in name.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c == ' ';
    }
    out
}

/// The Table of `items` of `kind` at `resource_version`.
pub fn table(
    kind: &str,
    items: &[Value],
    resource_version: &str,
    include: Include,
    continue_token: Option<&str>,
) -> Value {
    let narrow = columns(kind, false);
    let wide = columns(kind, true);
    let defs: Vec<Value> = wide
        .iter()
        .map(|c| {
            let format = if *c == "NAME" { "name" } else { "" };
            json!({"name": title(c), "type": "string", "format": format, "description": "",
                "priority": if narrow.contains(c) { 0 } else { 1 }})
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|v| {
            let mut r = json!({"cells": row(kind, v, true)});
            match include {
                Include::None => {}
                Include::Metadata => {
                    r["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"].clone()});
                }
                Include::Object => r["object"] = v.clone(),
            }
            r
        })
        .collect();
    let mut meta = json!({"resourceVersion": resource_version});
    if let Some(c) = continue_token.filter(|c| !c.is_empty()) {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_table_has_kubectls_columns_and_metadata() {
        let pod = json!({"metadata": {"name": "p", "namespace": "d", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": "n", "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {}}}]}});
        let t = table("Pod", &[pod], "7", Include::Metadata, None);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names[..5], ["Name", "Ready", "Status", "Restarts", "Age"]);
        assert_eq!(t["columnDefinitions"][0]["priority"], 0);
        assert_eq!(t["columnDefinitions"][5]["priority"], 1, "IP is a wide column");
        assert_eq!(t["rows"][0]["cells"][0], "p");
        assert_eq!(t["rows"][0]["cells"][2], "Running");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "d");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        assert_eq!(title("UP-TO-DATE"), "Up-to-date");
        assert_eq!(title("NOMINATED NODE"), "Nominated Node");
    }
}
