//! `orca log verify|export|import`: check a log (every checksum, gapless revisions, the first bad
//! record named), and carry the exact history in a file for a bug report.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use orca_actors::eventlog::{EventLog, LogOptions};

/// `orca log ...`.
#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Check checksums and gapless revisions of a stopped server's log
    Verify {
        /// Data directory of the log
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Write a stopped server's log to stdout (Secrets stay encrypted unless --redact-secrets)
    Export {
        /// Data directory of the log
        #[arg(long)]
        data_dir: PathBuf,
        /// First revision
        #[arg(long)]
        from: Option<u64>,
        /// Last revision
        #[arg(long)]
        to: Option<u64>,
        /// Blank every Secret's data (the export then needs no key to import)
        #[arg(long)]
        redact_secrets: bool,
    },
    /// Rebuild a data directory from an export (a file, or - for stdin)
    Import {
        /// The export
        file: PathBuf,
        /// New, empty data directory
        #[arg(long)]
        into: PathBuf,
        /// The source's DATA_DIR/secret.key, for an unredacted export holding Secrets
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

pub fn run(cmd: LogCommand) -> Result<()> {
    match cmd {
        LogCommand::Verify { data_dir } => {
            if !data_dir.join("log").is_dir() {
                bail!(
                    "{} holds no event log (expected {}/log)",
                    data_dir.display(),
                    data_dir.display()
                );
            }
            let log = EventLog::open(&LogOptions::new(&data_dir)).map_err(|e| open_error(&data_dir, e))?;
            let oldest = log.oldest();
            match log.reader().verify() {
                Ok((count, last)) => {
                    println!("ok: {count} records, revisions {oldest}..={last}, gapless, every checksum good");
                    Ok(())
                }
                Err(e) => bail!("the log is damaged: {e}"),
            }
        }
        LogCommand::Export {
            data_dir,
            from,
            to,
            redact_secrets,
        } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let n = orca_actors::eventlog::portable::export(&data_dir, from, to, redact_secrets, &mut out)
                .with_context(|| format!("failed to export {}", data_dir.display()))?;
            eprintln!(
                "exported {n} records{}",
                if redact_secrets {
                    " (Secret data redacted)"
                } else {
                    " (Secrets sealed with the source's key)"
                }
            );
            Ok(())
        }
        LogCommand::Import { file, into, key } => {
            let key = key
                .map(|k| std::fs::read(&k).with_context(|| format!("failed to read key {}", k.display())))
                .transpose()?;
            let mut input: Box<dyn std::io::Read> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&file).with_context(|| format!("failed to open {}", file.display()))?,
                ))
            };
            let done = orca_actors::eventlog::portable::import(&mut input, &into, key.as_deref())
                .with_context(|| format!("failed to import {}", file.display()))?;
            println!(
                "imported {} records up to revision {} into {}: {} objects",
                done.events,
                done.head,
                into.display(),
                done.objects
            );
            Ok(())
        }
    }
}

/// What to say when a data directory's log cannot be opened: when a running server holds it, how
/// to read the running cluster instead.
pub fn open_error(dir: &std::path::Path, e: impl std::fmt::Display) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("Locked") {
        anyhow::anyhow!(
            "{} is in use by a running orca (its log is locked). Stop that server first, or read the running cluster through its API: `orcactl get KIND --at REV|TIME`, `orcactl history KIND/NAME`, `orcactl diff --from REV --to REV`, `orcactl events`",
            dir.display()
        )
    } else {
        anyhow::anyhow!("failed to open the log in {}: {text}", dir.display())
    }
}
