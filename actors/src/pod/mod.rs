//! The pod actor: one per pod on a node; container supervisors with restart policy and back-off,
//! environment from ConfigMaps, Secrets and the pod's fields, status reports, graceful termination.

pub mod actor;
pub mod backoff;
pub mod container;
pub mod dns_files;
pub mod env;
pub mod launch;
pub mod lifecycle;
pub mod probe;
pub mod sandbox;
pub mod service_account;
pub mod service_env;
pub mod state;
pub mod status;
pub mod volume_claims;
pub mod volume_files;
pub mod volumes;
