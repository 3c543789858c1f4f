//! `orcactl members` (and `orca members`): the control plane's members, the leader and how many
//! log entries each is behind it.

use anyhow::{bail, Result};
use clap::Args;

use super::client::Client;

#[derive(Args, Debug)]
pub struct MembersArgs {
    /// Output format: json
    #[arg(short = 'o', long)]
    output: Option<String>,
}

/// The table of members.
pub fn table(body: &serde_json::Value) -> String {
    let mut rows = vec![[
        "NAME".to_string(),
        "ID".into(),
        "ROLE".into(),
        "MATCHED".into(),
        "LAG".into(),
    ]];
    for m in body["items"].as_array().into_iter().flatten() {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::Null => "<unknown>".to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.push([
            text(&m["name"]),
            text(&m["id"]),
            text(&m["role"]),
            text(&m["matchedIndex"]),
            text(&m["lag"]),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            format!("{}\n", cells.join("   ").trim_end())
        })
        .collect()
}

pub fn run(client: &Client, a: MembersArgs) -> Result<i32> {
    let body = client.expect(client.send("GET", "/apis/orca.dev/v1/members", None)?)?;
    match a.output.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&body)?),
        Some(other) => bail!("unknown output format {other:?}: use json"),
        None => print!("{}", table(&body)),
    }
    Ok(0)
}
