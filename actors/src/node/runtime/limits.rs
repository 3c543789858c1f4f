//! Resource limits and identity of runc containers: memory and CPU limits (and CPU shares from
//! requests) in the container's own cgroup `/orca/<pod>/<container>-<run>`, the user and group it
//! runs as; and whether a run that died by SIGKILL was the kernel's OOM killer, read from the kernel
//! log line naming that cgroup.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder, Spec, UserBuilder};

use super::{ContainerConfig, Error};

/// What a container may use and who it runs as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `resources.limits.memory` in bytes.
    pub memory: Option<i64>,
    /// `resources.limits.cpu` in millicores.
    pub cpu_milli: Option<i64>,
    /// `resources.requests.cpu` in millicores (relative weight).
    pub cpu_request_milli: Option<i64>,
    /// `securityContext.runAsUser` (container, else pod).
    pub run_as_user: Option<u32>,
    /// `securityContext.runAsGroup` (container, else pod).
    pub run_as_group: Option<u32>,
}

/// The file in a container's directory naming its current run's cgroup.
pub const CGROUP_FILE: &str = "cgroup";

/// Puts the limits, the cgroup path and the user into the OCI config.
pub fn apply(spec: &mut Spec, cfg: &ContainerConfig) -> Result<(), Error> {
    let err = |e: oci_spec::OciSpecError| Error::Start(format!("building the OCI config: {e}"));
    let l = &cfg.limits;
    let pod = cfg
        .dir
        .parent()
        .and_then(Path::file_name)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let container = cfg
        .dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let cgroup = format!("/orca/{pod}/{container}-{run}");
    std::fs::write(cfg.dir.join(CGROUP_FILE), &cgroup)?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_cgroups_path(Some(cgroup.into()));
        let mut res = LinuxResourcesBuilder::default();
        if let Some(m) = l.memory {
            res = res.memory(LinuxMemoryBuilder::default().limit(m).swap(m).build().map_err(err)?);
        }
        let mut cpu = LinuxCpuBuilder::default();
        if let Some(c) = l.cpu_milli {
            cpu = cpu.quota((c * 100).max(1000)).period(100_000u64);
        }
        if let Some(r) = l.cpu_request_milli {
            cpu = cpu.shares(((r * 1024) / 1000).max(2) as u64);
        }
        res = res.cpu(cpu.build().map_err(err)?);
        let mut resources = res.build().map_err(err)?;
        if let Some(old) = linux.resources() {
            resources.set_devices(old.devices().clone());
        }
        linux.set_resources(Some(resources));
    }
    if l.run_as_user.is_some() || l.run_as_group.is_some() {
        if let Some(p) = spec.process_mut() {
            let user = UserBuilder::default()
                .uid(l.run_as_user.unwrap_or(0))
                .gid(l.run_as_group.unwrap_or(0))
                .build()
                .map_err(err)?;
            p.set_user(user);
        }
    }
    Ok(())
}

/// Whether the kernel log says the OOM killer killed a task of this cgroup.
pub fn oom_killed(dir: &Path) -> bool {
    let Ok(cgroup) = std::fs::read_to_string(dir.join(CGROUP_FILE)) else {
        return false;
    };
    let needle = format!("task_memcg={}", cgroup.trim());
    let Ok(mut kmsg) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return false;
    };
    let mut buf = vec![0u8; 8192];
    // Each read returns one record; EAGAIN ends the log.
    loop {
        match kmsg.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                let line = String::from_utf8_lossy(&buf[..n]);
                if line.contains("oom-kill") && line.contains(&needle) {
                    return true;
                }
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::EPIPE) => continue,
            Err(_) => return false,
        }
    }
}

/// Removes the pod's cgroup directories (`/orca/<pod>` in every hierarchy) once its containers are
/// gone; runc removes each container's own.
pub fn remove_pod_cgroups(pod: &str) {
    // A container's cgroup may still be going away (runc removes it as its last process exits):
    // try for a few seconds off the caller's thread.
    let pod = pod.to_string();
    std::thread::spawn(move || {
        for _ in 0..60 {
            if remove_pod_cgroups_once(&pod) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        tracing::warn!("the cgroups of pod {pod} could not be removed");
    });
}

/// One try; true when nothing of the pod's cgroups is left.
fn remove_pod_cgroups_once(pod: &str) -> bool {
    let root = Path::new("/sys/fs/cgroup");
    let mut dirs = vec![root.join("orca").join(pod)];
    if let Ok(entries) = std::fs::read_dir(root) {
        dirs.extend(entries.flatten().map(|e| e.path().join("orca").join(pod)));
    }
    for d in dirs.into_iter().filter(|d| d.is_dir()) {
        if let Ok(children) = std::fs::read_dir(&d) {
            for c in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = std::fs::remove_dir(c.path());
            }
        }
        let _ = std::fs::remove_dir(&d);
    }
    !root.join("orca").join(pod).exists()
        && std::fs::read_dir(root)
            .map(|es| es.flatten().all(|e| !e.path().join("orca").join(pod).exists()))
            .unwrap_or(true)
}
