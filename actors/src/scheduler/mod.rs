//! The scheduler: watches pending pods and nodes into its own cache, filters and scores nodes with
//! pure plugins, and binds pods through the API.

pub mod actor;
pub mod bind;
pub mod cache;
pub mod decide;
pub mod plugins;
pub mod pod_info;
pub mod state;

pub use actor::Scheduler;
