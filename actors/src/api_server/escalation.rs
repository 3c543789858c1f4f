//! RBAC's escalation prevention on writes of roles and bindings: a Role or ClusterRole may hold
//! only rules its author holds (or the author may `escalate`); a binding may grant a role only
//! when its author holds that role's rules (or may `bind` it); only `escalate` allows an
//! aggregation rule. The object checked is the one the write would store (found by a dry run).

use orca_schemas::kinds::rbac::PolicyRule;
use serde_json::Value;

use super::{routes, ApiCore, ApiError, ApiRequest, ApiResult, Reply};
use crate::auth::escalation::{describe, uncovered};
use crate::auth::{Attributes, Identity};

const GROUP: &str = "rbac.authorization.k8s.io";

fn rules(v: &Value) -> Vec<PolicyRule> {
    serde_json::from_value(v["rules"].clone()).unwrap_or_default()
}

fn verb_on(verb: &str, resource: &str, namespace: &str, name: &str) -> Attributes {
    Attributes {
        verb: verb.into(),
        resource_request: true,
        api_group: GROUP.into(),
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..Default::default()
    }
}

fn refused(plural: &str, name: &str, who: &Identity, missing: &[PolicyRule]) -> ApiError {
    let lines: Vec<String> = missing.iter().map(describe).collect();
    ApiError::forbidden(format!(
        "{plural}.{GROUP} \"{name}\" is forbidden: user \"{}\" (groups={:?}) is attempting to grant RBAC permissions not currently held:\n{}",
        who.user,
        who.groups,
        lines.join("\n")
    ))
}

impl ApiCore {
    /// Refuses a write of a role or binding that would grant what its author does not hold.
    pub(super) async fn check_escalation(&self, req: &ApiRequest) -> ApiResult<()> {
        let (Some(who), Some(auth)) = (&req.identity, &self.auth) else {
            return Ok(());
        };
        if who.is_master() || !matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
            return Ok(());
        }
        let Ok(route) = routes::parse(&req.path) else {
            return Ok(());
        };
        if route.subresource.is_some()
            || !matches!(
                route.rt.kind,
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
            )
        {
            return Ok(());
        }
        // What the write would store; a write that fails gets its own error from the real run.
        let mut dry = req.clone();
        dry.query = if req.query.is_empty() {
            "dryRun=All".into()
        } else {
            format!("{}&dryRun=All", req.query)
        };
        let Ok(Reply::Done(answer)) = Box::pin(self.dispatch(dry)).await else {
            return Ok(());
        };
        let Ok(obj) = serde_json::from_slice::<Value>(&answer.body) else {
            return Ok(());
        };
        if !(200..300).contains(&answer.status) {
            return Ok(());
        }
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("").to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let policy = auth.policy.get(&self.log.projection());
        let scope = (!ns.is_empty()).then_some(ns.as_str());
        let held = policy.rules_of(who, scope);
        let plural = route.rt.plural;
        let wanted = match route.rt.kind {
            "Role" | "ClusterRole" => {
                if policy.decide(who, &verb_on("escalate", plural, &ns, &name)).is_ok() {
                    return Ok(());
                }
                if !obj["aggregationRule"].is_null() {
                    return Err(ApiError::forbidden(format!(
                        "{plural}.{GROUP} \"{name}\" is forbidden: must have cluster-admin privileges (or escalate) to use the aggregationRule"
                    )));
                }
                rules(&obj)
            }
            _ => {
                let (ref_kind, ref_name) = (
                    obj["roleRef"]["kind"].as_str().unwrap_or(""),
                    obj["roleRef"]["name"].as_str().unwrap_or(""),
                );
                let ref_plural = if ref_kind == "Role" { "roles" } else { "clusterroles" };
                if policy.decide(who, &verb_on("bind", ref_plural, &ns, ref_name)).is_ok() {
                    return Ok(());
                }
                let granted = match ref_kind {
                    "ClusterRole" => policy.cluster_role(ref_name).map(|r| r.to_vec()),
                    _ => self
                        .log
                        .projection()
                        .get("Role", &ns, ref_name)
                        .and_then(|r| serde_json::from_slice::<Value>(&r.json).ok())
                        .map(|r| rules(&r)),
                };
                // A role that does not exist cannot be checked: binding it needs `bind`.
                granted.ok_or_else(|| {
                    ApiError::forbidden(format!(
                        "{plural}.{GROUP} \"{name}\" is forbidden: {ref_kind} \"{ref_name}\" not found; binding it needs the bind verb on it"
                    ))
                })?
            }
        };
        let missing = uncovered(&held, &wanted);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(refused(plural, &name, who, &missing))
        }
    }
}
