//! Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`, what kubectl's generators
//! and typed clients send) read into the JSON object it stands for. The field table
//! (`proto/kubernetes.fields`) is generated from Kubernetes' `generated.proto` files by
//! `proto/generate.py`; field names there are the JSON names. Empty strings, lists and maps, false
//! flags and zero times are left out, as Kubernetes' JSON leaves them out.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use serde_json::{Map, Value};

/// The magic prefix of Kubernetes' protobuf envelope.
pub const MAGIC: &[u8] = b"k8s\0";

static TABLE: &str = include_str!("../proto/kubernetes.fields");

#[derive(Debug)]
pub(crate) enum Label {
    Optional,
    Repeated,
    Map(String, String),
}

#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) label: Label,
    pub(crate) ty: String,
}

pub(crate) type Messages = HashMap<String, HashMap<u64, Field>>;

/// Every message of Kubernetes' API with its fields, by full name.
pub(crate) fn messages() -> &'static Messages {
    static M: OnceLock<Messages> = OnceLock::new();
    M.get_or_init(|| {
        let mut out: Messages = HashMap::new();
        let mut current = String::new();
        for line in TABLE.lines() {
            if let Some(name) = line.strip_prefix("message ") {
                current = name.to_string();
                out.entry(current.clone()).or_default();
                continue;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            let [num, name, label, ty] = parts[..] else { continue };
            let Ok(num) = num.parse() else { continue };
            let (label, ty) = match label {
                "r" => (Label::Repeated, ty.to_string()),
                "m" => {
                    let (k, v) = ty.split_once(',').unwrap_or((ty, ty));
                    (Label::Map(k.to_string(), v.to_string()), String::new())
                }
                _ => (Label::Optional, ty.to_string()),
            };
            out.entry(current.clone()).or_default().insert(
                num,
                Field {
                    name: name.to_string(),
                    label,
                    ty,
                },
            );
        }
        out
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// One raw value off the wire.
enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("truncated field")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next(&mut self) -> Result<Option<(u64, Raw<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let raw = match tag & 7 {
            0 => Raw::Varint(self.varint()?),
            1 => Raw::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "bad fixed64")?)),
            2 => {
                let n = self.varint()? as usize;
                Raw::Bytes(self.take(n)?)
            }
            5 => Raw::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "bad fixed32")?)),
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok(Some((tag >> 3, raw)))
    }
}

fn time(buf: &[u8], micro: bool) -> Result<Value, String> {
    let (mut secs, mut nanos) = (0i64, 0i64);
    let mut r = Reader { buf, pos: 0 };
    while let Some((n, raw)) = r.next()? {
        if let Raw::Varint(v) = raw {
            match n {
                1 => secs = v as i64,
                2 => nanos = v as i64,
                _ => {}
            }
        }
    }
    if secs == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let ts =
        jiff::Timestamp::new(secs, if micro { (nanos / 1000 * 1000) as i32 } else { 0 }).map_err(|e| e.to_string())?;
    Ok(Value::String(if micro { format!("{ts:.6}") } else { ts.to_string() }))
}

fn scalar(ty: &str, raw: &Raw) -> Value {
    match (ty, raw) {
        ("string", Raw::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        ("bytes", Raw::Bytes(b)) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        ("bool", Raw::Varint(v)) => Value::Bool(*v != 0),
        ("int32" | "int64" | "uint32" | "uint64", Raw::Varint(v)) => Value::from(*v as i64),
        ("double", Raw::Fixed64(v)) => {
            serde_json::Number::from_f64(f64::from_bits(*v)).map_or(Value::Null, Value::Number)
        }
        ("float", Raw::Fixed32(v)) => {
            serde_json::Number::from_f64(f64::from(f32::from_bits(*v))).map_or(Value::Null, Value::Number)
        }
        _ => Value::Null,
    }
}

fn value(ty: &str, raw: &Raw) -> Result<Value, String> {
    let Raw::Bytes(b) = raw else {
        return Ok(scalar(ty, raw));
    };
    match ty {
        "string" | "bytes" => Ok(scalar(ty, raw)),
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time" => time(b, false),
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime" => time(b, true),
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => {
            let v = message(b, ty)?;
            Ok(match v.get("type").and_then(Value::as_i64) {
                Some(1) => v.get("strVal").cloned().unwrap_or(Value::Null),
                _ => v.get("intVal").cloned().unwrap_or(Value::from(0)),
            })
        }
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => {
            Ok(message(b, ty)?.get("string").cloned().unwrap_or(Value::Null))
        }
        "k8s.io.apimachinery.pkg.runtime.RawExtension" | "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            let raw = message(b, ty)?;
            let bytes = raw
                .get("raw")
                .or_else(|| raw.get("Raw"))
                .and_then(Value::as_str)
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .unwrap_or_default();
            Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        }
        _ if messages().contains_key(ty) => message(b, ty),
        // Packed repeated numbers are handled by the caller; anything else unknown is dropped.
        _ => Ok(Value::Null),
    }
}

