//! `orcactl`: kubectl-like client of the orca API.
#![forbid(unsafe_code)]

#[path = "../cli/mod.rs"]
mod cli;

use clap::Parser;

fn main() {
    // Output cut short by the reader (`orcactl get pods | head`) ends the program quietly, as it
    // does kubectl, instead of a panic about the broken pipe.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let text = format!("{e:#}");
            if text.starts_with(cli::SERVER_ERROR) {
                eprintln!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            std::process::exit(1);
        }
    }
}
