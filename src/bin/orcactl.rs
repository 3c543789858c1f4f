//! `orcactl`: kubectl-like client of the orca API.
#![forbid(unsafe_code)]

#[path = "../cli/mod.rs"]
mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
