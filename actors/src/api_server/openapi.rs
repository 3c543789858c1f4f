//! OpenAPI v3 as kubectl reads it: `/openapi/v3` lists one document per group version, and each
//! document (`/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`) has the kinds' paths, whose
//! operations carry `x-kubernetes-group-version-kind` and the query parameters the server takes
//! (`fieldValidation` there is how kubectl learns to validate on the server), and the kinds'
//! schemas (from `schemas/`) with their descriptions, for `kubectl explain`.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use orca_schemas::registry::{ResourceType, RESOURCES};

/// The group versions, as the URL suffix (`api/v1`, `apis/apps/v1`) with their group and version.
fn group_versions() -> Vec<(String, &'static str, &'static str)> {
    let mut out: Vec<(String, &str, &str)> = Vec::new();
    for rt in RESOURCES {
        let key = if rt.group.is_empty() {
            format!("api/{}", rt.version)
        } else {
            format!("apis/{}/{}", rt.group, rt.version)
        };
        if !out.iter().any(|(k, _, _)| *k == key) {
            out.push((key, rt.group, rt.version));
        }
    }
    out
}

fn schema_name(rt: &ResourceType) -> String {
    let group = if rt.group.is_empty() { "core" } else { rt.group };
    format!("io.orca.{group}.{}.{}", rt.version, rt.kind)
}

/// Rewrites `#/$defs/X` references to `#/components/schemas/PREFIX.X`.
fn relink(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/$defs/") {
                    *r = format!("#/components/schemas/{prefix}.{name}");
                }
            }
            for (_, x) in m.iter_mut() {
                relink(x, prefix);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| relink(x, prefix)),
        _ => {}
    }
}

/// Makes a JSON Schema (2020-12, as the types generate it) one OpenAPI 3.0 readers take: a
/// boolean schema becomes an object (`true`: any value), a list of types becomes one type with
/// `nullable`.
fn openapi_schema(v: &mut Value) {
    match v {
        Value::Bool(true) => *v = json!({"x-kubernetes-preserve-unknown-fields": true}),
        Value::Bool(false) => *v = json!({"not": {}}),
        Value::Object(m) => {
            if let Some(Value::Array(types)) = m.get("type").cloned() {
                let nullable = types.iter().any(|t| t == "null");
                let first = types.into_iter().find(|t| t != "null").unwrap_or(json!("object"));
                m.insert("type".into(), first);
                if nullable {
                    m.insert("nullable".into(), json!(true));
                }
            }
            for key in ["properties", "$defs", "patternProperties"] {
                if let Some(Value::Object(props)) = m.get_mut(key) {
                    props.values_mut().for_each(openapi_schema);
                }
            }
            for key in ["items", "not", "additionalProperties"] {
                if let Some(x) = m.get_mut(key) {
                    if x.is_object() || key != "additionalProperties" {
                        openapi_schema(x);
                    }
                }
            }
            for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
                if let Some(Value::Array(xs)) = m.get_mut(key) {
                    xs.iter_mut().for_each(openapi_schema);
                }
            }
        }
        _ => {}
    }
}

fn gvk(rt: &ResourceType) -> Value {
    json!({"group": rt.group, "version": rt.version, "kind": rt.kind})
}

fn param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        param("dryRun", "When present, the change is checked but not persisted (All)."),
        param("fieldManager", "The name of the actor making the change."),
        param(
            "fieldValidation",
            "What to do with unknown or duplicate fields: Ignore, Warn or Strict.",
        ),
    ]
}

