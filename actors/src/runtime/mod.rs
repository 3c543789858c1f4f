//! What every component shares: the informer, its indexed cache, the work queue and the reconcile
//! loop.

pub mod controller;
pub mod informer;
pub mod queue;
pub mod store;
pub mod supervisor;
pub mod write;

pub use controller::{Action, Controller, Enqueue, Reconciler};
pub use informer::{InformerEvent, InformerSpec};
pub use store::{Cached, Delta, Key, Store};
