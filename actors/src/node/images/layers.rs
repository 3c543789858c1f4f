//! Applying image layers to a root filesystem: gzip or plain tar, whiteouts (`.wh.NAME`) remove what
//! lower layers made, opaque markers (`.wh..wh..opq`) empty a directory.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::Error;

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// A reader of a layer blob, gunzipping when it starts with the gzip magic.
pub fn open_layer(bytes: Vec<u8>) -> Box<dyn Read> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(std::io::Cursor::new(bytes)))
    } else {
        Box::new(std::io::Cursor::new(bytes))
    }
}

/// How many symbolic links one path may pass through before it is refused.
const MAX_LINKS: usize = 40;

/// A path of the layer resolved inside the rootfs: symbolic links among its parents are followed
/// as the container will see them (an absolute target from the rootfs, `..` never above it), so
/// a link planted by an earlier entry (`a -> /`) cannot lead outside. The last component is not
/// followed: removing a link removes the link. None for `..` or absolute parts of the entry's own
/// name, and for loops.
fn inside(rootfs: &Path, rel: &Path) -> Option<PathBuf> {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_os_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    let last = parts.pop()?;
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: std::collections::VecDeque<std::ffi::OsString> = parts.into();
    let mut links = 0;
    while let Some(p) = pending.pop_front() {
        if p == ".." {
            resolved.pop();
            continue;
        }
        if p == "." || p.is_empty() {
            continue;
        }
        let here: PathBuf = std::iter::once(rootfs.as_os_str().to_os_string())
            .chain(resolved.iter().cloned())
            .chain(std::iter::once(p.clone()))
            .collect();
        match std::fs::read_link(&here) {
            Ok(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut next: Vec<std::ffi::OsString> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(x) => Some(x.to_os_string()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                next.extend(pending.drain(..));
                pending = next.into();
            }
            Err(_) => resolved.push(p),
        }
    }
    let mut out = rootfs.to_path_buf();
    out.extend(resolved);
    out.push(last);
    Some(out)
}

fn remove(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Applies one layer on top of `rootfs`.
pub fn apply(rootfs: &Path, layer: impl Read) -> Result<(), Error> {
    let mut archive = tar::Archive::new(layer);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = entry.path()?.into_owned();
        let Some(name) = rel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        if name == OPAQUE {
            // Only a real directory inside the rootfs is emptied, never one a link points at.
            let dir = inside(rootfs, parent).filter(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()));
            if let Some(dir) = dir {
                for child in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    remove(&child.path());
                }
            }
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            if let Some(target) = inside(rootfs, &parent.join(hidden)) {
                remove(&target);
            }
            continue;
        }
        let Some(target) = inside(rootfs, &rel) else { continue };
        // A file replacing a directory (or the reverse) replaces it whole.
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            let is_dir_entry = entry.header().entry_type().is_dir();
            if m.is_dir() != is_dir_entry || !m.is_dir() {
                remove(&target);
            }
        }
        entry.unpack_in(rootfs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn links(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, target) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, path, target).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn links_planted_by_a_layer_never_lead_outside_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        let (root, victim) = (dir.path().join("rootfs"), dir.path().join("victim"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(victim.join("sub")).unwrap();
        std::fs::write(victim.join("precious"), b"keep").unwrap();
        std::fs::write(victim.join("sub/also"), b"keep").unwrap();
        let abs = victim.to_str().unwrap().to_string();
        apply(
            &root,
            open_layer(links(&[("a", abs.as_str()), ("b", "../victim"), ("c", "/")])),
        )
        .unwrap();
        apply(
            &root,
            open_layer(layer(&[
                ("a/.wh.precious", b""),
                ("b/.wh.precious", b""),
                ("a/.wh..wh..opq", b""),
                ("b/sub/.wh..wh..opq", b""),
                ("c/.wh.tmp", b""),
            ])),
        )
        .unwrap();
        // Writes through the links stay inside too (tar's unpack_in refuses them).
        let _ = apply(&root, open_layer(layer(&[("a/planted", b"x"), ("b/planted", b"x")])));
        assert_eq!(std::fs::read(victim.join("precious")).unwrap(), b"keep");
        assert_eq!(std::fs::read(victim.join("sub/also")).unwrap(), b"keep");
        assert!(!victim.join("planted").exists());
        assert!(std::path::Path::new("/tmp").exists());
        // Inside the rootfs the absolute link resolves from the rootfs.
        assert_eq!(
            inside(&root, Path::new("a/x")),
            Some(root.join(abs.trim_start_matches('/')).join("x"))
        );
        assert_eq!(inside(&root, Path::new("b/x")), Some(root.join("victim/x")));
    }

    #[test]
    fn whiteouts_and_opaque_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        apply(
            root,
            open_layer(layer(&[
                ("a/keep", b"1"),
                ("a/gone", b"2"),
                ("b/x", b"3"),
                ("b/y", b"4"),
            ])),
        )
        .unwrap();
        apply(
            root,
            open_layer(layer(&[
                ("a/.wh.gone", b""),
                ("b/.wh..wh..opq", b""),
                ("b/z", b"5"),
                ("a/keep", b"new"),
            ])),
        )
        .unwrap();
        assert_eq!(std::fs::read(root.join("a/keep")).unwrap(), b"new");
        assert!(!root.join("a/gone").exists());
        assert!(!root.join("b/x").exists() && !root.join("b/y").exists());
        assert_eq!(std::fs::read(root.join("b/z")).unwrap(), b"5");
    }
}