fn operation(rt: &ResourceType, action: &str, id: &str, params: Vec<Value>) -> Value {
    let reference = format!("#/components/schemas/{}", schema_name(rt));
    let mut op = json!({"operationId": id, "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(rt), "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": reference}}}}}});
    if matches!(action, "post" | "put" | "patch") {
        op["requestBody"] = json!({"content": {"application/json": {"schema": {"$ref": reference}}}});
    }
    op
}

fn paths_of(rt: &ResourceType, paths: &mut Map<String, Value>) {
    let base = rt.group_prefix();
    let collection = if rt.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", rt.plural)
    } else {
        format!("{base}/{}", rt.plural)
    };
    let kind = rt.kind;
    let mut patch = write_params();
    patch.push(param(
        "force",
        "Take over fields other managers own (server-side apply).",
    ));
    paths.insert(
        collection.clone(),
        json!({"get": operation(rt, "list", &format!("list{kind}"), vec![param("labelSelector", ""), param("fieldSelector", ""), param("limit", ""), param("continue", ""), param("watch", ""), param("resourceVersion", "")]),
               "post": operation(rt, "post", &format!("create{kind}"), write_params())}),
    );
    paths.insert(
        format!("{collection}/{{name}}"),
        json!({"get": operation(rt, "get", &format!("read{kind}"), vec![]),
               "put": operation(rt, "put", &format!("replace{kind}"), write_params()),
               "patch": operation(rt, "patch", &format!("patch{kind}"), patch),
               "delete": operation(rt, "delete", &format!("delete{kind}"), vec![param("dryRun", ""), param("gracePeriodSeconds", ""), param("propagationPolicy", "")])}),
    );
}

fn document(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rt in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
        paths_of(rt, &mut paths);
        let Some(schema) = orca_schemas::json::schema(rt.kind) else {
            continue;
        };
        let name = schema_name(rt);
        let mut root = schema.clone();
        relink(&mut root, &name);
        openapi_schema(&mut root);
        if let Some(Value::Object(defs)) = root.as_object_mut().and_then(|m| m.remove("$defs")) {
            for (k, v) in defs {
                schemas.insert(format!("{name}.{k}"), v);
            }
        }
        if let Some(m) = root.as_object_mut() {
            m.remove("$schema");
            m.insert("x-kubernetes-group-version-kind".into(), json!([gvk(rt)]));
        }
        schemas.insert(name, root);
    }
    json!({"openapi": "3.0.0", "info": {"title": "orca", "version": super::http::VERSION},
        "paths": paths, "components": {"schemas": schemas}})
}

struct Docs {
    root: Value,
    by_path: Vec<(String, String)>,
}

fn hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

fn docs() -> &'static Docs {
    static DOCS: OnceLock<Docs> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut root = Map::new();
        let mut by_path = Vec::new();
        for (key, g, v) in group_versions() {
            let text = document(g, v).to_string();
            root.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash(&text))}),
            );
            by_path.push((key, text));
        }
        Docs {
            root: json!({"paths": root}),
            by_path,
        }
    })
}

/// `/openapi/v3`.
pub fn root() -> &'static Value {
    &docs().root
}

/// `/openapi/v3/{api/v1 | apis/GROUP/VERSION}`, as JSON text.
pub fn group_version(path: &str) -> Option<&'static str> {
    docs()
        .by_path
        .iter()
        .find(|(k, _)| k == path.trim_matches('/'))
        .map(|(_, t)| t.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_a_patch_with_field_validation_and_a_schema_with_its_gvk() {
        let root = root();
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc: Value = serde_json::from_str(group_version("apis/apps/v1").unwrap()).unwrap();
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        let schema = &doc["components"]["schemas"]["io.orca.apps.v1.Deployment"];
        assert_eq!(schema["x-kubernetes-group-version-kind"][0]["kind"], "Deployment");
        let text = group_version("api/v1").unwrap();
        assert!(!text.contains("#/$defs/"), "every reference points into components");
        assert!(group_version("apis/nope/v1").is_none());
        assert!(!text.contains("\"type\":[\""), "one type per schema");
        let mut b = json!({"properties": {"any": true, "x": {"type": ["string", "null"]}}});
        openapi_schema(&mut b);
        assert_eq!(b["properties"]["any"]["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(b["properties"]["x"], json!({"type": "string", "nullable": true}));
    }
}
