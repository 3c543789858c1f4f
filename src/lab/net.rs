//! The lab's network: a bridge on the machine and, per host, a network namespace joined to it by
//! a veth pair, with its own address; cutting a host takes its link down.

use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};

/// The bridge joining the hosts (its address is the hosts' gateway).
pub const BRIDGE: &str = "orcalab0";
/// The hosts' network: 10.77.0.0/24, gateway .1, host i at .(10 + i).
pub const NET: &str = "10.77.0";

/// Runs `ip ARGS`, failing with its error output.
pub fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip (apt-get install -y iproute2)")?;
    if !out.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// The address of host `i` (1-based).
pub fn host_ip(i: usize) -> String {
    format!("{NET}.{}", 10 + i)
}

/// The network namespace of host `name`.
pub fn netns(name: &str) -> String {
    format!("orcalab-{name}")
}

/// The machine-side end of host `name`'s link.
pub fn veth(name: &str) -> String {
    format!("olab-{name}")
}

/// Makes the bridge (refusing when a lab already has it).
pub fn make_bridge() -> Result<()> {
    if ip(&["link", "show", BRIDGE]).is_ok() {
        bail!("a lab is up already (the bridge {BRIDGE} exists): `orca lab down` first");
    }
    ip(&["link", "add", BRIDGE, "type", "bridge"])?;
    ip(&["addr", "add", &format!("{NET}.1/24"), "dev", BRIDGE])?;
    ip(&["link", "set", BRIDGE, "up"])
}

/// Makes host `name` at `addr`: its namespace, its link to the bridge, loopback and a default
/// route through the bridge.
pub fn make_host(name: &str, addr: &str) -> Result<()> {
    let ns = netns(name);
    ip(&["netns", "add", &ns])?;
    ip(&[
        "link",
        "add",
        &veth(name),
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &ns,
    ])?;
    ip(&["link", "set", &veth(name), "master", BRIDGE, "up"])?;
    ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
    ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    ip(&["-n", &ns, "route", "add", "default", "via", &format!("{NET}.1")])
}

/// Takes host `name`'s link down (`up` false) or back up.
pub fn set_link(name: &str, up: bool) -> Result<()> {
    ip(&["link", "set", &veth(name), if up { "up" } else { "down" }])
}

/// Removes host `name`'s namespace (its link goes with it); quiet when it is gone already.
pub fn remove_host(name: &str) {
    let _ = ip(&["netns", "del", &netns(name)]);
    let _ = ip(&["link", "del", &veth(name)]);
}

/// Removes the bridge; quiet when it is gone already.
pub fn remove_bridge() {
    let _ = ip(&["link", "del", BRIDGE]);
}
