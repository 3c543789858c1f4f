//! API discovery as kubectl and client libraries read it: `/api` (APIVersions), `/apis`
//! (APIGroupList), `/apis/GROUP` (APIGroup), `/api/v1` and `/apis/GROUP/VERSION`
//! (APIResourceList with verbs, short names, categories and subresources), and the aggregated
//! form (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList) that kubectl asks for first.

use serde_json::{json, Value};

use orca_schemas::registry::{ResourceType, RESOURCES};

/// The content type of an aggregated discovery answer.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Verbs every kind serves.
pub const VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];

/// Whether the client's Accept header asks for aggregated discovery (v2).
pub fn wants_aggregated(accept: &str) -> bool {
    accept
        .split(',')
        .any(|a| a.contains("as=APIGroupDiscoveryList") && a.contains("v=v2") && !a.contains("v=v2beta1"))
}

/// The categories a kind belongs to (`kubectl get all`).
pub fn categories(rt: &ResourceType) -> &'static [&'static str] {
    match rt.kind {
        "Pod" | "Service" | "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob" => &["all"],
        _ => &[],
    }
}

fn has_status(rt: &ResourceType) -> bool {
    super::write::has_status(rt.kind)
}

/// Subresources of a kind: (name, kind answered, verbs).
pub fn subresources(rt: &ResourceType) -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    let mut out = Vec::new();
    if has_status(rt) {
        out.push(("status", rt.kind, &["get", "patch", "update"][..]));
    }
    match rt.kind {
        "Pod" => {
            out.push(("binding", "Binding", &["create"][..]));
            out.push(("eviction", "Eviction", &["create"][..]));
            out.push(("exec", "PodExecOptions", &["create", "get"][..]));
            out.push(("log", "Pod", &["get"][..]));
            out.push(("portforward", "PodPortForwardOptions", &["create", "get"][..]));
        }
        "Namespace" => out.push(("finalize", "Namespace", &["update"][..])),
        "ServiceAccount" => out.push(("token", "TokenRequest", &["create"][..])),
        "Deployment" | "ReplicaSet" | "StatefulSet" => out.push(("scale", "Scale", &["get", "patch", "update"][..])),
        _ => {}
    }
    out
}

/// `/api`.
pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
}

/// The named groups and their (single) versions, in registry order.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for rt in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, v)| *g == rt.group && *v == rt.version) {
            out.push((rt.group, rt.version));
        }
    }
    out
}

