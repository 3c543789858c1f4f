//! Kubernetes URL paths parsed into kind, namespace, name and subresource.

use orca_schemas::registry::{by_group_plural, ResourceType};

use super::status::{ApiError, ApiResult};

/// What a resource path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The kind addressed.
    pub rt: &'static ResourceType,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource (`status`), if any.
    pub subresource: Option<String>,
}

/// Parses `/api/v1/...` and `/apis/GROUP/VERSION/...`.
pub fn parse(path: &str) -> ApiResult<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route(path)),
    };
    let lookup = |plural: &str| {
        by_group_plural(group, plural)
            .filter(|rt| rt.version == version)
            .ok_or_else(|| ApiError::no_route(path))
    };
    let ns_rt = || by_group_plural("", "namespaces").ok_or_else(|| ApiError::no_route(path));
    let route = |rt, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| Route {
        rt,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        subresource: sub.map(str::to_string),
    };
    let r = match rest {
        // The Namespace kind itself.
        ["namespaces"] if group.is_empty() => route(ns_rt()?, None, None, None),
        ["namespaces", ns] if group.is_empty() => route(ns_rt()?, None, Some(ns), None),
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            route(ns_rt()?, None, Some(ns), Some(sub))
        }
        ["namespaces", ns, plural] => route(lookup(plural)?, Some(ns), None, None),
        ["namespaces", ns, plural, name] => route(lookup(plural)?, Some(ns), Some(name), None),
        ["namespaces", ns, plural, name, sub] => route(lookup(plural)?, Some(ns), Some(name), Some(sub)),
        [plural] => route(lookup(plural)?, None, None, None),
        [plural, name] => route(lookup(plural)?, None, Some(name), None),
        [plural, name, sub] => route(lookup(plural)?, None, Some(name), Some(sub)),
        _ => return Err(ApiError::no_route(path)),
    };
    if let Some(sub) = &r.subresource {
        let pod_only = matches!(sub.as_str(), "binding" | "log" | "exec" | "eviction");
        let scale = sub == "scale" && super::scale::scalable(r.rt.kind);
        let token = sub == "token" && r.rt.kind == "ServiceAccount";
        if !(sub == "status" || sub == "finalize" || scale || token || (pod_only && r.rt.kind == "Pod")) {
            return Err(ApiError::no_route(path));
        }
    }
    if r.rt.namespaced && r.name.is_some() && r.namespace.is_none() {
        return Err(ApiError::no_route(path));
    }
    if !r.rt.namespaced && r.namespace.is_some() {
        return Err(ApiError::no_route(path));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubernetes_paths() {
        let r = parse("/api/v1/namespaces/default/pods/web").unwrap();
        assert_eq!(
            (r.rt.kind, r.namespace.as_deref(), r.name.as_deref()),
            ("Pod", Some("default"), Some("web"))
        );
        let r = parse("/apis/apps/v1/namespaces/a/deployments/d/status").unwrap();
        assert_eq!((r.rt.kind, r.subresource.as_deref()), ("Deployment", Some("status")));
        let r = parse("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!((r.rt.kind, r.name.as_deref()), ("Namespace", Some("kube-system")));
        let r = parse("/api/v1/pods").unwrap();
        assert_eq!((r.rt.kind, r.namespace), ("Pod", None));
        assert_eq!(parse("/api/v1/nodes/n1").unwrap().rt.kind, "Node");
        assert_eq!(
            parse("/apis/networking.k8s.io/v1/namespaces/x/ingresses")
                .unwrap()
                .rt
                .kind,
            "Ingress"
        );
        for bad in [
            "/api/v1/widgets",
            "/apis/apps/v2/deployments",
            "/api/v1/pods/x",
            "/api/v1/namespaces/a/nodes",
            "/x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
