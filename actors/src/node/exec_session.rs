//! Interactive exec sessions on a node (`kubectl exec -it`, `kubectl cp`): the command runs on a
//! pseudo-terminal of its own or on pipes; its output goes to the API server piece by piece, each
//! piece a request answered before the next (in order, nothing dropped, and a client that stops
//! reading slows the command down instead of filling memory); stdin, terminal resizes and the
//! client's going away come back on the session's input subject.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

use super::serve::{prepare, Registry};
use crate::bus::envelope::{self, ExecInput, ExecOutput, ExecSession, NodeReply};
use crate::bus::subjects;

/// How long the API server may take to take one piece of output before the session ends.
pub const OUTPUT_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest piece of output.
const CHUNK: usize = 32 * 1024;

fn reply(error: String) -> NodeReply {
    NodeReply {
        error,
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: 0,
        offset: 0,
    }
}

fn set_size(fd: &OwnedFd, cols: u16, rows: u16) {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // The kernel tells the terminal's foreground process group (SIGWINCH).
    let _ = rustix::termios::tcsetwinsize(fd, ws);
}

/// The running command: where its input goes and where its output comes from.
struct Running {
    child: std::process::Child,
    /// Stdin (the terminal's master side with a TTY); None once closed.
    input: Option<Box<dyn Write + Send>>,
    /// The terminal's master side, for resizes.
    master: Option<OwnedFd>,
    /// Output readers: (stream, reader).
    outputs: Vec<(u8, Box<dyn Read + Send>)>,
}

fn spawn(p: super::serve::Prepared, open: &ExecSession) -> Result<Running, String> {
    let (program, args) = p.argv.split_first().ok_or("exec needs a command")?;
    if open.tty {
        // A session of its own whose controlling terminal is the pty (util-linux `setsid
        // --ctty`), so that job control works and resizes reach it as SIGWINCH.
        let mut cmd = Command::new("setsid");
        cmd.arg("--ctty")
            .arg(program)
            .args(args)
            .envs(p.env)
            .current_dir(&p.work);
        let pty = nix::pty::openpty(None, None).map_err(|e| format!("openpty: {e}"))?;
        let slave = pty.slave;
        cmd.stdin(Stdio::from(slave.try_clone().map_err(|e| e.to_string())?))
            .stdout(Stdio::from(slave.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(slave));
        let child = cmd
            .spawn()
            .map_err(|e| format!("exec {program} (through setsid): {e}"))?;
        drop(cmd); // the parent's copies of the slave side, so that EOF comes when the child ends
        let master = pty.master;
        let reader = std::fs::File::from(master.try_clone().map_err(|e| e.to_string())?);
        let writer = std::fs::File::from(master.try_clone().map_err(|e| e.to_string())?);
        return Ok(Running {
            child,
            input: open.stdin.then(|| Box::new(writer) as Box<dyn Write + Send>),
            master: Some(master),
            outputs: vec![(1, Box::new(reader))],
        });
    }
    let mut cmd = Command::new(program);
    cmd.args(args).envs(p.env).current_dir(&p.work);
    cmd.stdin(if open.stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("exec {program}: {e}"))?;
    let input = child.stdin.take().map(|s| Box::new(s) as Box<dyn Write + Send>);
    let mut outputs: Vec<(u8, Box<dyn Read + Send>)> = Vec::new();
    if let Some(o) = child.stdout.take() {
        outputs.push((1, Box::new(o)));
    }
    if let Some(e) = child.stderr.take() {
        outputs.push((2, Box::new(e)));
    }
    Ok(Running {
        child,
        input,
        master: None,
        outputs,
    })
}

/// Opens a session: starts the command and answers at once; the session then runs on its own.
pub async fn open(
    nats: async_nats::Client,
    reg: &Registry,
    runtime: &dyn crate::node::runtime::ContainerRuntime,
    open: ExecSession,
) -> NodeReply {
    let prepared = match prepare(reg, &open.exec, runtime, open.tty) {
        Ok(p) => p,
        Err(e) => return reply(e),
    };
    let inputs = match nats.subscribe(subjects::exec_input(&open.session)).await {
        Ok(s) => s,
        Err(e) => return reply(format!("exec session: {e}")),
    };
    let running = match spawn(prepared, &open) {
        Ok(r) => r,
        Err(e) => return reply(e),
    };
    tokio::spawn(run(nats, open.session, running, inputs));
    reply(String::new())
}

async fn run(nats: async_nats::Client, session: String, mut r: Running, mut inputs: async_nats::Subscriber) {
    // Output readers are blocking reads on their own threads, feeding one ordered channel.
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Vec<u8>)>(4);
    for (stream, mut reader) in std::mem::take(&mut r.outputs) {
        let tx = out_tx.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break, // EOF, or EIO from a terminal whose last user left
                    Ok(n) => {
                        if tx.blocking_send((stream, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(out_tx);
    // Stdin is written on a thread of its own, so that a command that does not read never
    // blocks the session.
    let (in_tx, in_rx) = std::sync::mpsc::channel::<Option<Vec<u8>>>();
    if let Some(mut w) = r.input.take() {
        std::thread::spawn(move || {
            while let Ok(Some(data)) = in_rx.recv() {
                if w.write_all(&data).and_then(|_| w.flush()).is_err() {
                    break;
                }
            }
        });
    }
    let out_subject = subjects::exec_output(&session);
    let send = |o: ExecOutput| {
        let nats = nats.clone();
        let subject = out_subject.clone();
        async move {
            tokio::time::timeout(OUTPUT_TIMEOUT, nats.request(subject, envelope::encode(&o).into()))
                .await
                .map_err(|_| ())?
                .map(|_| ())
                .map_err(|_| ())
        }
    };
    let mut lost = false;
    loop {
        tokio::select! {
            piece = out_rx.recv() => match piece {
                Some((stream, data)) => {
                    if send(ExecOutput { stream, data, exit_code: None, error: String::new() }).await.is_err() {
                        lost = true;
                        break;
                    }
                }
                None => break,
            },
            msg = inputs.next() => {
                let Some(msg) = msg else { break };
                let input: Option<ExecInput> = envelope::decode(&msg.payload).ok();
                if let Some(reply) = msg.reply {
                    let _ = nats.publish(reply, bytes::Bytes::new()).await;
                }
                let Some(input) = input else { continue };
                if input.kill {
                    lost = true;
                    break;
                }
                if let (Some((cols, rows)), Some(m)) = (input.resize, r.master.as_ref()) {
                    set_size(m, cols, rows);
                }
                if !input.data.is_empty() {
                    let _ = in_tx.send(Some(input.data));
                }
                if input.close_stdin {
                    let _ = in_tx.send(None);
                }
            }
        }
    }
    drop(in_tx);
    if lost {
        let _ = r.child.kill();
    }
    let status = tokio::task::spawn_blocking(move || r.child.wait()).await;
    let code = match status {
        Ok(Ok(s)) => s
            .code()
            .unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)),
        _ => 128,
    };
    if !lost {
        let _ = send(ExecOutput {
            stream: 3,
            data: Vec::new(),
            exit_code: Some(code),
            error: String::new(),
        })
        .await;
    }
}
