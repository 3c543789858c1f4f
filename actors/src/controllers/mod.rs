//! Controllers: reconcilers driven by watches and NATS, one file each.

pub mod cronjob;
pub mod cronjob_plan;
pub mod daemonset;
pub mod daemonset_plan;
pub mod deployment;
pub mod deployment_plan;
pub mod disruption;
pub mod endpoints;
pub mod endpoints_plan;
pub mod gc;
pub mod gc_graph;
pub mod job;
pub mod job_plan;
pub mod job_pods;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod node_taints;
pub mod replicaset;
pub mod replicaset_plan;
pub mod rollout_check;
pub mod service_accounts;
pub mod statefulset;
pub mod statefulset_plan;
pub mod taint_eviction;
pub mod volume_binding;

use crate::api_server::health::Checks;
use crate::bus::client::ApiClient;
use crate::cluster::plane::runs;

/// Starts the workload controllers, each under its supervisor with its own NATS identity, and
/// adds a readiness check per controller.
pub fn start_all(nats: &async_nats::Client, checks: &Checks, default_toleration_seconds: u64) {
    let api = |name: &str| ApiClient::new(nats.clone(), name);
    let rs = replicaset::ReplicaSets::start(api("replicaset-controller"));
    checks.add("replicaset-controller", runs(move || rs.running()));
    let d = deployment::Deployments::start(api("deployment-controller"));
    checks.add("deployment-controller", runs(move || d.running()));
    let ds = daemonset::DaemonSets::start(api("daemonset-controller"));
    checks.add("daemonset-controller", runs(move || ds.running()));
    let ss = statefulset::StatefulSets::start(api("statefulset-controller"));
    checks.add("statefulset-controller", runs(move || ss.running()));
    let j = job::Jobs::start(api("job-controller"));
    checks.add("job-controller", runs(move || j.running()));
    let cj = cronjob::CronJobs::start(api("cronjob-controller"));
    checks.add("cronjob-controller", runs(move || cj.running()));
    let gc = gc::GarbageCollector::start(api("garbage-collector"));
    checks.add("garbage-collector", runs(move || gc.running()));
    let pdb = disruption::Disruption::start(api("disruption-controller"));
    checks.add("disruption-controller", runs(move || pdb.running()));
    let te = taint_eviction::TaintEviction::start(api("taint-eviction-controller"), default_toleration_seconds);
    checks.add("taint-eviction-controller", runs(move || te.running()));
    let pv = volume_binding::VolumeBinding::start(api("persistentvolume-controller"));
    checks.add("persistentvolume-controller", runs(move || pv.running()));
    let ep = endpoints::EndpointsController::start(api("endpoints-controller"));
    checks.add("endpoints-controller", runs(move || ep.running()));
    let ns = namespace::Namespaces::start(api("namespace-controller"));
    checks.add("namespace-controller", runs(move || ns.running()));
    let ipam = node_ipam::NodeIpamController::start(api("node-ipam-controller"));
    checks.add("node-ipam-controller", runs(move || ipam.running()));
    let sa = service_accounts::ServiceAccounts::start(api("serviceaccount-controller"));
    checks.add("serviceaccount-controller", runs(move || sa.running()));
}
