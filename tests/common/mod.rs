//! Test harness: a real nats-server on a free port and real `orca server` processes, stopped on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use orca_actors::cluster::natsd::{free_port, NatsServer};
use serde_json::Value;

/// Waits for `cond` up to `secs` seconds.
pub fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `orca server` process.
pub struct Orca {
    pub child: Child,
    pub url: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub nats_url: String,
    extra: Vec<String>,
}

impl Orca {
    /// Starts `orca server --nats URL` on a free port with a data dir, and waits until ready.
    pub fn start(nats_url: &str, data_dir: &Path, extra: &[&str]) -> Orca {
        let port = free_port().expect("free port");
        Orca::start_on(nats_url, data_dir, port, extra.iter().map(|s| s.to_string()).collect())
    }

    fn start_on(nats_url: &str, data_dir: &Path, port: u16, extra: Vec<String>) -> Orca {
        // `--secure` (the harness's own flag) keeps the default: TLS, authentication and RBAC.
        let secure = extra.iter().any(|a| a == "--secure");
        let extra: Vec<String> = extra.into_iter().filter(|a| a != "--secure").collect();
        let child = Command::new(env!("CARGO_BIN_EXE_orca"))
            .arg("server")
            .args((!secure).then_some("--insecure-http"))
            .args([
                "--nats",
                nats_url,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .args(&extra)
            .env("ORCA_HOME", data_dir.join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn orca server");
        let scheme = if secure { "https" } else { "http" };
        let mut extra = extra;
        if secure {
            extra.push("--secure".into());
        }
        let orca = Orca {
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            data_dir: data_dir.to_path_buf(),
            nats_url: nats_url.to_string(),
            extra,
        };
        // Anyone may ask for readiness, over TLS too (the CA is not known before the first start).
        let probe = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        let ready = format!("{}/readyz", orca.url);
        wait_for(30, "orca server to become ready", || {
            probe.get(&ready).send().is_ok_and(|r| r.status().is_success())
        });
        // What the controllers write on their own at start (the default ServiceAccount and its
        // token) is done before a test counts objects or events.
        let h = if secure { orca.admin() } else { Http::new(&orca.url) };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            wait_for(30, "the default ServiceAccounts' tokens", || {
                h.get(&format!("/api/v1/namespaces/{ns}/secrets/default-token")).status == 200
            });
        }
        orca
    }

    /// A file of the server's PKI (`ca.crt`, `admin.crt`, ...).
    pub fn pki(&self, name: &str) -> String {
        std::fs::read_to_string(self.data_dir.join("pki").join(name)).expect("PKI file")
    }

    /// An admin client of a `--secure` server (the certificate `orca up` puts in its kubeconfig).
    pub fn admin(&self) -> Http {
        Http::tls(
            &self.url,
            &self.pki("ca.crt"),
            Cred::Cert(self.pki("admin.crt"), self.pki("admin.key")),
        )
    }

    /// Kills the process with SIGKILL (a crash).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the process with SIGTERM and waits.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9();
    }

    /// Starts the same server again (same port, data dir, NATS and flags).
    pub fn restart(&mut self) {
        self.stop();
        let again = Orca::start_on(
            &self.nats_url.clone(),
            &self.data_dir.clone(),
            self.port,
            self.extra.clone(),
        );
        *self = again;
    }
}

impl Drop for Orca {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A blocking HTTP helper.
pub struct Http {
    pub base: String,
    client: reqwest::blocking::Client,
}

/// Status code and parsed JSON body.
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub warnings: Vec<String>,
}

/// How an `Http` proves who it is to a TLS server.
pub enum Cred {
    None,
    /// A client certificate and its key, PEM.
    Cert(String, String),
    Token(String),
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            base: base.to_string(),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    /// A client of an https server whose CA is `ca_pem`.
    pub fn tls(base: &str, ca_pem: &str, cred: Cred) -> Http {
        Http::tls_timeout(base, ca_pem, cred, Duration::from_secs(30))
    }

