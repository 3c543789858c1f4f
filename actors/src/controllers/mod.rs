//! Controllers: reconcilers driven by watches and NATS, one file each.

pub mod cronjob;
pub mod cronjob_plan;
pub mod deployment;
pub mod deployment_plan;
pub mod gc;
pub mod gc_graph;
pub mod job;
pub mod job_plan;
pub mod namespace;
pub mod node_lifecycle;
pub mod replicaset;
pub mod replicaset_plan;
