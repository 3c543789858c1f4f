//! Requests a node agent serves over NATS: container logs (tail, previous, follow offsets), exec,
//! the opening of interactive exec sessions (`exec_session.rs`), and its metrics.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;

use crate::bus::envelope::{self, ExecRequest, LogRequest, NodeReply};
use crate::pod::container::{log_path, previous_log_path};

/// How long an exec may run.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest log answer.
pub const MAX_LOG_REPLY: u64 = 512 * 1024;

/// What the agent knows of a running pod, for logs and exec.
#[derive(Debug, Clone)]
pub struct PodEntry {
    /// Pod directory.
    pub dir: PathBuf,
    /// Container names in order.
    pub containers: Vec<String>,
}

/// Pods by `namespace/name`.
pub type Registry = Arc<Mutex<HashMap<String, PodEntry>>>;

fn reply_err(msg: String) -> NodeReply {
    NodeReply {
        error: msg,
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: 0,
        offset: 0,
    }
}

fn container_dir(reg: &Registry, ns: &str, pod: &str, container: &str) -> Result<PathBuf, String> {
    let reg = reg.lock();
    let entry = reg
        .get(&format!("{ns}/{pod}"))
        .ok_or_else(|| format!("pod {ns}/{pod} is not running on this node"))?;
    let name = if container.is_empty() {
        entry
            .containers
            .first()
            .cloned()
            .ok_or_else(|| "the pod has no containers".to_string())?
    } else if entry.containers.iter().any(|c| c == container) {
        container.to_string()
    } else {
        return Err(format!(
            "container {container} is not valid for pod {pod}; choose one of: {}",
            entry.containers.join(", ")
        ));
    };
    Ok(entry.dir.join(name))
}

fn read_log(reg: &Registry, req: &LogRequest) -> NodeReply {
    let dir = match container_dir(reg, &req.namespace, &req.pod, &req.container) {
        Ok(d) => d,
        Err(e) => return reply_err(e),
    };
    let path = if req.previous {
        previous_log_path(&dir)
    } else {
        log_path(&dir)
    };
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(_) if req.previous => {
            return reply_err(format!(
                "previous terminated container \"{}\" in pod \"{}\" not found",
                req.container, req.pod
            ))
        }
        Err(_) => Vec::new(),
    };
    let total = data.len() as u64;
    let mut start = req.since_bytes.unwrap_or(0).min(total) as usize;
    if let Some(n) = req.tail_lines {
        let mut count = 0;
        let mut idx = data.len();
        let body = if data.ends_with(b"\n") {
            &data[..data.len() - 1]
        } else {
            &data[..]
        };
        for (i, b) in body.iter().enumerate().rev() {
            if *b == b'\n' {
                count += 1;
                if count == n {
                    idx = i + 1;
                    break;
                }
            }
            idx = i;
        }
        if n == 0 {
            idx = data.len();
        }
        start = start.max(idx);
    }
    let end = (start as u64 + MAX_LOG_REPLY).min(total) as usize;
    NodeReply {
        error: String::new(),
        stdout: data[start..end].to_vec(),
        stderr: Vec::new(),
        exit_code: 0,
        offset: end as u64,
    }
}

/// A command ready to run in a container: its argv (through the runtime), environment and
/// working directory.
pub struct Prepared {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// The container's environment.
    pub env: Vec<(String, String)>,
    /// Where it starts.
    pub work: PathBuf,
}

