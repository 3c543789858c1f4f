//! `orca bench`: API write throughput and latency, watch fan-out, start-up time and memory.

mod api;
mod cluster;
mod etcd;
mod grpc;
mod history;
mod members;
mod node_memory;
mod pods;
mod proxy;
mod reads;
mod sched_check;
mod scheduler;
mod startup;
mod svg;
mod watch;
mod workloads;

use anyhow::Result;
use clap::Subcommand;

/// The benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Durable creates per second and latency through the HTTP API.
    Api(api::ApiArgs),
    /// One change delivered to many watchers: delivery latency.
    Watch(watch::WatchArgs),
    /// Scheduling throughput and latency on hollow nodes, checked against the event log.
    Scheduler(scheduler::SchedulerArgs),
    /// Creates/s of three control-plane members against one, and leader loss to writes again.
    Members(members::MembersArgs),
    /// History, restart and replay on a log of a million events.
    History(history::HistoryArgs),
    /// Pod startup latency, create -> Running, on one node.
    Pods(pods::PodsArgs),
    /// `orca up` start to ready, and idle resident memory.
    Startup(startup::StartupArgs),
    /// A Deployment scaled 0 -> N and rolled on hollow nodes, bounds checked from the event log.
    Workloads(workloads::WorkloadsArgs),
    /// HTTP through a Service's ClusterIP versus to the pod, and endpoint convergence.
    Proxy(proxy::ProxyArgs),
    /// kubectl's reads: discovery and OpenAPI on a cold cache, LIST of many pods as JSON and Table.
    Reads(reads::ReadsArgs),
    /// The HTTP server the proxy bench runs in its pods.
    #[command(hide = true)]
    Backend(proxy::BackendArgs),
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Api(a) => api::run(a),
        BenchCommand::Members(a) => members::run(a),
        BenchCommand::Watch(a) => watch::run(a),
        BenchCommand::Startup(a) => startup::run(a),
        BenchCommand::Pods(a) => pods::run(a),
        BenchCommand::History(a) => history::run(a),
        BenchCommand::Scheduler(a) => scheduler::run(a),
        BenchCommand::Workloads(a) => workloads::run(a),
        BenchCommand::Proxy(a) => proxy::run(a),
        BenchCommand::Backend(a) => proxy::backend(a),
        BenchCommand::Reads(a) => reads::run(a),
    }
}

/// The value at quantile `q` (0..=1) of sorted samples.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}