fn group_json(name: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/{version}"), "version": version});
    json!({"name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

/// Groups served through another's storage: `events.k8s.io/v1` Events (`events_v1.rs`).
const VIEWS: &[(&str, &str)] = &[("events.k8s.io", "v1")];

/// The `events` resource of `events.k8s.io/v1`.
fn events_resource() -> Value {
    json!({"name": "events", "singularName": "event", "namespaced": true, "kind": "Event",
        "verbs": VERBS, "shortNames": ["ev"]})
}

/// `/apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .chain(VIEWS.iter().copied())
        .chain(super::reviews::group_versions())
        .map(|(g, v)| group_json(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP`.
pub fn group(name: &str) -> Option<Value> {
    let (g, v) = groups()
        .into_iter()
        .chain(VIEWS.iter().copied())
        .chain(super::reviews::group_versions())
        .find(|(g, _)| *g == name)?;
    let mut out = group_json(g, v);
    out["kind"] = json!("APIGroup");
    out["apiVersion"] = json!("v1");
    Some(out)
}

/// `/api/v1` (group "") or `/apis/GROUP/VERSION`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    if VIEWS.contains(&(group, version)) {
        return Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [events_resource()]}),
        );
    }
    let reviews: Vec<Value> = super::reviews::GROUPS
        .iter()
        .filter(|(g, v, ..)| *g == group && *v == version)
        .map(|(_, _, plural, kind, namespaced)| {
            json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["create"]})
        })
        .collect();
    if !reviews.is_empty() {
        return Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": reviews}));
    }
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for rt in kinds {
        let mut r = json!({"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
            "kind": rt.kind, "verbs": VERBS});
        if !rt.short_names.is_empty() {
            r["shortNames"] = json!(rt.short_names);
        }
        if !categories(rt).is_empty() {
            r["categories"] = json!(categories(rt));
        }
        resources.push(r);
        for (sub, kind, verbs) in subresources(rt) {
            resources.push(json!({"name": format!("{}/{sub}", rt.plural), "singularName": "",
                "namespaced": rt.namespaced, "kind": kind, "verbs": verbs}));
        }
    }
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

fn discovery_resource(rt: &ResourceType) -> Value {
    let gvk = |kind: &str| match kind {
        "Scale" => json!({"group": "autoscaling", "version": "v1", "kind": kind}),
        "Eviction" => json!({"group": "policy", "version": "v1", "kind": kind}),
        _ => json!({"group": rt.group, "version": rt.version, "kind": kind}),
    };
    let subs: Vec<Value> = subresources(rt)
        .into_iter()
        .map(|(sub, kind, verbs)| json!({"subresource": sub, "responseKind": gvk(kind), "verbs": verbs}))
        .collect();
    let mut r = json!({"resource": rt.plural, "responseKind": gvk(rt.kind),
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular, "verbs": VERBS, "subresources": subs});
    if !rt.short_names.is_empty() {
        r["shortNames"] = json!(rt.short_names);
    }
    if !categories(rt).is_empty() {
        r["categories"] = json!(categories(rt));
    }
    r
}

/// The aggregated answer for `/api` (`core`) or `/apis`.
pub fn aggregated(core: bool) -> Value {
    let mut items = Vec::new();
    let wanted: Vec<(&str, &str)> = if core { vec![("", "v1")] } else { groups() };
    for (g, v) in wanted {
        let resources: Vec<Value> = RESOURCES
            .iter()
            .filter(|r| r.group == g && r.version == v)
            .map(discovery_resource)
            .collect();
        items.push(json!({"metadata": {"name": g, "creationTimestamp": null},
            "versions": [{"version": v, "resources": resources, "freshness": "Current"}]}));
    }
    if !core {
        for (g, v) in VIEWS {
            let r = json!({"resource": "events", "responseKind": {"group": g, "version": v, "kind": "Event"},
                "scope": "Namespaced", "singularResource": "event", "verbs": VERBS, "shortNames": ["ev"], "subresources": []});
            items.push(json!({"metadata": {"name": g, "creationTimestamp": null},
                "versions": [{"version": v, "resources": [r], "freshness": "Current"}]}));
        }
        for (g, v) in super::reviews::group_versions() {
            let resources: Vec<Value> = super::reviews::GROUPS
                .iter()
                .filter(|(rg, ..)| *rg == g)
                .map(|(_, _, plural, kind, namespaced)| {
                    let scope = if *namespaced { "Namespaced" } else { "Cluster" };
                    json!({"resource": plural, "responseKind": {"group": g, "version": v, "kind": kind},
                        "scope": scope, "singularResource": "", "verbs": ["create"], "subresources": []})
                })
                .collect();
            items.push(json!({"metadata": {"name": g, "creationTimestamp": null},
                "versions": [{"version": v, "resources": resources, "freshness": "Current"}]}));
        }
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_names_every_kind_with_its_verbs_and_subresources() {
        let core = resource_list("", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        for n in [
            "pods",
            "pods/log",
            "pods/exec",
            "pods/status",
            "services",
            "namespaces/finalize",
            "configmaps",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let pods = &core["resources"][names.iter().position(|n| *n == "pods").unwrap()];
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert!(resource_list("apps", "v1").is_some());
        assert!(resource_list("apps", "v2").is_none());
        // Every group-version /apis names answers its own resource list.
        for g in group_list()["groups"].as_array().unwrap() {
            let (name, version) = (
                g["name"].as_str().unwrap(),
                g["preferredVersion"]["version"].as_str().unwrap(),
            );
            assert!(resource_list(name, version).is_some(), "{name}/{version}");
        }
        let groups = group_list();
        assert!(groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "networking.k8s.io"));
        assert_eq!(group("apps").unwrap()["preferredVersion"]["groupVersion"], "apps/v1");
        let agg = aggregated(false);
        assert!(agg["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["metadata"]["name"] != ""));
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json"));
    }
}
