//! `orcactl explain KIND[.field.path]`: the kind's schema as the server's OpenAPI v3 gives it,
//! printed as kubectl explain prints it.

use anyhow::{anyhow, Result};
use serde_json::Value;

use super::client::Client;
use super::get::resolve;

struct Doc {
    schemas: Value,
}

impl Doc {
    /// Follows `$ref` and a nullable `anyOf` to the schema itself.
    fn resolve<'a>(&'a self, s: &'a Value) -> &'a Value {
        if let Some(r) = s["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or("");
            return self.resolve(&self.schemas[name]);
        }
        if let Some(any) = s["anyOf"].as_array() {
            if let Some(first) = any.iter().find(|a| a["type"] != "null") {
                return self.resolve(first);
            }
        }
        s
    }

    fn type_name(&self, s: &Value) -> String {
        let name_of = |r: &str| {
            r.rsplit('/')
                .next()
                .unwrap_or("")
                .rsplit('.')
                .next()
                .unwrap_or("")
                .to_string()
        };
        if let Some(r) = s["$ref"].as_str() {
            return name_of(r);
        }
        if let Some(any) = s["anyOf"].as_array() {
            if let Some(first) = any.iter().find(|a| a["type"] != "null") {
                return self.type_name(first);
            }
        }
        match s["type"].as_str() {
            Some("array") => format!("[]{}", self.type_name(&s["items"])),
            Some("object") if s["additionalProperties"].is_object() => {
                format!("map[string]{}", self.type_name(&s["additionalProperties"]))
            }
            Some(t) => t.to_string(),
            None if s["type"].is_array() => s["type"][0].as_str().unwrap_or("Object").to_string(),
            None => "Object".into(),
        }
    }
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}", " ".repeat(by)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn run(client: &Client, what: &str) -> Result<i32> {
    let mut parts = what.split('.');
    let rt = resolve(parts.next().unwrap_or(""))?;
    let path = if rt.group.is_empty() {
        "/openapi/v3/api/v1".to_string()
    } else {
        format!("/openapi/v3/apis/{}/{}", rt.group, rt.version)
    };
    let doc = client.expect(client.send("GET", &path, None)?)?;
    let doc = Doc {
        schemas: doc["components"]["schemas"].clone(),
    };
    let root = doc
        .schemas
        .as_object()
        .and_then(|m| {
            m.values().find(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|g| g["kind"] == rt.kind))
            })
        })
        .ok_or_else(|| anyhow!("the server has no schema for {}", rt.kind))?;
    let mut schema = root;
    let mut field: Option<(String, &Value)> = None;
    for f in parts {
        let here = doc.resolve(schema);
        let here = if here["type"] == "array" {
            doc.resolve(&here["items"])
        } else {
            here
        };
        let next = here["properties"]
            .get(f)
            .ok_or_else(|| anyhow!("field \"{f}\" does not exist"))?;
        field = Some((f.to_string(), next));
        schema = next;
    }
    if !rt.group.is_empty() {
        println!("GROUP:      {}", rt.group);
    }
    println!("KIND:       {}\nVERSION:    {}\n", rt.kind, rt.version);
    let shown = doc.resolve(schema);
    if let Some((name, s)) = &field {
        println!("FIELD: {name} <{}>\n", doc.type_name(s));
    }
    let description = schema["description"]
        .as_str()
        .or(shown["description"].as_str())
        .unwrap_or("<empty>");
    println!("DESCRIPTION:\n{}", indent(description, 4));
    let shown = if shown["type"] == "array" {
        doc.resolve(&shown["items"])
    } else {
        shown
    };
    if let Some(props) = shown["properties"].as_object() {
        println!("\nFIELDS:");
        for (name, p) in props {
            println!("  {name}\t<{}>", doc.type_name(p));
            if let Some(d) = p["description"].as_str().or(doc.resolve(p)["description"].as_str()) {
                println!("{}\n", indent(d, 4));
            } else {
                println!();
            }
        }
    }
    Ok(0)
}
