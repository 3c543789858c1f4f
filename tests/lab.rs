//! `orca lab`: three hosts (network namespaces on a bridge), a nats-server on each clustered by
//! routes, the control plane on h1 and a runc agent on each host joined through its own host's
//! nats-server. Each node gets its own podCIDR; a Deployment's runc pods, spread over the hosts,
//! reach each other by pod IP and through a Service's ClusterIP, whose NodePort and Ingress
//! answer on every host; a cut host's node turns Unknown and its pod is replaced elsewhere, and once healed the old
//! pod ends with nothing run twice; `lab down` leaves nothing behind. Needs root, iproute2,
//! util-linux, nats-server, runc, busybox, curl.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{wait_for, Cred, Http};
use serde_json::json;

/// One lab at a time on this machine: tests take it in turn.
static ONE_LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orca"))
        .arg("lab")
        .args(args)
        .output()
        .unwrap()
}

/// `curl URL` run on `host` (inside its namespace); the body, or None.
fn fetch_from(host: &str, url: &str) -> Option<String> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("orcalab-{host}"),
            "curl",
            "-sf",
            "-m",
            "3",
            url,
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// An HTTP GET of `ip:port` sent by pod `pod` (busybox `nc`, through `orcactl exec`); the body.
fn http_from_pod(kubeconfig: &std::path::Path, pod: &str, ip: &str, port: u16) -> Option<String> {
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port}");
    let out = Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .env("KUBECONFIG", kubeconfig)
        .args(["exec", pod, "--", "sh", "-c", &get])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.trim().to_string())
}

/// `orca lab up --dir DIR ARGS`: the lab, taken down when the returned guard goes.
fn lab_up(dir: &std::path::Path, args: &[&str]) -> Down {
    let d = dir.to_str().unwrap().to_string();
    let mut all = vec!["up", "--dir", &d];
    all.extend_from_slice(args);
    let out = lab(&all);
    let down = Down(d.clone());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    down
}

/// Takes the lab down; after a failure, its hosts' logs are kept first and their place printed.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!("orca-lab-logs-{}", std::process::id()));
            for host in ["h1", "h2", "h3"] {
                let from = std::path::Path::new(&self.0).join(host);
                let _ = std::fs::create_dir_all(keep.join(host));
                for f in ["server.log", "agent.log", "nats.log"] {
                    let _ = std::fs::copy(from.join(f), keep.join(host).join(f));
                }
            }
            eprintln!("the lab's logs are kept in {}", keep.display());
            if std::env::var_os("ORCA_LAB_KEEP").is_some() {
                return;
            }
        }
        let _ = lab(&["down", "--dir", &self.0]);
    }
}

