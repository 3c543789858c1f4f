//! `orcactl logs POD [-c C] [-f] [--previous] [--tail N]`, served by the pod's node agent.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use super::client::Client;

/// How often `-f` asks for more.
const FOLLOW_POLL: Duration = Duration::from_millis(300);

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Pod name (or pod/NAME)
    pod: String,
    /// Container
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Keep printing new output
    #[arg(short = 'f', long)]
    follow: bool,
    /// The previous run of the container
    #[arg(short = 'p', long)]
    previous: bool,
    /// Only the last N lines
    #[arg(long)]
    tail: Option<u64>,
}

pub fn run(client: &Client, ns: Option<&str>, a: LogsArgs) -> Result<i32> {
    let ns = ns.unwrap_or("default");
    let pod = a
        .pod
        .strip_prefix("pod/")
        .or_else(|| a.pod.strip_prefix("pods/"))
        .unwrap_or(&a.pod);
    let base = format!("/api/v1/namespaces/{ns}/pods/{pod}/log");
    let mut q = Vec::new();
    if let Some(c) = &a.container {
        q.push(format!("container={c}"));
    }
    if a.previous {
        q.push("previous=true".into());
    }
    let mut first = q.clone();
    if let Some(t) = a.tail {
        first.push(format!("tailLines={t}"));
    }
    let (status, text, mut offset) = client.get_text(&format!("{base}?{}", first.join("&")))?;
    if status != 200 {
        bail!("{text}");
    }
    let mut out = std::io::stdout();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if !a.follow {
        return Ok(0);
    }
    loop {
        std::thread::sleep(FOLLOW_POLL);
        let mut next = q.clone();
        next.push(format!("sinceBytes={offset}"));
        let (status, text, off) = client.get_text(&format!("{base}?{}", next.join("&")))?;
        if status == 404 {
            return Ok(0);
        }
        if status != 200 {
            continue;
        }
        if off < offset {
            // The log was rotated or the container restarted: start from the new file's beginning.
            offset = 0;
            continue;
        }
        offset = off;
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
}
