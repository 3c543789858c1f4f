//! RBAC as Kubernetes has it: bindings grant roles' rules to users, groups and ServiceAccounts,
//! cluster-wide (ClusterRoleBinding) or in one namespace (RoleBinding); ClusterRoles gather the
//! rules of the ClusterRoles their aggregation rule selects. The compiled policy is cached until
//! a role or binding changes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use orca_schemas::kinds::rbac::{ClusterRole, PolicyRule, Subject};
use orca_schemas::selector::Selector;
use serde_json::Value;

use super::{Attributes, Identity};
use crate::eventlog::projection::Projection;

const KINDS: [&str; 4] = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/// One binding, resolved: where it applies (None: everywhere), to whom, and its rules.
#[derive(Debug)]
struct Grant {
    namespace: Option<String>,
    subjects: Vec<Subject>,
    rules: Arc<Vec<PolicyRule>>,
    name: String,
}

/// Every grant of the cluster.
#[derive(Debug, Default)]
pub struct Policy {
    grants: Vec<Grant>,
    /// Each ClusterRole's rules, aggregation resolved.
    cluster_roles: BTreeMap<String, Arc<Vec<PolicyRule>>>,
}

/// The compiled policy and the fingerprint of the objects it came from.
#[derive(Default)]
pub struct PolicyCache(parking_lot::Mutex<Option<(u64, Arc<Policy>)>>);

fn fingerprint(p: &Projection) -> u64 {
    KINDS.iter().enumerate().fold(0u64, |acc, (i, k)| {
        let evs = p.list(k, None);
        let sum = evs
            .iter()
            .fold(0u64, |s, e| s.wrapping_mul(31).wrapping_add(e.revision));
        acc.wrapping_mul(1_000_003)
            .wrapping_add(sum ^ ((evs.len() as u64) << (8 * i)))
    })
}

impl PolicyCache {
    /// The policy for the projection's current roles and bindings.
    pub fn get(&self, p: &Projection) -> Arc<Policy> {
        let fp = fingerprint(p);
        let mut cached = self.0.lock();
        if let Some((f, policy)) = cached.as_ref() {
            if *f == fp {
                return policy.clone();
            }
        }
        let policy = Arc::new(Policy::compile(p));
        *cached = Some((fp, policy.clone()));
        policy
    }
}

fn parse<T: serde::de::DeserializeOwned>(json: &[u8]) -> Option<T> {
    serde_json::from_slice(json).ok()
}

/// ClusterRole rules with aggregation resolved (selected roles' resolved rules added).
fn cluster_role_rules(
    roles: &BTreeMap<String, (ClusterRole, BTreeMap<String, String>)>,
) -> BTreeMap<String, Arc<Vec<PolicyRule>>> {
    fn resolve(
        name: &str,
        roles: &BTreeMap<String, (ClusterRole, BTreeMap<String, String>)>,
        seen: &mut BTreeSet<String>,
    ) -> Vec<PolicyRule> {
        if !seen.insert(name.to_string()) {
            return Vec::new();
        }
        let Some((role, _)) = roles.get(name) else {
            return Vec::new();
        };
        let mut rules = role.rules.clone().unwrap_or_default();
        let selectors: Vec<Selector> = role
            .aggregation_rule
            .iter()
            .flat_map(|a| a.cluster_role_selectors.iter().flatten())
            .filter_map(|s| Selector::from_label_selector(s).ok())
            .collect();
        for (other, (_, labels)) in roles {
            if other != name && selectors.iter().any(|s| !s.is_empty() && s.matches(labels)) {
                rules.extend(resolve(other, roles, seen));
            }
        }
        rules
    }
    roles
        .keys()
        .map(|n| (n.clone(), Arc::new(resolve(n, roles, &mut BTreeSet::new()))))
        .collect()
}

