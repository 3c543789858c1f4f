//! `orcactl events [--since T] [--until T] [--kind K] [--for KIND/NAME] [-f]`: the log as a timeline,
//! Kubernetes Event records (Scheduled, Started, BackOff, Killing, ...) shown with their reasons.

use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Only entries at or after this time (RFC 3339, or an age such as 10m, 2h)
    #[arg(long)]
    since: Option<String>,
    /// Only entries at or before this time (RFC 3339, or an age)
    #[arg(long)]
    until: Option<String>,
    /// Only this kind (pods, deploy, ...)
    #[arg(long)]
    kind: Option<String>,
    /// Only what concerns KIND/NAME (its changes and its Events)
    #[arg(long = "for")]
    for_object: Option<String>,
    /// Keep printing new entries
    #[arg(short = 'f', long)]
    follow: bool,
}

fn millis(text: &str) -> Result<u64> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return Ok(t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0));
    }
    let age = humantime::parse_duration(text)
        .map_err(|_| anyhow!("{text:?} is neither an RFC 3339 time nor an age such as 10m"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(now.saturating_sub(age.as_millis() as u64))
}

pub fn run(client: &Client, ns: Option<&str>, a: EventsArgs) -> Result<i32> {
    let since = a.since.as_deref().map(millis).transpose()?;
    let until = a.until.as_deref().map(millis).transpose()?;
    let kind = a
        .kind
        .as_deref()
        .map(|k| super::get::resolve(k).map(|r| r.kind))
        .transpose()?;
    let target = match &a.for_object {
        Some(t) => {
            let (k, n) = t
                .split_once('/')
                .ok_or_else(|| anyhow!("--for takes KIND/NAME, for example pod/web-1"))?;
            Some((super::get::resolve(k)?.kind, n.to_string()))
        }
        None => None,
    };
    let matches = |e: &Value| {
        let t = e["timeMillis"].as_u64().unwrap_or(0);
        if since.is_some_and(|s| t < s) || until.is_some_and(|u| t > u) {
            return false;
        }
        if ns.is_some_and(|n| e["namespace"].as_str().is_some_and(|x| !x.is_empty() && x != n)) {
            return false;
        }
        if kind.is_some_and(|k| e["kind"] != k) {
            return false;
        }
        match &target {
            Some((k, n)) => {
                (e["kind"] == *k && e["name"] == n.as_str())
                    || (e["involvedObject"]["kind"] == *k && e["involvedObject"]["name"] == n.as_str())
            }
            None => true,
        }
    };
    println!(
        "{:<21} {:>9} {:<22} {:<9} {:<36} DETAIL",
        "TIME", "REVISION", "ACTOR", "TYPE", "OBJECT"
    );
    let mut from: Option<u64> = None;
    loop {
        let q = from.map(|f| format!("?from={f}")).unwrap_or_default();
        let page = client.expect(client.send("GET", &format!("/apis/orca.dev/v1/log{q}"), None)?)?;
        for e in page["items"].as_array().into_iter().flatten().filter(|e| matches(e)) {
            let object = format!(
                "{}/{}",
                e["kind"].as_str().unwrap_or("").to_lowercase(),
                e["name"].as_str().unwrap_or("")
            );
            let detail = if e["kind"] == "Event" {
                format!(
                    "{} {}/{}: {} {}",
                    e["eventType"].as_str().unwrap_or(""),
                    e["involvedObject"]["kind"].as_str().unwrap_or("").to_lowercase(),
                    e["involvedObject"]["name"].as_str().unwrap_or(""),
                    e["reason"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            } else {
                String::new()
            };
            println!(
                "{:<21} {:>9} {:<22} {:<9} {:<36} {}",
                e["time"].as_str().unwrap_or(""),
                e["revision"].as_u64().unwrap_or(0),
                e["actor"].as_str().unwrap_or(""),
                e["type"].as_str().unwrap_or(""),
                object,
                detail
            );
        }
        let next = page["next"].as_u64().unwrap_or(0);
        let head = page["head"].as_u64().unwrap_or(0);
        from = Some(next.max(from.unwrap_or(0)));
        if next <= head {
            continue;
        }
        if !a.follow {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
