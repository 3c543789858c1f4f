//! The `orca` binary: `up` (one-machine cluster), `server` (control plane on an existing NATS), `bench`.
#![forbid(unsafe_code)]

/// mimalloc: the control plane allocates many small JSON values; glibc malloc spent a third of its
/// CPU in allocation under the scheduler bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod agent;
mod bench;
mod lab;
mod logcmd;
mod private_nats;
mod replay;
mod serve;
mod step;

use clap::{Parser, Subcommand};

/// orca: a container orchestrator that keeps the whole history of the cluster.
#[derive(Parser)]
#[command(name = "orca", version, about)]
struct Cli {
    /// Log lines as text or as one JSON object each (level with ORCA_LOG, e.g. info)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a one-machine cluster: a private nats-server and the control plane.
    Up(serve::UpArgs),
    /// Run the control plane against an existing NATS server or cluster.
    Server(serve::ServerArgs),
    /// Run a node agent joined through NATS.
    Agent(agent::AgentArgs),
    /// Rebuild the state as of a revision or time into a new data directory
    Replay(replay::ReplayArgs),
    /// Work with a data directory's event log
    #[command(subcommand)]
    Log(logcmd::LogCommand),
    /// Several hosts on this machine (network namespaces) running one cluster, for tests and trials
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// The control plane's members, the leader and how far each is behind (`orcactl members`)
    Members {
        /// Passed on to `orcactl members` (-o json, --server URL)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure orca: API writes, watch fan-out, start-up.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Runs `orcactl members ARGS` from beside this binary.
fn members(args: &[String]) -> anyhow::Result<()> {
    use anyhow::Context;
    let orcactl = std::env::current_exe()?.with_file_name("orcactl");
    let status = std::process::Command::new(&orcactl)
        .arg("members")
        .args(args)
        .status()
        .with_context(|| format!("running {} (installed beside orca)", orcactl.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}

fn main() {
    // mimalloc asks for transparent huge pages for its arenas, and a sparsely used 2 MiB page is
    // resident whole: the node agent with 1,000 pods was 104-135 MB resident with them and 74-77 MB
    // without (creates/s unchanged). The flag is inherited; the container monitor clears it again,
    // so containers get the machine's setting.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORCA_LOG")
        .unwrap_or_else(|_| "warn,lsm_tree=error,fjall=error,openraft=off".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let result = match cli.command {
        Command::Up(args) => serve::up(args),
        Command::Server(args) => serve::server(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Agent(args) => agent::agent(args),
        Command::Log(cmd) => logcmd::run(cmd),
        Command::Lab(cmd) => lab::run(cmd),
        Command::Members { args } => members(&args),
        Command::Replay(args) => replay::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
