//! The node's local image store: the built-in busybox image, and images loaded from OCI-layout or
//! docker-save tarballs (layers applied in order, whiteouts honoured).

pub mod builtin;
pub mod layers;
pub mod load;
pub mod store;

pub use store::{ImageConfig, ImageStore};

/// What can go wrong with images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the store failed.
    #[error("image store: {0}")]
    Io(#[from] std::io::Error),
    /// The tarball is neither an OCI image layout nor a docker-save archive.
    #[error("{0}")]
    Format(String),
    /// busybox-static is not installed, so the built-in image cannot be made.
    #[error("the built-in busybox image needs /bin/busybox: install it with `apt-get install -y busybox-static`")]
    NoBusybox,
}