fn ready(h: &Http, node: &str) -> String {
    let n = h.get(&format!("/api/v1/nodes/{node}")).body;
    n["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

#[test]
fn three_hosts_one_cluster_partition_and_heal() {
    let _turn = ONE_LAB.lock().unwrap_or_else(|p| p.into_inner());
    common::require_root_tools(&["ip", "nsenter", "nats-server", "runc", "busybox", "curl"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let d = dir.to_str().unwrap();
    let _down = lab_up(
        &dir,
        &[
            "--hosts",
            "3",
            "--node-grace-seconds",
            "3",
            "--default-toleration-seconds",
            "2",
        ],
    );
    let kubeconfig = dir.join("kubeconfig");
    let pki = dir.join("h1/server/pki");
    let read = |f: &str| std::fs::read_to_string(pki.join(f)).unwrap();
    let h = Http::tls(
        "https://10.77.0.11:6443",
        &read("ca.crt"),
        Cred::Cert(read("admin.crt"), read("admin.key")),
    );
    for (i, node) in ["h1", "h2", "h3"].iter().enumerate() {
        wait_for(60, &format!("{node} Ready"), || ready(&h, node) == "True");
        let n = h.get(&format!("/api/v1/nodes/{node}")).body;
        assert_eq!(
            n["status"]["addresses"][0]["address"],
            format!("10.77.0.{}", 11 + i),
            "{node} reports its host's address"
        );
    }

    wait_for(30, "every node has a podCIDR", || {
        h.get("/api/v1/nodes").body["items"]
            .as_array()
            .is_some_and(|n| n.iter().all(|n| n["spec"]["podCIDR"].is_string()))
    });
    let n = h.get("/api/v1/nodes").body;
    let cidrs: std::collections::BTreeSet<String> = n["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["spec"]["podCIDR"]
                .as_str()
                .expect("every node has a podCIDR")
                .to_string()
        })
        .collect();
    assert_eq!(cidrs.len(), 3, "one /24 per node: {cidrs:?}");

    // A Deployment of runc pods spread over the three hosts, each serving its node's name.
    let script = "mkdir -p /tmp/w && echo $NODE > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w";
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]}}}});
    let r = h.post("/apis/apps/v1/namespaces/default/deployments", &dep);
    assert_eq!(r.status, 201, "{}", r.text);
    let pods = || h.get("/api/v1/namespaces/default/pods?labelSelector=app=web").body["items"].clone();
    let running = || -> Vec<(String, String, String)> {
        pods()
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| {
                let s = |ptr: &str| p.pointer(ptr).and_then(|v| v.as_str()).unwrap_or("").to_string();
                (s("/metadata/name"), s("/spec/nodeName"), s("/status/podIP"))
            })
            .collect()
    };
    wait_for(90, "three web pods running", || running().len() == 3);
    let web = running();
    let hosts: std::collections::BTreeSet<&str> = web.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(hosts.len(), 3, "spread over the three hosts: {web:?}");
    for (_, node, ip) in &web {
        let cidr = h.get(&format!("/api/v1/nodes/{node}")).body["spec"]["podCIDR"].clone();
        let prefix = cidr.as_str().unwrap().trim_end_matches("0/24");
        assert!(ip.starts_with(prefix), "pod IP {ip} from {node}'s range {cidr}");
    }
    // Every pod reaches every other pod by its pod IP, across hosts.
    for (from, _, _) in &web {
        for (_, node, ip) in &web {
            wait_for(30, &format!("{from} reaches {ip} on {node}"), || {
                http_from_pod(&kubeconfig, from, ip, 8080).as_deref() == Some(node.as_str())
            });
        }
    }
    // A Service in front of them: its ClusterIP from a pod reaches the pods of every host, and
    // its NodePort answers on every host (masqueraded when the endpoint is on a third host).
    let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 8080}]}});
    let r = h.post("/api/v1/namespaces/default/services", &svc);
    assert_eq!(r.status, 201, "{}", r.text);
    let cluster_ip = r.body["spec"]["clusterIP"].as_str().unwrap().to_string();
    let node_port = r.body["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    let client = &web[0].0;
    wait_for(
        60,
        "the ClusterIP from a pod reaches the pods of all three hosts",
        || {
            let seen: std::collections::BTreeSet<String> = (0..30)
                .filter_map(|_| http_from_pod(&kubeconfig, client, &cluster_ip, 80))
                .collect();
            seen.len() == 3
        },
    );
    for ip in ["10.77.0.11", "10.77.0.12", "10.77.0.13"] {
        wait_for(30, &format!("the NodePort on {ip}"), || {
            fetch_from("h1", &format!("http://{ip}:{node_port}/")).is_some()
        });
        let seen: std::collections::BTreeSet<String> = (0..20)
            .map(|_| fetch_from("h1", &format!("http://{ip}:{node_port}/")).expect("every NodePort request answered"))
            .collect();
        assert_eq!(
            seen.len(),
            3,
            "{ip}:{node_port} balances over the three hosts: {seen:?}"
        );
    }

    // An Ingress in front of the Service: every host's Ingress reaches the pods of all three.
    let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    let r = h.post("/apis/networking.k8s.io/v1/namespaces/default/ingresses", &ing);
    assert_eq!(r.status, 201, "{}", r.text);
    for ip in ["10.77.0.11", "10.77.0.12", "10.77.0.13"] {
        wait_for(
            30,
            &format!("the Ingress on {ip} reaches the pods of all three hosts"),
            || {
                let seen: std::collections::BTreeSet<String> = (0..30)
                    .filter_map(|_| fetch_from("h1", &format!("http://{ip}/")))
                    .collect();
                seen.len() == 3
            },
        );
    }

    // Cut h3: its node turns Unknown and, past the toleration, its pod is replaced on the others;
    // heal: the old pod ends on h3, and three run, none twice.
    let (lost, _, lost_ip) = web.iter().find(|(_, n, _)| n == "h3").unwrap().clone();
    let out = lab(&["cut", "h3", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for(30, "h3 Unknown", || ready(&h, "h3") == "Unknown");
    assert_eq!(ready(&h, "h2"), "True");
    wait_for(60, "h3's pod replaced on h1 or h2", || {
        let now = running();
        now.len() == 3 && now.iter().all(|(_, n, _)| n != "h3")
    });
    assert_eq!(
        fetch_from("h1", &format!("http://{lost_ip}:8080/")),
        None,
        "h3 is cut off"
    );
    let out = lab(&["heal", "h3", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for(30, "h3 Ready again", || ready(&h, "h3") == "True");
    wait_for(30, "the old pod gone from the API", || {
        pods()
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["metadata"]["name"] != lost.as_str())
    });
    wait_for(30, "its container gone from h3", || {
        let list = Command::new("runc")
            .arg("--root")
            .arg(dir.join("h3/agent/runc"))
            .args(["list", "-q"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&list.stdout).trim().is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(running().len(), 3, "three pods: {:?}", pods());
    assert_eq!(pods().as_array().unwrap().len(), 3, "and no other");
    let netns_names: Vec<String> = pods()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| orca_actors::node::network::netns_name(p["metadata"]["uid"].as_str().unwrap()))
        .collect();

    let out = lab(&["down", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&netns.stdout).contains("orcalab-"),
        "no lab namespace left"
    );
    for name in &netns_names {
        assert!(
            !std::path::Path::new("/var/run/netns").join(name).exists(),
            "pod namespace {name} removed"
        );
    }
    assert!(!Command::new("ip")
        .args(["link", "show", "orcalab0"])
        .output()
        .unwrap()
        .status
        .success());
    assert!(!dir.exists(), "the lab's directory is removed");
}

/// A client of the lab member at `ip` with the admin's certificate.
fn member_client(dir: &std::path::Path, ip: &str) -> Http {
    let pki = dir.join("h1/server/pki");
    let read = |f: &str| std::fs::read_to_string(pki.join(f)).unwrap();
    // Short: a member killed or cut off is given up on soon.
    Http::tls_timeout(
        &format!("https://{ip}:6443"),
        &read("ca.crt"),
        Cred::Cert(read("admin.crt"), read("admin.key")),
        Duration::from_secs(10),
    )
}

fn leader(h: &Http) -> Option<String> {
    let r = h.try_req("GET", "/apis/orca.dev/v1/members", "", None).ok()?;
    r.body["leader"].as_str().map(str::to_string)
}

/// The log of a member as (revision, kind, name) from its log endpoint.
fn log_of(h: &Http) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let r = h.get(&format!("/apis/orca.dev/v1/log?from={from}&limit=10000"));
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        for e in &items {
            out.push((
                e["revision"].as_u64().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
                e["name"].as_str().unwrap().to_string(),
            ));
        }
        from = r.body["next"].as_u64().unwrap();
    }
}

#[test]
fn three_control_plane_members_lose_their_leader_and_a_follower_and_nothing_acknowledged() {
    let _turn = ONE_LAB.lock().unwrap_or_else(|p| p.into_inner());
    common::require_root_tools(&["ip", "nsenter", "nats-server"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let d = dir.to_str().unwrap().to_string();
    let _down = lab_up(&dir, &["--hosts", "3", "--control-planes", "3", "--runtime", "process"]);
    let ips = ["10.77.0.11", "10.77.0.12", "10.77.0.13"];
    let host_ip = |host: &str| ips[host[1..].parse::<usize>().unwrap() - 1];
    let h1 = member_client(&dir, ips[0]);
    wait_for(30, "a leader among three members", || {
        h1.try_req("GET", "/apis/orca.dev/v1/members", "", None)
            .is_ok_and(|r| r.body["items"].as_array().map_or(0, Vec::len) == 3 && r.body["leader"].is_string())
    });
    let first_leader = leader(&h1).unwrap();

    // A watch on the leader from the start; when its member dies it resumes on another member
    // from the last revision it saw.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u64, String)>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (seen, stop, dir) = (seen.clone(), stop.clone(), dir.clone());
        let start_ip = host_ip(&first_leader).to_string();
        std::thread::spawn(move || {
            let mut rv = 0u64;
            let mut ip = start_ip;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let h = member_client(&dir, &ip);
                let url = format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=5");
                if let Ok(lines) = h.watch_lines(&url) {
                    for line in lines {
                        let ev: serde_json::Value = serde_json::from_str(&line).unwrap();
                        let Some(v) = ev["object"]["metadata"]["resourceVersion"]
                            .as_str()
                            .and_then(|v| v.parse::<u64>().ok())
                        else {
                            break;
                        };
                        if ev["type"] == "ADDED" {
                            seen.lock()
                                .unwrap()
                                .push((v, ev["object"]["metadata"]["name"].as_str().unwrap().to_string()));
                        }
                        rv = rv.max(v);
                    }
                }
                // Next member round (the one watched may be gone).
                ip = format!("10.77.0.{}", 11 + (ip[8..].parse::<usize>().unwrap() - 10) % 3);
            }
        })
    };

    // 32 writers, each starting on a member of its own; a failed write moves on to the next member
    // and is tried again under a new name (only acknowledged writes count).
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u64, String)>::new()));
    let mut writers = Vec::new();
    for w in 0..32usize {
        let (acked, dir) = (acked.clone(), dir.clone());
        writers.push(std::thread::spawn(move || {
            let mut member = w % 3;
            let mut client = member_client(&dir, &format!("10.77.0.{}", 11 + member));
            for n in 0..40 {
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                for attempt in 0.. {
                    let name = format!("w{w}-{n}-{attempt}");
                    let body = serde_json::to_vec(&common::configmap(&name, "x")).unwrap();
                    let r = client.try_req(
                        "POST",
                        "/api/v1/namespaces/default/configmaps",
                        "application/json",
                        Some(body),
                    );
                    if let Ok(r) = &r {
                        if r.status == 201 {
                            let rv = r.body["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
                            acked.lock().unwrap().push((rv, name));
                            break;
                        }
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no write of w{w} accepted in 60 s: {:?}",
                        r.map(|r| r.text)
                    );
                    member = (member + 1) % 3;
                    client = member_client(&dir, &format!("10.77.0.{}", 11 + member));
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }));
    }
    let acked_now = || acked.lock().unwrap().len();
    wait_for(60, "300 writes acknowledged", || acked_now() >= 300);

    // kill -9 the leader: another is elected and takes writes.
    let out = lab(&["kill", &first_leader, "--dir", &d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let other = ips.iter().find(|ip| **ip != host_ip(&first_leader)).unwrap();
    let probe = member_client(&dir, other);
    let killed = std::time::Instant::now();
    wait_for(30, "a write accepted after the leader's loss", || {
        let body = serde_json::to_vec(&common::configmap(
            &format!("probe-{}", killed.elapsed().as_millis()),
            "x",
        ))
        .unwrap();
        let r = probe.try_req(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            Some(body),
        );
        if let Ok(r) = &r {
            if r.status != 201 {
                eprintln!("probe: {} {}", r.status, r.text);
            }
        } else {
            eprintln!("probe: {r:?}", r = r.as_ref().err());
        }
        r.is_ok_and(|r| r.status == 201)
    });
    eprintln!(
        "leader {first_leader} killed: writes accepted again after {:?}",
        killed.elapsed()
    );
    let second_leader = leader(&probe).expect("a new leader");
    assert_ne!(second_leader, first_leader);
    // It returns and catches up; then a follower is cut off and healed while writes go on.
    let out = lab(&["restart", &first_leader, "--dir", &d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let before_cut = acked_now();
    let follower = ["h1", "h2", "h3"]
        .into_iter()
        .find(|h| *h != second_leader && *h != first_leader)
        .unwrap()
        .to_string();
    let out = lab(&["cut", &follower, "--dir", &d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for(30, "writes go on without the cut follower", || {
        acked_now() >= before_cut + 100
    });
    let out = lab(&["heal", &follower, "--dir", &d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 32 * 40);

    // Every member holds every acknowledged write at its revision, in identical gapless logs.
    let clients: Vec<Http> = ips.iter().map(|ip| member_client(&dir, ip)).collect();
    let head = acked.iter().map(|(r, _)| *r).max().unwrap();
    for (c, ip) in clients.iter().zip(ips) {
        wait_for(30, &format!("{ip} catches up"), || {
            c.try_req("GET", "/api/v1/namespaces/default/configmaps?limit=1", "", None)
                .is_ok_and(|r| {
                    r.body["metadata"]["resourceVersion"]
                        .as_str()
                        .and_then(|v| v.parse::<u64>().ok())
                        >= Some(head)
                })
        });
    }
    let logs: Vec<Vec<(u64, String, String)>> = clients.iter().map(log_of).collect();
    let shortest = logs.iter().map(Vec::len).min().unwrap();
    for (log, ip) in logs.iter().zip(ips) {
        assert!(
            log.iter().enumerate().all(|(i, (r, _, _))| *r == i as u64 + 1),
            "{ip}: gapless"
        );
        for (rv, name) in &acked {
            assert_eq!(
                log.get(*rv as usize - 1).map(|(_, k, n)| (k.as_str(), n.as_str())),
                Some(("ConfigMap", name.as_str())),
                "{ip}: acknowledged {name} at revision {rv}"
            );
        }
        assert_eq!(
            &log[..shortest],
            &logs[0][..shortest],
            "{ip}: the same log as {}",
            ips[0]
        );
    }
    // Each member's objects equal a replay of its log.
    for (c, ip) in clients.iter().zip(ips) {
        let listed: std::collections::BTreeSet<String> = c.get("/api/v1/namespaces/default/configmaps").body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        let replayed: std::collections::BTreeSet<String> = logs[0]
            .iter()
            .filter(|(_, k, n)| k == "ConfigMap" && n != "kube-root-ca.crt")
            .map(|(_, _, n)| n.clone())
            .collect();
        let listed: std::collections::BTreeSet<String> =
            listed.into_iter().filter(|n| n != "kube-root-ca.crt").collect();
        assert_eq!(listed, replayed, "{ip}: objects equal the replayed log");
    }
    // The watch, resumed across the leader's loss, saw every acknowledged write once.
    wait_for(30, "the watch sees every acknowledged write", || {
        let seen = seen.lock().unwrap();
        let names: std::collections::BTreeSet<&String> = seen.iter().map(|(_, n)| n).collect();
        acked.iter().all(|(_, n)| names.contains(n))
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = seen.lock().unwrap().clone();
    let mut names: Vec<&String> = seen.iter().map(|(_, n)| n).collect();
    let all = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all, "no event twice");
    watcher.join().unwrap();
}

#[test]
fn a_member_joins_a_running_control_plane_and_leaves_it() {
    let _turn = ONE_LAB.lock().unwrap_or_else(|p| p.into_inner());
    common::require_root_tools(&["ip", "nsenter", "nats-server"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let d = dir.to_str().unwrap().to_string();
    let _down = lab_up(&dir, &["--hosts", "4", "--control-planes", "3", "--runtime", "process"]);
    let h1 = member_client(&dir, "10.77.0.11");
    let members = |h: &Http| -> Vec<(String, String)> {
        h.try_req("GET", "/apis/orca.dev/v1/members", "", None)
            .ok()
            .and_then(|r| r.body["items"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap_or("").to_string(),
                    m["role"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    wait_for(30, "three members with a leader", || {
        let m = members(&h1);
        m.len() == 3 && m.iter().any(|(_, r)| r == "Leader")
    });
    for i in 0..20 {
        assert_eq!(
            h1.post(
                "/api/v1/namespaces/default/configmaps",
                &common::configmap(&format!("before-{i}"), "x")
            )
            .status,
            201
        );
    }
    // h4 starts as a member-to-be, then is added: it catches up and votes.
    let out = lab(&["join", "h4", "--dir", &d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = h1.post("/apis/orca.dev/v1/members", &serde_json::json!({"name": "h4"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(members(&h1).len(), 4);
    let h4 = member_client(&dir, "10.77.0.14");
    wait_for(30, "h4 serves the log", || {
        h4.try_req("GET", "/api/v1/namespaces/default/configmaps/before-19", "", None)
            .is_ok_and(|r| r.status == 200)
    });
    // A write through the new member, read there.
    assert_eq!(
        h4.post(
            "/api/v1/namespaces/default/configmaps",
            &common::configmap("through-h4", "x")
        )
        .status,
        201
    );
    assert_eq!(h4.get("/api/v1/namespaces/default/configmaps/through-h4").status, 200);
    // Adding it again is a conflict; an unknown member cannot be removed.
    assert_eq!(
        h1.post("/apis/orca.dev/v1/members", &serde_json::json!({"name": "h4"}))
            .status,
        409
    );
    assert_eq!(h1.delete("/apis/orca.dev/v1/members/h9").status, 404);
    // Four members survive the loss of one; h4 then leaves, and three go on.
    let out = lab(&["kill", "h2", "--dir", &d]);
    assert!(out.status.success());
    wait_for(20, "a write with h2 gone", || {
        h1.try_req(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            Some(serde_json::to_vec(&common::configmap(&format!("h2-gone-{}", std::process::id()), "x")).unwrap()),
        )
        .is_ok_and(|r| r.status == 201 || r.status == 409)
    });
    let out = lab(&["restart", "h2", "--dir", &d]);
    assert!(out.status.success());
    let r = h1.delete("/apis/orca.dev/v1/members/h4");
    assert_eq!(r.status, 200, "{}", r.text);
    wait_for(20, "three members again", || {
        let m = members(&h1);
        m.len() == 3 && !m.iter().any(|(n, _)| n == "h4")
    });
    assert_eq!(
        h1.post(
            "/api/v1/namespaces/default/configmaps",
            &common::configmap("after-removal", "x")
        )
        .status,
        201
    );
}
