//! Authentication and authorization end to end: a TLS server (the default), anonymous callers,
//! client certificates, ServiceAccount and static tokens, RBAC's default roles, the actor the log
//! records, and the kubeconfig `orca up` writes, used by the real kubectl.

mod common;

use common::{cluster, wait_for, Cred, Http};
use serde_json::json;

const NS: &str = "/api/v1/namespaces";

#[test]
fn without_credentials_only_health_and_version_answer() {
    let (_nats, orca, _dir) = cluster(&["--secure"]);
    assert!(orca.url.starts_with("https://"), "{}", orca.url);
    let anon = Http::tls(&orca.url, &orca.pki("ca.crt"), Cred::None);
    for open in ["/healthz", "/livez", "/readyz", "/version"] {
        assert_eq!(anon.get(open).status, 200, "{open}");
    }
    for path in [
        "/api",
        "/apis",
        "/api/v1",
        "/apis/apps/v1",
        "/openapi/v2",
        "/openapi/v3",
        "/api/v1/pods",
        "/api/v1/namespaces/default/secrets",
        "/api/v1/namespaces/default/pods/x/exec?command=id",
        "/api/v1/nodes",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "/no/such/path",
    ] {
        let r = anon.get(path);
        assert_eq!(r.status, 401, "{path}: {}", r.text);
        assert_eq!(r.body["reason"], "Unauthorized", "{path}");
    }
    let r = anon.post(&format!("{NS}/default/configmaps"), &common::configmap("c", "v"));
    assert_eq!(r.status, 401);
    // A token the cluster did not sign is refused, not taken for anonymous.
    let forged = Http::tls(&orca.url, &orca.pki("ca.crt"), Cred::Token("not-a-token".into()));
    assert_eq!(forged.get("/version").status, 401);
    // Plain HTTP to the TLS port gets nothing.
    let plain = orca.url.replace("https://", "http://");
    let plain_answer = reqwest::blocking::get(format!("{plain}/api/v1/pods"));
    assert!(plain_answer.map_or(true, |r| r.status().as_u16() != 200));
    // A client certificate from another CA does not get through.
    let other = tempfile::tempdir().unwrap();
    let pki = orca_actors::auth::pki::Pki::ensure(other.path(), &["localhost".into()]).unwrap();
    let foreign = pki.issue_client("intruder", Some("system:masters")).unwrap();
    let intruder = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(orca.pki("ca.crt").as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(format!("{}{}", foreign.cert_pem, foreign.key_pem).as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = intruder
        .get(format!("{}/api/v1/namespaces/default/secrets", orca.url))
        .send();
    assert!(
        r.is_err(),
        "a certificate of another CA got an answer: {:?}",
        r.map(|r| r.status())
    );
}

fn token_for(admin: &Http, ns: &str, sa: &str) -> String {
    let r = admin.post(&format!("{NS}/{ns}/serviceaccounts/{sa}/token"), &json!({"spec": {}}));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["status"]["token"].as_str().unwrap().to_string()
}

#[test]
fn rbac_grants_what_the_bindings_say_and_the_log_names_the_caller() {
    let (_nats, orca, _dir) = cluster(&["--secure"]);
    let admin = orca.admin();
    assert_eq!(admin.post(NS, &json!({"metadata": {"name": "team"}})).status, 201);
    let sa = json!({"metadata": {"name": "reader"}});
    assert_eq!(admin.post(&format!("{NS}/team/serviceaccounts"), &sa).status, 201);
    let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "readers"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader"}]});
    let r = admin.post("/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", &rb);
    assert_eq!(r.status, 201, "{}", r.text);
    let cm = common::configmap("settings", "v");
    assert_eq!(admin.post(&format!("{NS}/team/configmaps"), &cm).status, 201);

    let token = token_for(&admin, "team", "reader");
    let reader = Http::tls(&orca.url, &orca.pki("ca.crt"), Cred::Token(token));
    assert_eq!(reader.get(&format!("{NS}/team/configmaps/settings")).status, 200);
    assert_eq!(reader.get(&format!("{NS}/team/pods")).status, 200);
    assert_eq!(
        reader.get("/apis/apps/v1").status,
        200,
        "discovery for every authenticated user"
    );
    for (what, r) in [
        (
            "create",
            reader.post(&format!("{NS}/team/configmaps"), &common::configmap("x", "y")),
        ),
        ("delete", reader.delete(&format!("{NS}/team/configmaps/settings"))),
        ("read Secrets", reader.get(&format!("{NS}/team/secrets"))),
        ("another namespace", reader.get(&format!("{NS}/default/configmaps"))),
        ("cluster scope", reader.get("/api/v1/nodes")),
        (
            "exec",
            reader.post(&format!("{NS}/team/pods/p/exec"), &json!({"command": ["id"]})),
        ),
    ] {
        assert_eq!(r.status, 403, "{what}: {}", r.text);
        assert_eq!(r.body["reason"], "Forbidden", "{what}");
    }
    let r = reader.delete(&format!("{NS}/team/configmaps/settings"));
    assert_eq!(
        r.body["message"],
        "configmaps \"settings\" is forbidden: User \"system:serviceaccount:team:reader\" cannot delete resource \"configmaps\" in API group \"\" in the namespace \"team\""
    );
    let review = |h: &Http, verb: &str, resource: &str| {
        let r = h.post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &json!({"spec": {"resourceAttributes": {"namespace": "team", "verb": verb, "resource": resource}}}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["status"]["allowed"].as_bool().unwrap()
    };
    assert!(review(&reader, "list", "pods"));
    assert!(!review(&reader, "create", "pods"));
    assert!(review(&admin, "create", "pods"));
    let who = reader.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", &json!({}));
    assert_eq!(
        who.body["status"]["userInfo"]["username"],
        "system:serviceaccount:team:reader"
    );

    // The log records the authenticated caller (no header names it).
    let mut cm = admin.get(&format!("{NS}/team/configmaps/settings")).body;
    cm["data"]["v"] = json!("changed");
    let r = admin.req(
        "PUT",
        &format!("{NS}/team/configmaps/settings"),
        "application/json",
        Some(serde_json::to_vec(&cm).unwrap()),
    );
    assert_eq!(r.status, 200);
    let history = admin
        .get("/apis/orca.dev/v1/history?kind=ConfigMap&namespace=team&name=settings")
        .body;
    let actors: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["orca-admin", "orca-admin"], "{history}");

    // Binding edit to a group lets its members write; deleting the ServiceAccount ends its tokens.
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "editors"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "Group", "name": "system:serviceaccounts:team"}]});
    let r = admin.post("/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", &crb);
    assert_eq!(r.status, 201, "{}", r.text);
    let r = reader.post(&format!("{NS}/team/configmaps"), &common::configmap("x", "y"));
    assert_eq!(r.status, 201, "edit through the group: {}", r.text);
    assert_eq!(
        reader.get(&format!("{NS}/team/secrets")).status,
        200,
        "edit reads Secrets"
    );
    assert_eq!(admin.delete(&format!("{NS}/team/serviceaccounts/reader")).status, 200);
    wait_for(10, "the deleted ServiceAccount's token to stop working", || {
        reader.get(&format!("{NS}/team/pods")).status == 401
    });
    // A roleRef cannot change.
    let mut b = admin
        .get("/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/editors")
        .body;
    b["roleRef"]["name"] = json!("admin");
    let r = admin.put(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/editors",
        &b,
    );
    assert_eq!(r.status, 422, "{}", r.text);
}

