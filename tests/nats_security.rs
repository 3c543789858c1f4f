//! The private NATS of `orca up` is secured: nothing connects without credentials, a node joins
//! with the printed token and gets a user of its own, and that user reaches only its own subjects
//! and, through the API, only what the node authorizer lets a node read and write.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Agent;
use orca_actors::bus::client::ApiClient;
use orca_actors::bus::{connect_as, Credentials};
use serde_json::json;

/// `orca up --no-agent`: the child, its NATS URL, its join token and its data dir.
struct Up {
    child: std::process::Child,
    nats: String,
    token: String,
    home: tempfile::TempDir,
}

impl Drop for Up {
    fn drop(&mut self) {
        // SIGTERM: `orca up` stops its nats-server before it exits.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn up() -> Up {
    up_in(tempfile::tempdir().unwrap())
}

/// `orca up --no-agent` on `home` (a new one, or one an earlier `orca up` used).
fn up_in(home: tempfile::TempDir) -> Up {
    let port = common::free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args([
            "up",
            "--no-agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(home.path().join("data"))
        .env("ORCA_HOME", home.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut nats, mut token) = (String::new(), String::new());
    while nats.is_empty() || token.is_empty() {
        let line = lines
            .next()
            .expect("orca up printed its NATS URL and join token")
            .unwrap();
        if let Some(rest) = line.split("NATS ").nth(1) {
            nats = rest.split(',').next().unwrap().to_string();
        }
        if let Some(rest) = line.split("--join ").nth(1) {
            token = rest.split(' ').next().unwrap().to_string();
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    Up {
        child,
        nats,
        token,
        home,
    }
}

#[test]
fn nats_is_closed_to_strangers_and_each_node_reaches_only_its_own() {
    let up = up();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // No credentials, or a wrong join secret: nats-server refuses the connection.
    let refused = rt.block_on(async { async_nats::ConnectOptions::new().connect(&up.nats).await });
    assert!(refused.is_err(), "a client without credentials connected");
    let addr = up.token.split('@').nth(1).unwrap();
    let wrong = Command::new(env!("CARGO_BIN_EXE_orca"))
        .args([
            "agent",
            "--join",
            &format!("not-the-secret@{addr}"),
            "--name",
            "intruder",
            "--data-dir",
        ])
        .arg(up.home.path().join("intruder"))
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("authorization violation"));

    // Two nodes join with the token.
    let join = ["--join", up.token.as_str(), "--ingress-listen", "none"];
    let _a = Agent::start_joined("node-a", &up.home.path().join("a"), &join);
    let _b = Agent::start_joined("node-b", &up.home.path().join("b"), &join);
    let plane = Credentials::Password {
        user: orca_actors::cluster::nats_auth::CONTROL_PLANE_USER.into(),
        password: std::fs::read_to_string(up.home.path().join("data/nats/control-plane.pass")).unwrap(),
    };
    rt.block_on(async {
        let admin = ApiClient::new(connect_as(&up.nats, "test-admin", &plane).await.unwrap(), "test");
        for node in ["node-a", "node-b"] {
            let path = format!("/api/v1/nodes/{node}");
            let mut ready = false;
            for _ in 0..300 {
                if admin.call("GET", &path, "", None).await.is_ok_and(|a| a.status == 200) {
                    ready = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(ready, "{node} registered");
        }
        for (secret, node) in [("sa", "node-a"), ("sb", "node-b")] {
            let s = json!({"metadata": {"name": secret}, "stringData": {"k": "v"}});
            assert_eq!(
                admin
                    .call("POST", "/api/v1/namespaces/default/secrets", "", Some(&s))
                    .await
                    .unwrap()
                    .status,
                201
            );
            let p = json!({"metadata": {"name": format!("uses-{secret}")}, "spec": {"nodeName": node,
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "300"],
                    "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}]}]}});
            assert_eq!(
                admin
                    .call("POST", "/api/v1/namespaces/default/pods", "", Some(&p))
                    .await
                    .unwrap()
                    .status,
                201
            );
        }

        // As node-a, with node-a's own key (written when it joined).
        let node_a = Credentials::NodeKey {
            node: "node-a".into(),
            seed: std::fs::read_to_string(up.home.path().join("a/nats.nk")).unwrap(),
        };
        let nats_a = connect_as(&up.nats, "test-node-a", &node_a).await.unwrap();
        let as_a = ApiClient::for_node(nats_a.clone(), "node-a");
        let status =
            |r: Result<orca_actors::bus::envelope::ApiAnswer, orca_actors::bus::Error>| r.map(|a| a.status).ok();
        assert_eq!(
            status(
                as_a.call("GET", "/api/v1/namespaces/default/secrets/sa", "", None)
                    .await
            ),
            Some(200)
        );
        assert_eq!(
            status(
                as_a.call("GET", "/api/v1/namespaces/default/secrets/sb", "", None)
                    .await
            ),
            Some(403),
            "a Secret only node-b's pod uses"
        );
        assert_eq!(
            status(as_a.call("GET", "/api/v1/namespaces/default/secrets", "", None).await),
            Some(403)
        );
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(
            status(
                as_a.call("PATCH", "/api/v1/nodes/node-b/status", "", Some(&patch))
                    .await
            ),
            Some(403),
            "another node's status"
        );
        let rogue = json!({"metadata": {"name": "node-z"}});
        assert_eq!(
            status(as_a.call("POST", "/api/v1/nodes", "", Some(&rogue)).await),
            Some(403)
        );
        // Calls on another node's subject or on the control plane's are refused by nats-server.
        let call = orca_actors::bus::envelope::ApiCall {
            method: "GET".into(),
            path: "/api/v1/namespaces/default/secrets/sb".into(),
            query: String::new(),
            content_type: "application/json".into(),
            actor: "sneaky".into(),
            body: Vec::new(),
        };
        for subject in [
            orca_actors::bus::subjects::api_node("node-b"),
            orca_actors::bus::subjects::API.to_string(),
        ] {
            let payload = orca_actors::bus::envelope::encode(&call);
            let answer =
                tokio::time::timeout(Duration::from_secs(2), nats_a.request(subject.clone(), payload.into())).await;
            assert!(!matches!(answer, Ok(Ok(_))), "node-a got an answer on {subject}");
        }
        // node-b's requests (logs, exec) never reach node-a.
        let mut snoop = nats_a.subscribe("orca.node.node-b.>").await.unwrap();
        let plane_nats = admin.nats().clone();
        plane_nats
            .publish("orca.node.node-b.exec", "secret command".into())
            .await
            .unwrap();
        plane_nats.flush().await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(1), futures::StreamExt::next(&mut snoop)).await;
        assert!(!matches!(got, Ok(Some(_))), "node-a read node-b's exec requests");
    });
}

#[test]
fn a_restarted_orca_up_keeps_its_nats_address_so_joined_nodes_find_it() {
    let first = up();
    let (nats, token) = (first.nats.clone(), first.token.clone());
    let mut first = first;
    // Stopped the way a user stops it (SIGTERM, once it is up), so that it stops its nats-server.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = Command::new("kill").arg(first.child.id().to_string()).status();
    let _ = first.child.wait();
    let home = std::mem::replace(&mut first.home, tempfile::tempdir().unwrap());
    drop(first);
    let second = up_in(home);
    assert_eq!(second.nats, nats, "the same NATS address after a restart");
    assert_eq!(second.token, token, "the same join token");
}
