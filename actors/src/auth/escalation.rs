//! RBAC's escalation check (Kubernetes' `Covers`): a role or binding may grant only what its
//! author already holds; each granted rule is broken down to one verb, group and resource (or one
//! URL) and must be covered by one of the author's rules.

use orca_schemas::kinds::rbac::PolicyRule;

fn one(v: &str) -> Option<Vec<String>> {
    Some(vec![v.to_string()])
}

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

/// The rule as single-verb, single-group, single-resource (or single-URL) rules.
pub fn breakdown(r: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for group in list(&r.api_groups) {
        for resource in list(&r.resources) {
            for verb in &r.verbs {
                out.push(PolicyRule {
                    verbs: vec![verb.clone()],
                    api_groups: one(group),
                    resources: one(resource),
                    resource_names: r.resource_names.clone(),
                    non_resource_urls: None,
                });
            }
        }
    }
    for url in list(&r.non_resource_urls) {
        for verb in &r.verbs {
            out.push(PolicyRule {
                verbs: vec![verb.clone()],
                non_resource_urls: one(url),
                ..Default::default()
            });
        }
    }
    out
}

fn has(set: &[String], v: &str) -> bool {
    set.iter().any(|x| x == v)
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

fn resources_cover(set: &[String], wanted: &[String]) -> bool {
    if has(set, "*") {
        return true;
    }
    wanted.iter().all(|path| {
        has(set, path)
            || path
                .split_once('/')
                .is_some_and(|(_, sub)| has(set, &format!("*/{sub}")))
    })
}

fn urls_cover(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| {
        set.iter()
            .any(|owner| owner == w || owner.strip_suffix('*').is_some_and(|prefix| w.starts_with(prefix)))
    })
}

/// Whether `owner` covers the broken-down rule `sub` (Kubernetes' ruleCovers).
pub fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(list(&owner.api_groups), "*") || has_all(list(&owner.api_groups), list(&sub.api_groups));
    let resources = resources_cover(list(&owner.resources), list(&sub.resources));
    let urls = urls_cover(list(&owner.non_resource_urls), list(&sub.non_resource_urls));
    let names = list(&owner.resource_names).is_empty()
        || (!list(&sub.resource_names).is_empty() && has_all(list(&owner.resource_names), list(&sub.resource_names)));
    verbs && groups && resources && urls && names
}

/// The parts of `servant` that no rule of `owner` covers (empty: all covered).
pub fn uncovered(owner: &[PolicyRule], servant: &[PolicyRule]) -> Vec<PolicyRule> {
    servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect()
}

/// A rule as Kubernetes prints it in an escalation error.
pub fn describe(r: &PolicyRule) -> String {
    let q = |v: &[String]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" ");
    let mut parts = Vec::new();
    if !list(&r.api_groups).is_empty() {
        parts.push(format!("APIGroups:[{}]", q(list(&r.api_groups))));
    }
    if !list(&r.resources).is_empty() {
        parts.push(format!("Resources:[{}]", q(list(&r.resources))));
    }
    if !list(&r.resource_names).is_empty() {
        parts.push(format!("ResourceNames:[{}]", q(list(&r.resource_names))));
    }
    if !list(&r.non_resource_urls).is_empty() {
        parts.push(format!("NonResourceURLs:[{}]", q(list(&r.non_resource_urls))));
    }
    parts.push(format!("Verbs:[{}]", q(&r.verbs)));
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
        let v = |x: &[&str]| Some(x.iter().map(|s| s.to_string()).collect());
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: if names.is_empty() { None } else { v(names) },
            non_resource_urls: None,
        }
    }

    #[test]
    fn coverage_follows_kubernetes_rules() {
        let owner = vec![
            rule(&[""], &["pods", "pods/log"], &["get", "list"], &[]),
            rule(&["apps"], &["*"], &["*"], &[]),
            rule(&[""], &["configmaps"], &["get"], &["one"]),
            rule(&[""], &["*/status"], &["update"], &[]),
        ];
        assert!(uncovered(&owner, &[rule(&[""], &["pods"], &["get"], &[])]).is_empty());
        assert!(uncovered(&owner, &[rule(&["apps"], &["deployments/scale"], &["patch"], &[])]).is_empty());
        assert!(uncovered(&owner, &[rule(&[""], &["configmaps"], &["get"], &["one"])]).is_empty());
        assert!(uncovered(&owner, &[rule(&[""], &["services/status"], &["update"], &[])]).is_empty());
        // Every name is more than one name; another verb, group or resource is not covered.
        assert_eq!(
            uncovered(&owner, &[rule(&[""], &["configmaps"], &["get"], &[])]).len(),
            1
        );
        let missing = uncovered(
            &owner,
            &[rule(&["", "apps"], &["secrets", "pods"], &["get", "delete"], &[])],
        );
        let described: Vec<String> = missing.iter().map(describe).collect();
        assert_eq!(
            described,
            [
                "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}",
                "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"delete\"]}",
                "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}",
            ]
        );
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/metrics".into()]),
            ..Default::default()
        };
        assert_eq!(uncovered(&owner, std::slice::from_ref(&urls)).len(), 1);
        let all_urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/*".into()]),
            ..Default::default()
        };
        assert!(uncovered(&[all_urls], &[urls]).is_empty());
    }
}
