//! Fields Kubernetes itself does not know (`fieldValidation=Strict`): an object is walked
//! against the field table of Kubernetes' API (`proto/kubernetes.fields`, the same table the
//! protobuf reader uses), so a field orca does not act on but Kubernetes defines passes, and a
//! typo does not.

use serde_json::Value;

use crate::protobuf::{messages, package, Field, Label, INLINE};

/// Types whose JSON form is not the message's fields: times, quantities, int-or-string, raw
/// JSON and managed-field sets.
fn opaque(ty: &str) -> bool {
    ty.ends_with(".Time")
        || ty.ends_with(".MicroTime")
        || ty.ends_with(".Quantity")
        || ty.ends_with(".IntOrString")
        || ty.ends_with(".RawExtension")
        || ty.ends_with(".FieldsV1")
        || ty.ends_with(".JSON")
        || !ty.contains('.')
}

fn walk(v: &Value, ty: &str, path: &str, out: &mut Vec<String>) {
    let Some(obj) = v.as_object() else { return };
    if opaque(ty) {
        return;
    }
    let Some(fields) = messages().get(ty) else { return };
    for (k, x) in obj {
        if k.starts_with('$') || (path.is_empty() && (k == "apiVersion" || k == "kind")) {
            continue;
        }
        let here = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        let Some(f) = find(fields.values(), k) else {
            out.push(here);
            continue;
        };
        match &f.label {
            Label::Optional => walk(x, &f.ty, &here, out),
            Label::Repeated => {
                for (i, item) in x.as_array().into_iter().flatten().enumerate() {
                    walk(item, &f.ty, &format!("{here}[{i}]"), out);
                }
            }
            Label::Map(_, value_ty) => {
                for (key, item) in x.as_object().into_iter().flatten() {
                    walk(item, value_ty, &format!("{here}.{key}"), out);
                }
            }
        }
    }
}

/// The field named `k`, directly or in an inline embedded struct.
fn find<'a>(mut fields: impl Iterator<Item = &'a Field> + Clone, k: &str) -> Option<&'a Field> {
    if let Some(f) = fields.clone().find(|f| f.name == k) {
        return Some(f);
    }
    fields.find_map(|f| {
        if !INLINE.contains(&f.name.as_str()) {
            return None;
        }
        find(messages().get(&f.ty)?.values(), k)
    })
}

/// The paths of `obj`'s fields that Kubernetes' `apiVersion`/`kind` does not define.
pub fn unknown(api_version: &str, kind: &str, obj: &Value) -> Vec<String> {
    let ty = format!("{}.{kind}", package(api_version));
    if !messages().contains_key(&ty) {
        return Vec::new();
    }
    let mut out = Vec::new();
    walk(obj, &ty, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typos_are_found_and_real_fields_pass() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"a": "b"}, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"replicas": 1, "replica": 2, "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "x", "imagePullPolice": "Always",
                    "resources": {"limits": {"cpu": "1"}}, "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]}}}});
        assert_eq!(
            unknown("apps/v1", "Deployment", &d),
            vec!["spec.replica", "spec.template.spec.containers[0].imagePullPolice"]
        );
        let pod = json!({"spec": {"volumes": [{"name": "v", "configMap": {"name": "c"}}],
            "containers": [{"name": "c", "readinessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]}]}});
        assert!(
            unknown("v1", "Pod", &pod).is_empty(),
            "{:?}",
            unknown("v1", "Pod", &pod)
        );
        let ing = json!({"spec": {"rules": [{"host": "a", "http": {"paths": []}}]}});
        assert!(unknown("networking.k8s.io/v1", "Ingress", &ing).is_empty());
        assert!(unknown(
            "v1",
            "ConfigMap",
            &json!({"data": {"k": "v"}, "metadata": {"managedFields": [{"fieldsV1": {"f:data": {}}}]}})
        )
        .is_empty());
    }
}