impl Policy {
    /// Compiles the projection's roles and bindings.
    pub fn compile(p: &Projection) -> Policy {
        let roles: BTreeMap<String, (ClusterRole, BTreeMap<String, String>)> = p
            .list("ClusterRole", None)
            .iter()
            .filter_map(|e| {
                let r: ClusterRole = parse(&e.json)?;
                let labels = r.metadata.labels.clone().unwrap_or_default();
                Some((e.name.clone(), (r, labels)))
            })
            .collect();
        let cluster_rules = cluster_role_rules(&roles);
        let mut grants = Vec::new();
        for (kind, namespaced) in [("ClusterRoleBinding", false), ("RoleBinding", true)] {
            for e in p.list(kind, None) {
                let Some(b) = parse::<Value>(&e.json) else { continue };
                let subjects: Vec<Subject> = serde_json::from_value(b["subjects"].clone()).unwrap_or_default();
                let (ref_kind, ref_name) = (
                    b["roleRef"]["kind"].as_str().unwrap_or(""),
                    b["roleRef"]["name"].as_str().unwrap_or(""),
                );
                let rules = match ref_kind {
                    "ClusterRole" => cluster_rules.get(ref_name).cloned(),
                    "Role" if namespaced => p
                        .get("Role", &e.namespace, ref_name)
                        .and_then(|r| parse::<Value>(&r.json))
                        .map(|r| Arc::new(serde_json::from_value(r["rules"].clone()).unwrap_or_default())),
                    _ => None,
                };
                // A binding to a role that does not exist (yet) grants nothing.
                let Some(rules) = rules else { continue };
                grants.push(Grant {
                    namespace: namespaced.then(|| e.namespace.clone()),
                    subjects,
                    rules,
                    name: format!("{kind} \"{}\"", e.name),
                });
            }
        }
        Policy {
            grants,
            cluster_roles: cluster_rules,
        }
    }

    /// Every rule `who` holds in `namespace` (cluster-wide grants, and that namespace's
    /// RoleBindings), or cluster-wide only when `namespace` is None.
    pub fn rules_of(&self, who: &Identity, namespace: Option<&str>) -> Vec<PolicyRule> {
        self.grants
            .iter()
            .filter(|g| g.namespace.is_none() || g.namespace.as_deref() == namespace)
            .filter(|g| {
                g.subjects
                    .iter()
                    .any(|s| subject_matches(s, who, g.namespace.as_deref()))
            })
            .flat_map(|g| g.rules.iter().cloned())
            .collect()
    }

    /// The rules of a ClusterRole (aggregation resolved), if it exists.
    pub fn cluster_role(&self, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        self.cluster_roles.get(name).cloned()
    }

    /// Whether `who` may do `what`, and the grant that allows it.
    pub fn decide(&self, who: &Identity, what: &Attributes) -> Result<String, String> {
        if who.is_master() {
            return Ok(format!("{} is in system:masters", who.user));
        }
        for g in &self.grants {
            if let Some(ns) = &g.namespace {
                if !what.resource_request || ns != &what.namespace {
                    continue;
                }
            }
            if !g
                .subjects
                .iter()
                .any(|s| subject_matches(s, who, g.namespace.as_deref()))
            {
                continue;
            }
            if g.rules.iter().any(|r| rule_allows(r, what)) {
                return Ok(format!("allowed by {}", g.name));
            }
        }
        Err(forbidden_message(who, what))
    }
}

fn subject_matches(s: &Subject, who: &Identity, binding_ns: Option<&str>) -> bool {
    match s.kind.as_str() {
        "User" => s.name == who.user,
        "Group" => who.groups.iter().any(|g| g == &s.name),
        "ServiceAccount" => {
            let ns = s
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .or(binding_ns)
                .unwrap_or("");
            who.user == format!("system:serviceaccount:{ns}:{}", s.name)
        }
        _ => false,
    }
}

fn has(list: &Option<Vec<String>>, v: &str) -> bool {
    list.iter().flatten().any(|x| x == "*" || x == v)
}

/// Whether one rule covers the request (Kubernetes' RuleAllows).
pub fn rule_allows(r: &PolicyRule, a: &Attributes) -> bool {
    if !r.verbs.iter().any(|v| v == "*" || *v == a.verb) {
        return false;
    }
    if !a.resource_request {
        return r
            .non_resource_urls
            .iter()
            .flatten()
            .any(|u| u == "*" || *u == a.path || u.strip_suffix('*').is_some_and(|prefix| a.path.starts_with(prefix)));
    }
    if !has(&r.api_groups, &a.api_group) {
        return false;
    }
    let resource_ok = r.resources.iter().flatten().any(|x| {
        if a.subresource.is_empty() {
            x == "*" || *x == a.resource
        } else {
            x == "*" || *x == format!("{}/{}", a.resource, a.subresource) || *x == format!("*/{}", a.subresource)
        }
    });
    resource_ok && (r.resource_names.as_ref().is_none_or(Vec::is_empty) || has(&r.resource_names, &a.name))
}

/// Kubernetes' wording of a denied request.
pub fn forbidden_message(who: &Identity, a: &Attributes) -> String {
    if !a.resource_request {
        return format!("forbidden: User \"{}\" cannot {} path \"{}\"", who.user, a.verb, a.path);
    }
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let name = if a.name.is_empty() {
        String::new()
    } else {
        format!(" \"{}\"", a.name)
    };
    let group = format!("API group \"{}\"", a.api_group);
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    format!(
        "{resource}{name} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in {group} {scope}",
        who.user, a.verb
    )
}
