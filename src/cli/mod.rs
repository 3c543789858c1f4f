//! orcactl's verbs, one file each, and the client they share.

mod apply;
mod apply_merge;
mod client;
mod cordon;
mod delete;
mod describe;
mod diff;
mod drain;
mod events;
mod exec;
mod expose;
mod get;
mod history;
mod image;
mod logs;
mod manifest;
mod port_forward;
mod rollout;
mod rollout_history;
mod rollout_status;
mod scale;
mod table;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use client::Client;

/// orcactl: drive an orca cluster as you would kubectl.
#[derive(Parser, Debug)]
#[command(name = "orcactl", version, about)]
pub struct Cli {
    /// API server URL [default: $ORCA_SERVER, else the file `orca up` writes at $ORCA_HOME/server]
    #[arg(long, global = true)]
    server: Option<String>,
    /// Namespace
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    #[command(subcommand)]
    command: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Create or update objects from files, directories or stdin (`-f -`)
    Apply(apply::ApplyArgs),
    /// List objects, or show one, as a table, YAML, JSON or names
    Get(get::GetArgs),
    /// Show an object in detail with its events
    Describe(describe::DescribeArgs),
    /// Delete objects by kind and name, or from files
    Delete(delete::DeleteArgs),
    /// What changed in the cluster between two revisions
    Diff(diff::DiffArgs),
    /// The cluster's log as a timeline, with Kubernetes Events
    Events(events::EventsArgs),
    /// Every change to an object, with what changed, deleted objects included
    History(history::HistoryArgs),
    /// Print a container's log
    Logs(logs::LogsArgs),
    /// Run a command in a container (non-interactive)
    Exec(exec::ExecArgs),
    /// Load and list the images of this machine's store (runc runtime)
    Image(image::ImageArgs),
    /// Make a Service for the pods of a Deployment, ReplicaSet, StatefulSet, DaemonSet or pod
    Expose(expose::ExposeArgs),
    /// Forward local ports to a pod (or to a pod of a Service or Deployment)
    PortForward(port_forward::PortForwardArgs),
    /// Set the replicas of a Deployment, ReplicaSet or StatefulSet
    Scale(scale::ScaleArgs),
    /// Follow, list, undo, pause, resume or restart a rollout
    Rollout(rollout::RolloutArgs),
    /// Mark a node unschedulable
    Cordon { node: String },
    /// Cordon a node and evict its pods, honouring disruption budgets
    Drain(drain::DrainArgs),
    /// Mark a node schedulable again
    Uncordon { node: String },
    /// Create a namespace
    Create {
        #[command(subcommand)]
        what: CreateWhat,
    },
}

#[derive(Subcommand, Debug)]
enum CreateWhat {
    /// Create a namespace
    #[command(alias = "ns")]
    Namespace { name: String },
}

/// Runs a verb; returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    if let Verb::Image(a) = cli.command {
        return image::run(a);
    }
    let client = Client::connect(cli.server.as_deref())?;
    let ns = cli.namespace.clone();
    match cli.command {
        Verb::Apply(a) => apply::run(&client, ns.as_deref(), a),
        Verb::Get(a) => get::run(&client, ns.as_deref(), a),
        Verb::Describe(a) => describe::run(&client, ns.as_deref(), a),
        Verb::Delete(a) => delete::run(&client, ns.as_deref(), a),
        Verb::Image(_) => Ok(0),
        Verb::History(a) => history::run(&client, ns.as_deref(), a),
        Verb::Events(a) => events::run(&client, ns.as_deref(), a),
        Verb::Diff(a) => diff::run(&client, ns.as_deref(), a),
        Verb::Logs(a) => logs::run(&client, ns.as_deref(), a),
        Verb::Exec(a) => exec::run(&client, ns.as_deref(), a),
        Verb::Scale(a) => scale::run(&client, ns.as_deref(), a),
        Verb::Expose(a) => expose::run(&client, ns.as_deref(), a),
        Verb::PortForward(a) => port_forward::run(&client, ns.as_deref(), a),
        Verb::Rollout(a) => rollout::run(&client, ns.as_deref(), a),
        Verb::Cordon { node } => cordon::run(&client, &node, true),
        Verb::Uncordon { node } => cordon::run(&client, &node, false),
        Verb::Drain(a) => drain::run(&client, a),
        Verb::Create {
            what: CreateWhat::Namespace { name },
        } => {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let obj = client.expect(client.send("POST", "/api/v1/namespaces", Some(&body))?)?;
            println!(
                "namespace/{} created",
                obj["metadata"]["name"].as_str().unwrap_or(&name)
            );
            Ok(0)
        }
    }
}
