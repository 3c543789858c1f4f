//! What a node's pods cost in memory, read from `/proc`: the agent, the per-container monitors
//! (`orca-shim`), runc's own processes and the containers, each as resident (RSS) and proportional
//! (PSS: shared pages divided among the processes that map them, so that sums are honest) sizes.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Resident and proportional size of one process, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mem {
    pub rss: u64,
    pub pss: u64,
}

impl std::ops::AddAssign for Mem {
    fn add_assign(&mut self, o: Mem) {
        self.rss += o.rss;
        self.pss += o.pss;
    }
}

/// The memory of one process (its `smaps_rollup`).
pub fn of(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB")?.trim().parse().ok())
    };
    Some(Mem {
        rss: field("Rss:")?,
        pss: field("Pss:")?,
    })
}

/// `/proc/PID/stat` fields as proc(5) numbers them.
pub const PPID: usize = 4;
pub const UTIME: usize = 14;
pub const STIME: usize = 15;

/// A process's command name and the fields of its `/proc/PID/stat`.
pub struct Stat {
    pub comm: String,
    /// Fields 3 (state) and on.
    fields: Vec<String>,
}

impl Stat {
    /// The stat of `pid`, if it still runs.
    pub fn read(pid: u32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: it ends at the last ") ".
        let (head, rest) = text.rsplit_once(") ")?;
        let comm = head.split_once('(')?.1.to_string();
        let fields = rest.split_whitespace().map(str::to_string).collect();
        Some(Stat { comm, fields })
    }

    /// Field `n` (3 and on) as a number; 0 when absent.
    pub fn field(&self, n: usize) -> u64 {
        n.checked_sub(3)
            .and_then(|i| self.fields.get(i))
            .and_then(|f| f.parse().ok())
            .unwrap_or(0)
    }
}

/// The memory of a node agent's processes.
#[derive(Debug, Default)]
pub struct NodeMemory {
    pub agent: Mem,
    /// One entry per monitor.
    pub monitors: Vec<Mem>,
    /// `runc` processes under the monitors (runc keeps `runc run` beside each container).
    pub runtime: Mem,
    /// Everything else under the monitors: the containers' own processes.
    pub containers: Mem,
}

fn exe_name(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// The agent `agent_pid` and the monitors working for it (those whose `--dir` lies under
/// `data_dir`), with everything running beneath them.
pub fn node(agent_pid: u32, data_dir: &Path) -> NodeMemory {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut monitors = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Some(stat) = Stat::read(pid) else {
            continue;
        };
        children.entry(stat.field(PPID) as u32).or_default().push(pid);
        if exe_name(pid) == "orca-shim" {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let ours = args
                .windows(2)
                .any(|w| w[0] == b"--dir" && Path::new(std::ffi::OsStr::from_bytes(w[1])).starts_with(data_dir));
            if ours {
                monitors.push(pid);
            }
        }
    }
    let mut out = NodeMemory {
        agent: of(agent_pid).unwrap_or_default(),
        ..Default::default()
    };
    for m in monitors {
        out.monitors.push(of(m).unwrap_or_default());
        let mut stack = children.get(&m).cloned().unwrap_or_default();
        while let Some(p) = stack.pop() {
            let mem = of(p).unwrap_or_default();
            if exe_name(p) == "runc" {
                out.runtime += mem;
            } else {
                out.containers += mem;
            }
            stack.extend(children.get(&p).cloned().unwrap_or_default());
        }
    }
    out
}

/// MiB of KiB, for printing.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One line per part.
pub fn report(m: &NodeMemory) -> String {
    let mut sum = Mem::default();
    for x in &m.monitors {
        sum += *x;
    }
    let mut per: Vec<u64> = m.monitors.iter().map(|x| x.rss).collect();
    per.sort_unstable();
    let median = per.get(per.len() / 2).copied().unwrap_or(0);
    let max = per.last().copied().unwrap_or(0);
    format!(
        "memory (RSS / PSS MiB): agent {:.1} / {:.1}; {} monitors {:.1} / {:.1} (each RSS median {median} KiB, max {max} KiB); runc {:.1} / {:.1}; containers {:.1} / {:.1}\nnode overhead (agent RSS + monitors PSS): {:.1} MiB",
        mib(m.agent.rss),
        mib(m.agent.pss),
        m.monitors.len(),
        mib(sum.rss),
        mib(sum.pss),
        mib(m.runtime.rss),
        mib(m.runtime.pss),
        mib(m.containers.rss),
        mib(m.containers.pss),
        mib(m.agent.rss + sum.pss),
    )
}
