//! `orcactl wait KIND/NAME... --for=condition=X[=V] | --for=delete | --for=jsonpath='{...}'=V
//! [--timeout=30s]`: kubectl's wait, checking twice a second until every object satisfies it.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::get::resolve;

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// KIND/NAME... (or KIND NAME...)
    #[arg(required = true, num_args = 1..)]
    targets: Vec<String>,
    /// condition=NAME[=VALUE], delete, or jsonpath='{.path}'=VALUE
    #[arg(long = "for")]
    for_: String,
    /// How long to wait (30s, 2m)
    #[arg(long, default_value = "30s")]
    timeout: String,
}

enum Until {
    Condition(String, String),
    Delete,
    Path(String, String),
}

fn parse_for(s: &str) -> Result<Until> {
    if s == "delete" {
        return Ok(Until::Delete);
    }
    if let Some(c) = s.strip_prefix("condition=") {
        let (name, value) = c.split_once('=').unwrap_or((c, "True"));
        return Ok(Until::Condition(name.to_lowercase(), value.to_string()));
    }
    if let Some(j) = s.strip_prefix("jsonpath=") {
        let end = j
            .rfind('}')
            .ok_or_else(|| anyhow!("--for=jsonpath='{{.path}}'=VALUE"))?;
        let value = j[end + 1..].strip_prefix('=').unwrap_or("").to_string();
        return Ok(Until::Path(j[..=end].to_string(), value));
    }
    bail!("--for must be condition=NAME[=VALUE], delete or jsonpath='{{.path}}'=VALUE, not {s:?}")
}

fn met(obj: &Value, until: &Until) -> Result<bool> {
    Ok(match until {
        Until::Delete => false,
        Until::Condition(name, value) => obj["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"].as_str().is_some_and(|t| t.to_lowercase() == *name) && c["status"] == value.as_str()),
        Until::Path(path, value) => super::jsonpath::template(path, obj)? == *value,
    })
}

pub fn run(client: &Client, ns: Option<&str>, a: WaitArgs) -> Result<i32> {
    let until = parse_for(&a.for_)?;
    let timeout: Duration =
        humantime::parse_duration(&a.timeout).map_err(|e| anyhow!("--timeout={}: {e}", a.timeout))?;
    let (targets, _) = super::label::split_targets(&a.targets);
    let deadline = Instant::now() + timeout;
    let ns = ns.unwrap_or("default");
    for (kind, name) in targets {
        let rt = resolve(&kind)?;
        let path = rt.object_path(Some(ns), &name);
        let shown = format!("{}/{name}", super::get::qualified(rt));
        loop {
            let r = client.send("GET", &path, None)?;
            let done = match (&until, r.status) {
                (Until::Delete, 404) => true,
                (_, 404) => bail!("{}", super::client::error_message(404, &r.body)),
                (_, s) if !(200..300).contains(&s) => bail!("{}", super::client::error_message(s, &r.body)),
                _ => met(&r.body, &until)?,
            };
            if done {
                println!("{shown} condition met");
                break;
            }
            if Instant::now() >= deadline {
                bail!("timed out waiting for the condition on {shown}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    Ok(0)
}
