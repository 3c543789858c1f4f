//! `orcactl exec -i [-t]`: the WebSocket exec kubectl speaks (`v5.channel.k8s.io`): stdin on
//! channel 0, output on 1 and 2, the exit status on 3, the terminal's size on 4; with `-t` on a
//! terminal, the local terminal is raw for the session and restored after.

use std::io::{Read, Write};

use anyhow::{bail, Result};
use serde_json::Value;

use orca_actors::api_server::websocket::{masked_frame, op, read_frame};

use super::client::Client;

fn mask() -> [u8; 4] {
    let id = uuid::Uuid::new_v4();
    let b = id.as_bytes();
    [b[0], b[1], b[2], b[3]]
}

fn encode(q: &str) -> String {
    super::get::encode(q)
}

/// The local terminal put in raw mode until dropped.
struct Raw {
    saved: Option<rustix::termios::Termios>,
}

impl Raw {
    fn new(want: bool) -> Raw {
        let stdin = rustix::stdio::stdin();
        if !want || !rustix::termios::isatty(stdin) {
            return Raw { saved: None };
        }
        let Ok(saved) = rustix::termios::tcgetattr(stdin) else {
            return Raw { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(stdin, rustix::termios::OptionalActions::Now, &raw);
        Raw { saved: Some(saved) }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(rustix::stdio::stdin(), rustix::termios::OptionalActions::Now, saved);
        }
    }
}

/// Runs `command` in the pod with stdin (and a terminal with `tty`); the command's exit code.
pub fn run(
    client: &Client,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
    tty: bool,
) -> Result<i32> {
    let mut q: Vec<String> = command.iter().map(|c| format!("command={}", encode(c))).collect();
    q.push("stdin=true&stdout=true".into());
    q.push(format!("stderr={}", !tty));
    q.push(format!("tty={tty}"));
    if let Some(c) = container {
        q.push(format!("container={}", encode(c)));
    }
    let mut sock = client.open()?;
    let auth = client
        .bearer()
        .map(|b| format!("Authorization: {b}\r\n"))
        .unwrap_or_default();
    let authority = sock.authority.clone();
    let head = format!(
        "GET /api/v1/namespaces/{ns}/pods/{pod}/exec?{} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: b3JjYWN0bC1leGVjLWtleQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\nUser-Agent: orcactl\r\n\r\n",
        q.join("&"),
        authority
    );
    sock.write_all(head.as_bytes())?;
    // The answer's head, then frames.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = sock.read(&mut chunk)?;
        if n == 0 {
            bail!("the server closed the connection before answering");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    if !head.starts_with("HTTP/1.1 101") {
        let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(500);
        bail!("{}", super::client::error_message(status, &body));
    }
    buf.drain(..head_end);
    let raw = Raw::new(tty);
    if tty {
        if let Ok(ws) = rustix::termios::tcgetwinsize(rustix::stdio::stdout()) {
            let size = format!("{{\"Width\":{},\"Height\":{}}}", ws.ws_col, ws.ws_row);
            let mut msg = vec![4u8];
            msg.extend_from_slice(size.as_bytes());
            sock.write_all(&masked_frame(op::BINARY, &msg, mask()))?;
        }
    }
    // Stdin goes on its own thread; its end closes the command's stdin (v5's close signal).
    let mut writer = sock.clone();
    std::thread::spawn(move || {
        let mut input = std::io::stdin();
        let mut b = [0u8; 8192];
        loop {
            match input.read(&mut b) {
                Ok(0) | Err(_) => {
                    let _ = writer.write_all(&masked_frame(op::BINARY, &[255, 0], mask()));
                    return;
                }
                Ok(n) => {
                    let mut msg = Vec::with_capacity(n + 1);
                    msg.push(0);
                    msg.extend_from_slice(&b[..n]);
                    if writer.write_all(&masked_frame(op::BINARY, &msg, mask())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut status = Value::Null;
    'read: loop {
        while let Some((f, used)) = read_frame(&buf) {
            buf.drain(..used);
            match f.opcode {
                op::CLOSE => break 'read,
                op::BINARY | op::TEXT if !f.payload.is_empty() => {
                    let data = &f.payload[1..];
                    match f.payload[0] {
                        1 => {
                            stdout.write_all(data)?;
                            stdout.flush()?;
                        }
                        2 => {
                            stderr.write_all(data)?;
                            stderr.flush()?;
                        }
                        3 => status = serde_json::from_slice(data).unwrap_or(Value::Null),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        let n = sock.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    drop(raw);
    if status["status"] == "Success" {
        return Ok(0);
    }
    let code = status
        .pointer("/details/causes/0/message")
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok());
    match code {
        Some(c) => {
            if tty {
                eprintln!("command terminated with exit code {c}");
            }
            Ok(c)
        }
        None if status.is_null() => bail!("the session ended without an exit status"),
        None => bail!("{}", status["message"].as_str().unwrap_or("exec failed")),
    }
}
