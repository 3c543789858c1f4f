//! The unmodified kubectl (v1.32, /usr/bin/kubectl on these machines) against orca: discovery,
//! api-resources, explain, tables and output formats, client-side and server-side apply, edit,
//! scale, label, patch (strategic, merge, json), rollout status/history/undo, logs (-f,
//! --previous), exec (-i, -it on a terminal), cp, attach, port-forward, describe with events, get -w,
//! wait, drain and delete (--cascade). Fails, not skips, when kubectl is missing.

mod common;

use std::process::Command;

use common::{cluster, wait_node_ready, Agent, Http};

struct Kubectl {
    config: std::path::PathBuf,
}

impl Kubectl {
    /// A kubeconfig as `orca up` writes it: the cluster CA and the admin's client certificate.
    fn admin_of(orca: &common::Orca, dir: &std::path::Path) -> Kubectl {
        use base64::Engine;
        let b64 = |name: &str| base64::engine::general_purpose::STANDARD.encode(orca.pki(name));
        let config = dir.join("kubeconfig");
        std::fs::write(
            &config,
            format!("apiVersion: v1\nkind: Config\nclusters:\n- name: orca\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: orca\n  context:\n    cluster: orca\n    user: admin\n    namespace: default\ncurrent-context: orca\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
                orca.url, b64("ca.crt"), b64("admin.crt"), b64("admin.key")),
        )
        .unwrap();
        Kubectl { config }
    }

    fn new(server: &str, dir: &std::path::Path) -> Kubectl {
        let config = dir.join("kubeconfig");
        std::fs::write(
            &config,
            format!("apiVersion: v1\nkind: Config\nclusters:\n- name: orca\n  cluster:\n    server: {server}\ncontexts:\n- name: orca\n  context:\n    cluster: orca\n    user: orca\n    namespace: default\ncurrent-context: orca\nusers:\n- name: orca\n  user: {{}}\n"),
        )
        .unwrap();
        Kubectl { config }
    }

    /// Runs kubectl; (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.config)
            .env("HOME", self.config.parent().unwrap())
            .output()
            .expect("this test needs kubectl on PATH (preinstalled at /usr/bin/kubectl on these machines)");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl with `input` on stdin and extra environment; (exit code, stdout, stderr).
    fn run_with(&self, args: &[&str], input: &[u8], env: &[(&str, &str)]) -> (i32, String, String) {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.config)
            .env("HOME", self.config.parent().unwrap())
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("this test needs kubectl on PATH");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl and expects success; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "kubectl {}: {out}{err}", args.join(" "));
        out
    }
}

