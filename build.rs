//! Builds the per-container monitor (`shim/`, a workspace of its own with a size-first,
//! panic = abort profile) and puts `orca-shim` next to the `orca` binaries of this build, where the
//! node agent looks for it. Statically linked for musl when that target is installed (a few
//! hundred KB resident); else for the host, statically, with a warning.

use std::path::{Path, PathBuf};
use std::process::Command;

const MUSL: &str = "x86_64-unknown-linux-musl";

fn musl_installed(rustc: &str) -> bool {
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    sysroot.is_some_and(|s| Path::new(&s).join("lib/rustlib").join(MUSL).join("lib").is_dir())
}

fn main() {
    println!("cargo:rerun-if-changed=shim/src");
    println!("cargo:rerun-if-changed=shim/Cargo.toml");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is TARGET/PROFILE/build/orca-HASH/out: the binaries live in TARGET/PROFILE.
    let Some(bin_dir) = out.ancestors().nth(3).map(Path::to_path_buf) else {
        panic!("unexpected OUT_DIR {}", out.display());
    };
    let target_dir = bin_dir.parent().unwrap_or(&bin_dir).join("shim");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--offline",
        "--locked",
        "--manifest-path",
        "shim/Cargo.toml",
    ])
    .arg("--target-dir")
    .arg(&target_dir);
    // The outer build's flags and wrappers (clippy's among them) are not the monitor's.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    let built = if musl_installed(&rustc) {
        cmd.args(["--target", MUSL]);
        target_dir.join(MUSL).join("release/orca-shim")
    } else {
        println!(
            "cargo:warning=the {MUSL} target is not installed (rustup target add {MUSL}): orca-shim is linked statically against glibc, about 1 MB resident instead of 0.4 MB"
        );
        cmd.env("RUSTFLAGS", "-C target-feature=+crt-static");
        target_dir.join("release/orca-shim")
    };
    let status = cmd.status().expect("cargo runs to build orca-shim");
    assert!(status.success(), "building orca-shim (shim/) failed");
    let dest = bin_dir.join("orca-shim");
    let tmp = bin_dir.join("orca-shim.tmp");
    std::fs::copy(&built, &tmp).expect("copying orca-shim next to the orca binary");
    std::fs::rename(&tmp, &dest).expect("placing orca-shim next to the orca binary");
}