/// What Kubernetes' JSON leaves out (`omitempty`); protobuf carries plain fields even when empty.
/// A false flag is left out too: every flag orca reads is false by default.
fn empty(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Embedded Go structs whose fields JSON carries inline (`configMapKeyRef.name`, not
/// `configMapKeyRef.localObjectReference.name`); protobuf keeps them as a field of their own.
pub(crate) const INLINE: &[&str] = &[
    "localObjectReference",
    "volumeSource",
    "persistentVolumeSource",
    "ingressRuleValue",
    "handler",
];

/// Decodes one message of type `ty`.
fn message(buf: &[u8], ty: &str) -> Result<Value, String> {
    let fields = messages()
        .get(ty)
        .ok_or_else(|| format!("no protobuf schema for {ty}"))?;
    let mut out = Map::new();
    let mut r = Reader { buf, pos: 0 };
    while let Some((n, raw)) = r.next()? {
        let Some(f) = fields.get(&n) else { continue };
        match &f.label {
            Label::Optional => {
                let v = value(&f.ty, &raw)?;
                match v {
                    Value::Object(inner) if INLINE.contains(&f.name.as_str()) => out.extend(inner),
                    v if !empty(&v) => {
                        out.insert(f.name.clone(), v);
                    }
                    _ => {}
                }
            }
            Label::Repeated => {
                let list = out.entry(f.name.clone()).or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(list) = list else { continue };
                match (&raw, f.ty.as_str()) {
                    (Raw::Bytes(b), "int32" | "int64" | "uint32" | "uint64" | "bool") => {
                        let mut packed = Reader { buf: b, pos: 0 };
                        while packed.pos < b.len() {
                            list.push(scalar(&f.ty, &Raw::Varint(packed.varint()?)));
                        }
                    }
                    _ => list.push(value(&f.ty, &raw)?),
                }
            }
            Label::Map(k, v) => {
                let Raw::Bytes(entry) = raw else { continue };
                let (mut key, mut val) = (Value::Null, Value::Null);
                let mut er = Reader { buf: entry, pos: 0 };
                while let Some((en, eraw)) = er.next()? {
                    match en {
                        1 => key = value(k, &eraw)?,
                        2 => val = value(v, &eraw)?,
                        _ => {}
                    }
                }
                if val.is_null() && (v == "string" || v == "bytes") {
                    val = Value::String(String::new());
                }
                let key = match key {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let map = out.entry(f.name.clone()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = map {
                    m.insert(key, val);
                }
            }
        }
    }
    out.retain(|_, v| !empty(v));
    Ok(Value::Object(out))
}

/// The protobuf package of an `apiVersion`.
pub(crate) fn package(api_version: &str) -> String {
    match api_version.split_once('/') {
        None => format!("k8s.io.api.core.{api_version}"),
        Some(("meta.k8s.io", v)) => format!("k8s.io.apimachinery.pkg.apis.meta.{v}"),
        Some((group, v)) => format!("k8s.io.api.{}.{v}", group.split('.').next().unwrap_or(group)),
    }
}

/// Decodes an envelope (`k8s\0` + runtime.Unknown) into the object as JSON, with its
/// `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("the body is not Kubernetes protobuf (no k8s\\0 prefix)")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    let mut r = Reader { buf: rest, pos: 0 };
    while let Some((n, v)) = r.next()? {
        match (n, v) {
            (1, Raw::Bytes(tm)) => {
                let mut t = Reader { buf: tm, pos: 0 };
                while let Some((tn, tv)) = t.next()? {
                    if let Raw::Bytes(s) = tv {
                        let s = String::from_utf8_lossy(s).into_owned();
                        match tn {
                            1 => api_version = s,
                            2 => kind = s,
                            _ => {}
                        }
                    }
                }
            }
            (2, Raw::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    if kind.is_empty() {
        return Err("the protobuf envelope names no kind".into());
    }
    // Options kinds (DeleteOptions, ...) sent under a group's version live in meta/v1.
    let mut ty = format!("{}.{kind}", package(&api_version));
    if !messages().contains_key(&ty) {
        ty = format!("k8s.io.apimachinery.pkg.apis.meta.v1.{kind}");
    }
    let mut obj = message(raw, &ty)?;
    if let Value::Object(m) = &mut obj {
        m.insert("apiVersion".into(), Value::String(api_version));
        m.insert("kind".into(), Value::String(kind));
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3 | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_configmap_from_kubectl_create_decodes() {
        // metadata{name: "cm", creationTimestamp: {}} data{a: "b"}
        let meta = [field(1, b"cm"), field(8, b"")].concat();
        let entry = [field(1, b"a"), field(2, b"b")].concat();
        let cm = [field(1, &meta), field(2, &entry)].concat();
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &cm)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"metadata": {"name": "cm"}, "data": {"a": "b"}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
        assert_eq!(package("apps/v1"), "k8s.io.api.apps.v1");
        assert_eq!(package("networking.k8s.io/v1"), "k8s.io.api.networking.v1");
        assert!(decode(b"{}").is_err());
    }
}
