//! The lab's control-plane members: how each was started (`servers.json`), the secrets they
//! share, and `kill`, `restart` and `join` of one.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::{lab_dir, load, net, save, signal_all, spawn_in, wait_tcp, HostArg};

/// Records how host `host`'s control-plane member runs (for `kill` and `restart`).
pub(super) fn save_server(dir: &Path, host: &str, pid: u32, argv: &[String]) -> Result<()> {
    let path = dir.join("servers.json");
    let mut all: serde_json::Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    all[host] = json!({"pid": pid, "argv": argv});
    std::fs::write(&path, all.to_string()).context("writing servers.json")
}

/// The control-plane member of host `host`: its pid and how it was started.
fn load_server(dir: &Path, host: &str) -> Result<(u32, Vec<String>)> {
    let all: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("servers.json")).unwrap_or_default())
        .unwrap_or_else(|_| json!({}));
    let s = &all[host];
    let pid = s["pid"]
        .as_u64()
        .with_context(|| format!("no control-plane member runs on {host}"))?;
    Ok((pid as u32, serde_json::from_value(s["argv"].clone())?))
}

/// Members share the cluster CA, the admin credentials, the token key and the key sealing
/// Secrets: made once in h1's data directory and copied to the others'.
pub(super) fn share_secrets(dir: &Path, members: &[String]) -> Result<()> {
    let first = dir.join(&members[0]).join("server");
    let hosts = vec![net::host_ip(1)];
    orca_actors::auth::pki::Pki::ensure(&first.join("pki"), &hosts).map_err(anyhow::Error::msg)?;
    orca_actors::eventlog::crypto::SecretBox::load_or_create(&first.join("secret.key"))?;
    for m in &members[1..] {
        copy_secrets(&first, &dir.join(m).join("server"))?;
    }
    Ok(())
}

/// Copies a member's shared secrets (CA, admin credentials, token key, secret key) to another's
/// data directory.
fn copy_secrets(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to.join("pki"))?;
    for f in ["ca.crt", "ca.key", "admin.crt", "admin.key", "token.key"] {
        std::fs::copy(from.join("pki").join(f), to.join("pki").join(f))?;
    }
    std::fs::copy(from.join("secret.key"), to.join("secret.key"))?;
    Ok(())
}

pub(super) fn kill(h: &HostArg) -> Result<()> {
    let dir = lab_dir(&h.dir);
    let (pid, _) = load_server(&dir, &h.host)?;
    signal_all(&[pid as i32], "KILL");
    println!("the control-plane member on {} is killed", h.host);
    Ok(())
}

pub(super) fn restart(h: &HostArg) -> Result<()> {
    let dir = lab_dir(&h.dir);
    let (hosts, mut pids) = load(&dir)?;
    let (_, argv) = load_server(&dir, &h.host)?;
    let log = dir.join(&h.host).join("server.log");
    let pid = spawn_in(&h.host, &argv, &log)?;
    pids.push(pid);
    save(&dir, &hosts, &pids)?;
    save_server(&dir, &h.host, pid, &argv)?;
    let i = hosts.iter().position(|x| *x == h.host).unwrap_or(0);
    wait_tcp(&format!("{}:6443", net::host_ip(i + 1)), "the control plane", &log)?;
    println!("the control-plane member on {} runs again", h.host);
    Ok(())
}

/// The hosts running a control-plane member, in the order they were started.
fn member_hosts(dir: &Path) -> Vec<String> {
    let all: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("servers.json")).unwrap_or_default())
        .unwrap_or_else(|_| json!({}));
    let mut hosts: Vec<String> = all.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    hosts.sort_by_key(|h| h[1..].parse::<usize>().unwrap_or(0));
    hosts
}

pub(super) fn join(h: &HostArg) -> Result<()> {
    let dir = lab_dir(&h.dir);
    let (hosts, mut pids) = load(&dir)?;
    let i = hosts
        .iter()
        .position(|x| *x == h.host)
        .with_context(|| format!("no host {} in the lab", h.host))?;
    let mut members = member_hosts(&dir);
    if members.contains(&h.host) {
        bail!("{} runs a control-plane member already", h.host);
    }
    let (_, first) = load_server(&dir, &members[0])?;
    members.push(h.host.clone());
    copy_secrets(&dir.join(&members[0]).join("server"), &dir.join(&h.host).join("server"))?;
    let ip = net::host_ip(i + 1);
    // The first member's flags, on this host.
    let mut argv: Vec<String> = Vec::new();
    let mut it = first.iter();
    while let Some(a) = it.next() {
        let value = |v: &str| Some(v.to_string());
        let replaced = match a.as_str() {
            "--nats" => value(&format!("nats://{ip}:4222")),
            "--data-dir" => value(&dir.join(&h.host).join("server").display().to_string()),
            "--listen" => value(&format!("{ip}:6443")),
            "--peers" => value(&members.join(",")),
            "--member" => value(&h.host),
            _ => None,
        };
        argv.push(a.clone());
        if let Some(v) = replaced {
            it.next();
            argv.push(v);
        }
    }
    if !argv.iter().any(|a| a == "--peers") {
        argv.extend(["--peers".into(), members.join(","), "--member".into(), h.host.clone()]);
    }
    let log = dir.join(&h.host).join("server.log");
    let pid = spawn_in(&h.host, &argv, &log)?;
    pids.push(pid);
    save(&dir, &hosts, &pids)?;
    save_server(&dir, &h.host, pid, &argv)?;
    wait_tcp(&format!("{ip}:6443"), "the control plane", &log)?;
    println!(
        "a control-plane member runs on {} (`orca members add {}` brings it in)",
        h.host, h.host
    );
    Ok(())
}