const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: kweb
spec:
  replicas: 1
  selector:
    matchLabels: {app: kweb}
  template:
    metadata:
      labels: {app: kweb}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo started COMMAND; exec sleep 3600\"]
        env:
        - {name: A, value: \"1\"}
";

#[test]
fn kubectl_drives_orca() {
    // Over TLS with the admin's client certificate, as `orca up` sets kubectl up.
    let (nats, orca, dir) = cluster(&["--secure"]);
    let h = orca.admin();
    let _a = Agent::start(&nats.url(), "k-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "k-node");
    let k = Kubectl::admin_of(&orca, dir.path());

    assert!(k.ok(&["version"]).contains("Server Version: v1.32"));
    let resources = k.ok(&["api-resources"]);
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["deployments", "deploy", "apps/v1", "true", "Deployment"]),
        "{resources}"
    );
    let explain = k.ok(&["explain", "deployment.spec.replicas"]);
    assert!(
        explain.contains("KIND:       Deployment") && explain.contains("<integer>"),
        "{explain}"
    );

    // OpenAPI v2 for clients that read it (JSON; protobuf-only clients get 406 and use v3).
    let v2 = h.get("/openapi/v2");
    assert_eq!((v2.status, v2.body["swagger"].as_str()), (200, Some("2.0")));
    assert!(v2.body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"].is_object());

    // Client-side apply: create, then an update that only changes the command and the variable.
    let manifest = dir.path().join("deploy.yaml");
    std::fs::write(&manifest, DEPLOY.replace("COMMAND", "v1")).unwrap();
    assert!(k
        .ok(&["apply", "-f", manifest.to_str().unwrap()])
        .contains("deployment.apps/kweb created"));
    std::fs::write(&manifest, DEPLOY.replace("COMMAND", "v2").replace("\"1\"", "\"2\"")).unwrap();
    assert!(k
        .ok(&["apply", "-f", manifest.to_str().unwrap()])
        .contains("deployment.apps/kweb configured"));
    let spec = k.ok(&[
        "get",
        "deploy",
        "kweb",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value}",
    ]);
    assert_eq!(
        spec, "busybox 2",
        "the strategic merge kept the image and merged env by name"
    );
    let status = k.ok(&["rollout", "status", "deploy/kweb", "--timeout=60s"]);
    assert!(status.contains("successfully rolled out"), "{status}");
    // kubectl picks one pod of the Deployment; an old one may still be terminating.
    common::wait_for(30, "the new pod's log", || {
        k.run(&["logs", "deploy/kweb"]).1.contains("started v2")
    });
    // exec over WebSocket: output, stderr and the exit code.
    common::wait_for(30, "exec in the Deployment's pod", || {
        k.run(&["exec", "deploy/kweb", "--", "echo", "hi"]).1 == "hi\n"
    });
    let (code, _, err) = k.run(&["exec", "deploy/kweb", "--", "sh", "-c", "echo oops >&2; exit 3"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("oops"), "{err}");
    // logs -f ends when the container does.
    let pod = "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"counter\"}, \"spec\": {\"restartPolicy\": \"Never\", \"containers\": [{\"name\": \"c\", \"image\": \"busybox\", \"command\": [\"sh\", \"-c\", \"for i in 1 2 3; do echo line $i; sleep 0.5; done\"]}]}}";
    let pod_file = dir.path().join("counter.json");
    std::fs::write(&pod_file, pod).unwrap();
    k.ok(&["apply", "-f", pod_file.to_str().unwrap()]);
    let started = std::time::Instant::now();
    let followed = k.ok(&["logs", "-f", "counter", "--pod-running-timeout=30s"]);
    assert_eq!(followed, "line 1\nline 2\nline 3\n");
    assert_eq!(k.ok(&["logs", "counter", "--limit-bytes=7"]), "line 1\n");
    let (_, since, said) = k.run(&["logs", "counter", "--since=1h"]);
    assert!(
        since.contains("line 3") && said.contains("sinceSeconds is not applied"),
        "{said}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    // Tables and formats.
    let wide = k.ok(&["get", "deploy", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(k
        .ok(&["get", "pods", "-l", "app=kweb", "-o", "name"])
        .lines()
        .all(|l| l.starts_with("pod/kweb-")));
    let all = k.ok(&["get", "all"]);
    assert!(
        all.contains("deployment.apps/kweb") && all.contains("pod/kweb-"),
        "{all}"
    );
    let yaml = k.ok(&["get", "deploy", "kweb", "-o", "yaml"]);
    assert!(yaml.contains("kind: Deployment") && yaml.contains("name: kweb"));

    // Scale, label, and the three patch types.
    assert!(k.ok(&["scale", "deploy", "kweb", "--replicas=2"]).contains("scaled"));
    assert_eq!(k.ok(&["get", "deploy", "kweb", "-o", "jsonpath={.spec.replicas}"]), "2");
    k.ok(&["label", "deploy", "kweb", "tier=web"]);
    assert_eq!(
        k.ok(&["get", "deploy", "-l", "tier=web", "-o", "name"]).trim(),
        "deployment.apps/kweb"
    );
    k.ok(&["patch", "deploy", "kweb", "-p", "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"B\",\"value\":\"3\"}]}]}}}}"]);
    let env = k.ok(&[
        "get",
        "deploy",
        "kweb",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[*].name}",
    ]);
    assert_eq!(env, "B A", "a strategic patch adds to the list by name");
    k.ok(&[
        "patch",
        "deploy",
        "kweb",
        "--type=merge",
        "-p",
        "{\"spec\":{\"replicas\":1}}",
    ]);
    k.ok(&[
        "patch",
        "deploy",
        "kweb",
        "--type=json",
        "-p",
        "[{\"op\":\"add\",\"path\":\"/spec/minReadySeconds\",\"value\":1}]",
    ]);
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "kweb",
            "-o",
            "jsonpath={.spec.replicas} {.spec.minReadySeconds}"
        ]),
        "1 1"
    );

    // Server-side dry run and diff change nothing.
    std::fs::write(
        &manifest,
        DEPLOY
            .replace("COMMAND", "v2")
            .replace("\"1\"", "\"2\"")
            .replace("replicas: 1", "replicas: 5"),
    )
    .unwrap();
    let dry = k.ok(&["apply", "--dry-run=server", "-f", manifest.to_str().unwrap()]);
    assert!(dry.contains("configured (server dry run)"), "{dry}");
    let (code, diff, _) = k.run(&["diff", "-f", manifest.to_str().unwrap()]);
    assert!(code == 1 && diff.contains("+  replicas: 5"), "{code} {diff}");
    assert_eq!(k.ok(&["get", "deploy", "kweb", "-o", "jsonpath={.spec.replicas}"]), "1");

    // The generators send protobuf bodies.
    assert!(k
        .ok(&["create", "configmap", "kcm", "--from-literal=a=b"])
        .contains("configmap/kcm created"));
    assert_eq!(k.ok(&["get", "cm", "kcm", "-o", "jsonpath={.data.a}"]), "b");
    assert!(k.ok(&["create", "namespace", "kns"]).contains("namespace/kns created"));
    k.ok(&["create", "secret", "generic", "ksec", "--from-literal=k=v"]);
    assert_eq!(k.ok(&["get", "secret", "ksec", "-o", "jsonpath={.data.k}"]), "dg==");
    k.ok(&[
        "create",
        "deployment",
        "kgen",
        "--image=busybox",
        "--replicas=2",
        "--",
        "sleep",
        "3600",
    ]);
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "kgen",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].command}"
        ]),
        "2 [\"sleep\",\"3600\"]"
    );
    k.ok(&["run", "krun", "--image=busybox", "--restart=Never", "--", "sleep", "60"]);
    // drain evicts through policy/v1 Evictions (protobuf too).
    let drained = k.ok(&[
        "drain",
        "k-node",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--force",
        "--timeout=60s",
    ]);
    assert!(drained.contains("node/k-node drained"), "{drained}");
    k.ok(&["uncordon", "k-node"]);

    // The admin may do anything, and kubectl is told who it is.
    assert_eq!(k.ok(&["auth", "can-i", "create", "pods"]).trim(), "yes");
    assert!(k.ok(&["auth", "whoami"]).contains("orca-admin"));

    // Errors as kubectl prints them.
    let (code, _, err) = k.run(&["get", "pod", "nope"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Error from server (NotFound): pods \"nope\" not found"),
        "{err}"
    );

    assert!(k
        .ok(&["delete", "-f", manifest.to_str().unwrap()])
        .contains("deployment.apps \"kweb\" deleted"));
    let (_, out, err) = k.run(&["get", "deploy", "kweb"]);
    assert!(err.contains("NotFound"), "{out}{err}");
}

