//! `orcactl rollout history`: a Deployment's revisions, each with the change that made it, read
//! from the event log (which template change, when, and by which actor), not from an annotation.

use anyhow::{bail, Result};
use serde_json::Value;

use orca_schemas::ResourceType;

use super::client::Client;
use super::history::diff;
use super::rollout::{qualified, revisions, template_of};

/// A change of the Deployment's template found in its history: when, by whom, and what changed.
struct Change {
    time: String,
    actor: String,
    template: Value,
    what: Vec<String>,
}

/// The template changes of a Deployment, oldest first.
fn changes(client: &Client, ns: &str, name: &str) -> Result<Vec<Change>> {
    let path = format!("/apis/orca.dev/v1/history?kind=Deployment&namespace={ns}&name={name}");
    let h = client.expect(client.send("GET", &path, None)?)?;
    let mut out: Vec<Change> = Vec::new();
    let mut uid = String::new();
    for ev in h["items"].as_array().into_iter().flatten() {
        if ev["type"] == "DELETED" {
            continue;
        }
        let this_uid = ev["uid"].as_str().unwrap_or("").to_string();
        if this_uid != uid {
            // A new life under this name starts over.
            out.clear();
            uid = this_uid;
        }
        let template = ev["object"]["spec"]["template"].clone();
        let prev = out.last().map(|c| c.template.clone());
        if prev.as_ref() == Some(&template) {
            continue;
        }
        let what = match &prev {
            None => vec!["created".to_string()],
            Some(p) => diff(p, &template)
                .into_iter()
                .map(|l| match l.split_at_checked(2) {
                    Some((sign, rest)) => format!("{sign}spec.template.{rest}"),
                    None => l,
                })
                .collect(),
        };
        out.push(Change {
            time: ev["time"].as_str().unwrap_or("").to_string(),
            actor: ev["actor"].as_str().unwrap_or("").to_string(),
            template,
            what,
        });
    }
    Ok(out)
}

pub fn run(client: &Client, rt: &ResourceType, ns: &str, name: &str, revision: Option<i64>) -> Result<i32> {
    if rt.kind != "Deployment" {
        bail!("rollout history works on deployments, not {}", rt.plural);
    }
    let d = client.expect(client.send("GET", &rt.object_path(Some(ns), name), None)?)?;
    let revs = revisions(client, ns, &d)?;
    let changes = changes(client, ns, name)?;
    if let Some(want) = revision {
        let Some((_, rs)) = revs.iter().find(|(r, _)| *r == want) else {
            bail!("unable to find the specified revision {want}");
        };
        println!("{}/{name} with revision #{want}", qualified(rt));
        println!("Pod Template:");
        for line in serde_yaml_ng::to_string(&template_of(rs))?.lines() {
            println!("  {line}");
        }
        return Ok(0);
    }
    println!("{}/{name}", qualified(rt));
    println!("REVISION  CHANGE-CAUSE");
    for (rev, rs) in &revs {
        let template = template_of(rs);
        let annotated = rs["metadata"]["annotations"]["kubernetes.io/change-cause"].as_str();
        let cause = match (annotated, changes.iter().rev().find(|c| c.template == template)) {
            (Some(a), _) => a.to_string(),
            (None, Some(c)) => format!("{} by {}: {}", c.time, c.actor, c.what.join(", ")),
            (None, None) => "<none>".to_string(),
        };
        println!("{:<9} {cause}", rev);
    }
    Ok(0)
}
