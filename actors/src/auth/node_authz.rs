//! The node authorizer (Kubernetes' NodeRestriction idea): a node agent may read what nodes
//! read (pods, nodes, Services and their endpoints, Ingresses, volumes), read a ConfigMap or
//! Secret only when a pod bound to it uses it (or, as the node serves Ingress, when an Ingress
//! names it for TLS), and write only its own Node, its own pods, their status, events and the
//! volumes it provisions.

use serde_json::Value;

use super::Attributes;
use crate::eventlog::projection::Projection;

/// The prefix of node users.
pub const NODE_PREFIX: &str = "system:node:";
/// The group of node users.
pub const NODES_GROUP: &str = "system:nodes";

/// Kinds every node reads.
const READABLE: &[&str] = &[
    "pods",
    "nodes",
    "services",
    "endpoints",
    "endpointslices",
    "ingresses",
    "ingressclasses",
    "namespaces",
    "persistentvolumes",
    "persistentvolumeclaims",
    "storageclasses",
];

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete"];

/// Names of the Secrets (or ConfigMaps, `key` "configMap") a pod's spec refers to.
fn references(pod: &Value, secrets: bool) -> Vec<String> {
    let mut out = Vec::new();
    let spec = &pod["spec"];
    let (vol_key, name_key, env_ref, env_from) = if secrets {
        ("secret", "secretName", "secretKeyRef", "secretRef")
    } else {
        ("configMap", "name", "configMapKeyRef", "configMapRef")
    };
    let mut push = |v: &Value| {
        if let Some(n) = v.as_str() {
            out.push(n.to_string());
        }
    };
    for v in spec["volumes"].as_array().into_iter().flatten() {
        push(&v[vol_key][name_key]);
        for s in v["projected"]["sources"].as_array().into_iter().flatten() {
            push(&s[vol_key]["name"]);
        }
    }
    for c in ["containers", "initContainers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten())
    {
        for e in c["env"].as_array().into_iter().flatten() {
            push(&e["valueFrom"][env_ref]["name"]);
        }
        for e in c["envFrom"].as_array().into_iter().flatten() {
            push(&e[env_from]["name"]);
        }
    }
    if secrets {
        for s in spec["imagePullSecrets"].as_array().into_iter().flatten() {
            push(&s["name"]);
        }
        // The token Secret of its ServiceAccount, which the node mounts into it.
        if spec["automountServiceAccountToken"] != false {
            out.push(crate::controllers::service_accounts::token_secret(
                crate::pod::service_account::account(pod),
            ));
        }
    }
    out
}

fn bound_to(p: &Projection, ns: &str, pod: &str, node: &str) -> bool {
    p.get("Pod", ns, pod)
        .is_some_and(|ev| serde_json::from_slice::<Value>(&ev.json).is_ok_and(|v| v["spec"]["nodeName"] == node))
}

/// Whether a pod bound to `node` (or, for Secrets, an Ingress's TLS) uses the object.
fn used_on(p: &Projection, node: &str, ns: &str, name: &str, secrets: bool) -> bool {
    let pods = p.list("Pod", Some(ns)).into_iter().any(|ev| {
        serde_json::from_slice::<Value>(&ev.json)
            .is_ok_and(|v| v["spec"]["nodeName"] == node && references(&v, secrets).iter().any(|r| r == name))
    });
    pods || (secrets
        && p.list("Ingress", Some(ns)).into_iter().any(|ev| {
            serde_json::from_slice::<Value>(&ev.json).is_ok_and(|v| {
                v["spec"]["tls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| t["secretName"] == name)
            })
        }))
}

/// Decides a request of node `node`.
pub fn decide(p: &Projection, node: &str, a: &Attributes) -> Result<(), String> {
    let deny = || {
        Err(format!(
            "node \"{node}\" cannot {} {}{} {}",
            a.verb,
            a.resource,
            if a.subresource.is_empty() {
                String::new()
            } else {
                format!("/{}", a.subresource)
            },
            if a.name.is_empty() {
                String::new()
            } else {
                format!("\"{}\"", a.name)
            }
        ))
    };
    if !a.resource_request {
        return if a.verb == "get" { Ok(()) } else { deny() };
    }
    let verb = a.verb.as_str();
    let allowed = match (a.resource.as_str(), a.subresource.as_str()) {
        (r, "") if READABLE.contains(&r) && READ.contains(&verb) => true,
        ("secrets", "") | ("configmaps", "") => {
            verb == "get" && used_on(p, node, &a.namespace, &a.name, a.resource == "secrets")
        }
        ("nodes", "" | "status") => {
            WRITE.contains(&verb) && (a.name == node || (verb == "create" && a.name.is_empty()))
        }
        ("pods", "" | "status") => {
            matches!(verb, "update" | "patch" | "delete") && bound_to(p, &a.namespace, &a.name, node)
                // A pod that is gone already: its node confirming the delete hears 404, as a
                // kubelet does, instead of a 403 it would retry.
                || (verb == "delete" && a.subresource.is_empty() && p.get("Pod", &a.namespace, &a.name).is_none())
        }
        ("events", "") => matches!(verb, "create" | "patch" | "update"),
        // The local-path provisioner runs in the agent: it makes volumes and binds claims.
        ("persistentvolumes", "") => WRITE.contains(&verb),
        ("persistentvolumeclaims", "") => matches!(verb, "patch" | "update"),
        ("persistentvolumes" | "persistentvolumeclaims", "status") => matches!(verb, "get" | "patch" | "update"),
        ("ingresses", "status") => matches!(verb, "patch" | "update" | "get"),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        deny()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::attributes::of_request;
    use crate::eventlog::event::EventMeta;
    use crate::eventlog::{Event, EventType};
    use serde_json::json;

    fn put(p: &mut Projection, rev: u64, kind: &str, ns: &str, name: &str, obj: Value) {
        let meta = EventMeta {
            revision: rev,
            time_ms: 0,
            actor: String::new(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            uid: String::new(),
            event_type: EventType::Added,
            create_revision: rev,
            prev_revision: 0,
        };
        p.apply(&std::sync::Arc::new(Event::new(meta, &obj)));
    }

    #[test]
    fn a_node_reads_only_what_its_pods_use_and_writes_only_its_own() {
        let mut p = Projection::default();
        put(
            &mut p,
            1,
            "Pod",
            "d",
            "mine",
            json!({"spec": {"nodeName": "n1",
            "volumes": [{"name": "v", "secret": {"secretName": "s1"}}],
            "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm1"}}]}]}}),
        );
        put(
            &mut p,
            2,
            "Pod",
            "d",
            "theirs",
            json!({"spec": {"nodeName": "n2",
            "volumes": [{"name": "v", "secret": {"secretName": "s2"}}]}}),
        );
        let can = |m: &str, path: &str| decide(&p, "n1", &of_request(m, path, "")).is_ok();
        assert!(can("GET", "/api/v1/namespaces/d/secrets/s1"));
        assert!(
            !can("GET", "/api/v1/namespaces/d/secrets/s2"),
            "another node's pod's Secret"
        );
        assert!(!can("GET", "/api/v1/namespaces/d/secrets"), "no listing Secrets");
        assert!(can("GET", "/api/v1/namespaces/d/configmaps/cm1"));
        assert!(can("GET", "/api/v1/pods"));
        assert!(can("PATCH", "/api/v1/namespaces/d/pods/mine/status"));
        assert!(!can("PATCH", "/api/v1/namespaces/d/pods/theirs/status"));
        assert!(!can("DELETE", "/api/v1/namespaces/d/pods/theirs"));
        assert!(
            can("DELETE", "/api/v1/namespaces/d/pods/gone"),
            "a pod that is gone: 404 follows"
        );
        assert!(!can("PATCH", "/api/v1/namespaces/d/pods/gone"));
        assert!(can("PATCH", "/api/v1/nodes/n1/status"));
        assert!(!can("PATCH", "/api/v1/nodes/n2/status"));
        assert!(can("POST", "/api/v1/nodes"));
        assert!(!can("POST", "/api/v1/namespaces/d/pods"), "nodes do not create pods");
        assert!(!can("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"));
    }
}
