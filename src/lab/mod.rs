//! `orca lab`: several hosts on one machine (network namespaces on a bridge, each with its own
//! address, hostname and data directory), a nats-server on each clustered with the others by
//! routes, the control plane on the first host and an `orca agent` on every host; `cut`/`heal`
//! take a host's link down and up (a partition); `down` removes everything `up` made.

mod members;
mod net;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

/// `orca lab ...`.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Make N hosts and start a cluster on them
    Up(UpArgs),
    /// Stop everything the lab started and remove its hosts and data
    Down(DirArg),
    /// Cut a host off the network (its link goes down)
    Cut(HostArg),
    /// Give a cut host its link back
    Heal(HostArg),
    /// Kill (SIGKILL) the control-plane member on a host
    Kill(HostArg),
    /// Start the control-plane member on a host again, as it was started
    Restart(HostArg),
    /// Start a new control-plane member on a host (then `orca members add HOST` brings it in)
    Join(HostArg),
}

/// Where the lab keeps its state.
#[derive(Args, Debug)]
pub struct DirArg {
    /// The lab's directory [default: $ORCA_HOME/lab]
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// `orca lab up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Number of hosts
    #[arg(long, default_value_t = 3)]
    hosts: usize,
    /// Seconds without a heartbeat before a node's Ready condition becomes Unknown
    #[arg(long, default_value_t = 20)]
    node_grace_seconds: u64,
    /// Seconds pods stay bound to an unreachable node before they are evicted (replaced elsewhere)
    #[arg(long, default_value_t = 300)]
    default_toleration_seconds: u64,
    /// Control-plane members, on the first hosts: 1, or 3 (or 5) for a replicated control plane
    /// that survives the loss of a minority
    #[arg(long, default_value_t = 1)]
    control_planes: usize,
    /// The agents' container runtime: runc (each pod its own network namespace and an address of
    /// its node's podCIDR, routed between hosts) or process
    #[arg(long, default_value = "runc", value_parser = ["runc", "process"])]
    runtime: String,
    #[command(flatten)]
    dir: DirArg,
}

/// `orca lab cut|heal HOST`.
#[derive(Args, Debug)]
pub struct HostArg {
    /// The host (h1, h2, ...)
    host: String,
    #[command(flatten)]
    dir: DirArg,
}

fn lab_dir(d: &DirArg) -> PathBuf {
    d.dir.clone().unwrap_or_else(|| crate::serve::orca_home().join("lab"))
}

/// Runs the lab command.
pub fn run(cmd: LabCommand) -> Result<()> {
    match cmd {
        LabCommand::Up(a) => up(&a),
        LabCommand::Down(d) => down(&lab_dir(&d)),
        LabCommand::Cut(h) => link(&h, false),
        LabCommand::Heal(h) => link(&h, true),
        LabCommand::Kill(h) => members::kill(&h),
        LabCommand::Restart(h) => members::restart(&h),
        LabCommand::Join(h) => members::join(&h),
    }
}

/// Starts `argv` inside host `host`'s network namespace with its own hostname, in a process group of its
/// own (it outlives `orca lab up`), output to `log`.
fn spawn_in(host: &str, argv: &[String], log: &Path) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    // nsenter rather than `ip netns exec`: the latter mounts a sysfs of its own, without the
    // cgroup hierarchy runc needs, in a mount namespace where pods' namespaces would be hidden.
    let child = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{}", net::netns(host)))
        .args(["unshare", "--uts", "sh", "-c"])
        .arg("hostname \"$0\" && exec \"$@\"")
        .arg(host)
        .args(argv)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {} on {host}", argv[0]))?;
    Ok(child.id())
}

