//! orcactl's verbs, one file each, and the client they share.

mod api_resources;
mod apply;
mod apply_merge;
mod client;
mod conn;
mod cordon;
mod delete;
mod describe;
mod diff;
mod drain;
mod edit;
mod events;
mod exec;
mod exec_stream;
mod explain;
mod expose;
mod get;
mod history;
mod image;
mod jsonpath;
mod kubeconfig;
mod label;
mod logs;
mod manifest;
mod members;
mod patch;
mod port_forward;
mod rollout;
mod rollout_history;
mod rollout_status;
mod scale;
mod table;
mod tls;
mod wait;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use client::{Client, SERVER_ERROR};

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
    /// The control plane's members, its leader and how far each is behind
    Members(members::MembersArgs),
    /// Print a container's log
    Logs(logs::LogsArgs),
    /// Run a command in a container (-i for stdin, -t for a terminal)
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
    /// Set or remove labels (KEY=VALUE, KEY-)
    Label(label::LabelArgs),
    /// Set or remove annotations (KEY=VALUE, KEY-)
    Annotate(label::LabelArgs),
    /// Patch an object (strategic merge by default; --type merge|json)
    Patch(patch::PatchArgs),
    /// Edit an object in $KUBE_EDITOR or $EDITOR
    Edit(edit::EditArgs),
    /// Wait for a condition, a JSONPath value or the deletion of objects
    Wait(wait::WaitArgs),
    /// Describe a kind or one of its fields (`deployment.spec.replicas`)
    Explain { what: String },
    /// The kinds the server serves, with short names
    ApiResources {
        /// Only namespaced (true) or cluster-wide (false) kinds
        #[arg(long)]
        namespaced: Option<bool>,
    },
    /// The API group versions the server serves
    ApiVersions,
    /// Where the control plane and cluster DNS run
    ClusterInfo,
    /// Read the kubeconfig, or switch its current context
    Config(kubeconfig::ConfigArgs),
    /// Print a shell completion script (bash, zsh or fish)
    Completion { shell: clap_complete::Shell },
}

#[derive(Subcommand, Debug)]
enum CreateWhat {
    /// Create a namespace
    #[command(alias = "ns")]
    Namespace { name: String },
}

/// Runs a verb; returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Verb::Image(a) => return image::run(a),
        Verb::Config(a) => return kubeconfig::run(a),
        Verb::Completion { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "orcactl", &mut std::io::stdout());
            return Ok(0);
        }
        _ => {}
    }
    let client = Client::connect(cli.server.as_deref())?;
    // As kubectl: -n, else the current context's namespace, else default.
    let ns = cli.namespace.clone().or_else(kubeconfig::namespace);
    match cli.command {
        Verb::Apply(a) => apply::run(&client, ns.as_deref(), a),
        Verb::Get(a) => get::run(&client, ns.as_deref(), a),
        Verb::Describe(a) => describe::run(&client, ns.as_deref(), a),
        Verb::Delete(a) => delete::run(&client, ns.as_deref(), a),
        Verb::Image(_) | Verb::Config(_) | Verb::Completion { .. } => Ok(0),
        Verb::Label(a) => label::run(&client, ns.as_deref(), a, label::Which::Labels),
        Verb::Annotate(a) => label::run(&client, ns.as_deref(), a, label::Which::Annotations),
        Verb::Patch(a) => patch::run(&client, ns.as_deref(), a),
        Verb::Edit(a) => edit::run(&client, ns.as_deref(), a),
        Verb::Wait(a) => wait::run(&client, ns.as_deref(), a),
        Verb::Explain { what } => explain::run(&client, &what),
        Verb::ApiResources { namespaced } => api_resources::resources(&client, namespaced),
        Verb::ApiVersions => api_resources::versions(&client),
        Verb::ClusterInfo => api_resources::cluster_info(&client),
        Verb::History(a) => history::run(&client, ns.as_deref(), a),
        Verb::Members(a) => members::run(&client, a),
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
