//! The user an image says it runs as (`User` in its config: `name`, `uid`, `name:group`,
//! `uid:gid`), resolved against the image's own `/etc/passwd` and `/etc/group` as runc resolves
//! it; links are not followed there (they could name the host's files).

use std::path::Path;

/// Reads `rootfs/etc/NAME` unless it, or `etc`, is a link.
fn image_file(rootfs: &Path, name: &str) -> String {
    let etc = rootfs.join("etc");
    let file = etc.join(name);
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    if is_link(&etc) || is_link(&file) {
        return String::new();
    }
    std::fs::read_to_string(file).unwrap_or_default()
}

/// The third and fourth fields of the line of `db` whose first is `name`.
fn lookup(db: &str, name: &str) -> Option<(u32, Option<u32>)> {
    db.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.first() != Some(&name) {
            return None;
        }
        Some((f.get(2)?.parse().ok()?, f.get(3).and_then(|g| g.parse().ok())))
    })
}

/// The uid and gid of `spec`; a name the image does not define is an error, as in runc.
pub fn resolve(rootfs: &Path, spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => {
            let passwd = image_file(rootfs, "passwd");
            let primary = passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
                    .then(|| f.get(3).and_then(|g| g.parse().ok()))
                    .flatten()
            });
            (uid, primary)
        }
        Err(_) => lookup(&image_file(rootfs, "passwd"), user)
            .ok_or_else(|| format!("the image's user {user:?} is not in its /etc/passwd"))?,
    };
    let gid = match group {
        None => primary.unwrap_or(0),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup(&image_file(rootfs, "group"), g)
                .map(|(gid, _)| gid)
                .ok_or_else(|| format!("the image's group {g:?} is not in its /etc/group"))?,
        },
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_as_runc_resolves_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(resolve(dir.path(), "app"), Ok((1000, 1001)));
        assert_eq!(resolve(dir.path(), "app:staff"), Ok((1000, 50)));
        assert_eq!(resolve(dir.path(), "1000"), Ok((1000, 1001)));
        assert_eq!(resolve(dir.path(), "4242:7"), Ok((4242, 7)));
        assert!(resolve(dir.path(), "ghost").is_err());
        // A passwd that is a link (to the host's, say) is not read.
        std::fs::remove_file(dir.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("etc/passwd")).unwrap();
        assert!(resolve(dir.path(), "root").is_err());
    }
}
