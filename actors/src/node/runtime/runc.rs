//! The `runc` runtime: real OCI containers. The bundle's config comes from the pod spec through
//! oci-spec with runc's hardened defaults (no new privileges, the default capability set, masked and
//! read-only paths); the rootfs is the image from the node's store, read-only, with a tmpfs on /tmp;
//! the pod's network namespace is joined. `orca-shim` runs `runc run --detach`, waits for the
//! container (no runc process stays beside it) and records the exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{
    LinuxNamespaceBuilder, LinuxNamespaceType, MountBuilder, ProcessBuilder, RootBuilder, Spec, UserBuilder,
};

use super::{container_id, shim_process, ContainerConfig, ContainerRuntime, Error, Started};
use crate::node::images::ImageStore;

/// Runs containers with runc.
pub struct RuncRuntime {
    /// The per-container monitor.
    pub shim_bin: PathBuf,
    /// The runc binary.
    pub runc_bin: PathBuf,
    /// Images.
    pub store: ImageStore,
    /// runc's state directory.
    pub state_root: PathBuf,
}

impl RuncRuntime {
    fn runc(&self) -> Command {
        let mut c = Command::new(&self.runc_bin);
        c.arg("--root").arg(&self.state_root);
        c
    }

    /// The OCI config for a container.
    pub fn spec(
        &self,
        cfg: &ContainerConfig,
        rootfs: &Path,
        image: &crate::node::images::ImageConfig,
    ) -> Result<Spec, Error> {
        let err = |e: oci_spec::OciSpecError| Error::Start(format!("building the OCI config: {e}"));
        let argv: Vec<String> = if !cfg.command.is_empty() {
            cfg.command.iter().chain(cfg.args.iter()).cloned().collect()
        } else {
            let rest = if cfg.args.is_empty() {
                image.cmd.clone()
            } else {
                cfg.args.clone()
            };
            image.entrypoint.iter().cloned().chain(rest).collect()
        };
        if argv.is_empty() {
            return Err(Error::Config(format!(
                "image {} has no entrypoint or cmd, and the container gives no command",
                cfg.image
            )));
        }
        let mut env: Vec<String> = image.env.clone();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        env.push(format!("HOSTNAME={}", cfg.hostname));
        for (k, v) in &cfg.env {
            env.retain(|e| !e.starts_with(&format!("{k}=")));
            env.push(format!("{k}={v}"));
        }
        let cwd = cfg
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .or_else(|| Some(image.working_dir.clone()).filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".into());
        let mut spec = Spec::default();
        let defaults = spec.process().clone().unwrap_or_default();
        let process = ProcessBuilder::default()
            .terminal(false)
            .args(argv)
            .env(env)
            .cwd(cwd)
            .no_new_privileges(true)
            .capabilities(defaults.capabilities().clone().unwrap_or_default())
            .rlimits(defaults.rlimits().clone().unwrap_or_default())
            .user(defaults.user().clone())
            .build()
            .map_err(err)?;
        spec.set_process(Some(process));
        spec.set_root(Some(
            RootBuilder::default()
                .path(rootfs.to_path_buf())
                .readonly(true)
                .build()
                .map_err(err)?,
        ));
        spec.set_hostname(Some(cfg.hostname.clone()));
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        mounts.push(
            MountBuilder::default()
                .destination("/tmp")
                .typ("tmpfs")
                .source("tmpfs")
                .options(vec!["nosuid".into(), "nodev".into(), "mode=1777".into()])
                .build()
                .map_err(err)?,
        );
        for m in &cfg.mounts {
            let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
            options.push(if m.read_only { "ro".into() } else { "rw".into() });
            mounts.push(
                MountBuilder::default()
                    .destination(m.destination.clone())
                    .typ("bind")
                    .source(m.source.clone())
                    .options(options)
                    .build()
                    .map_err(err)?,
            );
        }
        spec.set_mounts(Some(mounts));
        if let Some(linux) = spec.linux_mut() {
            let mut namespaces: Vec<_> = linux
                .namespaces()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|n| n.typ() != LinuxNamespaceType::Network && n.typ() != LinuxNamespaceType::Cgroup)
                .collect();
            if !cfg.host_network {
                let mut net = LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network);
                if let Some(path) = &cfg.netns {
                    net = net.path(path.clone());
                }
                namespaces.push(net.build().map_err(err)?);
            }
            linux.set_namespaces(Some(namespaces));
        }
        super::limits::apply(&mut spec, cfg)?;
        // The image's user unless the pod names one; the runtime default's system calls only.
        let user = match (cfg.limits.run_as_user, cfg.limits.run_as_group) {
            (None, group) if !image.user.is_empty() => {
                let (uid, gid) = super::image_user::resolve(rootfs, &image.user).map_err(Error::Config)?;
                Some((uid, group.unwrap_or(gid)))
            }
            // runAsUser alone: that uid's primary group in the image's /etc/passwd (else root's),
            // as containerd does.
            (Some(uid), None) => {
                let (_, gid) = super::image_user::resolve(rootfs, &uid.to_string()).unwrap_or((uid, 0));
                Some((uid, gid))
            }
            _ => None,
        };
        if let (Some((uid, gid)), Some(p)) = (user, spec.process_mut()) {
            p.set_user(UserBuilder::default().uid(uid).gid(gid).build().map_err(err)?);
        }
        if let Some(linux) = spec.linux_mut() {
            linux.set_seccomp(Some(super::seccomp::runtime_default().map_err(err)?));
        }
        Ok(spec)
    }
}

