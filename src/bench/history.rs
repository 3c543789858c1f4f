//! `orca bench history`: a log of a million events (one object changed often among many), then the
//! history of that object, a replay of the whole log into a fresh directory, and a restart to ready.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use orca_actors::eventlog::{replay, Change, EventLog, EventType, LogOptions};

/// Options of `orca bench history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Events in the log
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Changes of the one object whose history is read
    #[arg(long, default_value_t = 1000)]
    changes: u64,
    /// Objects the other events change (round robin); restart time follows this, not the log length
    #[arg(long, default_value_t = 10_000)]
    objects: u64,
}

const PER_WRITE: u64 = 2000;

pub fn run(args: HistoryArgs) -> Result<()> {
    let dir = tempfile_dir("orca-bench-history")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let log = EventLog::open(&LogOptions::new(&dir)).context("open log")?;
    let every = (args.events / args.changes.max(1)).max(1);
    let objects = args.objects.max(1);
    let started = Instant::now();
    rt.block_on(async {
        let mut written = 0u64;
        while written < args.events {
            let n = PER_WRITE.min(args.events - written);
            let first = written;
            log.write(move |st| {
                for i in first..first + n {
                    let (name, event_type) = if i % every == 0 {
                        ("watched".to_string(), if i == 0 { EventType::Added } else { EventType::Modified })
                    } else {
                        let k = i % objects;
                        (format!("c{k}"), if i < objects { EventType::Added } else { EventType::Modified })
                    };
                    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}")}, "data": {"i": i.to_string()}});
                    st.put(Change { kind: "ConfigMap".into(), namespace: "default".into(), name, event_type, object: obj, actor: "bench".into() });
                }
            })
            .await?;
            written += n;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    println!(
        "wrote {} events in {:.1} s ({:.0}/s)",
        args.events,
        started.elapsed().as_secs_f64(),
        args.events as f64 / started.elapsed().as_secs_f64()
    );
    let mut samples = Vec::new();
    let mut len = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let revs = log.reader().history("ConfigMap", "default", "watched")?;
        let events: Vec<_> = revs
            .iter()
            .filter_map(|r| log.reader().event(*r).ok().flatten())
            .collect();
        len = events.len();
        samples.push(t.elapsed());
    }
    samples.sort();
    println!(
        "history of one object ({len} changes) in a log of {} events: median {:.1} ms",
        args.events,
        ms(samples[2])
    );
    drop(log);
    let t = Instant::now();
    let reopened = EventLog::open(&LogOptions::new(&dir))?;
    println!(
        "restart (open the log, load the projection) with {} events and {} live objects: {:.0} ms, head {}",
        args.events,
        reopened.projection().all().len(),
        ms(t.elapsed()),
        reopened.head()
    );
    drop(reopened);
    let into = tempfile_dir("orca-bench-replay")?;
    std::fs::remove_dir_all(&into).ok();
    let t = Instant::now();
    let done = replay::replay(&dir, u64::MAX, &into)?;
    println!(
        "replay of {} events into a fresh directory: {:.2} s ({} objects)",
        done.events,
        t.elapsed().as_secs_f64(),
        done.objects
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&into);
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn tempfile_dir(prefix: &str) -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
