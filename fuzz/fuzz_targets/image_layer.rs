//! Image layers from arbitrary tar entries (links, hard links, whiteouts, opaque markers, `..`):
//! applying them never touches anything outside the rootfs. A victim directory beside the rootfs
//! must keep its file, and nothing may appear beside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orca_actors::node::images::layers;

/// Builds a tar from the input: entries of (type, path, target-or-content) separated by NUL.
fn layer(data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for chunk in data.split(|c| *c == b'\n').take(16) {
        let Some((&kind, rest)) = chunk.split_first() else {
            continue;
        };
        let mut parts = rest.splitn(2, |c| *c == 0);
        let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let extra = parts.next().unwrap_or_default();
        if path.is_empty() || path.len() > 90 {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        let target = String::from_utf8_lossy(extra).into_owned();
        let _ = match kind % 4 {
            0 => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(extra.len() as u64);
                b.append_data(&mut h, &path, extra)
            }
            1 => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, &path, &[][..])
            }
            2 => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, &path, &target)
            }
            _ => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, &path, &target)
            }
        };
    }
    b.into_inner().unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("precious"), b"keep").unwrap();
    let rootfs = dir.path().join("box/rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let _ = layers::apply(&rootfs, &layer(data)[..]);
    assert_eq!(
        std::fs::read(victim.join("precious")).ok().as_deref(),
        Some(&b"keep"[..]),
        "the victim's file"
    );
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(beside.len(), 2, "nothing appears beside the rootfs: {beside:?}");
    let in_victim = std::fs::read_dir(&victim).unwrap().count();
    assert_eq!(in_victim, 1, "nothing appears in the victim");
});
