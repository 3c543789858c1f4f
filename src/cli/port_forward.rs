//! `orcactl port-forward pod/NAME|svc/NAME|deployment/NAME [LOCAL:]REMOTE...`: listens on local
//! ports and carries each connection to the pod through the API server's CONNECT tunnel. For a
//! Service, REMOTE is a Service port, mapped to its targetPort on one ready pod it selects.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use super::conn::Conn;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::rollout::target;

#[derive(Args, Debug)]
pub struct PortForwardArgs {
    /// pod/NAME, svc/NAME, deployment/NAME (or a pod's name)
    target: String,
    /// LOCAL:REMOTE, REMOTE (same port locally) or :REMOTE (a free local port)
    #[arg(required = true)]
    ports: Vec<String>,
    /// Local address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    address: String,
}

fn parse_port(s: &str) -> Result<(u16, String)> {
    let (local, remote) = s.split_once(':').unwrap_or((s, s));
    let local = if local.is_empty() {
        0
    } else {
        local.parse().with_context(|| format!("bad local port in {s:?}"))?
    };
    if remote.is_empty() {
        bail!("bad port {s:?}: give LOCAL:REMOTE, REMOTE or :REMOTE");
    }
    Ok((local, remote.to_string()))
}

/// A running pod selected by `selector` (ready ones first, then by name).
fn pick_pod(client: &Client, ns: &str, selector: &Value, what: &str) -> Result<Value> {
    let sel = orca_actors::printers::labels_text(selector);
    if sel.is_empty() {
        bail!("{what} selects no pods (no selector)");
    }
    let list = client.expect(client.send(
        "GET",
        &format!("/api/v1/namespaces/{ns}/pods?labelSelector={sel}"),
        None,
    )?)?;
    let ready = |p: &Value| {
        p["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    };
    let mut pods: Vec<Value> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    pods.sort_by_key(|p| (!ready(p), p["metadata"]["name"].as_str().unwrap_or("").to_string()));
    pods.into_iter()
        .next()
        .ok_or_else(|| anyhow!("{what} has no running pod to forward to"))
}

/// A numbered or named container port of the pod.
fn container_port(pod: &Value, port: &str) -> Result<u16> {
    if let Ok(n) = port.parse() {
        return Ok(n);
    }
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .find(|p| p["name"] == port)
        .and_then(|p| p["containerPort"].as_u64())
        .map(|p| p as u16)
        .ok_or_else(|| {
            anyhow!(
                "pod {} has no container port named {port:?}",
                pod["metadata"]["name"].as_str().unwrap_or("")
            )
        })
}

/// The pod to forward to and, for each remote port given, the pod's port.
fn resolve(client: &Client, ns: &str, t: &str, remotes: &[String]) -> Result<(String, Vec<u16>)> {
    let (kind, name) = match t.split_once('/') {
        Some(_) => {
            let (rt, name) = target(t, None)?;
            (rt.kind, name)
        }
        None => ("Pod", t.to_string()),
    };
    let path = match kind {
        "Pod" => format!("/api/v1/namespaces/{ns}/pods/{name}"),
        "Service" => format!("/api/v1/namespaces/{ns}/services/{name}"),
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => {
            let (rt, _) = target(t, None)?;
            rt.object_path(Some(ns), &name)
        }
        other => bail!("cannot port-forward to a {other}: give pod/NAME, svc/NAME or deployment/NAME"),
    };
    let obj = client.expect(client.send("GET", &path, None)?)?;
    let pod = match kind {
        "Pod" => obj.clone(),
        "Service" => pick_pod(client, ns, &obj["spec"]["selector"], &format!("service/{name}"))?,
        _ => pick_pod(client, ns, &obj["spec"]["selector"]["matchLabels"], t)?,
    };
    let mut ports = Vec::new();
    for r in remotes {
        let port = if kind == "Service" {
            let sp = obj["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["port"].as_i64().map(|n| n.to_string()).as_deref() == Some(r) || p["name"] == r.as_str())
                .ok_or_else(|| anyhow!("service {name} has no port {r}"))?;
            let target = match &sp["targetPort"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => sp["port"].to_string(),
            };
            container_port(&pod, &target)?
        } else {
            container_port(&pod, r)?
        };
        ports.push(port);
    }
    Ok((pod["metadata"]["name"].as_str().unwrap_or(&name).to_string(), ports))
}

/// How to reach the server: where, its TLS, and the bearer token.
#[derive(Clone)]
struct Server {
    base: String,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    bearer: Option<String>,
}

/// Opens the tunnel to `pod`:`port` through the API server.
fn tunnel(server: &Server, ns: &str, pod: &str, port: u16) -> Result<Conn> {
    let mut s = Conn::connect(&server.base, server.tls.as_ref())?;
    let auth = server
        .bearer
        .as_ref()
        .map(|b| format!("Authorization: {b}\r\n"))
        .unwrap_or_default();
    let authority = s.authority.clone();
    let head = format!(
        "CONNECT /api/v1/namespaces/{ns}/pods/{pod}/portforward?ports={port} HTTP/1.1\r\nHost: {}\r\n{auth}User-Agent: orcactl\r\n\r\n",
        authority
    );
    s.write_all(head.as_bytes())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            bail!("the server closed the connection");
        }
        head.push(byte[0]);
        if head.len() > 16 * 1024 {
            bail!("the server's answer has no end of headers");
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let code = head.split(' ').nth(1).unwrap_or("");
    if code != "200" {
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or(body);
        bail!("{message}");
    }
    Ok(s)
}

fn pipe_up(mut from: TcpStream, mut to: Conn) {
    let _ = std::io::copy(&mut from, &mut to);
    to.shutdown_write();
}

fn pipe_down(mut from: Conn, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

fn serve(listener: TcpListener, server: Server, ns: String, pod: String, local: u16, remote: u16) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        // A closed stdout must not stop the forwarding.
        let _ = writeln!(std::io::stdout(), "Handling connection for {local}");
        let (server, ns, pod) = (server.clone(), ns.clone(), pod.clone());
        std::thread::spawn(move || match tunnel(&server, &ns, &pod, remote) {
            Ok(up) => {
                let Ok(c2) = conn.try_clone() else { return };
                let u2 = up.clone();
                let t = std::thread::spawn(move || pipe_up(c2, u2));
                pipe_down(up, conn);
                let _ = t.join();
            }
            Err(e) => eprintln!("error forwarding port {remote} to pod {pod}: {e}"),
        });
    }
}

pub fn run(client: &Client, ns: Option<&str>, a: PortForwardArgs) -> Result<i32> {
    let ns = ns.unwrap_or("default").to_string();
    let parsed: Vec<(u16, String)> = a.ports.iter().map(|p| parse_port(p)).collect::<Result<_>>()?;
    let remotes: Vec<String> = parsed.iter().map(|(_, r)| r.clone()).collect();
    let (pod, ports) = resolve(client, &ns, &a.target, &remotes)?;
    let mut threads = Vec::new();
    for ((local, _), remote) in parsed.iter().zip(ports) {
        let listener = TcpListener::bind((a.address.as_str(), *local))
            .with_context(|| format!("unable to listen on {}:{local}", a.address))?;
        let bound = listener.local_addr()?.port();
        println!("Forwarding from {}:{bound} -> {remote}", a.address);
        let server = Server {
            base: client.base.clone(),
            tls: client.tls.clone(),
            bearer: client.bearer(),
        };
        let (ns, pod) = (ns.clone(), pod.clone());
        threads.push(std::thread::spawn(move || {
            serve(listener, server, ns, pod, bound, remote)
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(0)
}
