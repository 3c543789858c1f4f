//! orca's resource kinds: Rust types, validation with field paths, defaulting and JSON Schemas.
#![forbid(unsafe_code)]

pub mod admit;
pub mod cron;
pub mod defaults;
pub mod json;
pub mod kinds;
pub mod kube_fields;
pub mod meta;
pub mod protobuf;
pub mod quantity;
pub mod registry;
pub mod selector;
pub mod stored;
pub mod unknown;
pub mod validate;

pub use admit::{admit, validate_update, Admitted};
pub use registry::{lookup, ResourceType, RESOURCES};
pub use validate::FieldError;
