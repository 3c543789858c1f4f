//! OpenAPI v2 (`/openapi/v2`, Swagger 2.0, JSON) for clients that read the older document: one
//! document with every group version's paths and definitions, converted from the v3 documents
//! (`openapi.rs`): `#/definitions/` references, body parameters, query parameters with their
//! type, nullable and int-or-string unions folded the way Kubernetes' own v2 writes them.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// Swagger 2.0 has no `anyOf`, `nullable` or `not`: a nullable union becomes its other member,
/// integer-or-string becomes `string` with format `int-or-string`, other unions any value.
fn schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(any)) = m.get("anyOf").or_else(|| m.get("oneOf")) {
                let real: Vec<&Value> = any.iter().filter(|a| a["type"] != "null").collect();
                let mut out = match real.as_slice() {
                    [one] => schema(one),
                    _ if real.iter().all(|a| a["type"] == "integer" || a["type"] == "string") => {
                        json!({"type": "string", "format": "int-or-string"})
                    }
                    _ => json!({}),
                };
                if let (Some(d), Some(o)) = (m.get("description"), out.as_object_mut()) {
                    o.insert("description".into(), d.clone());
                }
                return out;
            }
            let mut out = Map::new();
            for (k, x) in m {
                match k.as_str() {
                    "nullable" | "not" | "const" | "$schema" | "title" => {}
                    "$ref" => {
                        let r = x
                            .as_str()
                            .unwrap_or("")
                            .replace("#/components/schemas/", "#/definitions/");
                        out.insert(k.clone(), Value::String(r));
                    }
                    "properties" | "patternProperties" => {
                        let props: Map<String, Value> = x
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(n, p)| (n.clone(), schema(p)))
                            .collect();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), schema(x));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(schema).collect()),
        other => other.clone(),
    }
}

fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    for (k, x) in op.as_object().into_iter().flatten() {
        match k.as_str() {
            "parameters" => {}
            "requestBody" => {}
            "responses" => {
                let mut responses = Map::new();
                for (code, r) in x.as_object().into_iter().flatten() {
                    let s = &r["content"]["application/json"]["schema"];
                    responses.insert(
                        code.clone(),
                        json!({"description": r["description"], "schema": schema(s)}),
                    );
                }
                out.insert(k.clone(), Value::Object(responses));
            }
            _ => {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    let mut params: Vec<Value> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| json!({"name": p["name"], "in": p["in"], "description": p["description"], "type": "string", "uniqueItems": true}))
        .collect();
    if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
        params.push(
            json!({"name": "body", "in": "body", "required": true, "schema": schema(&Value::Object(body.clone()))}),
        );
    }
    out.insert("parameters".into(), Value::Array(params));
    out.insert("consumes".into(), json!(["application/json", "application/yaml"]));
    out.insert("produces".into(), json!(["application/json", "application/yaml"]));
    Value::Object(out)
}

fn build() -> String {
    let (mut paths, mut definitions) = (Map::new(), Map::new());
    for key in super::openapi::root()["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        let Some(text) = super::openapi::group_version(key) else {
            continue;
        };
        let doc: Value = serde_json::from_str(text).unwrap_or_default();
        for (p, ops) in doc["paths"].as_object().into_iter().flatten() {
            let converted: Map<String, Value> = ops
                .as_object()
                .into_iter()
                .flatten()
                .map(|(m, op)| (m.clone(), operation(op)))
                .collect();
            paths.insert(p.clone(), Value::Object(converted));
        }
        for (n, s) in doc["components"]["schemas"].as_object().into_iter().flatten() {
            definitions.insert(n.clone(), schema(s));
        }
    }
    json!({"swagger": "2.0", "info": {"title": "orca", "version": super::http::VERSION},
        "paths": paths, "definitions": definitions})
    .to_string()
}

/// `/openapi/v2`, as JSON text (built on the first request: few clients ask, so it costs no
/// memory until one does).
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2_document_has_swagger_shapes_only() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        let text = document();
        assert!(
            !text.contains("#/components/schemas/") && !text.contains("\"anyOf\"") && !text.contains("\"nullable\"")
        );
        let deploy = doc["definitions"]
            .as_object()
            .unwrap()
            .values()
            .find(|d| d["x-kubernetes-group-version-kind"][0]["kind"] == "Deployment")
            .expect("a Deployment definition");
        assert!(deploy["properties"]["spec"]["$ref"]
            .as_str()
            .unwrap()
            .starts_with("#/definitions/"));
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["in"] == "body"));
    }
}
