//! `orcactl logs POD [-c C] [-f] [--previous] [--tail N]`, served by the pod's node agent.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;

use super::client::Client;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Pod name (or pod/NAME)
    pod: String,
    /// Container
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Keep printing new output until the container ends
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
    if let Some(t) = a.tail {
        q.push(format!("tailLines={t}"));
    }
    let mut out = std::io::stdout();
    if a.follow {
        // As kubectl (`--pod-running-timeout`, 20 s): a pod that has not started yet is waited for.
        let pod_path = format!("/api/v1/namespaces/{ns}/pods/{pod}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let p = client.expect(client.send("GET", &pod_path, None)?)?;
            let started = p["status"]["containerStatuses"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["state"]["running"].is_object() || c["state"]["terminated"].is_object())
            });
            if started || p["status"]["phase"] != "Pending" || std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        // The server streams the output as it comes and ends when the container does.
        q.push("follow=true".into());
        let mut resp = client.stream(&format!("{base}?{}", q.join("&")))?;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = std::io::Read::read(&mut resp, &mut buf)?;
            if n == 0 {
                return Ok(0);
            }
            out.write_all(&buf[..n])?;
            out.flush()?;
        }
    }
    let (status, text, _) = client.get_text(&format!("{base}?{}", q.join("&")))?;
    if status != 200 {
        bail!("{text}");
    }
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(0)
}
