//! orcactl against a real server: multi-document apply, get tables and formats, errors with field paths.

mod common;

use common::{cluster, orcactl};

#[test]
fn apply_get_describe_delete() {
    let (_nats, orca, _dir) = cluster(&[]);
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/manifests/quickstart.yaml");
    let (code, out, err) = orcactl(&orca.url, &["apply", "-f", manifest], None);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "namespace/demo created",
        "configmap/web-config created",
        "secret/web-secret created",
        "deployment/web created",
        "service/web created",
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }
    let (_, again, _) = orcactl(&orca.url, &["apply", "-f", manifest], None);
    assert!(again.contains("deployment/web unchanged"), "{again}");

    let (code, out, _) = orcactl(&orca.url, &["get", "deploy", "-n", "demo", "-o", "wide"], None);
    assert_eq!(code, 0);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
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
    assert!(out.lines().nth(1).unwrap().starts_with("web "), "{out}");
    let (_, out, _) = orcactl(&orca.url, &["get", "svc", "-n", "demo"], None);
    assert!(out.contains("ClusterIP") && out.contains("80/TCP"), "{out}");
    let (_, out, _) = orcactl(&orca.url, &["get", "cm", "-A"], None);
    assert!(out.starts_with("NAMESPACE") && out.contains("web-config"), "{out}");
    let (_, out, _) = orcactl(
        &orca.url,
        &["get", "secret", "web-secret", "-n", "demo", "-o", "json"],
        None,
    );
    let secret: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(secret["data"]["password"], "czNjcjN0");
    let (_, out, _) = orcactl(
        &orca.url,
        &["get", "configmap/web-config", "-n", "demo", "-o", "yaml"],
        None,
    );
    assert!(out.contains("greeting: hello from orca"), "{out}");
    let (_, out, _) = orcactl(&orca.url, &["get", "ns", "-o", "name"], None);
    assert!(out.lines().any(|l| l == "namespace/demo"), "{out}");
    let (_, out, _) = orcactl(&orca.url, &["get", "deploy", "-n", "demo", "-l", "app=nothing"], None);
    assert!(out.is_empty());
    let (code, out, _) = orcactl(&orca.url, &["describe", "deployment", "web", "-n", "demo"], None);
    assert_eq!(code, 0);
    assert!(
        out.contains("Name:         web") && out.contains("replicas: 2"),
        "{out}"
    );

    let (code, out, _) = orcactl(&orca.url, &["delete", "svc", "web", "-n", "demo"], None);
    assert_eq!((code, out.trim()), (0, "service \"web\" deleted"));
    let (code, _, err) = orcactl(&orca.url, &["get", "svc", "web", "-n", "demo"], None);
    assert_ne!(code, 0);
    assert!(err.contains("NotFound"), "{err}");
}

#[test]
fn errors_name_every_field_and_exit_non_zero() {
    let (_nats, orca, _dir) = cluster(&[]);
    let bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad\nspec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 99999\n";
    let (code, _, err) = orcactl(&orca.url, &["apply", "-f", "-"], Some(bad));
    assert_eq!(code, 1);
    for field in [
        "metadata.name",
        "spec.containers[0].image",
        "spec.containers[0].ports[0].containerPort",
    ] {
        assert!(err.contains(field), "missing {field} in {err}");
    }
    let (code, _, err) = orcactl(&orca.url, &["get", "widgets"], None);
    assert_eq!(code, 1);
    assert!(err.contains("doesn't have a resource type \"widgets\""), "{err}");
    let (code, _, err) = orcactl("http://127.0.0.1:1", &["get", "pods"], None);
    assert_eq!(code, 1);
    assert!(err.contains("cannot reach the orca server"), "{err}");
    let (code, out, _) = orcactl(&orca.url, &["create", "namespace", "team-b"], None);
    assert_eq!((code, out.trim()), (0, "namespace/team-b created"));
}

