//! `orcactl patch KIND NAME -p PATCH [--type strategic|merge|json]`: kubectl's patch, strategic
//! by default.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::get::resolve;

#[derive(Args, Debug)]
pub struct PatchArgs {
    /// KIND NAME or KIND/NAME
    #[arg(required = true, num_args = 1..=2)]
    target: Vec<String>,
    /// The patch (JSON or YAML)
    #[arg(short = 'p', long)]
    patch: String,
    /// strategic, merge or json
    #[arg(long = "type", default_value = "strategic")]
    kind: String,
}

pub fn run(client: &Client, ns: Option<&str>, a: PatchArgs) -> Result<i32> {
    let (kind, name) = super::get::kind_and_name(&a.target)?;
    let content_type = match a.kind.as_str() {
        "strategic" => "application/strategic-merge-patch+json",
        "merge" => "application/merge-patch+json",
        "json" => "application/json-patch+json",
        other => bail!("--type must be strategic, merge or json, not {other:?}"),
    };
    let body: Value = serde_yaml_ng::from_str(&a.patch).context("the patch is neither JSON nor YAML")?;
    let rt = resolve(&kind)?;
    let path = rt.object_path(Some(ns.unwrap_or("default")), &name);
    client.expect(client.send_typed("PATCH", &path, Some(&body), content_type)?)?;
    println!("{}/{name} patched", super::get::qualified(rt));
    Ok(0)
}
