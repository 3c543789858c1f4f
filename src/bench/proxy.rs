//! `orca bench proxy`: HTTP requests per second and latency to one pod directly, through its
//! Service's ClusterIP and through an Ingress (1 KiB responses, keep-alive connections), in the
//! same run; and how long after a pod turns Ready the proxy routes to it. Needs root and nft.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::cluster::BenchCluster;
use super::percentile;

/// Options of `orca bench proxy`.
#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// Concurrent keep-alive connections
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds each measured phase lasts
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Times a new pod's Ready is timed to its first routed request
    #[arg(long, default_value_t = 10)]
    convergence: usize,
}

/// Options of `orca bench backend` (the HTTP server the proxy bench runs in its pods).
#[derive(Args, Debug)]
pub struct BackendArgs {
    /// Port to serve on
    #[arg(long)]
    port: u16,
    /// Name put in each response's body
    #[arg(long)]
    name: String,
}

/// Serves `GET` with a 1 KiB body starting with the pod's name, keep-alive, a thread a connection.
pub fn backend(a: BackendArgs) -> Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", a.port)).with_context(|| format!("binding port {}", a.port))?;
    let mut body = format!("{}\n", a.name).into_bytes();
    body.resize(1024, b'.');
    let body = Arc::new(body);
    for conn in listener.incoming().flatten() {
        let body = body.clone();
        std::thread::spawn(move || serve(conn, &body));
    }
    Ok(())
}

fn serve(conn: TcpStream, body: &[u8]) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut out = conn;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    );
    loop {
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        if out
            .write_all(head.as_bytes())
            .and_then(|_| out.write_all(body))
            .is_err()
        {
            return;
        }
    }
}

/// One keep-alive connection sending requests until `stop`; the latency of each, in ms.
fn client(addr: &str, stop: &AtomicBool) -> Result<Vec<f64>> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 2048];
    let mut lat = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
        let mut got = 0;
        let mut want = usize::MAX;
        while got < want {
            let n = s.read(&mut buf[got..])?;
            if n == 0 {
                bail!("{addr} closed the connection");
            }
            got += n;
            if want == usize::MAX {
                if let Some(end) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") {
                    want = end + 4 + 1024;
                }
            }
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(lat)
}

/// Requests per second and p50/p99 latency against `addr` for `secs`.
fn load(addr: &str, conns: usize, secs: u64) -> Result<(f64, f64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let all: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut threads = Vec::new();
    for _ in 0..conns {
        let (stop, all, addr) = (stop.clone(), all.clone(), addr.to_string());
        threads.push(std::thread::spawn(move || -> Result<()> {
            let l = client(&addr, &stop)?;
            all.lock().unwrap_or_else(|e| e.into_inner()).extend(l);
            Ok(())
        }));
    }
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    let mut lat = std::mem::take(&mut *all.lock().unwrap_or_else(|e| e.into_inner()));
    lat.sort_by(f64::total_cmp);
    Ok((
        lat.len() as f64 / secs as f64,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
    ))
}

fn pod(name: &str, port: u16) -> Result<Value> {
    let exe = std::env::current_exe()?.display().to_string();
    Ok(
        json!({"metadata": {"name": name, "labels": {"bench": "proxy"}}, "spec": {"terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": [exe, "bench", "backend", "--port", port.to_string(), "--name", name],
            "ports": [{"name": "http", "containerPort": port}],
            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}]}}),
    )
}

/// The first line of a response body from `addr` on a fresh connection.
fn who(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n").ok()?;
    let mut buf = vec![0u8; 2048];
    let mut got = 0;
    while got < buf.len() {
        let n = s.read(&mut buf[got..]).ok()?;
        if n == 0 {
            break;
        }
        got += n;
        let text = String::from_utf8_lossy(&buf[..got]);
        if let Some(body) = text.split("\r\n\r\n").nth(1) {
            if let Some(line) = body.split('\n').next().filter(|_| body.contains('\n')) {
                return Some(line.to_string());
            }
        }
    }
    None
}

