//! Admission: decode a manifest into its kind's type, validate it, default it and report unknown fields.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::kinds::batch::CronJob;
use crate::kinds::cluster::{Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim};
use crate::kinds::config::{ConfigMap, Secret};
use crate::kinds::discovery::EndpointSlice;
use crate::kinds::network::{Endpoints, Ingress, IngressClass, Service};
use crate::kinds::pod::Pod;
use crate::kinds::policy::{PodDisruptionBudget, StorageClass};
use crate::kinds::rbac::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, ServiceAccount};
use crate::kinds::workloads::{DaemonSet, Deployment, Job, ReplicaSet, StatefulSet};
use crate::meta::ObjectMeta;
use crate::registry::ResourceType;
use crate::validate::meta::{validate_object_meta, NameRule};
use crate::validate::{other, pod, policy, rbac, workloads, ErrorType, Errors, FieldError, Path};
use crate::{defaults, unknown};

/// An object that passed admission.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The object, defaulted, with unknown fields kept.
    pub object: Value,
    /// One line for each field orca keeps but does not act on.
    pub warnings: Vec<String>,
}

/// Gives access to the metadata of a typed kind.
trait HasMeta {
    fn meta(&self) -> &ObjectMeta;
}

macro_rules! has_meta {
    ($($t:ty),*) => { $(impl HasMeta for $t { fn meta(&self) -> &ObjectMeta { &self.metadata } })* };
}
has_meta!(
    Pod,
    ConfigMap,
    Secret,
    Service,
    Endpoints,
    Ingress,
    Namespace,
    Node,
    PersistentVolume,
    PersistentVolumeClaim,
    Event,
    ReplicaSet,
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    PodDisruptionBudget,
    StorageClass,
    EndpointSlice,
    IngressClass,
    ServiceAccount,
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding
);

fn run<T: DeserializeOwned + Serialize + HasMeta>(
    value: Value,
    rt: &ResourceType,
    rule: NameRule,
    validate: fn(&T, &mut Errors),
    default: fn(&mut T),
) -> Result<Value, Vec<FieldError>> {
    let mut obj: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        vec![FieldError {
            kind: ErrorType::Invalid,
            field: if path == "." { String::new() } else { path },
            message: format!("Invalid value: {}", e.inner()),
        }]
    })?;
    let mut errs = Errors::default();
    validate_object_meta(obj.meta(), rule, rt.namespaced, &mut errs);
    validate(&obj, &mut errs);
    if !errs.is_empty() {
        return Err(errs.0);
    }
    default(&mut obj);
    serde_json::to_value(&obj).map_err(|e| {
        vec![FieldError {
            kind: ErrorType::Invalid,
            field: String::new(),
            message: e.to_string(),
        }]
    })
}

fn none<T>(_: &T, _: &mut Errors) {}
fn keep<T>(_: &mut T) {}

/// Admits a manifest of kind `rt`: checks `apiVersion`/`kind`, decodes, validates, defaults.
/// Returns every problem found, each with its field path.
pub fn admit(rt: &ResourceType, mut value: Value) -> Result<Admitted, Vec<FieldError>> {
    let Some(map) = value.as_object_mut() else {
        return Err(vec![FieldError {
            kind: ErrorType::Invalid,
            field: String::new(),
            message: "Invalid value: the object must be a JSON/YAML mapping".into(),
        }]);
    };
    let mut errs = Errors::default();
    let want_version = rt.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), Value::String(want_version.clone()));
        }
        Some(v) if v == want_version => {}
        Some(v) => errs.invalid(
            &Path::new("apiVersion"),
            v,
            &format!("must be {want_version} for kind {}", rt.kind),
        ),
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), Value::String(rt.kind.to_string()));
        }
        Some(k) if k == rt.kind => {}
        Some(k) => errs.invalid(&Path::new("kind"), k, &format!("must be {}", rt.kind)),
    }
    if !errs.is_empty() {
        return Err(errs.0);
    }
    // The status belongs to the controllers, which may write more than orca's types name.
    let warnings = unknown::unknown_fields(rt.kind, &value)
        .into_iter()
        .filter(|p| !p.starts_with("status."))
        .map(|p| format!("unknown field \"{p}\": kept, but orca does not act on it"))
        .collect();
    use NameRule::*;
    let object = match rt.kind {
        "Pod" => run::<Pod>(
            value,
            rt,
            Subdomain,
            |p, e| pod::validate_pod_spec(&p.spec, &Path::new("spec"), e),
            |p| defaults::pod_spec(&mut p.spec),
        ),
        "ConfigMap" => run::<ConfigMap>(value, rt, Subdomain, other::validate_configmap, keep),
        "Secret" => run::<Secret>(value, rt, Subdomain, other::validate_secret, defaults::secret),
        "ServiceAccount" => run::<ServiceAccount>(value, rt, Subdomain, none, keep),
        "Role" => run::<Role>(value, rt, Segment, rbac::validate_role, keep),
        "ClusterRole" => run::<ClusterRole>(value, rt, Segment, rbac::validate_clusterrole, keep),
        "RoleBinding" => run::<RoleBinding>(value, rt, Segment, rbac::validate_rolebinding, |b| {
            rbac::default_subjects(&mut b.subjects)
        }),
        "ClusterRoleBinding" => run::<ClusterRoleBinding>(value, rt, Segment, rbac::validate_clusterrolebinding, |b| {
            rbac::default_subjects(&mut b.subjects)
        }),
        "Service" => run::<Service>(value, rt, Dns1035, other::validate_service, defaults::service),
        "Endpoints" => run::<Endpoints>(value, rt, Subdomain, other::validate_endpoints, keep),
        "Ingress" => run::<Ingress>(value, rt, Subdomain, other::validate_ingress, keep),
        "IngressClass" => run::<IngressClass>(value, rt, Subdomain, other::validate_ingressclass, keep),
        "Namespace" => run::<Namespace>(value, rt, Label, none, defaults::namespace),
        "Node" => run::<Node>(value, rt, Subdomain, other::validate_node, keep),
        "PersistentVolume" => run::<PersistentVolume>(value, rt, Subdomain, other::validate_pv, keep),
        "PersistentVolumeClaim" => run::<PersistentVolumeClaim>(value, rt, Subdomain, other::validate_pvc, keep),
        "Event" => run::<Event>(value, rt, Subdomain, other::validate_event, keep),
        "EndpointSlice" => run::<EndpointSlice>(value, rt, Subdomain, policy::validate_endpointslice, keep),
        "PodDisruptionBudget" => run::<PodDisruptionBudget>(value, rt, Subdomain, policy::validate_pdb, keep),
        "StorageClass" => run::<StorageClass>(
            value,
            rt,
            Subdomain,
            policy::validate_storageclass,
            defaults::storageclass,
        ),
        "ReplicaSet" => run::<ReplicaSet>(
            value,
            rt,
            Subdomain,
            workloads::validate_replicaset,
            defaults::replicaset,
        ),
        "Deployment" => run::<Deployment>(
            value,
            rt,
            Subdomain,
            workloads::validate_deployment,
            defaults::deployment,
        ),
        "StatefulSet" => run::<StatefulSet>(
            value,
            rt,
            Subdomain,
            workloads::validate_statefulset,
            defaults::statefulset,
        ),
        "DaemonSet" => run::<DaemonSet>(value, rt, Subdomain, workloads::validate_daemonset, defaults::daemonset),
        "Job" => run::<Job>(value, rt, Subdomain, workloads::validate_job, defaults::job),
        "CronJob" => run::<CronJob>(
            value,
            rt,
            Subdomain,
            super::validate::batch::validate_cronjob,
            defaults::cronjob,
        ),
        other => Err(vec![FieldError {
            kind: ErrorType::NotSupported,
            field: "kind".into(),
            message: format!("Unsupported value: \"{other}\""),
        }]),
    }?;
    Ok(Admitted { object, warnings })
}

