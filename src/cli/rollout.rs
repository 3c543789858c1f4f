//! `orcactl rollout status|history|undo|pause|resume|restart KIND/NAME`, as kubectl has them.

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use orca_schemas::ResourceType;

use super::client::Client;
use super::get::resolve;

#[derive(Args, Debug)]
pub struct RolloutArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Follow a rollout until it is done; exits 1 when its progress deadline is exceeded
    Status {
        target: String,
        name: Option<String>,
        /// Print the state once and return
        #[arg(short = 'w', long = "watch", default_value_t = true, action = clap::ArgAction::Set)]
        watch: bool,
        /// Give up after this long (`30s`, `5m`; 0 waits forever)
        #[arg(long, default_value = "0s")]
        timeout: String,
    },
    /// The revisions of a Deployment and what changed in each
    History {
        target: String,
        name: Option<String>,
        /// Show the pod template of this revision
        #[arg(long)]
        revision: Option<i64>,
    },
    /// Roll back to the previous revision, or to --to-revision
    Undo {
        target: String,
        name: Option<String>,
        #[arg(long, default_value_t = 0)]
        to_revision: i64,
    },
    /// Stop a Deployment's rollout where it is
    Pause { target: String, name: Option<String> },
    /// Let a paused Deployment's rollout go on
    Resume { target: String, name: Option<String> },
    /// Replace every pod (a new template annotation starts a rollout)
    Restart { target: String, name: Option<String> },
}

/// `KIND/NAME` or `KIND NAME` into a kind and a name.
pub fn target(t: &str, name: Option<&str>) -> Result<(&'static ResourceType, String)> {
    match (t.split_once('/'), name) {
        (Some((k, n)), None) => Ok((resolve(k)?, n.to_string())),
        (None, Some(n)) => Ok((resolve(t)?, n.to_string())),
        _ => bail!("give the object as KIND/NAME (deployment/web) or KIND NAME"),
    }
}

/// `deployment.apps`, `statefulset.apps`, as kubectl names kinds in messages.
pub fn qualified(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.singular.to_string()
    } else {
        format!("{}.{}", rt.singular, rt.group)
    }
}

pub fn run(client: &Client, ns: Option<&str>, a: RolloutArgs) -> Result<i32> {
    let ns = ns.unwrap_or("default");
    match a.action {
        Action::Status {
            target: t,
            name,
            watch,
            timeout,
        } => {
            let (rt, name) = target(&t, name.as_deref())?;
            let timeout = humantime::parse_duration(&timeout).map_err(|e| anyhow!("--timeout {timeout:?}: {e}"))?;
            super::rollout_status::run(client, rt, ns, &name, watch, timeout)
        }
        Action::History {
            target: t,
            name,
            revision,
        } => {
            let (rt, name) = target(&t, name.as_deref())?;
            super::rollout_history::run(client, rt, ns, &name, revision)
        }
        Action::Undo {
            target: t,
            name,
            to_revision,
        } => {
            let (rt, name) = target(&t, name.as_deref())?;
            undo(client, rt, ns, &name, to_revision)
        }
        Action::Pause { target: t, name } => pause(client, &t, name.as_deref(), ns, true),
        Action::Resume { target: t, name } => pause(client, &t, name.as_deref(), ns, false),
        Action::Restart { target: t, name } => {
            let (rt, name) = target(&t, name.as_deref())?;
            if !matches!(rt.kind, "Deployment" | "DaemonSet" | "StatefulSet") {
                bail!(
                    "restart works on deployments, daemonsets and statefulsets, not {}",
                    rt.plural
                );
            }
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
            let path = rt.object_path(Some(ns), &name);
            client.expect(client.send_typed("PATCH", &path, Some(&patch), "application/merge-patch+json")?)?;
            println!("{}/{name} restarted", qualified(rt));
            Ok(0)
        }
    }
}

fn pause(client: &Client, t: &str, name: Option<&str>, ns: &str, paused: bool) -> Result<i32> {
    let (rt, name) = target(t, name)?;
    if rt.kind != "Deployment" {
        bail!("only deployments can be paused and resumed, not {}", rt.plural);
    }
    let path = rt.object_path(Some(ns), &name);
    let cur = client.expect(client.send("GET", &path, None)?)?;
    let word = if paused { "paused" } else { "resumed" };
    if cur["spec"]["paused"].as_bool().unwrap_or(false) == paused {
        println!("{}/{name} already {word}", qualified(rt));
        return Ok(0);
    }
    let patch = json!({"spec": {"paused": if paused { json!(true) } else { Value::Null }}});
    client.expect(client.send_typed("PATCH", &path, Some(&patch), "application/merge-patch+json")?)?;
    println!("{}/{name} {word}", qualified(rt));
    Ok(0)
}

/// The Deployment's ReplicaSets with their revision numbers, oldest first.
pub fn revisions(client: &Client, ns: &str, deploy: &Value) -> Result<Vec<(i64, Value)>> {
    let uid = deploy["metadata"]["uid"].as_str().unwrap_or("");
    let list = client.expect(client.send("GET", &format!("/apis/apps/v1/namespaces/{ns}/replicasets"), None)?)?;
    let mut out: Vec<(i64, Value)> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|rs| {
            rs["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["uid"] == uid && r["controller"] == true))
        })
        .filter_map(|rs| {
            let rev = rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()?
                .parse()
                .ok()?;
            Some((rev, rs))
        })
        .collect();
    out.sort_by_key(|(r, _)| *r);
    Ok(out)
}

/// A ReplicaSet's template as the Deployment wrote it (without the hash label).
pub fn template_of(rs: &Value) -> Value {
    let mut t = rs["spec"]["template"].clone();
    if let Some(l) = t["metadata"]["labels"].as_object_mut() {
        l.remove("pod-template-hash");
    }
    t
}

fn undo(client: &Client, rt: &ResourceType, ns: &str, name: &str, to: i64) -> Result<i32> {
    if rt.kind != "Deployment" {
        bail!("undo works on deployments, not {}", rt.plural);
    }
    let path = rt.object_path(Some(ns), name);
    let d = client.expect(client.send("GET", &path, None)?)?;
    let revs = revisions(client, ns, &d)?;
    let current = revs.last().map(|(r, _)| *r).unwrap_or(0);
    let chosen = if to == 0 {
        revs.iter().rev().find(|(r, _)| *r < current)
    } else {
        revs.iter().find(|(r, _)| *r == to)
    };
    let Some((rev, rs)) = chosen else {
        if to == 0 {
            bail!(
                "no rollout history found for {}/{name}: there is no previous revision",
                qualified(rt)
            );
        }
        bail!("unable to find specified revision {to} in history");
    };
    let template = template_of(rs);
    if template == d["spec"]["template"] {
        println!(
            "{}/{name} skipped rollback (current template already matches revision {rev})",
            qualified(rt)
        );
        return Ok(0);
    }
    let mut next = d.clone();
    next["spec"]["template"] = template;
    client.expect(client.send("PUT", &path, Some(&next))?)?;
    println!("{}/{name} rolled back", qualified(rt));
    Ok(0)
}
