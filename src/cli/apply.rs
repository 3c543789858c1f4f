//! `orcactl apply -f FILE|DIR|-`: create each object, or update it when it exists.

use anyhow::{bail, Result};
use clap::Args;
use serde_json::Value;

use orca_schemas::registry::RESOURCES;

use super::client::{error_message, print_warnings, Client};
use super::manifest;

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Files, directories, or `-` for stdin
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<String>,
}

/// The kind of a manifest, by `kind` and `apiVersion`.
pub fn kind_of(obj: &Value) -> Result<&'static orca_schemas::ResourceType> {
    let kind = obj["kind"].as_str().unwrap_or("");
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    if kind.is_empty() {
        bail!(
            "the object has no kind (apiVersion {api_version:?}, name {:?})",
            obj.pointer("/metadata/name")
        );
    }
    RESOURCES
        .iter()
        .find(|r| r.kind == kind && (api_version.is_empty() || r.api_version() == api_version))
        .ok_or_else(|| anyhow::anyhow!("no kind \"{kind}\" is registered for version \"{api_version}\"; run `orcactl get` with a kind such as pods, deployments, services, configmaps"))
}

/// The collection path for an object, with the namespace from the object, the flag, or `default`.
pub fn collection(rt: &orca_schemas::ResourceType, obj: &Value, ns_flag: Option<&str>) -> (String, String) {
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .or(ns_flag)
        .unwrap_or("default")
        .to_string();
    (rt.collection_path(Some(&ns)), ns)
}

pub fn run(client: &Client, ns_flag: Option<&str>, args: ApplyArgs) -> Result<i32> {
    let mut failures = 0;
    for (origin, mut obj) in manifest::read_all(&args.files)? {
        let rt = match kind_of(&obj) {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: {origin}: {e}");
                failures += 1;
                continue;
            }
        };
        let (coll, ns) = collection(rt, &obj, ns_flag);
        if rt.namespaced {
            obj["metadata"]["namespace"] = Value::String(ns);
        }
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let label = format!("{}/{}", rt.singular, name);
        let result = if name.is_empty() {
            client
                .send("POST", &coll, Some(&super::apply_merge::annotate(&obj)))
                .map(|r| (r, "created"))
        } else {
            let path = format!("{coll}/{name}");
            match client.send("GET", &path, None)? {
                r if r.status == 404 => client
                    .send("POST", &coll, Some(&super::apply_merge::annotate(&obj)))
                    .map(|r| (r, "created")),
                r if r.status == 200 => {
                    let before = super::apply_merge::desired_part(&r.body);
                    let body = super::apply_merge::patch(
                        &super::apply_merge::last_applied(&r.body),
                        &super::apply_merge::annotate(&obj),
                    );
                    client
                        .send_typed("PATCH", &path, Some(&body), "application/merge-patch+json")
                        .map(|r| {
                            let same = super::apply_merge::desired_part(&r.body) == before;
                            (r, if same { "unchanged" } else { "configured" })
                        })
                }
                r => Ok((r, "")),
            }
        };
        let (reply, verb) = result?;
        print_warnings(&reply.warnings);
        if (200..300).contains(&reply.status) {
            let shown = reply
                .body
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or(&name);
            println!("{}/{} {verb}", rt.singular, shown);
        } else {
            eprintln!("error: {origin}: {label}: {}", error_message(reply.status, &reply.body));
            failures += 1;
        }
    }
    Ok(if failures > 0 { 1 } else { 0 })
}