    /// A client of an https server whose CA is `ca_pem`, giving up on a request after `timeout`.
    pub fn tls_timeout(base: &str, ca_pem: &str, cred: Cred, timeout: Duration) -> Http {
        let mut b = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM"));
        match cred {
            Cred::None => {}
            Cred::Cert(cert, key) => {
                b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).expect("identity PEM"));
            }
            Cred::Token(t) => {
                let mut h = reqwest::header::HeaderMap::new();
                h.insert("authorization", format!("Bearer {t}").parse().expect("header"));
                b = b.default_headers(h);
            }
        }
        Http {
            base: base.to_string(),
            client: b.build().expect("client"),
        }
    }

    pub fn req(&self, method: &str, path: &str, content_type: &str, body: Option<Vec<u8>>) -> Resp {
        self.try_req(method, path, content_type, body).expect("request")
    }

    /// A request that may fail to connect (a server killed or cut off).
    pub fn try_req(&self, method: &str, path: &str, content_type: &str, body: Option<Vec<u8>>) -> Result<Resp, String> {
        let mut r = self.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            format!("{}{}", self.base, path),
        );
        if let Some(b) = body {
            r = r.header("content-type", content_type).body(b);
        }
        let resp = r.send().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let warnings = resp
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let text = resp.text().map_err(|e| e.to_string())?;
        Ok(Resp {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            warnings,
        })
    }

    /// The lines of a streamed GET (a watch), until the server ends it or the client's timeout.
    pub fn watch_lines(&self, path: &str) -> Result<impl Iterator<Item = String>, String> {
        use std::io::BufRead;
        let resp = self
            .client
            .get(format!("{}{}", self.base, path))
            .send()
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("watch answered {}", resp.status()));
        }
        Ok(std::io::BufReader::new(resp).lines().map_while(Result::ok))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.req("GET", path, "", None)
    }
    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.req(
            "POST",
            path,
            "application/json",
            Some(serde_json::to_vec(body).expect("json")),
        )
    }
    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.req(
            "PUT",
            path,
            "application/json",
            Some(serde_json::to_vec(body).expect("json")),
        )
    }
    pub fn patch(&self, path: &str, ct: &str, body: &Value) -> Resp {
        self.req("PATCH", path, ct, Some(serde_json::to_vec(body).expect("json")))
    }
    pub fn delete(&self, path: &str) -> Resp {
        self.req("DELETE", path, "", None)
    }
}

/// A ConfigMap manifest.
pub fn configmap(name: &str, value: &str) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}})
}

/// A started NATS plus orca server on a fresh data dir.
pub fn cluster(extra: &[&str]) -> (NatsServer, Orca, tempfile::TempDir) {
    let nats = NatsServer::start(None).expect("nats-server must be installed (apt-get install -y nats-server)");
    let dir = tempfile::tempdir().expect("tempdir");
    let orca = Orca::start(&nats.url(), dir.path(), extra);
    (nats, orca, dir)
}

/// A running `orca agent` process.
pub struct Agent {
    pub child: Child,
    pub name: String,
    args: Vec<String>,
}

impl Agent {
    /// Starts `orca agent --nats URL --name NAME --data-dir DIR` with extra flags (fast back-off).
    pub fn start(nats_url: &str, name: &str, data_dir: &Path, extra: &[&str]) -> Agent {
        let mut flags = vec!["--nats", nats_url];
        flags.extend_from_slice(extra);
        Agent::start_joined(name, data_dir, &flags)
    }

    /// Starts `orca agent --name NAME --data-dir DIR` with the flags that say how it joins.
    pub fn start_joined(name: &str, data_dir: &Path, extra: &[&str]) -> Agent {
        let mut args: Vec<String> = vec![
            "agent".into(),
            "--name".into(),
            name.into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--backoff-base-ms".into(),
            "300".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_orca"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn orca agent");
        Agent {
            child,
            name: name.to_string(),
            args,
        }
    }

