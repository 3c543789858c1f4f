//! Pod networking for runc pods: a bridge with the node's pod range, and per pod a network namespace,
//! a veth pair and an address from that range (iproute2's `ip`). Nothing leaves the machine.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bridge of the node's pod range.
pub const BRIDGE: &str = "orca0";
/// The node's pod range: 10.244.0.0/24, gateway .1 on the bridge.
pub const POD_NET: [u8; 3] = [10, 244, 0];
/// The same range as the Node's `spec.podCIDR`.
pub const POD_CIDR: &str = "10.244.0.0/24";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e} (is iproute2 installed?)", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn batch(prefix: &[&str], commands: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(prefix)
        .args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("ip -batch: {e} (is iproute2 installed?)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .map_err(|e| format!("ip -batch: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("ip -batch: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            commands.lines().next().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn short(uid: &str) -> String {
    uid.chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect()
}

/// The namespace name of a pod.
pub fn netns_name(uid: &str) -> String {
    format!("orca-{}", short(uid))
}

/// The namespace path runc joins.
pub fn netns_path(uid: &str) -> PathBuf {
    PathBuf::from("/var/run/netns").join(netns_name(uid))
}

fn gateway() -> Ipv4Addr {
    Ipv4Addr::new(POD_NET[0], POD_NET[1], POD_NET[2], 1)
}

fn ensure_bridge() -> Result<(), String> {
    if ip(&["link", "show", BRIDGE]).is_ok() {
        return Ok(());
    }
    ip(&["link", "add", BRIDGE, "type", "bridge"])?;
    ip(&["addr", "add", &format!("{}/24", gateway()), "dev", BRIDGE])?;
    ip(&["link", "set", BRIDGE, "up"])
}

/// Serialises address picking: pod actors set up their sandboxes concurrently.
static ALLOCATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Picks the lowest address of the range not recorded by another pod under `pods_dir`.
fn allocate(pods_dir: &Path, uid: &str) -> Result<Ipv4Addr, String> {
    let _one_at_a_time = ALLOCATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mine = pods_dir.join(uid).join("ip");
    if let Some(ip) = std::fs::read_to_string(&mine).ok().and_then(|s| s.trim().parse().ok()) {
        return Ok(ip);
    }
    let used: Vec<String> = std::fs::read_dir(pods_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("ip")).ok())
        .map(|s| s.trim().to_string())
        .collect();
    let free = (2..=254u8)
        .map(|h| Ipv4Addr::new(POD_NET[0], POD_NET[1], POD_NET[2], h))
        .find(|a| !used.contains(&a.to_string()))
        .ok_or("the pod range 10.244.0.0/24 is full")?;
    std::fs::create_dir_all(pods_dir.join(uid)).map_err(|e| e.to_string())?;
    std::fs::write(&mine, free.to_string()).map_err(|e| e.to_string())?;
    Ok(free)
}

/// Creates (or finds) the pod's namespace, veth and address; returns the pod IP.
pub fn setup(pods_dir: &Path, uid: &str) -> Result<Ipv4Addr, String> {
    ensure_bridge()?;
    let addr = allocate(pods_dir, uid)?;
    let ns = netns_name(uid);
    if netns_path(uid).exists() {
        return Ok(addr);
    }
    let (host, peer) = (format!("vo{}", short(uid)), format!("vp{}", short(uid)));
    // Two `ip -batch` runs instead of one process per step: pod start-up is dominated by process
    // creation on small machines.
    // A neighbour entry left by an earlier pod with this address would send its traffic to a
    // veth that no longer exists until the entry goes stale (tens of seconds): it goes first.
    let host_side = format!("neigh flush to {addr} dev {BRIDGE}\nnetns add {ns}\nlink add {host} type veth peer name {peer}\nlink set {peer} netns {ns}\nlink set {host} master {BRIDGE}\nlink set {host} up\n");
    let pod_side = format!("link set {peer} name eth0\naddr add {addr}/24 dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via {}\n", gateway());
    let result = batch(&[], &host_side).and_then(|_| batch(&["-n", &ns], &pod_side));
    if let Err(e) = result {
        teardown(uid);
        return Err(e);
    }
    Ok(addr)
}

/// Removes the pod's namespace (its veth pair goes with it).
pub fn teardown(uid: &str) {
    let _ = ip(&["netns", "del", &netns_name(uid)]);
}
