//! Strategic merge patch (`application/strategic-merge-patch+json`), what `kubectl apply`,
//! `kubectl edit` and `kubectl patch` send by default: a merge patch whose lists of named things
//! (containers, env, ports, volumes, mounts, conditions, ...) merge element by element on their
//! merge key, with the directives `$patch` (replace, delete, merge), `$setElementOrder/FIELD`,
//! `$deleteFromPrimitiveList/FIELD` and `$retainKeys`. Lists without a merge key are replaced.

use serde_json::{Map, Value};

/// The merge key of list `field` found under the fields `path` (None: the list is replaced).
pub fn merge_key(path: &[String], field: &str) -> Option<&'static str> {
    let in_container = path
        .iter()
        .any(|p| matches!(p.as_str(), "containers" | "initContainers" | "ephemeralContainers"));
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "env"
        | "resourceClaims"
        | "schedulingGates"
        | "secrets" => "name",
        "ports" if in_container => "containerPort",
        "ports" if path.last().is_some_and(|p| p == "spec") => "port",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "conditions" | "addresses" => "type",
        "ownerReferences" => "uid",
        "podIPs" | "hostIPs" => "ip",
        _ => return None,
    })
}

/// Lists of plain values that merge as sets.
fn primitive_set(field: &str) -> bool {
    matches!(field, "finalizers")
}

fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, x)| (k.clone(), clean(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
        other => other.clone(),
    }
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value], key: &str, path: &mut Vec<String>) {
    if patch.iter().any(|p| p["$patch"] == "replace") {
        *target = patch.iter().filter(|p| p["$patch"] != "replace").map(clean).collect();
        return;
    }
    let server_order: Vec<Value> = target.iter().map(|t| t[key].clone()).collect();
    let named = |v: &Value| patch.iter().any(|p| !v[key].is_null() && p[key] == v[key]);
    // The patch's elements (merged into their server copies), in the patch's order.
    let mut merged = Vec::new();
    for p in patch.iter().filter(|p| p["$patch"] != "delete") {
        match target.iter().find(|t| !p[key].is_null() && t[key] == p[key]) {
            Some(t) => {
                let mut m = t.clone();
                apply(&mut m, p, path);
                merged.push(m);
            }
            None => merged.push(clean(p)),
        }
    }
    let server_only: Vec<Value> = target.iter().filter(|t| !named(t)).cloned().collect();
    // As Kubernetes interleaves them: both lists keep their order; where both elements were on
    // the server, the server's order decides; a new element goes before a server-only one.
    let at = |v: &Value| server_order.iter().position(|k| *k == v[key]);
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(merged.len() + server_only.len());
    while i < server_only.len() || j < merged.len() {
        let take_left = match (server_only.get(i), merged.get(j)) {
            (Some(_), None) => true,
            (None, _) => false,
            (Some(l), Some(r)) => matches!((at(l), at(r)), (Some(a), Some(b)) if a < b),
        };
        if take_left {
            out.push(server_only[i].clone());
            i += 1;
        } else {
            out.push(merged[j].clone());
            j += 1;
        }
    }
    *target = out;
}

fn reorder(list: &mut [Value], order: &[Value], key: Option<&str>) {
    let rank = |v: &Value| {
        let id = key.map_or(v, |k| &v[k]);
        order
            .iter()
            .position(|o| key.map_or(o, |k| &o[k]) == id)
            .unwrap_or(usize::MAX)
    };
    // A stable sort keeps the elements the order does not name in their place at the end.
    list.sort_by_key(rank);
}

/// Applies `patch` to `target`; `path` names the fields above (for merge keys).
pub fn apply(target: &mut Value, patch: &Value, path: &mut Vec<String>) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = clean(patch);
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            orders.push((field.to_string(), v.as_array().cloned().unwrap_or_default()));
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(gone)) = (target.get_mut(field), v.as_array()) {
                list.retain(|x| !gone.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let Some(t) = target.as_object_mut() else { return };
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(_) => {
                path.push(k.clone());
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                apply(slot, v, path);
                path.pop();
                if slot.is_null() {
                    t.remove(k);
                }
            }
            Value::Array(items) => {
                let key = merge_key(path, k);
                let slot = t.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let Value::Array(list) = slot else { continue };
                match key {
                    Some(key) if items.iter().all(Value::is_object) => {
                        path.push(k.clone());
                        merge_list(list, items, key, path);
                        path.pop();
                    }
                    _ if primitive_set(k) => {
                        for x in items {
                            if !list.contains(x) {
                                list.push(x.clone());
                            }
                        }
                    }
                    _ => *list = items.iter().map(clean).collect(),
                }
            }
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
    }
    for (field, order) in orders {
        let key = merge_key(path, &field);
        if let Some(Value::Array(list)) = target.get_mut(&field) {
            reorder(list, &order, key);
        }
    }
    if let (Some(Value::Array(keep)), Some(t)) = (p.get("$retainKeys"), target.as_object_mut()) {
        t.retain(|k, _| keep.iter().any(|x| x == k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(target: Value, patch: Value) -> Value {
        let mut t = target;
        apply(&mut t, &patch, &mut Vec::new());
        t
    }

    #[test]
    fn containers_merge_by_name_and_keep_what_the_patch_does_not_name() {
        let dep = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "c", "image": "busybox", "command": ["sleep", "1"], "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80, "name": "http"}]},
            {"name": "side", "image": "x"}]}}}});
        // What kubectl apply sends when the command and one variable change.
        let patch = json!({"spec": {"replicas": 2, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "c"}],
            "containers": [{"name": "c", "command": ["sleep", "2"],
                "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                "env": [{"name": "B", "value": "3"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
        let out = patched(dep, patch);
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(out["spec"]["replicas"], 2);
        assert_eq!(cs[0]["name"], "side", "setElementOrder");
        assert_eq!(cs[1]["image"], "busybox", "untouched fields stay");
        assert_eq!(cs[1]["command"], json!(["sleep", "2"]), "plain lists are replaced");
        assert_eq!(
            cs[1]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
        );
        assert_eq!(
            cs[1]["ports"],
            json!([{"containerPort": 80, "name": "http", "protocol": "TCP"}])
        );
    }

    #[test]
    fn directives_delete_replace_and_retain() {
        let pod = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
            "spec": {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "hostPath": {"path": "/x"}}],
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let out = patched(
            pod,
            json!({"metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"], "labels": {"y": null}},
                "spec": {"volumes": [{"name": "w", "$patch": "delete"}, {"name": "v", "configMap": {"name": "c"}, "$retainKeys": ["name", "configMap"]}],
                    "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(out["metadata"]["labels"], json!({"x": "1"}));
        assert_eq!(
            out["spec"]["volumes"],
            json!([{"name": "v", "configMap": {"name": "c"}}])
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let replaced = patched(
            json!({"spec": {"ports": [{"port": 1}, {"port": 2}]}}),
            json!({"spec": {"ports": [{"$patch": "replace"}, {"port": 3}]}}),
        );
        assert_eq!(replaced["spec"]["ports"], json!([{"port": 3}]));
        let svc = patched(
            json!({"spec": {"ports": [{"port": 80, "name": "a"}]}}),
            json!({"spec": {"ports": [{"port": 81}]}}),
        );
        assert_eq!(
            svc["spec"]["ports"].as_array().unwrap().len(),
            2,
            "Service ports merge on port"
        );
    }
}
