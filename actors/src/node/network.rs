//! Pod networking for runc pods: a bridge holding the gateway of the node's pod range (its
//! `spec.podCIDR`, a /24), and per pod a network namespace, a veth pair and an address from that
//! range (iproute2's `ip`). Other nodes' ranges are routed by `routes.rs`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bridge of the node's pod range.
pub const BRIDGE: &str = "orca0";

/// A node's pod range: a /24, gateway .1 on the bridge, pods from .2 to .254.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodNet(pub [u8; 3]);

impl PodNet {
    /// Reads a `spec.podCIDR` such as `10.244.3.0/24`.
    pub fn parse(cidr: &str) -> Result<PodNet, String> {
        let bad = || format!("pod range {cidr:?} is not an IPv4 /24 such as 10.244.3.0/24");
        let (addr, bits) = cidr.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let [a, b, c, d] = addr.octets();
        if bits != "24" || d != 0 {
            return Err(bad());
        }
        Ok(PodNet([a, b, c]))
    }

    /// The gateway on the bridge.
    pub fn gateway(self) -> Ipv4Addr {
        self.host(1)
    }

    fn host(self, h: u8) -> Ipv4Addr {
        let [a, b, c] = self.0;
        Ipv4Addr::new(a, b, c, h)
    }
}

impl std::fmt::Display for PodNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/24", self.host(0))
    }
}

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

