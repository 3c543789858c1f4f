//! `orcactl members` (and `orca members`): the control plane's members, the leader and how many
//! log entries each is behind it.

use anyhow::{bail, Result};
use clap::Args;

use super::client::Client;

#[derive(Args, Debug)]
pub struct MembersArgs {
    /// `add NAME` (start it with `orca server --peers ...,NAME --member NAME`; it votes once it has
    /// the leader's log) or `remove NAME`; nothing: list them
    #[arg(num_args = 0..=2)]
    change: Vec<String>,
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
    const PATH: &str = "/apis/orca.dev/v1/members";
    let body = match a.change.as_slice() {
        [] => client.expect(client.send("GET", PATH, None)?)?,
        [verb, name] if verb == "add" => {
            let b = client.expect(client.send("POST", PATH, Some(&serde_json::json!({"name": name})))?)?;
            println!("member {name} added");
            b
        }
        [verb, name] if verb == "remove" => {
            let b = client.expect(client.send("DELETE", &format!("{PATH}/{name}"), None)?)?;
            println!("member {name} removed");
            b
        }
        _ => bail!("members takes nothing (list), `add NAME` or `remove NAME`"),
    };
    match a.output.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&body)?),
        Some(other) => bail!("unknown output format {other:?}: use json"),
        None => print!("{}", table(&body)),
    }
    Ok(0)
}
