//! Reading manifests: files, directories and stdin; multi-document YAML or JSON (including `List`).

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// Every object in the given sources, with where it came from.
pub fn read_all(sources: &[String]) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for src in sources {
        if src == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("failed to read stdin")?;
            parse(&text, "stdin", &mut out)?;
        } else {
            let path = Path::new(src);
            if path.is_dir() {
                let mut entries: Vec<_> = std::fs::read_dir(path)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json"))
                    .collect();
                entries.sort();
                for p in entries {
                    let text =
                        std::fs::read_to_string(&p).with_context(|| format!("failed to read {}", p.display()))?;
                    parse(&text, &p.display().to_string(), &mut out)?;
                }
            } else {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("failed to read {src}: the path does not exist or is not readable"))?;
                parse(&text, src, &mut out)?;
            }
        }
    }
    Ok(out)
}

fn push(v: Value, origin: &str, out: &mut Vec<(String, Value)>) {
    if v.is_null() {
        return;
    }
    if v["kind"].as_str().is_some_and(|k| k == "List" || k.ends_with("List")) {
        if let Some(items) = v["items"].as_array() {
            for item in items {
                out.push((origin.to_string(), item.clone()));
            }
            return;
        }
    }
    out.push((origin.to_string(), v));
}

fn parse(text: &str, origin: &str, out: &mut Vec<(String, Value)>) -> Result<()> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let v: Value = serde_json::from_str(text).with_context(|| format!("{origin}: invalid JSON"))?;
        match v {
            Value::Array(items) => items.into_iter().for_each(|i| push(i, origin, out)),
            v => push(v, origin, out),
        }
        return Ok(());
    }
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let v = Value::deserialize(doc).with_context(|| format!("{origin}: document {} is not valid YAML", i + 1))?;
        if !v.is_null() && !v.is_object() {
            bail!("{origin}: document {} is not a mapping", i + 1);
        }
        push(v, origin, out);
    }
    Ok(())
}