fn ready(http: &reqwest::blocking::Client, base: &str, name: &str) -> bool {
    http.get(format!("{base}/api/v1/namespaces/default/pods/{name}"))
        .send()
        .and_then(|r| r.json::<Value>())
        .is_ok_and(|p| {
            p["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
}

/// Creates an Ingress whose defaultBackend is the bench Service; returns where the node serves it
/// (from the Ingress's status).
fn ingress_addr(http: &reqwest::blocking::Client, base: &str) -> Result<String> {
    let path = format!("{base}/apis/networking.k8s.io/v1/namespaces/default/ingresses");
    let ing = json!({"metadata": {"name": "bench"}, "spec": {"defaultBackend": {"service": {"name": "bench", "port": {"number": 80}}}}});
    let r = http.post(&path).json(&ing).send()?;
    if r.status().as_u16() != 201 {
        bail!("creating the Ingress: {}", r.text()?);
    }
    let started = Instant::now();
    loop {
        let v: Value = http.get(format!("{path}/bench")).send()?.json()?;
        if let Some(port) = v
            .pointer("/status/loadBalancer/ingress/0/ports/0/port")
            .and_then(Value::as_u64)
        {
            return Ok(format!("127.0.0.1:{port}"));
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the Ingress status never showed where it is served");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn run(a: ProxyArgs) -> Result<()> {
    let (cluster, _) = BenchCluster::start_with(&["--ingress-listen", "127.0.0.1:0", "--ingress-tls-listen", "none"])?;
    let http = reqwest::blocking::Client::new();
    let base = cluster.url.clone();
    let pods = format!("{base}/api/v1/namespaces/default/pods");
    let port = orca_actors::cluster::natsd::free_port()?;
    let r = http.post(&pods).json(&pod("backend-0", port)?).send()?;
    if r.status().as_u16() != 201 {
        bail!("creating the backend pod: {}", r.text()?);
    }
    let svc = json!({"metadata": {"name": "bench"}, "spec": {"selector": {"bench": "proxy"}, "ports": [{"port": 80, "targetPort": "http"}]}});
    let s: Value = http
        .post(format!("{base}/api/v1/namespaces/default/services"))
        .json(&svc)
        .send()?
        .json()?;
    let ip = s["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
    let (direct, through) = (format!("127.0.0.1:{port}"), format!("{ip}:80"));
    let started = Instant::now();
    while who(&through).is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the ClusterIP {ip} never answered: is nft installed and the bench run as root?");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ingress = ingress_addr(&http, &base)?;
    while who(&ingress).is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the Ingress at {ingress} never answered");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Alternate the three, twice, and keep the better of each.
    let mut rows = Vec::new();
    for _ in 0..2 {
        rows.push(("pod directly", load(&direct, a.connections, a.seconds)?));
        rows.push(("through the ClusterIP", load(&through, a.connections, a.seconds)?));
        rows.push(("through the Ingress", load(&ingress, a.connections, a.seconds)?));
    }
    let pick = |label: &str| {
        let mut r: Vec<(f64, f64, f64)> = rows.iter().filter(|(l, _)| *l == label).map(|(_, r)| *r).collect();
        r.sort_by(|x, y| x.0.total_cmp(&y.0));
        r[r.len() / 2]
    };
    let (d, t, i) = (
        pick("pod directly"),
        pick("through the ClusterIP"),
        pick("through the Ingress"),
    );
    println!(
        "{} keep-alive connections, 1 KiB responses, {} s a phase (2 phases each, alternating; the better one shown)",
        a.connections, a.seconds
    );
    println!(
        "pod directly:          {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms",
        d.0, d.1, d.2
    );
    println!(
        "through the ClusterIP: {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms",
        t.0, t.1, t.2
    );
    println!(
        "through the Ingress:   {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms",
        i.0, i.1, i.2
    );
    println!("ClusterIP: ratio {:.2}, added p99 {:.3} ms", t.0 / d.0, t.2 - d.2);
    println!("Ingress:   ratio {:.2}, added p99 {:.3} ms", i.0 / d.0, i.2 - d.2);

    // Convergence: a new pod turns Ready; how long until the ClusterIP routes to it.
    let mut samples = Vec::new();
    for i in 1..=a.convergence {
        let name = format!("backend-{i}");
        let port = orca_actors::cluster::natsd::free_port()?;
        http.post(&pods).json(&pod(&name, port)?).send()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(&http, &base, &name) {
            if Instant::now() > deadline {
                bail!("{name} never turned Ready");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let seen = Instant::now();
        while who(&through).as_deref() != Some(name.as_str()) {
            if seen.elapsed() > Duration::from_secs(30) {
                bail!("the proxy never routed to {name}");
            }
        }
        samples.push(seen.elapsed().as_secs_f64() * 1000.0);
        http.delete(format!(
            "{pods}/{}",
            if i == 1 {
                "backend-0".into()
            } else {
                format!("backend-{}", i - 1)
            }
        ))
        .send()?;
        std::thread::sleep(Duration::from_millis(1500));
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "pod Ready -> routed through the ClusterIP ({} pods): p50 {:.0} ms  p99 {:.0} ms",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );
    Ok(())
}
