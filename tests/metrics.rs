//! `/metrics` in the Prometheus text format: requests by verb, resource and code with latency
//! histograms, the log's batches, fsync latency, head and horizon, and open watches; only callers
//! RBAC lets `get /metrics` (cluster-admin) may read it. The scheduler's series, and each agent's
//! (pod start latency, running pods, NATS losses) through `nodes/NAME/proxy/metrics`.

mod common;

use std::io::Write;

use common::{cluster, configmap, create_pod, sh_pod, wait_for, wait_node_ready, wait_pod, Agent, Cred, Http};

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_count_requests_batches_and_watches() {
    let (_nats, orca, _dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    for i in 0..5 {
        assert_eq!(
            h.post(
                "/api/v1/namespaces/default/configmaps",
                &configmap(&format!("m{i}"), "v")
            )
            .status,
            201
        );
    }
    assert_eq!(h.get("/api/v1/namespaces/default/configmaps/nope").status, 404);
    let mut watch = std::net::TcpStream::connect(("127.0.0.1", orca.port)).unwrap();
    write!(
        watch,
        "GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = h.get("/metrics").text;
    let created = value(
        &text,
        "apiserver_request_total{verb=\"POST\",resource=\"configmaps\",code=\"201\"}",
    );
    assert!(created.is_some_and(|n| n >= 5.0), "{text}");
    assert_eq!(
        value(
            &text,
            "apiserver_request_total{verb=\"GET\",resource=\"configmaps\",code=\"404\"}"
        ),
        Some(1.0)
    );
    assert!(
        text.contains("apiserver_request_duration_seconds_bucket{verb=\"POST\",resource=\"configmaps\",le=\"0.005\"}")
    );
    assert!(value(&text, "orca_log_batch_events_count").is_some_and(|n| n >= 5.0));
    assert!(value(&text, "orca_log_fsync_seconds_count").is_some_and(|n| n >= 5.0));
    let head: f64 = h.get("/api/v1/namespaces/default/configmaps").body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        value(&text, "orca_log_head_revision").is_some_and(|v| v >= head - 5.0),
        "{text}"
    );
    assert!(
        value(&text, "apiserver_registered_watchers").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    drop(watch);
}

#[test]
fn only_who_may_get_metrics_reads_them() {
    let (_nats, orca, _dir) = cluster(&["--secure"]);
    let anon = Http::tls(&orca.url, &orca.pki("ca.crt"), Cred::None);
    assert_eq!(anon.get("/metrics").status, 401);
    assert_eq!(orca.admin().get("/metrics").status, 200);
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    use std::io::{BufRead, BufReader};
    let nats = common::NatsServer::start(None).expect("nats-server");
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orca"))
        .args([
            "--log-format",
            "json",
            "server",
            "--insecure-http",
            "--nats",
            &nats.url(),
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .env("ORCA_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let json_lines: Vec<serde_json::Value> = lines
        .map_while(Result::ok)
        .filter(|l| l.starts_with('{'))
        .take(3)
        .map(|l| serde_json::from_str(&l).expect("a JSON log line"))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(json_lines.len(), 3);
    assert!(json_lines
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string() && l["fields"].is_object()));
}

#[test]
fn the_scheduler_and_each_agent_report_and_nats_losses_are_counted() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "m-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "m-node");
    create_pod(&h, &sh_pod("m-pod", "sleep 60", "Never"));
    wait_pod(&h, "m-pod", 30, "Running", |p| p["status"]["phase"] == "Running");

    let text = h.get("/metrics").text;
    assert!(
        value(&text, "scheduler_schedule_attempts_total{result=\"scheduled\"}").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        value(&text, "scheduler_pod_scheduling_duration_seconds_count").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(value(&text, "scheduler_binding_duration_seconds_count").is_some_and(|n| n >= 1.0));
    assert_eq!(
        value(&text, "scheduler_pending_pods{queue=\"active\"}"),
        Some(0.0),
        "{text}"
    );

    // The agent's own metrics come through the API, as a kubelet's do.
    let node = h.get("/api/v1/nodes/m-node/proxy/metrics");
    assert_eq!(node.status, 200, "{}", node.text);
    assert!(
        value(&node.text, "kubelet_pod_start_duration_seconds_count").is_some_and(|n| n >= 1.0),
        "{}",
        node.text
    );
    assert!(
        value(&node.text, "kubelet_running_pods").is_some_and(|n| n >= 1.0),
        "{}",
        node.text
    );
    assert_eq!(value(&node.text, "orca_nats_reconnects_total"), Some(0.0));
    assert_eq!(h.get("/api/v1/nodes/nope/proxy/metrics").status, 404);

    // NATS goes away and comes back on its port: the server and the agent count the loss and the
    // recovery.
    let port = nats.port();
    drop(nats);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _nats = orca_actors::cluster::natsd::NatsServer::start(Some(port)).unwrap();
    wait_for(30, "the server counts a NATS reconnect", || {
        let text = h.get("/metrics").text;
        value(&text, "orca_nats_disconnects_total").is_some_and(|n| n >= 1.0)
            && value(&text, "orca_nats_reconnects_total").is_some_and(|n| n >= 1.0)
    });
    wait_for(30, "the agent counts a NATS reconnect", || {
        let r = h.get("/api/v1/nodes/m-node/proxy/metrics");
        r.status == 200 && value(&r.text, "orca_nats_reconnects_total").is_some_and(|n| n >= 1.0)
    });
}
