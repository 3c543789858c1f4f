//! `orca replay --step`: walks the log one event at a time as JSON lines (revision, time, actor, type,
//! object, and what changed since the object's previous event), for scripted debugging.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};

use orca_actors::eventlog::{EventLog, LogOptions};

fn leaves(v: &Value, path: &str, out: &mut std::collections::BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            leaves(
                x,
                &if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                },
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| leaves(x, &format!("{path}[{i}]"), out)),
        other => {
            out.insert(path.to_string(), other.clone());
        }
    }
}

/// Prints events `from..=until` as JSON lines with their changes.
pub fn run(data_dir: &Path, from: u64, until: u64) -> Result<()> {
    let log = EventLog::open(&LogOptions::new(data_dir)).map_err(|e| crate::logcmd::open_error(data_dir, e))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut next, last) = (from.max(log.oldest()), until.min(log.head()));
    while next <= last {
        let events = log.reader().range(next, last, 10_000)?;
        let Some(tail) = events.last() else { break };
        next = tail.revision + 1;
        for ev in events {
            let before = match ev.prev_revision {
                0 => None,
                p => log.reader().event(p)?,
            };
            let (mut a, mut b) = (Default::default(), Default::default());
            if let Some(prev) = &before {
                leaves(&prev.object(), "", &mut a);
            }
            leaves(&ev.object(), "", &mut b);
            let changed: serde_json::Map<String, Value> = b
                .iter()
                .filter(|(k, v)| k.as_str() != "metadata.resourceVersion" && a.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), json!({"from": a.get(k), "to": v})))
                .chain(
                    a.iter()
                        .filter(|(k, _)| !b.contains_key(*k))
                        .map(|(k, v)| (k.clone(), json!({"from": v, "to": null}))),
                )
                .collect();
            let line = json!({"revision": ev.revision, "time": humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ev.time_ms)).to_string(),
                "actor": ev.actor, "type": ev.event_type.as_watch_type(), "kind": ev.kind, "namespace": ev.namespace, "name": ev.name, "uid": ev.uid,
                "prevRevision": ev.prev_revision, "changed": changed});
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(())
}