impl ContainerRuntime for RuncRuntime {
    fn start(&self, cfg: &ContainerConfig) -> Result<Started, Error> {
        let image = self
            .store
            .get(&cfg.image)
            .map_err(|e| Error::Start(e.to_string()))?
            .ok_or_else(|| Error::ImageMissing(format!("image {} is not in this node's image store ({}); load it with `orcactl image load FILE` (busybox is built in)", cfg.image, self.store.root.display())))?;
        let bundle = cfg.dir.join("bundle");
        std::fs::create_dir_all(&bundle)?;
        let spec = self.spec(cfg, &image.rootfs, &image.config)?;
        spec.save(bundle.join("config.json"))
            .map_err(|e| Error::Start(format!("writing config.json: {e}")))?;
        let id = container_id(&cfg.dir);
        if self.state_root.join(&id).exists() {
            let _ = self
                .runc()
                .args(["delete", "-f", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        std::fs::create_dir_all(&self.state_root)?;
        // The monitor runs `runc run --detach` itself and waits for the container.
        let mut monitor = Command::new(&self.shim_bin);
        monitor
            .arg("--runc")
            .arg(&self.runc_bin)
            .arg("--root")
            .arg(&self.state_root)
            .arg("--id")
            .arg(&id)
            .arg("--bundle")
            .arg(&bundle);
        shim_process::spawn_monitor(monitor, &cfg.dir, None)
    }

    fn alive(&self, started: Started) -> bool {
        shim_process::alive(started.pid)
    }

    fn signal(&self, started: Started, dir: &Path, hard: bool) {
        let id = container_id(dir);
        let sig = if hard { "KILL" } else { "TERM" };
        let _ = self
            .runc()
            .args(["kill", "--all", &id, sig])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if hard {
            let _ = killpg(Pid::from_raw(started.pid), Signal::SIGKILL);
        }
    }

    fn cleanup(&self, dir: &Path) {
        let _ = self
            .runc()
            .args(["delete", "-f", &container_id(dir)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn oom_killed(&self, dir: &Path) -> bool {
        super::limits::oom_killed(dir)
    }

    fn exec_argv(&self, dir: &Path, argv: &[String]) -> Vec<String> {
        let mut out = vec![
            self.runc_bin.display().to_string(),
            "--root".into(),
            self.state_root.display().to_string(),
            "exec".into(),
            container_id(dir),
        ];
        out.extend(argv.iter().cloned());
        out
    }

    fn exec_tty_argv(&self, dir: &Path, argv: &[String]) -> Vec<String> {
        let mut out = self.exec_argv(dir, argv);
        out.insert(4, "--tty".into());
        out
    }

    fn pod_network(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "runc"
    }
}
