//! The table of resource kinds: names, plurals, short names, API group and scope.

/// How a kind is addressed over the API and the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// `Kind` as it appears in manifests.
    pub kind: &'static str,
    /// Lower-case plural used in URLs (`pods`).
    pub plural: &'static str,
    /// Lower-case singular (`pod`).
    pub singular: &'static str,
    /// kubectl short names (`po`).
    pub short_names: &'static [&'static str],
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

impl ResourceType {
    /// `v1` or `group/v1`, as `apiVersion` carries it.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The URL prefix of the kind's group: `/api/v1` or `/apis/apps/v1`.
    pub fn group_prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The collection URL for a namespace (ignored for cluster-scoped kinds).
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => {
                format!("{}/namespaces/{}/{}", self.group_prefix(), ns, self.plural)
            }
            _ => format!("{}/{}", self.group_prefix(), self.plural),
        }
    }

    /// The URL of one object.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{}", self.collection_path(namespace), name)
    }
}

macro_rules! rt {
    ($kind:literal, $plural:literal, $singular:literal, [$($short:literal),*], $group:literal, $namespaced:literal) => {
        ResourceType {
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: &[$($short),*],
            group: $group,
            version: "v1",
            namespaced: $namespaced,
        }
    };
}

/// Every kind orca serves.
pub const RESOURCES: &[ResourceType] = &[
    rt!("Namespace", "namespaces", "namespace", ["ns"], "", false),
    rt!("Node", "nodes", "node", ["no"], "", false),
    rt!("Pod", "pods", "pod", ["po"], "", true),
    rt!("ConfigMap", "configmaps", "configmap", ["cm"], "", true),
    rt!("Secret", "secrets", "secret", [], "", true),
    rt!("ServiceAccount", "serviceaccounts", "serviceaccount", ["sa"], "", true),
    rt!("Role", "roles", "role", [], "rbac.authorization.k8s.io", true),
    rt!(
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        [],
        "rbac.authorization.k8s.io",
        false
    ),
    rt!(
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        [],
        "rbac.authorization.k8s.io",
        true
    ),
    rt!(
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        [],
        "rbac.authorization.k8s.io",
        false
    ),
    rt!("Service", "services", "service", ["svc"], "", true),
    rt!("Endpoints", "endpoints", "endpoints", ["ep"], "", true),
    rt!(
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        [],
        "discovery.k8s.io",
        true
    ),
    rt!("Event", "events", "event", ["ev"], "", true),
    rt!(
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        ["pv"],
        "",
        false
    ),
    rt!(
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        ["pvc"],
        "",
        true
    ),
    rt!("ReplicaSet", "replicasets", "replicaset", ["rs"], "apps", true),
    rt!("Deployment", "deployments", "deployment", ["deploy"], "apps", true),
    rt!("StatefulSet", "statefulsets", "statefulset", ["sts"], "apps", true),
    rt!("DaemonSet", "daemonsets", "daemonset", ["ds"], "apps", true),
    rt!("Job", "jobs", "job", [], "batch", true),
    rt!("CronJob", "cronjobs", "cronjob", ["cj"], "batch", true),
    rt!(
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        ["pdb"],
        "policy",
        true
    ),
    rt!(
        "StorageClass",
        "storageclasses",
        "storageclass",
        ["sc"],
        "storage.k8s.io",
        false
    ),
    rt!("Ingress", "ingresses", "ingress", ["ing"], "networking.k8s.io", true),
    rt!(
        "IngressClass",
        "ingressclasses",
        "ingressclass",
        [],
        "networking.k8s.io",
        false
    ),
];

/// Finds a kind by its `Kind` name, exactly.
pub fn by_kind(kind: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.kind == kind)
}

/// Finds a kind by its URL group and plural.
pub fn by_group_plural(group: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.group == group && r.plural == plural)
}

/// Resolves what a user typed: kind, plural, singular or short name, any case,
/// optionally qualified with the group (`deployments.apps`).
pub fn lookup(name: &str) -> Option<&'static ResourceType> {
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b.to_string(), Some(g.to_string())),
        None => (lower, None),
    };
    RESOURCES.iter().find(|r| {
        let name_matches = r.plural == base
            || r.singular == base
            || r.kind.eq_ignore_ascii_case(&base)
            || r.short_names.contains(&base.as_str());
        name_matches && group.as_deref().is_none_or(|g| g == r.group)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_kubectl_names() {
        for (typed, kind) in [
            ("po", "Pod"),
            ("pods", "Pod"),
            ("Pod", "Pod"),
            ("svc", "Service"),
            ("deploy", "Deployment"),
            ("deployments.apps", "Deployment"),
            ("rs", "ReplicaSet"),
            ("sts", "StatefulSet"),
            ("ds", "DaemonSet"),
            ("cm", "ConfigMap"),
            ("ns", "Namespace"),
            ("no", "Node"),
            ("ing", "Ingress"),
            ("pv", "PersistentVolume"),
            ("pvc", "PersistentVolumeClaim"),
            ("jobs", "Job"),
        ] {
            assert_eq!(lookup(typed).map(|r| r.kind), Some(kind), "{typed}");
        }
        assert!(lookup("widgets").is_none());
        assert!(lookup("deployments.batch").is_none());
    }

    #[test]
    fn paths_follow_kubernetes() {
        let d = by_kind("Deployment").unwrap();
        assert_eq!(
            d.object_path(Some("ns1"), "web"),
            "/apis/apps/v1/namespaces/ns1/deployments/web"
        );
        let n = by_kind("Node").unwrap();
        assert_eq!(n.collection_path(Some("x")), "/api/v1/nodes");
        assert_eq!(by_kind("Ingress").unwrap().api_version(), "networking.k8s.io/v1");
    }
}