#[test]
fn static_tokens_name_users_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    std::fs::write(&file, "s3cret,alice,u-alice,\"ops\"\n").unwrap();
    let (_nats, orca, _d) = cluster(&["--secure", "--token-auth-file", file.to_str().unwrap()]);
    let admin = orca.admin();
    let alice = Http::tls(&orca.url, &orca.pki("ca.crt"), Cred::Token("s3cret".into()));
    assert_eq!(alice.get("/api/v1/nodes").status, 403);
    let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ops-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "ops"}]});
    let r = admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", &crb);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(alice.get("/api/v1/nodes").status, 200);
    let who = alice.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", &json!({}));
    assert_eq!(who.body["status"]["userInfo"]["username"], "alice");
    assert_eq!(who.body["status"]["userInfo"]["uid"], "u-alice");
}

#[test]
fn insecure_http_is_for_loopback_only() {
    let nats = orca_actors::cluster::natsd::NatsServer::start(None).expect("nats-server");
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orca"))
        .args([
            "server",
            "--insecure-http",
            "--listen",
            "0.0.0.0:0",
            "--nats",
            &nats.url(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only on loopback"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn orca_up_writes_a_kubeconfig_kubectl_uses() {
    common::require_kubectl();
    let home = tempfile::tempdir().unwrap();
    let port = common::free_port().unwrap();
    let mut up = std::process::Command::new(env!("CARGO_BIN_EXE_orca"))
        .args([
            "up",
            "--no-agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(home.path().join("data"))
        .env("ORCA_HOME", home.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    wait_for(30, "kubectl to reach orca up over TLS", || {
        kubectl(&["get", "ns", "default"]).0
    });
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&kubeconfig).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "the kubeconfig holds a private key: owner only");
    let (ok, who) = kubectl(&["auth", "whoami"]);
    assert!(
        ok && who.contains("orca-admin") && who.contains("system:masters"),
        "{who}"
    );
    let (ok, text) = kubectl(&["create", "serviceaccount", "bot"]);
    assert!(ok, "{text}");
    let (ok, token) = kubectl(&["create", "token", "bot"]);
    assert!(ok && token.starts_with("ey"), "{token}");
    let (ok, text) = kubectl(&["get", "pods", "--token", token.trim(), "--as", ""]);
    assert!(ok, "{text}");
    let (ok, can) = kubectl(&["auth", "can-i", "create", "pods"]);
    assert!(ok && can.trim() == "yes", "{can}");
    let _ = up.kill();
    let _ = up.wait();
}

#[test]
fn roles_and_bindings_grant_only_what_their_author_holds() {
    let (_nats, orca, _dir) = cluster(&["--secure"]);
    let admin = orca.admin();
    assert_eq!(admin.post(NS, &json!({"metadata": {"name": "tenant"}})).status, 201);
    let sa = json!({"metadata": {"name": "owner"}});
    assert_eq!(admin.post(&format!("{NS}/tenant/serviceaccounts"), &sa).status, 201);
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    let binding = |name: &str, kind: &str, role: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "owner", "namespace": "tenant"}]})
    };
    let r = admin.post(
        &format!("{rbac}/namespaces/tenant/rolebindings"),
        &binding("owner-admin", "ClusterRole", "admin"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let owner = Http::tls(
        &orca.url,
        &orca.pki("ca.crt"),
        Cred::Token(token_for(&admin, "tenant", "owner")),
    );

    // The namespace's admin binds what it holds (view, edit) in its namespace...
    let r = owner.post(
        &format!("{rbac}/namespaces/tenant/rolebindings"),
        &binding("also-view", "ClusterRole", "view"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // ...but not cluster-admin, which holds more than admin does.
    let r = owner.post(
        &format!("{rbac}/namespaces/tenant/rolebindings"),
        &binding("grab", "ClusterRole", "cluster-admin"),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.text
            .contains("is attempting to grant RBAC permissions not currently held"),
        "{}",
        r.text
    );
    // A Role with a rule it holds is fine; one reaching nodes (cluster-scoped, not held) is not,
    // by create or by a patch that adds the rule.
    let role = |name: &str, rules: serde_json::Value| json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}, "rules": rules});
    let held = json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]);
    let r = owner.post(&format!("{rbac}/namespaces/tenant/roles"), &role("r", held));
    assert_eq!(r.status, 201, "{}", r.text);
    let more = json!([{"apiGroups": [""], "resources": ["configmaps", "nodes"], "verbs": ["get"]}]);
    let r = owner.post(&format!("{rbac}/namespaces/tenant/roles"), &role("r2", more.clone()));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("Resources:[\\\"nodes\\\"]"), "{}", r.text);
    let r = owner.patch(
        &format!("{rbac}/namespaces/tenant/roles/r"),
        "application/merge-patch+json",
        &json!({"rules": more}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    // The cluster's admin may do all of it; so may one granted `bind` on the role.
    let r = admin.post(
        &format!("{rbac}/namespaces/tenant/rolebindings"),
        &binding("grab", "ClusterRole", "cluster-admin"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        admin
            .delete(&format!("{rbac}/namespaces/tenant/rolebindings/grab"))
            .status,
        200
    );
    let binder = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "bind-cluster-admin"},
        "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["cluster-admin"]}]});
    assert_eq!(admin.post(&format!("{rbac}/clusterroles"), &binder).status, 201);
    let r = admin.post(
        &format!("{rbac}/namespaces/tenant/rolebindings"),
        &binding("may-bind", "ClusterRole", "bind-cluster-admin"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = owner.post(
        &format!("{rbac}/namespaces/tenant/rolebindings"),
        &binding("grab", "ClusterRole", "cluster-admin"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn subject_access_reviews_ask_about_another_user() {
    let (_nats, orca, _dir) = cluster(&["--secure"]);
    let admin = orca.admin();
    assert_eq!(admin.post(NS, &json!({"metadata": {"name": "tenant"}})).status, 201);
    let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "bob-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "User", "name": "bob"}]});
    let r = admin.post("/apis/rbac.authorization.k8s.io/v1/namespaces/tenant/rolebindings", &rb);
    assert_eq!(r.status, 201, "{}", r.text);
    let sar = |spec: serde_json::Value| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec});
    let ask = |path: &str, spec: serde_json::Value| {
        let r = admin.post(path, &sar(spec));
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["status"]["allowed"] == true
    };
    let cluster_wide = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    assert!(ask(
        cluster_wide,
        json!({"user": "bob", "resourceAttributes": {"namespace": "tenant", "verb": "delete", "group": "apps", "resource": "deployments"}})
    ));
    assert!(!ask(
        cluster_wide,
        json!({"user": "bob", "resourceAttributes": {"namespace": "other", "verb": "get", "resource": "pods"}})
    ));
    assert!(!ask(
        cluster_wide,
        json!({"user": "bob", "resourceAttributes": {"verb": "list", "resource": "nodes"}})
    ));
    assert!(ask(
        cluster_wide,
        json!({"user": "carol", "groups": ["system:masters"], "resourceAttributes": {"verb": "list", "resource": "nodes"}})
    ));
    let local = "/apis/authorization.k8s.io/v1/namespaces/tenant/localsubjectaccessreviews";
    assert!(ask(
        local,
        json!({"user": "bob", "resourceAttributes": {"verb": "create", "resource": "configmaps"}})
    ));
    let r = admin.post(
        cluster_wide,
        &sar(json!({"resourceAttributes": {"verb": "get", "resource": "pods"}})),
    );
    assert_eq!(r.status, 422, "{}", r.text);
    let who = admin.get("/apis/authorization.k8s.io/v1");
    let names: Vec<&str> = who.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"subjectaccessreviews") && names.contains(&"localsubjectaccessreviews"),
        "{names:?}"
    );
}
