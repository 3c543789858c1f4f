//! `orca log verify --data-dir DIR`: checks every record's checksum and that revisions are gapless,
//! and names the first bad record instead of failing silently.

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
            let log = EventLog::open(&LogOptions::new(&data_dir)).with_context(|| {
                format!(
                    "failed to open the log in {} (is a server still running on it?)",
                    data_dir.display()
                )
            })?;
            let oldest = log.oldest();
            match log.reader().verify() {
                Ok((count, last)) => {
                    println!("ok: {count} records, revisions {oldest}..={last}, gapless, every checksum good");
                    Ok(())
                }
                Err(e) => bail!("the log is damaged: {e}"),
            }
        }
    }
}