    /// Kills the agent with SIGKILL (its containers keep running under their shims).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the agent again with the same flags.
    pub fn restart(&mut self) {
        self.kill9();
        self.child = Command::new(env!("CARGO_BIN_EXE_orca"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("respawn orca agent");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
        // Containers outlive their agent by design; a test stops the ones it started.
        let dir = self
            .args
            .iter()
            .position(|a| a == "--data-dir")
            .and_then(|i| self.args.get(i + 1))
            .map(PathBuf::from);
        // A killed agent leaves its proxy table and its pods' network namespaces; other tests on
        // this machine must not meet them.
        if let Some(d) = &dir {
            // Container monitors (`orca-shim --dir DIR/pods/...`) lead their containers' process
            // groups: end them with the test.
            let needle = format!("--dir\0{}/", d.display());
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&needle) {
                    let pid = entry.file_name().to_string_lossy().into_owned();
                    let _ = Command::new("kill").args(["-9", "--", &format!("-{pid}")]).status();
                }
            }
            orca_actors::node::proxy::remove_table(&self.name, d);
            for pod in std::fs::read_dir(d.join("pods")).into_iter().flatten().flatten() {
                let uid = pod.file_name().to_string_lossy().into_owned();
                if orca_actors::node::network::netns_path(&uid).exists() {
                    let _ = Command::new("ip")
                        .args(["netns", "del", &orca_actors::node::network::netns_name(&uid)])
                        .status();
                }
            }
        }
        if let Some(runc_root) = dir.as_ref().map(|d| d.join("runc")).filter(|r| r.is_dir()) {
            let ids = Command::new("runc")
                .arg("--root")
                .arg(&runc_root)
                .args(["list", "-q"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for id in ids.lines().filter(|l| !l.is_empty()) {
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&runc_root)
                    .args(["kill", "--all", id, "KILL"])
                    .stderr(Stdio::null())
                    .status();
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&runc_root)
                    .args(["delete", "-f", id])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        for pod in dir
            .as_ref()
            .map(|d| d.join("pods"))
            .and_then(|d| std::fs::read_dir(d).ok())
            .into_iter()
            .flatten()
            .flatten()
        {
            let uid: String = pod
                .file_name()
                .to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(8)
                .collect();
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("orca-{uid}")])
                .stderr(Stdio::null())
                .status();
        }
        for pod in dir
            .map(|d| d.join("pods"))
            .and_then(|d| std::fs::read_dir(d).ok())
            .into_iter()
            .flatten()
            .flatten()
        {
            for c in std::fs::read_dir(pod.path()).into_iter().flatten().flatten() {
                let state: Option<Value> = std::fs::read(c.path().join("state.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                if let Some(pid) = state.and_then(|s| s["pid"].as_i64()) {
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{pid}")])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }
}

/// An `orca agent --hollow` process (N nodes named PREFIX-0..), killed on drop.
pub struct Hollow(Child);

impl Hollow {
    /// Starts `count` hollow nodes named `prefix-i` (110 pods each).
    pub fn start(nats_url: &str, prefix: &str, count: usize) -> Hollow {
        let child = Command::new(env!("CARGO_BIN_EXE_orca"))
            .args([
                "agent",
                "--hollow",
                "--count",
                &count.to_string(),
                "--name",
                prefix,
                "--nats",
                nats_url,
            ])
            .args(["--max-pods", "110"])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the hollow agent");
        Hollow(child)
    }

    /// Kills the process (every hollow node stops heartbeating).
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Hollow {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until the node is registered and Ready.
pub fn wait_node_ready(h: &Http, name: &str) {
    wait_for(30, &format!("node {name} Ready"), || {
        let n = h.get(&format!("/api/v1/nodes/{name}"));
        n.status == 200
            && n.body
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
    });
}

/// Creates a pod from a JSON manifest in `default`.
pub fn create_pod(h: &Http, pod: &Value) -> Value {
    let r = h.post("/api/v1/namespaces/default/pods", pod);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

/// Reads a pod in `default`.
pub fn pod(h: &Http, name: &str) -> Resp {
    h.get(&format!("/api/v1/namespaces/default/pods/{name}"))
}

/// Waits until `check` holds for the pod and returns it.
pub fn wait_pod(h: &Http, name: &str, secs: u64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = pod(h, name);
        if r.status == 200 && check(&r.body) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for pod {name} to be {what}; last seen: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A pod running `sh -c SCRIPT`.
pub fn sh_pod(name: &str, script: &str, restart: &str) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}})
}

/// Runs `orcactl --server SERVER ARGS` with optional stdin; returns exit code, stdout, stderr.
pub fn orcactl(server: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .arg("--server")
        .arg(server)
        .args(args)
        .env_remove("ORCA_SERVER")
        // No kubeconfig of the machine's user decides the namespace of a test.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run orcactl");
    if let Some(input) = stdin {
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The runc tests need root and runc; without them they fail with the reason (`.ci/run` installs
/// runc and runs as root).
pub fn require_runc() {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let runc = std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        root && runc,
        "the runc tests need root and runc (apt-get install -y runc); root={root} runc={runc}"
    );
}

/// Writes a docker-save tarball: an image config, a manifest tagging it `tag`, and the layers.
pub fn docker_save_tar(path: &Path, tag: &str, config: &Value, layers: Vec<Vec<u8>>) {
    let names: Vec<String> = (1..=layers.len()).map(|i| format!("l{i}/layer.tar")).collect();
    let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": [tag], "Layers": names}]);
    let mut entries = vec![
        ("config.json".to_string(), serde_json::to_vec(config).unwrap()),
        ("manifest.json".to_string(), serde_json::to_vec(&manifest).unwrap()),
    ];
    entries.extend(names.into_iter().zip(layers));
    let mut outer = tar::Builder::new(Vec::new());
    for (p, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        outer.append_data(&mut h, p, data.as_slice()).unwrap();
    }
    std::fs::write(path, outer.into_inner().unwrap()).unwrap();
}

/// Tests that drive the real kubectl fail with the reason when it is missing (`.ci/run` installs it).
pub fn require_kubectl() {
    let ok = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test needs kubectl on PATH (preinstalled at /usr/bin/kubectl; .ci/run installs it)"
    );
}

/// Starts a runc node agent `name` whose image store is `DIR/images`, and waits until it is Ready.
pub fn runc_agent(nats: &NatsServer, dir: &Path, name: &str, h: &Http) -> Agent {
    let images = dir.join("images");
    let agent = Agent::start(
        &nats.url(),
        name,
        &dir.join("agent"),
        &["--runtime", "runc", "--image-dir", images.to_str().expect("utf-8 path")],
    );
    wait_node_ready(h, name);
    agent
}

/// An `orca server --read-only` over a data directory (a replay or an import), ready to answer;
/// killed on drop, so a failing test leaves no server behind.
pub struct ReadOnly {
    child: Child,
    /// A client of it.
    pub http: Http,
}

impl ReadOnly {
    /// Starts the server on a free port and waits until it is ready.
    pub fn start(data_dir: &std::path::Path) -> ReadOnly {
        let port = free_port().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_orca"))
            .args(["server", "--read-only", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the read-only server");
        let http = Http::new(&format!("http://127.0.0.1:{port}"));
        let ro = ReadOnly { child, http };
        wait_for(30, "read-only server", || {
            reqwest::blocking::get(format!("{}/readyz", ro.http.base)).is_ok()
        });
        ro
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails (never skips) unless this runs as root with every tool of `tools` on the PATH.
pub fn require_root_tools(tools: &[&str]) {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    assert!(
        root && missing.is_empty(),
        "this test needs root and {tools:?} (.ci/run installs them); root={root}, missing {missing:?}"
    );
}
