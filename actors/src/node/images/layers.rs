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

/// A relative path inside the rootfs, refusing `..` and absolute parts.
fn inside(rootfs: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out = rootfs.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
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
            if let Some(dir) = inside(rootfs, parent) {
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