const SSA: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
spec:
  replicas: 1
  selector:
    matchLabels: {app: ssa}
  template:
    metadata:
      labels: {app: ssa}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: [\"sh\", \"-c\", \"echo run $(date +%s%N); exec sleep 3600\"]
";

#[test]
fn kubectl_server_side_apply_edit_undo_exec_and_wait() {
    let (nats, orca, dir) = cluster(&[]);
    let h = Http::new(&orca.url);
    let _a = Agent::start(&nats.url(), "k2-node", &dir.path().join("agent"), &[]);
    wait_node_ready(&h, "k2-node");
    let k = Kubectl::new(&orca.url, dir.path());
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };

    // Server-side apply: create, a second manager's conflict, force, and managedFields.
    let v1 = file("ssa.yaml", SSA);
    assert!(k
        .ok(&["apply", "--server-side", "-f", &v1])
        .contains("deployment.apps/ssa serverside-applied"));
    let other = file("ssa2.yaml", &SSA.replace("replicas: 1", "replicas: 2"));
    let (code, _, err) = k.run(&["apply", "--server-side", "--field-manager=other", "-f", &other]);
    assert_ne!(code, 0);
    assert!(
        err.contains("conflict with \"kubectl\"") && err.contains(".spec.replicas"),
        "{err}"
    );
    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        &other,
    ]);
    let managers = k.ok(&[
        "get",
        "deploy",
        "ssa",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    // The Deployment controller owns the revision annotation it writes, as in Kubernetes.
    assert_eq!(managers, "kubectl deployment-controller other");
    assert_eq!(k.ok(&["get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"]), "2");
    // A field the first manager stops applying goes, unless another manager has it.
    let fewer = file(
        "ssa3.yaml",
        &SSA.replace("      terminationGracePeriodSeconds: 1\n", "")
            .replace("  replicas: 1\n", ""),
    );
    k.ok(&["apply", "--server-side", "-f", &fewer]);
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "ssa",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.terminationGracePeriodSeconds}"
        ]),
        "2 1",
        "both are still applied by the other manager"
    );

    // Fields Kubernetes does not define are refused (kubectl asks for fieldValidation=Strict),
    // fields it defines pass even where orca does not act on them; --validate=false keeps them.
    let typo = file(
        "typo.yaml",
        &SSA.replace("name: ssa", "name: typo")
            .replace("replicas: 1", "replica: 1"),
    );
    let (code, _, err) = k.run(&["apply", "-f", &typo]);
    assert!(
        code != 0 && err.contains("strict decoding error: unknown field \"spec.replica\""),
        "{err}"
    );
    k.ok(&["apply", "--validate=false", "-f", &typo]);

    // edit through $EDITOR, rollout history and undo.
    let editor = file(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/image: busybox$/image: busybox:edited/' \"$1\"\n",
    );
    Command::new("chmod").args(["+x", &editor]).status().unwrap();
    let (code, out, err) = k.run_with(&["edit", "deploy", "ssa"], b"", &[("EDITOR", &editor)]);
    assert!(code == 0 && out.contains("deployment.apps/ssa edited"), "{out}{err}");
    k.ok(&["rollout", "status", "deploy/ssa", "--timeout=60s"]);
    let history = k.ok(&["rollout", "history", "deploy/ssa"]);
    assert!(history.contains("1 ") && history.contains("2 "), "{history}");
    k.ok(&["rollout", "undo", "deploy/ssa"]);
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "ssa",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "busybox"
    );
    let history = k.ok(&["rollout", "history", "deploy/ssa"]);
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(
        revisions,
        ["2", "3"],
        "the undo reused revision 1's ReplicaSet: {history}"
    );
    k.ok(&["wait", "--for=condition=Available", "deploy/ssa", "--timeout=60s"]);
    let described = k.ok(&["describe", "deploy", "ssa"]);
    assert!(
        described.contains("ScalingReplicaSet") && described.contains("Scaled up replica set ssa-"),
        "{described}"
    );

    // exec with stdin, exec -it on a terminal (util-linux `script` gives kubectl one), cp.
    k.ok(&["run", "shell", "--image=busybox", "--", "sleep", "3600"]);
    k.ok(&["wait", "--for=condition=Ready", "pod/shell", "--timeout=60s"]);
    let (code, out, err) = k.run_with(
        &["exec", "-i", "shell", "--", "sh", "-c", "read x; echo got $x"],
        b"hello\n",
        &[],
    );
    assert_eq!((code, out.as_str()), (0, "got hello\n"), "{err}");
    let mut script = Command::new("script")
        .args([
            "-qfc",
            &format!(
                "stty cols 91 rows 17; KUBECONFIG={} kubectl exec -it shell -- sh",
                k.config.display()
            ),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("exec -it needs util-linux script (bsdutils) for a terminal");
    {
        use std::io::Write;
        let mut input = script.stdin.take().unwrap();
        input.write_all(b"tty; stty size; echo $((6*7))\n").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(2));
        input.write_all(b"exit 5\n").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let out = script.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(text.contains("/dev/pts/"), "a terminal: {text}");
    assert!(text.contains("17 91"), "kubectl's size: {text}");
    assert!(text.contains("\n42\n"), "{text}");
    assert!(text.contains("command terminated with exit code 5"), "{text}");
    let src = file("cp-src", "copied\n");
    k.ok(&["cp", &src, "shell:/tmp/copied"]);
    assert_eq!(k.ok(&["exec", "shell", "--", "cat", "/tmp/copied"]), "copied\n");

    // port-forward: kubectl's SPDY session in a WebSocket, two connections through one forward.
    let web_port = common::free_port().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "forwarded\n").unwrap();
    k.ok(&[
        "run",
        "web",
        "--image=busybox",
        &format!("--port={web_port}"),
        "--",
        "busybox",
        "httpd",
        "-f",
        "-p",
        &web_port.to_string(),
        "-h",
        www.to_str().unwrap(),
    ]);
    k.ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);
    let local = common::free_port().unwrap();
    let mut forward = Command::new("kubectl")
        .args(["port-forward", "pod/web", &format!("{local}:{web_port}")])
        .env("KUBECONFIG", &k.config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let fetch = || -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", local)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    common::wait_for(20, "the forward answers", || {
        fetch().is_some_and(|r| r.ends_with("forwarded\n"))
    });
    let again = fetch().unwrap_or_default();
    assert!(again.contains(" 200 OK") && again.ends_with("forwarded\n"), "{again}");
    let _ = forward.kill();
    let out = forward.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("Forwarding from 127.0.0.1:{local} -> {web_port}")),
        "{said}"
    );
    assert!(said.contains("Handling connection"), "{said}");

    // attach: the container's output from now until it ends; its stdin is not attachable.
    k.ok(&[
        "run",
        "ticker",
        "--restart=Never",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "sleep 1; for i in 1 2 3; do echo tick $i; sleep 0.3; done",
    ]);
    let attached = k.ok(&["attach", "ticker", "--pod-running-timeout=30s"]);
    assert!(attached.ends_with("tick 3\n"), "{attached}");
    let (code, _, err) = k.run(&["attach", "-i", "shell"]);
    assert!(code != 0 && err.contains("does not take stdin"), "{err}");
    // attach -i writes into the stdin of a container that asks for one.
    let reader = file(
        "reader.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: reader}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    stdin: true\n    command: [sh, -c, \"while read l; do echo got $l; done\"]\n",
    );
    k.ok(&["apply", "-f", &reader]);
    k.ok(&["wait", "--for=condition=Ready", "pod/reader", "--timeout=60s"]);
    let mut attach = Command::new("kubectl")
        .args(["attach", "-i", "reader"])
        .env("KUBECONFIG", &k.config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = attach.stdin.take().unwrap();
        input.write_all(b"one\ntwo\n").unwrap();
        common::wait_for(20, "the container read what attach sent", || {
            k.ok(&["logs", "reader"]) == "got one\ngot two\n"
        });
    }
    let _ = attach.kill();
    let _ = attach.wait();

    // logs --previous after a restart.
    k.ok(&[
        "run",
        "crash",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "echo run $(date +%s%N); sleep 1; exit 1",
    ]);
    common::wait_for(60, "the container restarts", || {
        k.ok(&[
            "get",
            "pod",
            "crash",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ]) != "0"
    });
    let previous = k.ok(&["logs", "crash", "--previous"]);
    assert!(previous.starts_with("run "), "{previous}");

    // get -w shows changes as they come.
    let mut watch = Command::new("kubectl")
        .args(["get", "pods", "-w", "--request-timeout=6s"])
        .env("KUBECONFIG", &k.config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    k.ok(&["label", "pod", "shell", "watched=yes"]);
    k.ok(&["run", "late", "--image=busybox", "--", "sleep", "60"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _ = watch.kill();
    let seen = String::from_utf8_lossy(&watch.wait_with_output().unwrap().stdout).into_owned();
    assert!(seen.lines().next().unwrap_or("").starts_with("NAME"), "{seen}");
    assert!(seen.lines().any(|l| l.starts_with("late ")), "{seen}");

    // delete --cascade=orphan leaves the ReplicaSet; wait --for=delete.
    k.ok(&["delete", "deploy", "ssa", "--cascade=orphan"]);
    assert!(k.ok(&["get", "rs", "-o", "name"]).contains("replicaset.apps/ssa-"));
    k.ok(&["delete", "pod", "late", "--wait=false"]);
    k.ok(&["wait", "--for=delete", "pod/late", "--timeout=60s"]);
}
