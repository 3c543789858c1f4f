//! Finds the fields of an object that orca's types do not model, by walking the kind's JSON Schema.

use serde_json::{Map, Value};

/// Field paths of `value` not described by the schema of `kind` (for example `spec.foo`).
pub fn unknown_fields(kind: &str, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(root) = crate::json::schema(kind) {
        let defs = root.get("$defs").and_then(Value::as_object);
        walk(root, defs, value, "", &mut out);
    }
    out
}

fn resolve<'a>(schema: &'a Value, defs: Option<&'a Map<String, Value>>) -> &'a Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if let Some(target) = r.strip_prefix("#/$defs/").and_then(|n| defs.and_then(|d| d.get(n))) {
            return resolve(target, defs);
        }
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            if let Some(b) = branches
                .iter()
                .map(|b| resolve(b, defs))
                .find(|b| b.get("properties").is_some() || b.get("items").is_some())
            {
                return b;
            }
        }
    }
    schema
}

fn walk(schema: &Value, defs: Option<&Map<String, Value>>, value: &Value, path: &str, out: &mut Vec<String>) {
    let schema = resolve(schema, defs);
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in map {
                    match props.get(k) {
                        Some(s) => walk(s, defs, v, &join(k), out),
                        None => out.push(join(k)),
                    }
                }
            } else if let Some(add) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, v) in map {
                    walk(add, defs, v, &format!("{path}[{k}]"), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk(item_schema, defs, v, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}
