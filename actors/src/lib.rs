//! orca's actor system: event log, API server, NATS bus, and the components built on them.
// No unsafe code but one reviewed registration with tokio (`shim_process::exit_notifier`).
#![deny(unsafe_code)]

pub mod api_server;
pub mod auth;
pub mod bus;
pub mod cluster;
pub mod controllers;
pub mod dns;
pub mod eventlog;
pub mod events;
pub mod ingress;
pub mod metrics;
pub mod node;
pub mod pod;
pub mod printers;
pub mod raft;
pub mod runtime;
pub mod scheduler;
