//! What a request asks to do, in RBAC's terms (Kubernetes' RequestInfo): verb, API group,
//! resource, subresource, namespace and name, or a non-resource path.

/// The attributes RBAC decides on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    pub verb: String,
    pub resource_request: bool,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// The URL path (for non-resource requests).
    pub path: String,
}

/// Subresources that stream a connection into a pod: always `create`, whatever the method
/// (`proxy` keeps its method's verb: `get` on `nodes/proxy` reads an agent's metrics).
const CONNECT: &[&str] = &["exec", "attach", "portforward"];

fn query_flag(query: &str, key: &str) -> bool {
    query
        .split('&')
        .any(|kv| kv == format!("{key}=true") || kv == format!("{key}=1"))
}

/// The attributes of `method path?query`.
pub fn of_request(method: &str, path: &str, query: &str) -> Attributes {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let non_resource = || Attributes {
        verb: method.to_ascii_lowercase(),
        path: path.to_string(),
        ..Default::default()
    };
    let (group, rest) = match segs.as_slice() {
        ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
        _ => return non_resource(),
    };
    let mut parts: Vec<&str> = rest.to_vec();
    let mut watch = false;
    if parts.first() == Some(&"watch") {
        watch = true;
        parts.remove(0);
    }
    let mut namespace = "";
    if parts.first() == Some(&"namespaces") && parts.len() > 1 {
        namespace = parts[1];
        if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
            parts.drain(..2);
        }
    }
    let (resource, name, subresource) = (
        parts.first().copied().unwrap_or(""),
        parts.get(1).copied().unwrap_or(""),
        parts.get(2).copied().unwrap_or(""),
    );
    let verb = match method {
        _ if CONNECT.contains(&subresource) => "create",
        "GET" | "HEAD" if watch || query_flag(query, "watch") => "watch",
        "GET" | "HEAD" if name.is_empty() => "list",
        "GET" | "HEAD" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if name.is_empty() => "deletecollection",
        "DELETE" => "delete",
        other => {
            return Attributes {
                verb: other.to_ascii_lowercase(),
                ..non_resource()
            }
        }
    };
    Attributes {
        verb: verb.to_string(),
        resource_request: true,
        api_group: group.to_string(),
        resource: resource.to_string(),
        subresource: subresource.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        path: path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(method: &str, path: &str, query: &str) -> (String, String, String, String, String, String) {
        let x = of_request(method, path, query);
        (x.verb, x.api_group, x.resource, x.subresource, x.namespace, x.name)
    }

    fn t(v: &str, g: &str, r: &str, s: &str, ns: &str, n: &str) -> (String, String, String, String, String, String) {
        (v.into(), g.into(), r.into(), s.into(), ns.into(), n.into())
    }

    #[test]
    fn requests_read_as_kubernetes_reads_them() {
        assert_eq!(
            a("GET", "/api/v1/namespaces/d/pods", ""),
            t("list", "", "pods", "", "d", "")
        );
        assert_eq!(
            a("GET", "/api/v1/namespaces/d/pods", "watch=true"),
            t("watch", "", "pods", "", "d", "")
        );
        assert_eq!(
            a("GET", "/api/v1/watch/namespaces/d/pods/p", ""),
            t("watch", "", "pods", "", "d", "p")
        );
        assert_eq!(
            a("GET", "/api/v1/namespaces/d/pods/p/exec", "command=id"),
            t("create", "", "pods", "exec", "d", "p")
        );
        assert_eq!(
            a("GET", "/api/v1/namespaces/d", ""),
            t("get", "", "namespaces", "", "d", "d")
        );
        assert_eq!(
            a("PUT", "/api/v1/namespaces/d/finalize", ""),
            t("update", "", "namespaces", "finalize", "d", "d")
        );
        assert_eq!(
            a("DELETE", "/apis/apps/v1/namespaces/d/deployments", ""),
            t("deletecollection", "apps", "deployments", "", "d", "")
        );
        assert_eq!(a("POST", "/api/v1/nodes", ""), t("create", "", "nodes", "", "", ""));
        let disc = of_request("GET", "/apis/apps/v1", "");
        assert!(!disc.resource_request && disc.verb == "get" && disc.path == "/apis/apps/v1");
        assert!(!of_request("GET", "/healthz", "").resource_request);
    }
}
