//! Field sets of server-side apply: the fields of an object one manager set, as paths
//! (`f:spec`, `f:containers`, `k:{"name":"c"}`, ...), read from and written to the `fieldsV1`
//! form of `metadata.managedFields`. Lists with a merge key are keyed by it; other lists are
//! one field (atomic).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::strategic::merge_key;

/// One path element: `f:NAME` for an object field, `k:{KEY}` for a keyed list item.
pub type Element = String;
/// A path from the object's root.
pub type Path = Vec<Element>;

/// A set of field paths. A keyed list item is a member of its own (`.` in `fieldsV1`) besides
/// its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<Path>);

/// Fields no manager owns: identity and server-set metadata, and `status`.
fn skipped(path: &[Element], field: &str) -> bool {
    match path.len() {
        0 => matches!(field, "apiVersion" | "kind" | "status"),
        1 if path[0] == "f:metadata" => matches!(
            field,
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "managedFields"
                | "selfLink"
        ),
        _ => false,
    }
}

/// The field names along `path` (for merge-key lookups).
fn names(path: &[Element]) -> Vec<String> {
    path.iter()
        .filter_map(|e| e.strip_prefix("f:"))
        .map(str::to_string)
        .collect()
}

/// The element naming a keyed list item.
pub fn item_element(key: &str, item: &Value) -> Option<Element> {
    let k = item.get(key).filter(|k| !k.is_null())?;
    let mut m = Map::new();
    m.insert(key.to_string(), k.clone());
    Some(format!("k:{}", Value::Object(m)))
}

impl FieldSet {
    /// The fields `obj` sets (its leaves and keyed list items).
    pub fn of(obj: &Value) -> FieldSet {
        let mut out = FieldSet::default();
        walk(obj, &mut Vec::new(), &mut out.0);
        out
    }

    /// Whether there is nothing in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Paths in both.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Paths of `self` not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    /// Paths of either.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    /// The `fieldsV1` form: nested objects, `{}` for a leaf, `.` for an item that is a member
    /// and has fields below it.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for e in path {
                let child = node.entry(e.clone()).or_insert_with(|| Value::Object(Map::new()));
                node = child.as_object_mut().expect("fieldsV1 nodes are objects");
            }
        }
        mark_members(&mut root, &self.0, &mut Vec::new());
        Value::Object(root)
    }

    /// Reads the `fieldsV1` form.
    pub fn from_json(v: &Value) -> FieldSet {
        let mut out = FieldSet::default();
        read(v, &mut Vec::new(), &mut out.0);
        out
    }
}

fn mark_members(node: &mut Map<String, Value>, members: &BTreeSet<Path>, path: &mut Path) {
    for (k, child) in node.iter_mut() {
        if k == "." {
            continue;
        }
        path.push(k.clone());
        if let Some(c) = child.as_object_mut() {
            if !c.is_empty() && members.contains(path) && !c.contains_key(".") {
                c.insert(".".into(), Value::Object(Map::new()));
            }
            mark_members(c, members, path);
        }
        path.pop();
    }
}

fn read(v: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(m) = v.as_object() else { return };
    if (m.is_empty() || m.contains_key(".")) && !path.is_empty() {
        out.insert(path.clone());
    }
    for (k, child) in m {
        if k == "." {
            continue;
        }
        path.push(k.clone());
        read(child, path, out);
        path.pop();
    }
}

fn walk(v: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(m) = v.as_object() else { return };
    for (field, x) in m {
        if skipped(path, field) {
            continue;
        }
        path.push(format!("f:{field}"));
        match x {
            Value::Object(o) if !o.is_empty() => walk(x, path, out),
            Value::Array(items) => {
                let above = names(path);
                let key = merge_key(&above[..above.len() - 1], field);
                match key.filter(|_| !items.is_empty() && items.iter().all(Value::is_object)) {
                    Some(key) => {
                        for item in items {
                            match item_element(key, item) {
                                Some(e) => {
                                    path.push(e);
                                    out.insert(path.clone());
                                    walk(item, path, out);
                                    path.pop();
                                }
                                // An item without its key cannot be told apart: the list is one field.
                                None => {
                                    out.insert(path.clone());
                                }
                            }
                        }
                    }
                    None => {
                        out.insert(path.clone());
                    }
                }
            }
            _ => {
                out.insert(path.clone());
            }
        }
        path.pop();
    }
}

/// The value at `path` in `obj`, if there is one.
pub fn get<'a>(obj: &'a Value, path: &[Element]) -> Option<&'a Value> {
    let mut cur = obj;
    for e in path {
        cur = step(cur, e)?;
    }
    Some(cur)
}

fn key_of(e: &str) -> Option<(String, Value)> {
    let v: Value = serde_json::from_str(e.strip_prefix("k:")?).ok()?;
    let (k, x) = v.as_object()?.iter().next()?;
    Some((k.clone(), x.clone()))
}

fn step<'a>(v: &'a Value, e: &str) -> Option<&'a Value> {
    if let Some(f) = e.strip_prefix("f:") {
        return v.get(f);
    }
    let (k, x) = key_of(e)?;
    v.as_array()?.iter().find(|i| i.get(&k) == Some(&x))
}

/// Removes the value at `path` from `obj` (an object field, or a keyed list item); nothing when
/// it is not there.
pub fn remove(obj: &mut Value, path: &[Element]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for e in parent {
        let next = if let Some(f) = e.strip_prefix("f:") {
            cur.get_mut(f)
        } else if let Some((k, x)) = key_of(e) {
            cur.as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| i.get(&k) == Some(&x)))
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some((k, x)) = key_of(last) {
        if let Some(a) = cur.as_array_mut() {
            a.retain(|i| i.get(&k) != Some(&x));
        }
    }
}

/// A path as Kubernetes prints it in conflicts: `.spec.containers[name="c"].image`.
pub fn display(path: &[Element]) -> String {
    let mut s = String::new();
    for e in path {
        if let Some(f) = e.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some((k, x)) = key_of(e) {
            s.push_str(&format!("[{k}={x}]"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_key_named_items_and_round_trip_through_fields_v1() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "c", "image": "busybox", "args": ["a", "b"]}]}}},
            "status": {"replicas": 1}});
        let set = FieldSet::of(&obj);
        let text: Vec<String> = set.0.iter().map(|p| display(p)).collect();
        assert_eq!(
            text,
            [
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"c\"]",
                ".spec.template.spec.containers[name=\"c\"].args",
                ".spec.template.spec.containers[name=\"c\"].image",
                ".spec.template.spec.containers[name=\"c\"].name",
            ]
        );
        let v1 = set.to_json();
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"],
            json!({".": {}, "f:name": {}, "f:image": {}, "f:args": {}})
        );
        assert_eq!(FieldSet::from_json(&v1), set);
        let path = set.0.iter().find(|p| display(p).ends_with(".image")).unwrap();
        assert_eq!(get(&obj, path), Some(&json!("busybox")));
        let mut o = obj.clone();
        remove(&mut o, &path[..path.len() - 1]);
        assert_eq!(o["spec"]["template"]["spec"]["containers"], json!([]));
    }
}
