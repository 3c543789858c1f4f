//! Volumes of process containers: DIR/mounts lists them as NUL-terminated fields, three per
//! volume (host path, path in the container, `ro` or `rw`). The monitor moves into a mount
//! namespace of its own (mounts there never propagate back to the host) and bind-mounts each one
//! before it starts the command, which inherits the namespace.

use std::ffi::{CString, OsStr};
use std::io::{Error, ErrorKind};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys;

/// One volume.
pub struct Mount {
    source: PathBuf,
    destination: PathBuf,
    read_only: bool,
}

/// The volumes listed in `file` (none when it does not exist).
pub fn read(file: &Path) -> std::io::Result<Vec<Mount>> {
    let data = match std::fs::read(file) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    parse(&data).ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("{}: malformed", file.display())))
}

fn parse(data: &[u8]) -> Option<Vec<Mount>> {
    let fields: Vec<&[u8]> = data.strip_suffix(b"\0")?.split(|b| *b == 0).collect();
    if !fields.len().is_multiple_of(3) {
        return None;
    }
    fields
        .chunks(3)
        .map(|f| {
            let read_only = match f[2] {
                b"ro" => true,
                b"rw" => false,
                _ => return None,
            };
            Some(Mount {
                source: PathBuf::from(OsStr::from_bytes(f[0])),
                destination: PathBuf::from(OsStr::from_bytes(f[1])),
                read_only,
            })
        })
        .collect()
}

fn c(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|e| Error::new(ErrorKind::InvalidInput, e))
}

fn mount(what: &str, source: Option<&CString>, target: &CString, flags: std::ffi::c_ulong) -> std::io::Result<()> {
    let src = source.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: NUL-terminated strings that outlive the call; no file system type or data.
    let r = unsafe { sys::mount(src, target.as_ptr(), std::ptr::null(), flags, std::ptr::null()) };
    sys::check(r)
        .map(|_| ())
        .map_err(|e| Error::new(e.kind(), format!("{what}: {e}")))
}

/// Enters a private mount namespace and mounts `list` (needs root).
pub fn enter(list: &[Mount]) -> std::io::Result<()> {
    // SAFETY: unshare takes flags only.
    sys::check(unsafe { sys::unshare(sys::CLONE_NEWNS) }).map_err(|e| {
        Error::new(
            e.kind(),
            format!("volumes of process containers need root (unshare): {e}"),
        )
    })?;
    mount(
        "making / private",
        None,
        &c(Path::new("/"))?,
        sys::MS_REC | sys::MS_PRIVATE,
    )?;
    for m in list {
        if m.source.is_dir() {
            std::fs::create_dir_all(&m.destination)?;
        } else if !m.destination.exists() {
            if let Some(parent) = m.destination.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::File::create(&m.destination)?;
        }
        let (src, dest) = (c(&m.source)?, c(&m.destination)?);
        let what = format!("mounting {} at {}", m.source.display(), m.destination.display());
        mount(&what, Some(&src), &dest, sys::MS_BIND | sys::MS_REC)?;
        if m.read_only {
            let what = format!("making {} read-only", m.destination.display());
            let flags = sys::MS_BIND | sys::MS_REMOUNT | sys::MS_RDONLY | sys::MS_REC;
            mount(&what, None, &dest, flags)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_format() {
        let list = parse(b"/a\0/b\0ro\0/c d\0/e\0rw\0").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].source, PathBuf::from("/a"));
        assert_eq!(list[1].destination, PathBuf::from("/e"));
        assert!(list[0].read_only && !list[1].read_only);
        assert!(parse(b"/a\0/b\0").is_none(), "unterminated");
        assert!(parse(b"/a\0/b\0xx\0").is_none(), "bad mode");
        assert!(parse(b"/a\0/b\0ro\0/c\0").is_none(), "short");
    }
}
