//! Running a cluster's control plane: the private nats-server child and the control-plane assembly.

pub mod join;
pub mod members;
pub mod nats_auth;
pub mod natsd;
pub mod plane;
