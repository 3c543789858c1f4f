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