/// Finds the container of `req` and what running `req.command` in it takes.
pub fn prepare(
    reg: &Registry,
    req: &ExecRequest,
    runtime: &dyn crate::node::runtime::ContainerRuntime,
    tty: bool,
) -> Result<Prepared, String> {
    let dir = container_dir(reg, &req.namespace, &req.pod, &req.container)?;
    let argv = if tty {
        runtime.exec_tty_argv(&dir, &req.command)
    } else {
        runtime.exec_argv(&dir, &req.command)
    };
    if argv.is_empty() {
        return Err("exec needs a command".into());
    }
    let saved: crate::pod::sandbox::ExecContext = std::fs::read(crate::pod::sandbox::exec_context_path(&dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let env = saved.env;
    // The host working directory of a process container; runc containers exec in their own.
    let work = Some(saved.workdir)
        .filter(|w| w.is_dir())
        .unwrap_or_else(|| dir.clone());
    Ok(Prepared { argv, env, work })
}

async fn exec(reg: &Registry, req: &ExecRequest, runtime: &dyn crate::node::runtime::ContainerRuntime) -> NodeReply {
    let p = match prepare(reg, req, runtime, false) {
        Ok(p) => p,
        Err(e) => return reply_err(e),
    };
    let (cmd, args) = p.argv.split_first().expect("prepare gives a program");
    let (env, work) = (p.env, p.work);
    let out = tokio::time::timeout(
        EXEC_TIMEOUT,
        tokio::process::Command::new(cmd)
            .args(args)
            .envs(env)
            .current_dir(&work)
            .kill_on_drop(true)
            .output(),
    )
    .await;
    match out {
        Ok(Ok(o)) => NodeReply {
            error: String::new(),
            stdout: o.stdout,
            stderr: o.stderr,
            exit_code: o.status.code().unwrap_or(128),
            offset: 0,
        },
        Ok(Err(e)) => reply_err(format!("exec {cmd}: {e}")),
        Err(_) => reply_err(format!("exec {cmd}: timed out after {}s", EXEC_TIMEOUT.as_secs())),
    }
}

/// Writes into a container's stdin FIFO; fails at once when the container is not reading it.
fn write_stdin(reg: &Registry, r: &envelope::AttachInput) -> NodeReply {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match container_dir(reg, &r.namespace, &r.pod, &r.container) {
        Ok(d) => d,
        Err(e) => return reply_err(e),
    };
    let fifo = crate::node::runtime::shim_process::stdin_path(&dir);
    if !fifo.exists() {
        return reply_err(format!(
            "container {} does not take stdin: set spec.containers[].stdin: true",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
    }
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&fifo);
    match opened.and_then(|mut f| f.write_all(&r.data)) {
        Ok(()) => reply_err(String::new()),
        Err(e) => reply_err(format!("writing to the container's stdin: {e}")),
    }
}

/// Keeps a reply within one NATS message: output beyond `limit` bytes is cut, and stderr says so.
pub fn fit(mut reply: NodeReply, limit: usize) -> NodeReply {
    let total = reply.stdout.len() + reply.stderr.len();
    if total <= limit {
        return reply;
    }
    let note = format!("\n[orca: output cut to {limit} bytes to fit one NATS message]\n");
    let room = limit.saturating_sub(note.len());
    let keep_err = reply.stderr.len().min(room / 4);
    reply.stderr.truncate(keep_err);
    reply.stdout.truncate(room - keep_err);
    reply.stderr.extend_from_slice(note.as_bytes());
    reply
}

/// Serves logs and exec for this node until the subscriptions end.
pub async fn serve(
    nats: async_nats::Client,
    node: String,
    reg: Registry,
    runtime: std::sync::Arc<dyn crate::node::runtime::ContainerRuntime>,
) -> Result<(), crate::bus::Error> {
    let sub = |s: String| {
        let nats = nats.clone();
        async move {
            nats.subscribe(s.clone())
                .await
                .map_err(|e| crate::bus::Error::Subscribe {
                    subject: s,
                    reason: e.to_string(),
                })
        }
    };
    let logs = sub(crate::bus::subjects::node_logs(&node)).await?;
    let execs = sub(crate::bus::subjects::node_exec(&node)).await?;
    let sessions = sub(crate::bus::subjects::node_exec_session(&node)).await?;
    let attach = sub(crate::bus::subjects::node_attach(&node)).await?;
    let metrics = sub(crate::bus::subjects::node_metrics(&node)).await?;
    let mut all = futures::stream::select(
        futures::stream::select(futures::stream::select(logs, execs), metrics),
        futures::stream::select(sessions, attach),
    );
    while let Some(msg) = all.next().await {
        let Some(reply) = msg.reply.clone() else { continue };
        let (nats, reg, runtime) = (nats.clone(), reg.clone(), runtime.clone());
        tokio::spawn(async move {
            let answer = if msg.subject.as_str().ends_with(".metrics") {
                NodeReply {
                    error: String::new(),
                    stdout: crate::metrics::node::render().into_bytes(),
                    stderr: Vec::new(),
                    exit_code: 0,
                    offset: 0,
                }
            } else if msg.subject.as_str().ends_with(".attach") {
                match envelope::decode::<envelope::AttachInput>(&msg.payload) {
                    Ok(r) => write_stdin(&reg, &r),
                    Err(e) => reply_err(e.to_string()),
                }
            } else if msg.subject.as_str().ends_with(".exec-session") {
                match envelope::decode::<envelope::ExecSession>(&msg.payload) {
                    Ok(r) => super::exec_session::open(nats.clone(), &reg, runtime.as_ref(), r).await,
                    Err(e) => reply_err(e.to_string()),
                }
            } else if msg.subject.as_str().ends_with(".logs") {
                match envelope::decode::<LogRequest>(&msg.payload) {
                    Ok(r) => read_log(&reg, &r),
                    Err(e) => reply_err(e.to_string()),
                }
            } else {
                match envelope::decode::<ExecRequest>(&msg.payload) {
                    Ok(r) => exec(&reg, &r, runtime.as_ref()).await,
                    Err(e) => reply_err(e.to_string()),
                }
            };
            let answer = fit(answer, crate::bus::split::body_limit(&nats));
            let _ = nats.publish(reply, envelope::encode(&answer).into()).await;
        });
    }
    Ok(())
}

#[cfg(test)]
mod fit_tests {
    use super::*;

    #[test]
    fn large_output_is_cut_to_one_message_and_says_so() {
        let r = NodeReply {
            error: String::new(),
            stdout: vec![b'x'; 3 << 20],
            stderr: vec![b'e'; 10],
            exit_code: 0,
            offset: 0,
        };
        let out = fit(r, 1 << 20);
        assert!(out.stdout.len() + out.stderr.len() <= 1 << 20);
        assert!(String::from_utf8_lossy(&out.stderr).contains("output cut to"));
        assert!(crate::bus::envelope::encode(&out).len() <= (1 << 20) + 64);
        let small = NodeReply {
            error: String::new(),
            stdout: b"hi".to_vec(),
            stderr: Vec::new(),
            exit_code: 0,
            offset: 0,
        };
        assert_eq!(fit(small.clone(), 1 << 20), small);
    }
}
