//! Client-side apply's three-way merge: the manifest, the manifest applied last time (kept in the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation) and the live object. Fields the
//! manifest drops since last time are removed; fields others set (replicas from `scale`, `paused`
//! from `rollout pause`) are left alone.

use serde_json::{Map, Value};

/// The annotation holding the last applied manifest.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A JSON merge patch taking `last` to `new` without touching keys neither mentions.
pub fn patch(last: &Value, new: &Value) -> Value {
    match (last, new) {
        (Value::Object(l), Value::Object(n)) => {
            let mut out = Map::new();
            for (k, nv) in n {
                let v = match l.get(k) {
                    Some(lv) if lv.is_object() && nv.is_object() => patch(lv, nv),
                    _ => nv.clone(),
                };
                out.insert(k.clone(), v);
            }
            for k in l.keys() {
                if !n.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(out)
        }
        _ => new.clone(),
    }
}

/// The manifest with its own last-applied annotation set.
pub fn annotate(manifest: &Value) -> Value {
    let mut plain = manifest.clone();
    if let Some(a) = plain["metadata"]["annotations"].as_object_mut() {
        a.remove(LAST_APPLIED);
    }
    let mut out = plain.clone();
    out["metadata"]["annotations"][LAST_APPLIED] = Value::String(plain.to_string());
    out
}

/// The last applied manifest recorded on a live object (empty when it has none).
pub fn last_applied(live: &Value) -> Value {
    live["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// What apply changes: the object without its status and resourceVersion (which other writers
/// move), to tell "unchanged" from "configured".
pub fn desired_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_what_the_manifest_dropped_and_keeps_what_others_set() {
        let last = json!({"spec": {"replicas": 2, "template": {"x": 1}, "minReadySeconds": 5}});
        let new = json!({"spec": {"template": {"x": 2}}});
        assert_eq!(
            patch(&last, &new),
            json!({"spec": {"template": {"x": 2}, "replicas": null, "minReadySeconds": null}})
        );
        // `paused` was never in a manifest: the patch does not mention it.
        assert!(patch(&last, &new)["spec"].get("paused").is_none());
    }
}
