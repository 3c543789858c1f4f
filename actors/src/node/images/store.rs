//! Where images live: `DIR/NAME/TAG/{rootfs,config.json}`, with names normalised as Docker does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The parts of an image's config a container uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `NAME=value` pairs.
    pub env: Vec<String>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Default command.
    pub cmd: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// The user it runs as (`user[:group]`, names or ids), empty for root.
    #[serde(default)]
    pub user: String,
}

/// An image in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// `name:tag`.
    pub reference: String,
    /// Unpacked root filesystem.
    pub rootfs: PathBuf,
    /// Its config.
    pub config: ImageConfig,
}

/// A directory of images.
#[derive(Debug, Clone)]
pub struct ImageStore {
    /// Root directory.
    pub root: PathBuf,
}

/// `busybox` -> (`busybox`, `latest`); `docker.io/library/nginx:1.25` -> (`nginx`, `1.25`).
pub fn normalise(reference: &str) -> (String, String) {
    let r = reference.split('@').next().unwrap_or(reference);
    let (name, tag) = match r.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (r, "latest"),
    };
    let name = name.trim_start_matches("docker.io/").trim_start_matches("library/");
    (name.to_string(), tag.to_string())
}

fn dir_name(name: &str) -> String {
    name.replace('/', "_")
}

/// Whether `reference` is an image reference as Docker's grammar has it (so none can name a path
/// outside the store): lower-case name components of letters and digits joined by `.`, `_`, `__`
/// or `-`, separated by `/` (the first may be a registry host with a port), an optional tag of
/// letters, digits, `_`, `.` and `-` (not first), an optional `@sha256:...` digest.
pub fn valid_reference(reference: &str) -> bool {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty()
                && alg.chars().all(|c| c.is_ascii_alphanumeric())
                && !hex.is_empty()
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return false;
        }
    }
    let (name, tag) = match rest.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (rest, None),
    };
    if let Some(t) = tag {
        let first_ok = t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok || t.len() > 128 || !t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return false;
        }
    }
    let parts: Vec<&str> = name.split('/').collect();
    !name.is_empty()
        && parts.iter().enumerate().all(|(i, p)| {
            let host = i == 0 && parts.len() > 1 && (p.contains('.') || p.contains(':') || *p == "localhost");
            if host {
                let (h, port) = p.split_once(':').unwrap_or((p, "0"));
                return !h.is_empty()
                    && h.split('.')
                        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                    && port.chars().all(|c| c.is_ascii_digit());
            }
            let edges = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            edges(p.chars().next())
                && edges(p.chars().last())
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && !p.contains("..")
        })
}

impl ImageStore {
    /// A store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> ImageStore {
        ImageStore { root: root.into() }
    }

    /// The directory of `name:tag`.
    pub fn dir(&self, reference: &str) -> PathBuf {
        let (name, tag) = normalise(reference);
        self.root.join(dir_name(&name)).join(tag)
    }

    /// Finds an image; `busybox` of any tag falls back to the built-in one.
    pub fn get(&self, reference: &str) -> Result<Option<Image>, super::Error> {
        if !valid_reference(reference) {
            return Err(super::Error::Format(format!(
                "InvalidImageName: {reference:?} is not an image reference (name[:tag][@digest])"
            )));
        }
        if let Some(img) = self.read(reference) {
            return Ok(Some(img));
        }
        if normalise(reference).0 == "busybox" {
            super::builtin::ensure(self)?;
            return Ok(self.read("busybox:latest"));
        }
        Ok(None)
    }

    fn read(&self, reference: &str) -> Option<Image> {
        let dir = self.dir(reference);
        let config: ImageConfig = serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
        let (name, tag) = normalise(reference);
        Some(Image {
            reference: format!("{name}:{tag}"),
            rootfs: dir.join("rootfs"),
            config,
        })
    }

    /// Records a complete image (its rootfs already unpacked in `dir(reference)/rootfs`).
    pub fn commit(&self, reference: &str, config: &ImageConfig) -> Result<(), super::Error> {
        if !valid_reference(reference) {
            return Err(super::Error::Format(format!(
                "{reference:?} is not an image reference (name[:tag])"
            )));
        }
        let dir = self.dir(reference);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(config).unwrap_or_default(),
        )?;
        Ok(())
    }

    /// Every image as (`name:tag`, size in bytes of its rootfs).
    pub fn list(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for name in std::fs::read_dir(&self.root).into_iter().flatten().flatten() {
            for tag in std::fs::read_dir(name.path()).into_iter().flatten().flatten() {
                if tag.path().join("config.json").exists() {
                    let reference = format!(
                        "{}:{}",
                        name.file_name().to_string_lossy().replace('_', "/"),
                        tag.file_name().to_string_lossy()
                    );
                    out.push((reference, du(&tag.path().join("rootfs"))));
                }
            }
        }
        out.sort();
        out
    }
}

fn du(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| du(&e.path()))
            .sum()
    } else {
        meta.len()
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn names_normalise_like_docker() {
        assert_eq!(normalise("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(
            normalise("docker.io/library/nginx:1.25"),
            ("nginx".into(), "1.25".into())
        );
        assert_eq!(
            normalise("localhost:5000/app"),
            ("localhost:5000/app".into(), "latest".into())
        );
        assert_eq!(
            normalise("ghcr.io/x/y:v1@sha256:abc"),
            ("ghcr.io/x/y".into(), "v1".into())
        );
    }
}

#[cfg(test)]
mod reference_tests {
    use super::valid_reference;

    #[test]
    fn references_follow_dockers_grammar() {
        for ok in [
            "busybox",
            "busybox:1.36",
            "library/nginx:1.25",
            "docker.io/library/nginx",
            "localhost:5000/a/b:v1",
            "my-app_x.y:tag",
            "a@sha256:0123abcd",
            "ghcr.io/org/img:v1.2-rc.1",
        ] {
            assert!(valid_reference(ok), "{ok}");
        }
        for bad in [
            "..",
            "../x",
            "a/../b",
            "a/..:latest",
            "x:..",
            "UPPER",
            "a//b",
            "",
            "/abs",
            "a:",
            "a:-x",
            "a@sha256:",
            "a b",
        ] {
            assert!(!valid_reference(bad), "{bad}");
        }
    }
}