/// Checks what an update may not change: immutable selectors, pod specs, a node's podCIDR,
/// immutable ConfigMaps/Secrets.
pub fn validate_update(rt: &ResourceType, old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Errors::default();
    match rt.kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
            if old.pointer("/spec/selector") != new.pointer("/spec/selector") =>
        {
            errs.invalid(
                &Path::new("spec").child("selector"),
                compact(new.pointer("/spec/selector")),
                "field is immutable",
            );
        }
        "Service"
            if old
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .is_some_and(|ip| !ip.is_empty())
                && old.pointer("/spec/clusterIP") != new.pointer("/spec/clusterIP") =>
        {
            errs.invalid(
                &Path::new("spec").child("clusterIP"),
                compact(new.pointer("/spec/clusterIP")),
                "field is immutable",
            );
        }
        "Node"
            if old
                .pointer("/spec/podCIDR")
                .and_then(Value::as_str)
                .is_some_and(|c| !c.is_empty())
                && old.pointer("/spec/podCIDR") != new.pointer("/spec/podCIDR") =>
        {
            errs.forbidden(
                &Path::new("spec").child("podCIDR"),
                "node updates may not change podCIDR except from \"\" to valid",
            );
        }
        "RoleBinding" | "ClusterRoleBinding" if old.get("roleRef") != new.get("roleRef") => {
            errs.invalid(
                &Path::new("roleRef"),
                compact(new.get("roleRef")),
                "cannot change roleRef",
            );
        }
        "Job" if old.pointer("/spec/template") != new.pointer("/spec/template") => {
            errs.invalid(&Path::new("spec").child("template"), "...", "field is immutable");
        }
        "Pod" => {
            let strip = |v: &Value| {
                let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(cs) = spec.get_mut("containers").and_then(Value::as_array_mut) {
                    for c in cs {
                        if let Some(m) = c.as_object_mut() {
                            m.remove("image");
                        }
                    }
                }
                if let Some(m) = spec.as_object_mut() {
                    m.remove("activeDeadlineSeconds");
                    m.remove("tolerations");
                    if v.pointer("/spec/nodeName").is_none_or(|n| n.as_str() == Some("")) {
                        m.remove("nodeName");
                    }
                }
                spec
            };
            let (mut o, n) = (strip(old), strip(new));
            if let (Some(om), Some(nn)) = (o.as_object_mut(), new.pointer("/spec/nodeName")) {
                if old.pointer("/spec/nodeName").is_none_or(|x| x.as_str() == Some("")) {
                    om.insert("nodeName".into(), nn.clone());
                }
            }
            if o != n {
                errs.forbidden(&Path::new("spec"), "pod updates may not change fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or setting an unset `spec.nodeName`");
            }
        }
        "ConfigMap" | "Secret"
            if old.get("immutable") == Some(&Value::Bool(true))
                && (old.get("data") != new.get("data") || old.get("binaryData") != new.get("binaryData")) =>
        {
            errs.forbidden(&Path::new("data"), "field is immutable when `immutable` is set");
        }
        _ => {}
    }
    errs.0
}

fn compact(v: Option<&Value>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}
