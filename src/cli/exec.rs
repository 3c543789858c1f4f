//! `orcactl exec [-i] [-t] POD [-c C] -- CMD ARGS...`: runs where the container runs; with `-i`
//! (and `-t` for a terminal) as a streaming session (`exec_stream.rs`).

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
    /// Pass stdin to the command
    #[arg(short = 'i', long)]
    stdin: bool,
    /// Give the command a terminal
    #[arg(short = 't', long)]
    tty: bool,
    /// Command and arguments (after --)
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn run(client: &Client, ns: Option<&str>, a: ExecArgs) -> Result<i32> {
    let ns = ns.unwrap_or("default");
    let pod = a.pod.strip_prefix("pod/").unwrap_or(&a.pod).to_string();
    if a.stdin || a.tty {
        return super::exec_stream::run(client, ns, &pod, a.container.as_deref(), &a.command, a.tty);
    }
    let body = json!({"command": a.command, "container": a.container.unwrap_or_default()});
    let out =
        client.expect(client.send("POST", &format!("/api/v1/namespaces/{ns}/pods/{pod}/exec"), Some(&body))?)?;
    std::io::stdout().write_all(out["stdout"].as_str().unwrap_or("").as_bytes())?;
    std::io::stderr().write_all(out["stderr"].as_str().unwrap_or("").as_bytes())?;
    match out["exitCode"].as_i64() {
        Some(code) => Ok(code as i32),
        None => bail!("the node sent no exit code"),
    }
}
