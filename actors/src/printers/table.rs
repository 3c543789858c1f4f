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

fn table_row(kind: &str, v: &Value, include: Include) -> Value {
    let mut r = json!({"cells": row(kind, v, true)});
    match include {
        Include::None => {}
        Include::Metadata => {
            r["object"] =
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"]});
        }
        Include::Object => r["object"] = v.clone(),
    }
    r
}

/// The Table of a JSON list (`{"metadata": .., "items": [..]}`) as JSON text, or None when the
/// text is not a list. Each object is read on its own and the rows are made on every core, so no
/// tree of the whole list or of the whole Table is ever built.
pub fn list_table_text(kind: &str, list: &[u8], include: Include) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct List<'a> {
        #[serde(default)]
        metadata: Value,
        #[serde(borrow)]
        items: Vec<&'a serde_json::value::RawValue>,
    }
    let list: List = serde_json::from_slice(list).ok()?;
    let rv = list.metadata["resourceVersion"].as_str().unwrap_or("");
    let mut head = table(kind, &[], rv, include, list.metadata["continue"].as_str());
    head["rows"] = json!([]);
    let text = head.to_string();
    // `"rows":[]}` ends the document: the rows go between the brackets.
    let cut = text.rfind("[]}")?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = list.items.len().div_ceil(threads).max(1);
    let parts: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = list
            .items
            .chunks(chunk)
            .map(|items| {
                scope.spawn(move || {
                    let mut out = String::new();
                    for raw in items {
                        let Ok(v) = serde_json::from_str::<Value>(raw.get()) else {
                            continue;
                        };
                        if !out.is_empty() {
                            out.push(',');
                        }
                        out.push_str(&table_row(kind, &v, include).to_string());
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let rows: Vec<&str> = parts.iter().map(String::as_str).filter(|p| !p.is_empty()).collect();
    Some(format!("{}[{}]}}", &text[..cut], rows.join(",")))
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
    let rows: Vec<Value> = items.iter().map(|v| table_row(kind, v, include)).collect();
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
        let t = table("Pod", std::slice::from_ref(&pod), "7", Include::Metadata, None);
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
        let list = json!({"metadata": {"resourceVersion": "9"}, "items": [pod.clone(), pod]});
        let text = list_table_text("Pod", list.to_string().as_bytes(), Include::Metadata).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["rows"].as_array().unwrap().len(), 2);
        assert_eq!(parsed["rows"][1], t["rows"][0]);
        assert_eq!(parsed["metadata"]["resourceVersion"], "9");
    }
}