#[test]
fn expose_makes_a_service_for_a_deployments_pods() {
    let (_nats, orca, _dir) = cluster(&[]);
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: shop}}\n  template:\n    metadata: {labels: {app: shop}}\n    spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]}\n";
    assert_eq!(orcactl(&orca.url, &["apply", "-f", "-"], Some(manifest)).0, 0);
    let (code, out, err) = orcactl(
        &orca.url,
        &[
            "expose",
            "deployment",
            "shop",
            "--port",
            "80",
            "--target-port",
            "http",
            "--type",
            "NodePort",
        ],
        None,
    );
    assert_eq!((code, out.trim()), (0, "service/shop exposed"), "{err}");
    let (_, svc, _) = orcactl(&orca.url, &["get", "svc", "shop", "-o", "json"], None);
    let svc: serde_json::Value = serde_json::from_str(&svc).unwrap();
    assert_eq!(svc["spec"]["selector"], serde_json::json!({"app": "shop"}));
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http");
    assert!(svc["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .is_some_and(|p| (30000..=32767).contains(&p)));
    let (code, _, err) = orcactl(&orca.url, &["expose", "deployment", "shop", "--port", "80"], None);
    assert_eq!(code, 1);
    assert!(err.contains("AlreadyExists") || err.contains("already exists"), "{err}");
}

/// orcactl with extra environment; (exit code, stdout, stderr).
fn orcactl_env(server: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orcactl"))
        .args(["--server", server])
        .args(args)
        .env_remove("ORCA_SERVER")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn kubectl_verbs_formats_and_errors() {
    let (nats, orca, dir) = cluster(&[]);
    let h = common::Http::new(&orca.url);
    let _a = common::Agent::start(&nats.url(), "verbs-node", &dir.path().join("agent"), &[]);
    common::wait_node_ready(&h, "verbs-node");
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/manifests/quickstart.yaml");
    let run = |args: &[&str]| {
        let (code, out, err) = orcactl(&orca.url, args, None);
        assert_eq!(code, 0, "orcactl {}: {out}{err}", args.join(" "));
        out
    };
    run(&["apply", "-f", manifest]);
    run(&[
        "wait",
        "--for=condition=Available",
        "deploy/web",
        "-n",
        "demo",
        "--timeout=60s",
    ]);

    // get all, several kinds with KIND/NAME, JSONPath and custom columns.
    let all = run(&["get", "all", "-n", "demo"]);
    assert!(
        all.contains("deployment.apps/web") && all.contains("service/web") && all.contains("pod/web-"),
        "{all}"
    );
    let names = run(&["get", "deploy,svc", "-n", "demo", "-o", "name"]);
    assert_eq!(names, "deployment.apps/web\nservice/hello\nservice/web\n");
    let pods = run(&[
        "get",
        "pods",
        "-n",
        "demo",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.status.phase}{\"\\n\"}{end}",
    ]);
    assert!(
        pods.lines().count() >= 2 && pods.lines().all(|l| l.ends_with("=Running")),
        "{pods}"
    );
    let ready = run(&[
        "get",
        "deploy",
        "web",
        "-n",
        "demo",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
    ]);
    assert_eq!(ready, "True");
    let cols = run(&[
        "get",
        "deploy",
        "-n",
        "demo",
        "-o",
        "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas",
    ]);
    assert_eq!(
        cols.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        [["NAME", "REPLICAS"], ["web", "2"]]
    );

    // label, annotate, patch (three kinds), edit, wait.
    assert_eq!(
        run(&["label", "deploy", "web", "-n", "demo", "tier=front"]),
        "deployment.apps/web labeled\n"
    );
    let (code, _, err) = orcactl(&orca.url, &["label", "deploy/web", "-n", "demo", "tier=back"], None);
    assert!(code != 0 && err.contains("--overwrite is false"), "{err}");
    run(&["label", "deploy/web", "-n", "demo", "tier=back", "--overwrite"]);
    assert_eq!(
        run(&["get", "deploy", "-n", "demo", "-l", "tier=back", "-o", "name"]),
        "deployment.apps/web\n"
    );
    run(&["label", "deploy", "web", "-n", "demo", "tier-"]);
    run(&["annotate", "deploy", "web", "-n", "demo", "note=hello"]);
    run(&[
        "patch",
        "deploy",
        "web",
        "-n",
        "demo",
        "-p",
        "{\"spec\":{\"replicas\":3}}",
    ]);
    run(&[
        "patch",
        "deploy",
        "web",
        "-n",
        "demo",
        "--type",
        "merge",
        "-p",
        "{\"spec\":{\"minReadySeconds\":1}}",
    ]);
    run(&[
        "patch",
        "deploy",
        "web",
        "-n",
        "demo",
        "--type",
        "json",
        "-p",
        "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":1}]",
    ]);
    assert_eq!(
        run(&[
            "get",
            "deploy",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.replicas} {.spec.minReadySeconds} {.metadata.annotations.note} {.metadata.labels.tier}"
        ]),
        "1 1 hello "
    );
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/replicas: 1/replicas: 2/' \"$1\"\n").unwrap();
    std::process::Command::new("chmod")
        .args(["+x", editor.to_str().unwrap()])
        .status()
        .unwrap();
    let (code, out, err) = orcactl_env(
        &orca.url,
        &["edit", "deploy", "web", "-n", "demo"],
        &[("EDITOR", editor.to_str().unwrap())],
    );
    assert_eq!((code, out.as_str()), (0, "deployment.apps/web edited\n"), "{err}");
    assert_eq!(
        run(&["get", "deploy", "web", "-n", "demo", "-o", "jsonpath={.spec.replicas}"]),
        "2"
    );
    assert!(run(&[
        "wait",
        "--for=jsonpath={.status.readyReplicas}=2",
        "deploy/web",
        "-n",
        "demo",
        "--timeout=60s"
    ])
    .contains("condition met"));
    run(&["delete", "pod", "hello-web", "-n", "demo"]);
    assert_eq!(
        run(&["wait", "--for=delete", "pod/hello-web", "-n", "demo", "--timeout=60s"]),
        "pod/hello-web condition met\n"
    );

    // logs -f ends with the container; exec with stdin, and on a terminal (util-linux `script`).
    let counter = "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"counter\", \"namespace\": \"demo\"}, \"spec\": {\"restartPolicy\": \"Never\", \"containers\": [{\"name\": \"c\", \"image\": \"busybox\", \"command\": [\"sh\", \"-c\", \"for i in 1 2 3; do echo line $i; sleep 0.3; done\"]}]}}";
    let (code, _, err) = orcactl(&orca.url, &["apply", "-f", "-"], Some(counter));
    assert_eq!(code, 0, "{err}");
    let started = std::time::Instant::now();
    assert_eq!(
        run(&["logs", "-f", "counter", "-n", "demo"]),
        "line 1\nline 2\nline 3\n"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let pod = run(&[
        "get",
        "pods",
        "-n",
        "demo",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let (code, out, err) = orcactl(
        &orca.url,
        &[
            "exec",
            "-i",
            "-n",
            "demo",
            &pod,
            "--",
            "sh",
            "-c",
            "read x; echo got $x; exit 3",
        ],
        Some("hello\n"),
    );
    assert_eq!((code, out.as_str()), (3, "got hello\n"), "{err}");
    let shell = format!(
        "stty cols 77 rows 21; {} --server {} exec -it -n demo {pod} -- sh",
        env!("CARGO_BIN_EXE_orcactl"),
        orca.url
    );
    let mut script = std::process::Command::new("script")
        .args(["-qfc", &shell, "/dev/null"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("exec -it needs util-linux script (bsdutils) for a terminal");
    {
        use std::io::Write;
        let mut input = script.stdin.take().unwrap();
        input.write_all(b"tty; stty size; exit 7\n").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    let text = String::from_utf8_lossy(&script.wait_with_output().unwrap().stdout).replace('\r', "");
    assert!(text.contains("/dev/pts/") && text.contains("21 77"), "{text}");
    assert!(text.contains("command terminated with exit code 7"), "{text}");

    // describe a kind without a name, with its events grouped.
    let described = run(&["describe", "deploy", "-n", "demo"]);
    assert!(
        described.contains("Name:         web") && described.contains("ScalingReplicaSet"),
        "{described}"
    );

    // Discovery: explain, api-resources, api-versions, cluster-info, completion.
    let explain = run(&["explain", "deployment.spec.replicas"]);
    assert!(
        explain.contains("KIND:       Deployment") && explain.contains("FIELD: replicas <integer>"),
        "{explain}"
    );
    let resources = run(&["api-resources"]);
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["deployments", "deploy", "apps/v1", "true", "Deployment"]),
        "{resources}"
    );
    assert!(run(&["api-versions"]).lines().any(|l| l == "apps/v1"));
    assert!(run(&["cluster-info"]).contains(&format!("running at {}", orca.url)));
    assert!(run(&["completion", "bash"]).contains("_orcactl()"));

    // kubeconfig: the server and namespace of its current context, and use-context.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: orca\n  cluster:\n    server: {}\n- name: gone\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: demo\n  context: {{cluster: orca, user: u, namespace: demo}}\n- name: other\n  context: {{cluster: gone, user: u}}\ncurrent-context: demo\nusers:\n- name: u\n  user: {{}}\n", orca.url),
    )
    .unwrap();
    let with_config = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_orcactl"))
            .args(args)
            .env_remove("ORCA_SERVER")
            .env("ORCA_HOME", dir.path().join("no-orca-home"))
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = with_config(&["get", "deploy", "-o", "name"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "deployment.apps/web\n"),
        "the context's server and namespace: {err}"
    );
    let (_, out, _) = with_config(&["config", "use-context", "other"]);
    assert_eq!(out, "Switched to context \"other\".\n");
    assert_eq!(with_config(&["config", "current-context"]).1, "other\n");

    // Errors as kubectl prints them, and the nearest name for a mistyped kind.
    let (code, _, err) = orcactl(&orca.url, &["get", "pod", "nope", "-n", "demo"], None);
    assert_eq!(
        (code, err.trim()),
        (1, "Error from server (NotFound): pods \"nope\" not found")
    );
    let (_, _, err) = orcactl(&orca.url, &["get", "deploymnt"], None);
    assert!(err.contains("did you mean \"deployment\""), "{err}");
    let (_, _, err) = orcactl(&orca.url, &["gett", "pods"], None);
    assert!(err.contains("similar subcommand") && err.contains("get"), "{err}");
}