fn wait_tcp(addr: &str, what: &str, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let sock: std::net::SocketAddr = addr.parse()?;
    while std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not listen on {addr} within 30 s (see {})", log.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn up(a: &UpArgs) -> Result<()> {
    if a.hosts == 0 || a.hosts > 200 {
        bail!("--hosts takes 1 to 200");
    }
    if a.control_planes == 0 || a.control_planes > a.hosts || a.control_planes.is_multiple_of(2) {
        bail!("--control-planes takes an odd number up to --hosts (1, 3, 5): a majority must survive");
    }
    let dir = lab_dir(&a.dir);
    if dir.join("lab.json").exists() {
        bail!("a lab is up in {} already: `orca lab down` first", dir.display());
    }
    which("nats-server", "apt-get install -y nats-server")?;
    if a.runtime == "runc" {
        which("runc", "apt-get install -y runc (or `--runtime process`)")?;
    }
    let hosts: Vec<String> = (1..=a.hosts).map(|i| format!("h{i}")).collect();
    std::fs::create_dir_all(&dir)?;
    // What is made is recorded first, so that `down` removes it even when `up` fails half-way.
    save(&dir, &hosts, &[])?;
    let made = make(a, &dir, &hosts);
    if made.is_err() {
        let _ = down(&dir);
    }
    made
}

fn make(a: &UpArgs, dir: &Path, hosts: &[String]) -> Result<()> {
    net::make_bridge()?;
    for (i, h) in hosts.iter().enumerate() {
        net::make_host(h, &net::host_ip(i + 1))?;
        std::fs::create_dir_all(dir.join(h))?;
    }
    let mut pids = Vec::new();
    let orca = std::env::current_exe()?.display().to_string();
    for (i, h) in hosts.iter().enumerate() {
        let ip = net::host_ip(i + 1);
        let routes: Vec<String> = (1..=hosts.len())
            .filter(|j| *j != i + 1)
            .map(|j| format!("nats://{}:6222", net::host_ip(j)))
            .collect();
        let mut argv: Vec<String> = [
            "nats-server",
            "-a",
            &ip,
            "-p",
            "4222",
            "-n",
            h,
            "--cluster_name",
            "orcalab",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(["--cluster".into(), format!("nats://{ip}:6222")]);
        if !routes.is_empty() {
            argv.extend(["--routes".into(), routes.join(",")]);
        }
        let log = dir.join(h).join("nats.log");
        pids.push(spawn_in(h, &argv, &log)?);
        save(dir, hosts, &pids)?;
        wait_tcp(&format!("{ip}:4222"), "nats-server", &log)?;
    }
    let ip1 = net::host_ip(1);
    let listen = format!("{ip1}:6443");
    let server_dir = dir.join("h1").join("server");
    let members: Vec<String> = hosts[..a.control_planes].to_vec();
    if members.len() > 1 {
        members::share_secrets(dir, &members)?;
    }
    for (i, h) in members.iter().enumerate() {
        let ip = net::host_ip(i + 1);
        let mut argv: Vec<String> = vec![
            orca.clone(),
            "server".into(),
            "--nats".into(),
            format!("nats://{ip}:4222"),
            "--data-dir".into(),
            dir.join(h).join("server").display().to_string(),
            "--listen".into(),
            format!("{ip}:6443"),
            "--node-grace-seconds".into(),
            a.node_grace_seconds.to_string(),
            "--default-toleration-seconds".into(),
            a.default_toleration_seconds.to_string(),
        ];
        if members.len() > 1 {
            argv.extend(["--peers".into(), members.join(","), "--member".into(), h.clone()]);
        }
        let pid = spawn_in(h, &argv, &dir.join(h).join("server.log"))?;
        pids.push(pid);
        save(dir, hosts, &pids)?;
        members::save_server(dir, h, pid, &argv)?;
    }
    for (i, h) in members.iter().enumerate() {
        let addr = format!("{}:6443", net::host_ip(i + 1));
        wait_tcp(&addr, "the control plane", &dir.join(h).join("server.log"))?;
    }
    let pki = orca_actors::auth::pki::Pki::open(&server_dir.join("pki"));
    let url = format!("https://{listen}");
    let text = crate::serve::kubeconfig_text(&url, Some(&pki)).map_err(anyhow::Error::msg)?;
    let kubeconfig = dir.join("kubeconfig");
    orca_actors::auth::pki::write_private(&kubeconfig, &text).map_err(anyhow::Error::msg)?;
    for (i, h) in hosts.iter().enumerate() {
        let ip = net::host_ip(i + 1);
        let argv: Vec<String> = vec![
            orca.clone(),
            "agent".into(),
            "--nats".into(),
            format!("nats://{ip}:4222"),
            "--name".into(),
            h.clone(),
            "--data-dir".into(),
            dir.join(h).join("agent").display().to_string(),
            "--node-ip".into(),
            ip.clone(),
            "--runtime".into(),
            a.runtime.clone(),
            "--image-dir".into(),
            dir.join(h).join("images").display().to_string(),
            // Every host serves Ingress on its own address, as nodes behind a load balancer do.
            "--ingress-listen".into(),
            format!("{ip}:80"),
        ];
        pids.push(spawn_in(h, &argv, &dir.join(h).join("agent.log"))?);
        save(dir, hosts, &pids)?;
    }
    println!(
        "lab up: {} hosts on {}.0/24 (h1 at {ip1}), each with a nats-server (clustered) and an agent; the control plane on {}",
        hosts.len(),
        net::NET,
        members.join(", ")
    );
    println!("kubectl: export KUBECONFIG={}", kubeconfig.display());
    println!("cut a host off: orca lab cut h2; back: orca lab heal h2; all gone: orca lab down");
    Ok(())
}

fn which(bin: &str, install: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false);
    if !found {
        bail!("{bin} is not installed: {install}");
    }
    Ok(())
}

