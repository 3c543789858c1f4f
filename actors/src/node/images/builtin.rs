//! The built-in `busybox` image, assembled from Debian's busybox-static so that nothing needs a
//! registry.

use std::os::unix::fs::symlink;
use std::process::Command;

use super::store::{ImageConfig, ImageStore};
use super::Error;

/// Creates `busybox:latest` in the store when missing.
pub fn ensure(store: &ImageStore) -> Result<(), Error> {
    // Pods starting together must not assemble it twice.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = store.dir("busybox:latest");
    if dir.join("config.json").exists() {
        return Ok(());
    }
    let bin = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .ok_or(Error::NoBusybox)?;
    let staging = store.root.join(format!(".busybox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let rootfs = staging.join("rootfs");
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "var/www", "home"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::copy(bin, rootfs.join("bin/busybox"))?;
    let list = Command::new(bin).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox")
    {
        let _ = symlink("busybox", rootfs.join("bin").join(applet));
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    std::fs::write(rootfs.join("etc/hosts"), "127.0.0.1 localhost\n")?;
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::remove_dir_all(dir.join("rootfs"));
    std::fs::rename(&rootfs, dir.join("rootfs"))?;
    let _ = std::fs::remove_dir_all(&staging);
    let config = ImageConfig {
        env: vec!["PATH=/bin:/usr/bin:/sbin:/usr/sbin".into()],
        entrypoint: vec![],
        cmd: vec!["sh".into()],
        working_dir: "/".into(),
        user: String::new(),
    };
    store.commit("busybox:latest", &config)
}
