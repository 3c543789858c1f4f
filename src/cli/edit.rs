//! `orcactl edit KIND NAME`: the object as YAML in `$KUBE_EDITOR`, `$EDITOR` or vi; what changed
//! between the copy shown and the one saved is sent as a merge patch, as kubectl sends its edit, so
//! a controller's write meanwhile (status, annotations) is no conflict. A failed edit is kept.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::get::resolve;

#[derive(Args, Debug)]
pub struct EditArgs {
    /// KIND NAME or KIND/NAME
    #[arg(required = true, num_args = 1..=2)]
    target: Vec<String>,
}

pub fn run(client: &Client, ns: Option<&str>, a: EditArgs) -> Result<i32> {
    let (kind, name) = super::get::kind_and_name(&a.target)?;
    let rt = resolve(&kind)?;
    let path = rt.object_path(Some(ns.unwrap_or("default")), &name);
    let mut obj = client.expect(client.send("GET", &path, None)?)?;
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    let before = serde_yaml_ng::to_string(&obj)?;
    let file = std::env::temp_dir().join(format!("orcactl-edit-{}-{name}.yaml", std::process::id()));
    std::fs::write(
        &file,
        format!("# Edit the object below; saving an unchanged file cancels the edit.\n{before}"),
    )?;
    let editor = std::env::var("KUBE_EDITOR")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("{editor} \"$1\""), "editor"])
        .arg(&file)
        .status()
        .with_context(|| format!("could not run the editor {editor:?}"))?;
    if !status.success() {
        bail!("the editor {editor:?} failed; the file is kept at {}", file.display());
    }
    let after_text = std::fs::read_to_string(&file)?;
    let after: Value = serde_yaml_ng::from_str(&after_text)
        .with_context(|| format!("the edited file is not valid YAML; it is kept at {}", file.display()))?;
    if after == obj {
        let _ = std::fs::remove_file(&file);
        println!("Edit cancelled, no changes made.");
        return Ok(0);
    }
    let patch = merge_diff(&obj, &after);
    match client.expect(client.send_typed("PATCH", &path, Some(&patch), "application/merge-patch+json")?) {
        Ok(_) => {
            let _ = std::fs::remove_file(&file);
            println!("{}/{name} edited", super::get::qualified(rt));
            Ok(0)
        }
        Err(e) => bail!("{e:#}\nyour edit is kept at {}", file.display()),
    }
}

/// The JSON merge patch (RFC 7386) that turns `from` into `to`: changed fields, `null` for removed
/// ones, lists whole.
fn merge_diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut out = serde_json::Map::new();
            for (k, v) in b {
                match a.get(k) {
                    Some(old) if old == v => {}
                    Some(old) if old.is_object() && v.is_object() => {
                        out.insert(k.clone(), merge_diff(old, v));
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                out.insert(k.clone(), Value::Null);
            }
            Value::Object(out)
        }
        _ => to.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_edit_becomes_the_merge_patch_of_what_changed() {
        let from = json!({"spec": {"replicas": 1, "paused": false, "list": [1]}, "metadata": {"labels": {"a": "b"}}});
        let to = json!({"spec": {"replicas": 2, "list": [1, 2]}, "metadata": {"labels": {"a": "b"}}});
        assert_eq!(
            super::merge_diff(&from, &to),
            json!({"spec": {"replicas": 2, "list": [1, 2], "paused": null}})
        );
    }
}
