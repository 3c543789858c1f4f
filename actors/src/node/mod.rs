//! The node agent: registers its Node, heartbeats, runs a pod actor per pod bound to it, serves logs
//! and exec, and adopts what it started before a restart.

pub mod agent;
pub mod exec_session;
pub mod hollow;
pub mod host;
pub mod images;
pub mod network;
pub mod proxy;
pub mod proxy_rules;
pub mod register;
pub mod routes;
pub mod runtime;
pub mod serve;

pub use agent::{run, AgentOptions};
