//! The roles every cluster starts with, as Kubernetes bootstraps them: `cluster-admin`, the
//! aggregated `admin`, `edit` and `view`, discovery and self-review for every authenticated user,
//! health and version for everyone.

use serde_json::{json, Value};

const AGG: &str = "rbac.authorization.k8s.io/aggregate-to-";

fn cluster_role(name: &str, labels: Value, rules: Value, aggregate_from: Option<&str>) -> Value {
    let mut r = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels,
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "rules": rules});
    if let Some(from) = aggregate_from {
        r["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {format!("{AGG}{from}"): "true"}}]});
    }
    r
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g}))
        .collect();
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects})
}

const READ: [&str; 3] = ["get", "list", "watch"];
const WRITE: [&str; 7] = ["create", "delete", "deletecollection", "patch", "update", "get", "list"];

/// The read-only view: everything in a namespace but Secrets and roles.
fn view_rules() -> Value {
    json!([
        {"apiGroups": [""], "resources": ["pods", "pods/log", "pods/status", "services", "services/status", "endpoints",
            "configmaps", "persistentvolumeclaims", "persistentvolumeclaims/status", "serviceaccounts", "events",
            "replicationcontrollers", "namespaces", "namespaces/status", "resourcequotas", "limitranges"], "verbs": READ},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "deployments/status", "replicasets",
            "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status",
            "daemonsets", "daemonsets/status"], "verbs": READ},
        {"apiGroups": ["batch"], "resources": ["jobs", "jobs/status", "cronjobs", "cronjobs/status"], "verbs": READ},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingresses/status"], "verbs": READ},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets", "poddisruptionbudgets/status"], "verbs": READ},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ}
    ])
}

fn edit_rules() -> Value {
    let mut verbs: Vec<&str> = WRITE.to_vec();
    verbs.push("watch");
    json!([
        {"apiGroups": [""], "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "pods/eviction",
            "services", "endpoints", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts",
            "serviceaccounts/token", "events"], "verbs": verbs},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "deployments/rollback", "replicasets",
            "replicasets/scale", "statefulsets", "statefulsets/scale", "daemonsets"], "verbs": verbs},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": verbs},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": verbs},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": verbs},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": verbs}
    ])
}

fn admin_rules() -> Value {
    let mut verbs: Vec<&str> = WRITE.to_vec();
    verbs.push("watch");
    json!([
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": verbs},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"], "verbs": ["create"]}
    ])
}

/// Every default ClusterRole and ClusterRoleBinding.
pub fn defaults() -> Vec<Value> {
    let yes = |to: &str| json!({format!("{AGG}{to}"): "true"});
    vec![
        cluster_role(
            "cluster-admin",
            json!({}),
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
            None,
        ),
        cluster_role("admin", json!({}), json!([]), Some("admin")),
        cluster_role("edit", yes("admin"), json!([]), Some("edit")),
        cluster_role("view", yes("edit"), json!([]), Some("view")),
        cluster_role("system:aggregate-to-admin", yes("admin"), admin_rules(), None),
        cluster_role("system:aggregate-to-edit", yes("edit"), edit_rules(), None),
        cluster_role("system:aggregate-to-view", yes("view"), view_rules(), None),
        cluster_role(
            "system:discovery",
            json!({}),
            json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            None,
        ),
        cluster_role(
            "system:basic-user",
            json!({}),
            json!([{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
                {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}]),
            None,
        ),
        cluster_role(
            "system:public-info-viewer",
            json!({}),
            json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            None,
        ),
        binding("cluster-admin", "cluster-admin", &["system:masters"]),
        binding("system:discovery", "system:discovery", &["system:authenticated"]),
        binding("system:basic-user", "system:basic-user", &["system:authenticated"]),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{attributes::of_request, rbac::Policy, Identity};
    use crate::eventlog::event::EventMeta;
    use crate::eventlog::projection::Projection;
    use crate::eventlog::{Event, EventType};

    fn ev(revision: u64, kind: &str, ns: &str, name: &str, obj: &Value) -> std::sync::Arc<Event> {
        let meta = EventMeta {
            revision,
            time_ms: 0,
            actor: String::new(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            uid: String::new(),
            event_type: EventType::Added,
            create_revision: revision,
            prev_revision: 0,
        };
        std::sync::Arc::new(Event::new(meta, obj))
    }

    #[test]
    fn the_default_roles_grant_as_kubernetes_grants() {
        let mut p = Projection::default();
        for (i, obj) in defaults().into_iter().enumerate() {
            let name = obj["metadata"]["name"].as_str().unwrap().to_string();
            let kind = obj["kind"].as_str().unwrap().to_string();
            p.apply(&ev(i as u64 + 1, &kind, "", &name, &obj));
        }
        let viewer = |ns: &str| {
            let b = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "v", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader"}]});
            ev(100, "RoleBinding", ns, "v", &b)
        };
        p.apply(&viewer("team"));
        let policy = Policy::compile(&p);
        let sa = Identity::new("system:serviceaccount:team:reader", "u", vec![]);
        let can = |who: &Identity, m: &str, path: &str| policy.decide(who, &of_request(m, path, "")).is_ok();
        assert!(can(&sa, "GET", "/api/v1/namespaces/team/pods"));
        assert!(can(&sa, "GET", "/apis/apps/v1/namespaces/team/deployments/d"));
        assert!(!can(&sa, "POST", "/api/v1/namespaces/team/pods"), "view cannot write");
        assert!(
            !can(&sa, "GET", "/api/v1/namespaces/team/secrets"),
            "view cannot read Secrets"
        );
        assert!(
            !can(&sa, "GET", "/api/v1/namespaces/other/pods"),
            "only in the binding's namespace"
        );
        assert!(can(&sa, "GET", "/apis/apps/v1"), "discovery for the authenticated");
        assert!(can(
            &sa,
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        ));
        let anon = Identity::anonymous();
        assert!(can(&anon, "GET", "/version"));
        assert!(!can(&anon, "GET", "/api"));
        let admin = Identity::new("root", "", vec!["system:masters".into()]);
        assert!(can(&admin, "DELETE", "/api/v1/nodes/n"));
        let editor = Identity::new("ed", "", vec!["eds".into()]);
        assert!(!can(&editor, "POST", "/api/v1/namespaces/team/pods/p/exec"));
        let e = policy
            .decide(&sa, &of_request("DELETE", "/api/v1/namespaces/team/pods/p", ""))
            .unwrap_err();
        assert_eq!(e, "pods \"p\" is forbidden: User \"system:serviceaccount:team:reader\" cannot delete resource \"pods\" in API group \"\" in the namespace \"team\"");
    }
}