pub(crate) fn batch(prefix: &[&str], commands: &str) -> Result<(), String> {
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

/// The pod ranges whose gateway this process has put on the bridge.
static BRIDGED: std::sync::Mutex<Vec<PodNet>> = std::sync::Mutex::new(Vec::new());

/// Makes the bridge with the range's gateway (agents of one machine share the bridge, each with
/// its own range on it) and lets the host forward pod traffic.
/// Whether this network namespace has the link `name`, read from `/proc/self/net/dev` (which shows
/// the reader's namespace, unlike a `/sys` mounted elsewhere) rather than by running `ip`: every
/// pod's sandbox asks, under the bridge lock.
fn link_exists(name: &str) -> bool {
    std::fs::read_to_string("/proc/self/net/dev").is_ok_and(|dev| {
        dev.lines()
            .filter_map(|l| l.split_once(':'))
            .any(|(link, _)| link.trim() == name)
    })
}

fn ensure_bridge(net: PodNet) -> Result<(), String> {
    let mut bridged = BRIDGED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let exists = link_exists(BRIDGE);
    if exists && bridged.contains(&net) {
        return Ok(());
    }
    if !exists {
        ip(&["link", "add", BRIDGE, "type", "bridge"])?;
    }
    ip(&["addr", "replace", &format!("{}/24", net.gateway()), "dev", BRIDGE])?;
    ip(&["link", "set", BRIDGE, "up"])?;
    // Pods on other hosts are reached through this host's routes.
    let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
    bridged.push(net);
    Ok(())
}

/// Serialises address picking within this process (pod actors set up sandboxes concurrently);
/// `IPAM_DIR`'s lock does it between agents of one machine.
static ALLOCATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where the agents of one machine claim pod addresses: one file per address naming the pod
/// directory that holds it, under an exclusive lock. On tmpfs, so claims end with the network
/// namespaces at reboot.
pub const IPAM_DIR: &str = "/run/orca/ipam";

/// Picks the lowest free address of the range for the pod (or the one it has), atomically for
/// every agent of the machine (they share the bridge).
fn allocate(net: PodNet, pods_dir: &Path, uid: &str) -> Result<Ipv4Addr, String> {
    allocate_in(net, Path::new(IPAM_DIR), pods_dir, uid, &teardown)
}

/// Whether this process has swept the machine's orphaned pod namespaces yet.
static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Removes pod namespaces no live claim accounts for (their pod directory was removed while they
/// ran, or their claim was taken over): left on the bridge, their veth would answer for an address
/// another pod holds now. Runs under the machine-wide lock, so a namespace being set up (claimed
/// first) is never taken for an orphan.
fn sweep_orphans(ipam: &Path, remove: &dyn Fn(&str)) {
    let live: std::collections::BTreeSet<String> = std::fs::read_dir(ipam)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(PathBuf::from)
        .filter(|owner| owner.exists())
        .filter_map(|owner| owner.file_name().map(|n| netns_name(&n.to_string_lossy())))
        .collect();
    for entry in std::fs::read_dir("/var/run/netns").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_prefix("orca-") {
            if !live.contains(&name) {
                remove(id);
            }
        }
    }
}

fn allocate_in(
    net: PodNet,
    ipam: &Path,
    pods_dir: &Path,
    uid: &str,
    remove: &dyn Fn(&str),
) -> Result<Ipv4Addr, String> {
    let _one_at_a_time = ALLOCATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::fs::create_dir_all(ipam).map_err(|e| format!("{}: {e}", ipam.display()))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(ipam.join(".lock"))
        .map_err(|e| e.to_string())?;
    let _machine_wide = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("locking {}: {e}", ipam.display()))?;
    if !SWEPT.swap(true, std::sync::atomic::Ordering::Relaxed) {
        sweep_orphans(ipam, remove);
    }
    let dir = pods_dir.join(uid);
    let owner = std::path::absolute(&dir).unwrap_or(dir.clone());
    let owner_text = owner.to_string_lossy().into_owned();
    let claimed_by = |a: &Ipv4Addr| std::fs::read_to_string(ipam.join(a.to_string())).ok();
    let mine = dir.join("ip");
    if let Some(ip) = std::fs::read_to_string(&mine)
        .ok()
        .and_then(|s| s.trim().parse::<Ipv4Addr>().ok())
        .filter(|ip| PodNet([ip.octets()[0], ip.octets()[1], ip.octets()[2]]) == net)
    {
        match claimed_by(&ip) {
            Some(o) if o == owner_text => return Ok(ip),
            // Kept across a reboot (the claims are gone): claim it again.
            None => {
                std::fs::write(ipam.join(ip.to_string()), &owner_text).map_err(|e| e.to_string())?;
                return Ok(ip);
            }
            // Someone else holds it now: this pod gets a new one.
            Some(_) => {}
        }
    }
    // A claim whose pod directory is gone is free again, once the namespace it may have left on
    // the bridge is gone too.
    let (free, stale) = (2..=254u8)
        .map(|h| net.host(h))
        .map(|a| (a, claimed_by(&a)))
        .find(|(_, o)| o.as_ref().is_none_or(|o| !Path::new(o).exists()))
        .ok_or_else(|| format!("the pod range {net} is full"))?;
    if let Some(gone) = stale.as_ref().and_then(|o| Path::new(o).file_name()) {
        remove(&gone.to_string_lossy());
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(ipam.join(free.to_string()), &owner_text).map_err(|e| e.to_string())?;
    let tmp = dir.join("ip.tmp");
    std::fs::write(&tmp, free.to_string()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &mine).map_err(|e| e.to_string())?;
    Ok(free)
}

/// Creates (or finds) the pod's namespace, veth and address; returns the pod IP.
pub fn setup(net: PodNet, pods_dir: &Path, uid: &str) -> Result<Ipv4Addr, String> {
    ensure_bridge(net)?;
    let addr = allocate(net, pods_dir, uid)?;
    let ns = netns_name(uid);
    if netns_path(uid).exists() {
        return Ok(addr);
    }
    let (host, peer) = (format!("vo{}", short(uid)), format!("vp{}", short(uid)));
    // Two `ip -batch` runs instead of one process per step: pod start-up is dominated by process
    // creation on small machines.
    // Hairpin on the pod's port: a pod sent to itself through a Service comes back through the
    // port it left by when the bridge filters (br_netfilter).
    // A neighbour entry left by an earlier pod with this address would send its traffic to a
    // veth that no longer exists until the entry goes stale (tens of seconds): it goes first.
    let host_side = format!("neigh flush to {addr} dev {BRIDGE}\nnetns add {ns}\nlink add {host} type veth peer name {peer}\nlink set {peer} netns {ns}\nlink set {host} master {BRIDGE}\nlink set {host} type bridge_slave hairpin on\nlink set {host} up\n");
    let pod_side = format!("link set {peer} name eth0\naddr add {addr}/24 dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via {}\n", net.gateway());
    let result = batch(&[], &host_side).and_then(|_| batch(&["-n", &ns], &pod_side));
    if let Err(e) = result {
        teardown(uid);
        return Err(e);
    }
    Ok(addr)
}

/// Removes the pod's namespace and veth pair. The link goes explicitly: a process still inside
/// would keep the namespace, and its veth on the bridge, alive after the name is removed. (Last:
/// `ip` stops at a missing link even with `-force`, and usually the namespace took it along.)
pub fn teardown(uid: &str) {
    let commands = format!("netns del {}\nlink del vo{}\n", netns_name(uid), short(uid));
    let _ = batch(&["-force"], &commands);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_of_one_machine_never_share_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let ipam = dir.path().join("ipam");
        let (a, b) = (dir.path().join("agent-a/pods"), dir.path().join("agent-b/pods"));
        let removed = std::cell::RefCell::new(vec![]);
        let remove = |uid: &str| removed.borrow_mut().push(uid.to_string());
        let net = PodNet::parse("10.244.0.0/24").unwrap();
        let first = allocate_in(net, &ipam, &a, "p1", &remove).unwrap();
        let second = allocate_in(net, &ipam, &b, "p1", &remove).unwrap();
        assert_ne!(first, second, "two agents, one bridge");
        let again = allocate_in(net, &ipam, &a, "p1", &remove).unwrap();
        assert_eq!(again, first, "a pod keeps its address");
        // A pod gone (its directory removed) frees its address for the next one, and what its
        // namespace left on the bridge goes first.
        std::fs::remove_dir_all(a.join("p1")).unwrap();
        removed.borrow_mut().clear();
        assert_eq!(allocate_in(net, &ipam, &b, "p2", &remove).unwrap(), first);
        assert_eq!(removed.borrow().as_slice(), ["p1"]);
        // A pod whose node has another range now gets an address from it.
        let other = PodNet::parse("10.244.7.0/24").unwrap();
        let moved = allocate_in(other, &ipam, &b, "p2", &remove).unwrap();
        assert_eq!(moved.octets()[..3], [10, 244, 7]);
    }

    #[test]
    fn pod_ranges_are_ipv4_slash_24s() {
        let net = PodNet::parse("10.244.3.0/24").unwrap();
        assert_eq!(net.gateway().to_string(), "10.244.3.1");
        assert_eq!(net.to_string(), "10.244.3.0/24");
        for bad in ["10.244.3.0/16", "10.244.3.5/24", "10.244.3.0", "fd00::/64"] {
            assert!(PodNet::parse(bad).is_err(), "{bad}");
        }
    }
}