fn save(dir: &Path, hosts: &[String], pids: &[u32]) -> Result<()> {
    let text = json!({"hosts": hosts, "pids": pids}).to_string();
    std::fs::write(dir.join("lab.json"), text).context("writing lab.json")
}

fn load(dir: &Path) -> Result<(Vec<String>, Vec<u32>)> {
    let text = std::fs::read_to_string(dir.join("lab.json"))
        .with_context(|| format!("no lab in {} (`orca lab up` makes one)", dir.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let hosts = serde_json::from_value(v["hosts"].clone())?;
    let pids = serde_json::from_value(v["pids"].clone())?;
    Ok((hosts, pids))
}

/// The processes in host `host`'s namespace (the lab's and whatever they started: pods).
fn pids_in(host: &str) -> Vec<i32> {
    Command::new("ip")
        .args(["netns", "pids", &net::netns(host)])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn signal_all(pids: &[i32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(i32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Removes the runc containers of host `host`'s agent and the names of its pods' network
/// namespaces (the namespaces themselves end with their last process).
fn remove_containers(dir: &Path, host: &str) {
    let agent = dir.join(host).join("agent");
    let root = agent.join("runc");
    if root.exists() {
        let ids = Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["list", "-q"])
            .output();
        for id in ids
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
            .lines()
        {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(&root)
                .args(["delete", "--force", id])
                .stderr(Stdio::null())
                .status();
        }
    }
    for pod in std::fs::read_dir(agent.join("pods")).into_iter().flatten().flatten() {
        let uid = pod.file_name().to_string_lossy().into_owned();
        let _ = Command::new("ip")
            .args(["netns", "del", &orca_actors::node::network::netns_name(&uid)])
            .stderr(Stdio::null())
            .status();
    }
}

fn down(dir: &Path) -> Result<()> {
    let (hosts, started) = load(dir)?;
    for h in &hosts {
        remove_containers(dir, h);
    }
    let mut pids: Vec<i32> = started.iter().map(|p| *p as i32).collect();
    for h in &hosts {
        pids.extend(pids_in(h));
    }
    signal_all(&pids, "TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<i32> = hosts.iter().flat_map(|h| pids_in(h)).collect();
        if alive.is_empty() || Instant::now() > deadline {
            signal_all(&alive, "KILL");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for h in &hosts {
        net::remove_host(h);
    }
    net::remove_bridge();
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    println!("lab down: {} hosts removed", hosts.len());
    Ok(())
}

fn link(h: &HostArg, up: bool) -> Result<()> {
    let (hosts, _) = load(&lab_dir(&h.dir))?;
    if !hosts.contains(&h.host) {
        bail!("no host {} in the lab (hosts: {})", h.host, hosts.join(", "));
    }
    net::set_link(&h.host, up)?;
    println!("{} {}", h.host, if up { "healed" } else { "cut off" });
    Ok(())
}
