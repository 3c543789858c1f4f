//! `orcactl exec POD [-c C] -- CMD ARGS...` (non-interactive): runs where the container runs.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use super::client::Client;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Pod name
    pod: String,
    /// Container
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Command and arguments (after --)
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn run(client: &Client, ns: Option<&str>, a: ExecArgs) -> Result<i32> {
    let ns = ns.unwrap_or("default");
    let body = json!({"command": a.command, "container": a.container.unwrap_or_default()});
    let out = client.expect(client.send(
        "POST",
        &format!("/api/v1/namespaces/{ns}/pods/{}/exec", a.pod),
        Some(&body),
    )?)?;
    std::io::stdout().write_all(out["stdout"].as_str().unwrap_or("").as_bytes())?;
    std::io::stderr().write_all(out["stderr"].as_str().unwrap_or("").as_bytes())?;
    match out["exitCode"].as_i64() {
        Some(code) => Ok(code as i32),
        None => bail!("the node sent no exit code"),
    }
}
