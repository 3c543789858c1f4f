//! Table-driven validation: good manifests pass (with defaults), bad ones report every field path.

use orca_schemas::{admit, lookup, validate_update};
use serde_json::{json, Value};

fn admit_kind(kind: &str, v: Value) -> Result<Value, Vec<String>> {
    let rt = lookup(kind).unwrap();
    admit(rt, v)
        .map(|a| a.object)
        .map_err(|errs| errs.into_iter().map(|e| e.field).collect())
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn deployment(replicas: Value, selector: Value, labels: Value, containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
      "spec": {"replicas": replicas, "selector": selector,
        "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}})
}

#[test]
fn good_manifests_pass() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "Pod",
            pod(json!({"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"]}]})),
        ),
        (
            "Deployment",
            deployment(
                json!(3),
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "web"}),
                json!([{"name": "c", "image": "nginx:1.25"}]),
            ),
        ),
        (
            "Service",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        ),
        (
            "ConfigMap",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a.conf": "x"}}),
        ),
        (
            "Secret",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}),
        ),
        (
            "Namespace",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        ),
        (
            "Job",
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
        ),
        (
            "Ingress",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}, "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
        ),
        (
            "PersistentVolumeClaim",
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        ),
        (
            "Pod",
            json!({"metadata": {"generateName": "p-"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
        ),
    ];
    for (kind, manifest) in cases {
        if let Err(e) = admit_kind(kind, manifest.clone()) {
            panic!("{kind} {manifest} rejected: {e:?}");
        }
    }
}

#[test]
fn bad_manifests_report_every_field_path() {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("Pod", pod(json!({"containers": []})), vec!["spec.containers"]),
        (
            "Pod",
            pod(json!({"restartPolicy": "Sometimes", "containers": [
                {"name": "Bad_Name", "ports": [{"containerPort": 70000, "protocol": "XTP"}]},
                {"name": "b", "image": "x", "env": [{"name": "1X"}], "resources": {"requests": {"cpu": "lots"}}},
                {"name": "b", "image": "x", "volumeMounts": [{"name": "nope", "mountPath": "/d"}]}]})),
            vec![
                "spec.containers[0].name",
                "spec.containers[0].image",
                "spec.containers[0].ports[0].containerPort",
                "spec.containers[0].ports[0].protocol",
                "spec.containers[1].env[0].name",
                "spec.containers[1].resources.requests[cpu]",
                "spec.containers[2].name",
                "spec.containers[2].volumeMounts[0].name",
                "spec.restartPolicy",
            ],
        ),
        (
            "Pod",
            pod(
                json!({"containers": [{"name": "c", "image": "x", "livenessProbe": {"periodSeconds": 0}, "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}]}),
            ),
            vec![
                "spec.containers[0].livenessProbe",
                "spec.containers[0].livenessProbe.periodSeconds",
                "spec.containers[0].readinessProbe",
            ],
        ),
        (
            "Pod",
            json!({"metadata": {"name": "UPPER", "labels": {"bad key!": "v"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            vec!["metadata.name", "metadata.labels"],
        ),
        (
            "Pod",
            json!({"metadata": {}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            vec!["metadata.name"],
        ),
        (
            "Deployment",
            deployment(
                json!(-1),
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "other"}),
                json!([{"name": "c"}]),
            ),
            vec![
                "spec.replicas",
                "spec.template.metadata.labels",
                "spec.template.spec.containers[0].image",
            ],
        ),
        (
            "Deployment",
            json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}),
            vec!["spec.selector"],
        ),
        (
            "Service",
            json!({"metadata": {"name": "1svc"}, "spec": {"type": "Magic", "ports": [{"port": 0}, {"port": 80}]}}),
            vec![
                "metadata.name",
                "spec.type",
                "spec.ports[0].port",
                "spec.ports[0].name",
                "spec.ports[1].name",
            ],
        ),
        (
            "ConfigMap",
            json!({"metadata": {"name": "c"}, "data": {"bad/key": "x"}}),
            vec!["data"],
        ),
        (
            "Secret",
            json!({"metadata": {"name": "s"}, "data": {"k": "not base64!"}}),
            vec!["data[k]"],
        ),
        (
            "Job",
            json!({"metadata": {"name": "j"}, "spec": {"completions": -1, "template": {"spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "x"}]}}}}),
            vec!["spec.template.spec.restartPolicy", "spec.completions"],
        ),
        (
            "Ingress",
            json!({"metadata": {"name": "i"}, "spec": {"rules": [{"http": {"paths": [{"path": "x", "backend": {"service": {"name": "web", "port": {}}}}]}}]}}),
            vec![
                "spec.rules[0].http.paths[0].pathType",
                "spec.rules[0].http.paths[0].path",
                "spec.rules[0].http.paths[0].backend.service.port",
            ],
        ),
        (
            "PersistentVolumeClaim",
            json!({"metadata": {"name": "c"}, "spec": {}}),
            vec!["spec.accessModes", "spec.resources.requests[storage]"],
        ),
        (
            "Pod",
            json!({"apiVersion": "apps/v1", "metadata": {"name": "p"}}),
            vec!["apiVersion"],
        ),
        (
            "Pod",
            json!({"metadata": {"name": "p"}, "spec": {"containers": "oops"}}),
            vec!["spec.containers"],
        ),
    ];
    for (kind, manifest, mut want) in cases {
        let mut got = admit_kind(kind, manifest.clone()).expect_err(&format!("{kind} {manifest} should be rejected"));
        got.sort();
        want.sort();
        assert_eq!(got, want, "{kind} {manifest}");
    }
}

#[test]
fn defaults_follow_kubernetes() {
    let d = admit_kind(
        "Deployment",
        deployment(
            Value::Null,
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
            json!([{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]),
        ),
    )
    .unwrap();
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    let ps = &d["spec"]["template"]["spec"];
    assert_eq!(ps["restartPolicy"], "Always");
    assert_eq!(ps["terminationGracePeriodSeconds"], 30);
    assert_eq!(ps["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(ps["containers"][0]["ports"][0]["protocol"], "TCP");
    let s = admit_kind(
        "Service",
        json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .unwrap();
    assert_eq!(s["spec"]["type"], "ClusterIP");
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
    let sec = admit_kind(
        "Secret",
        json!({"metadata": {"name": "s"}, "stringData": {"u": "admin"}}),
    )
    .unwrap();
    assert_eq!(sec["data"]["u"], "YWRtaW4=");
    assert_eq!(sec["type"], "Opaque");
    assert!(sec.get("stringData").is_none());
}

#[test]
fn unknown_fields_round_trip_and_warn() {
    let rt = lookup("Pod").unwrap();
    let manifest = pod(
        json!({"containers": [{"name": "c", "image": "x", "securityContext": {"runAsUser": 1000}}], "runtimeClassName": "gvisor"}),
    );
    let admitted = admit(rt, manifest).unwrap();
    assert_eq!(admitted.object["spec"]["runtimeClassName"], "gvisor");
    assert_eq!(
        admitted.object["spec"]["containers"][0]["securityContext"]["runAsUser"],
        1000
    );
    let mut w = admitted.warnings.clone();
    w.sort();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("spec.containers[0].securityContext"), "{w:?}");
    assert!(w[1].contains("spec.runtimeClassName"), "{w:?}");
}

#[test]
fn updates_may_not_change_immutable_fields() {
    let rt = lookup("Deployment").unwrap();
    let a = deployment(
        json!(1),
        json!({"matchLabels": {"app": "a"}}),
        json!({"app": "a"}),
        json!([{"name": "c", "image": "x"}]),
    );
    let b = deployment(
        json!(1),
        json!({"matchLabels": {"app": "b"}}),
        json!({"app": "b"}),
        json!([{"name": "c", "image": "x"}]),
    );
    assert_eq!(validate_update(rt, &a, &b).len(), 1);
    assert!(validate_update(rt, &a, &a).is_empty());
    let prt = lookup("Pod").unwrap();
    let p1 = pod(json!({"containers": [{"name": "c", "image": "x"}]}));
    let p2 = pod(json!({"containers": [{"name": "c", "image": "y"}]}));
    let p3 = pod(json!({"containers": [{"name": "c", "image": "x", "command": ["sh"]}]}));
    let p4 = pod(json!({"containers": [{"name": "c", "image": "x"}], "nodeName": "n1"}));
    assert!(validate_update(prt, &p1, &p2).is_empty(), "image may change");
    assert!(validate_update(prt, &p1, &p4).is_empty(), "binding sets nodeName");
    assert_eq!(validate_update(prt, &p1, &p3).len(), 1);
    assert_eq!(validate_update(prt, &p4, &p1).len(), 1, "nodeName may not be unset");
}

#[test]
fn quantities_may_be_yaml_numbers() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests: {cpu: 0.5, memory: 1e9}\n      limits: {cpu: 1, memory: 2e9}\n";
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let pod = admit_kind("Pod", v).unwrap();
    let r = &pod["spec"]["containers"][0]["resources"];
    assert_eq!(r["requests"], json!({"cpu": "500m", "memory": "1000000000"}));
    assert_eq!(r["limits"], json!({"cpu": "1", "memory": "2000000000"}));
    let bad = pod_with_cpu(json!(true));
    assert!(admit_kind("Pod", bad).is_err());
}

fn pod_with_cpu(cpu: Value) -> Value {
    pod(json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]}))
}
