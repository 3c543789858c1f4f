//! `orcactl delete KIND NAME... | -f FILE`.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value;

use super::apply::{collection, kind_of};
use super::client::{error_message, Client};
use super::manifest;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kind then names (`pod web-1 web-2`, or `pod/web-1`)
    args: Vec<String>,
    /// Delete the objects in these files
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    /// Seconds to let pods terminate (0: at once)
    #[arg(long)]
    grace_period: Option<u64>,
    /// What happens to dependents: background (deleted after), foreground (deleted first), orphan
    /// (left running, no longer owned)
    #[arg(long, default_value = "background")]
    cascade: String,
}

/// `propagationPolicy` for a `--cascade` value (kubectl's names and its old true/false).
fn propagation(cascade: &str) -> Result<&'static str> {
    Ok(match cascade {
        "background" | "true" => "Background",
        "foreground" => "Foreground",
        "orphan" | "false" => "Orphan",
        other => bail!("--cascade must be background, foreground or orphan, not {other:?}"),
    })
}

pub fn run(client: &Client, ns_flag: Option<&str>, a: DeleteArgs) -> Result<i32> {
    let mut targets: Vec<(&'static orca_schemas::ResourceType, String, String)> = Vec::new();
    for (_, obj) in manifest::read_all(&a.files)? {
        let rt = kind_of(&obj)?;
        let (_, ns) = collection(rt, &obj, ns_flag);
        targets.push((
            rt,
            ns,
            obj.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ));
    }
    let ns = ns_flag.unwrap_or("default").to_string();
    match a.args.as_slice() {
        [] => {}
        [one] if one.contains('/') => {
            let (k, n) = one.split_once('/').unwrap_or_default();
            targets.push((super::get::resolve(k)?, ns.clone(), n.to_string()));
        }
        [kind, names @ ..] => {
            let rt = super::get::resolve(kind)?;
            if names.is_empty() {
                bail!("delete needs a name: orcactl delete {kind} NAME");
            }
            for n in names {
                targets.push((rt, ns.clone(), n.clone()));
            }
        }
    }
    if targets.is_empty() {
        bail!("nothing to delete: give KIND NAME or -f FILE");
    }
    let policy = propagation(&a.cascade)?;
    let mut failures = 0;
    for (rt, ns, name) in targets {
        let mut path = format!("{}?propagationPolicy={policy}", rt.object_path(Some(&ns), &name));
        if let Some(g) = a.grace_period {
            path.push_str(&format!("&gracePeriodSeconds={g}"));
        }
        let r = client.send("DELETE", &path, None)?;
        if r.status == 200 {
            println!("{} \"{name}\" deleted", rt.singular);
        } else {
            eprintln!("Error from server {}", error_message(r.status, &r.body));
            failures += 1;
        }
    }
    Ok(if failures > 0 { 1 } else { 0 })
}
