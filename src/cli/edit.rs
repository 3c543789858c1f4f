//! `orcactl edit KIND NAME`: the object as YAML in `$KUBE_EDITOR`, `$EDITOR` or vi; what is saved
//! replaces it (a change made meanwhile is a conflict, and the edited copy is kept).

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
    let (kind, name) = match a.target.as_slice() {
        [one] => one
            .split_once('/')
            .map(|(k, n)| (k.to_string(), n.to_string()))
            .context("name the object as KIND NAME or KIND/NAME")?,
        [k, n] => (k.clone(), n.clone()),
        _ => bail!("name the object as KIND NAME or KIND/NAME"),
    };
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
    match client.expect(client.send("PUT", &path, Some(&after))?) {
        Ok(_) => {
            let _ = std::fs::remove_file(&file);
            println!("{}/{name} edited", super::get::qualified(rt));
            Ok(0)
        }
        Err(e) => bail!("{e:#}\nyour edit is kept at {}", file.display()),
    }
}
