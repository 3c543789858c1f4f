//! Volumes of process containers: the shim moves into a mount namespace of its own (mounts there
//! never propagate back to the host) and bind-mounts each volume at its path before it starts the
//! container's command, which inherits the namespace.

use std::io::Error;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::node::runtime::Mount;

fn io(what: &str, e: nix::Error) -> Error {
    Error::other(format!("{what}: {e}"))
}

/// Enters a private mount namespace and mounts `list` (needs root).
pub fn enter(list: &[Mount]) -> std::io::Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| io("volumes of process containers need root (unshare)", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| io("making / private", e))?;
    for m in list {
        let dest = std::path::Path::new(&m.destination);
        if m.source.is_dir() {
            std::fs::create_dir_all(dest)?;
        } else if !dest.exists() {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::File::create(dest)?;
        }
        mount(
            Some(&m.source),
            dest,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| io(&format!("mounting {} at {}", m.source.display(), m.destination), e))?;
        if m.read_only {
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC;
            mount(None::<&str>, dest, None::<&str>, flags, None::<&str>)
                .map_err(|e| io(&format!("making {} read-only", m.destination), e))?;
        }
    }
    Ok(())
}
