//! Writes for controllers: read the object, change it, write it back with its resourceVersion, and
//! on 409 Conflict start again from a fresh read.

use serde_json::Value;

use crate::bus::client::{status_message, ApiClient};
use crate::bus::Error;

/// Most attempts before a conflict is given back to the caller.
pub const MAX_ATTEMPTS: u32 = 16;
/// Longest pause between two attempts (a random pause up to 2^attempt ms, so racing writers part).
pub const MAX_PAUSE_MS: u64 = 100;

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// The object was written; its new state.
    Written(Value),
    /// The change had nothing to do.
    Unchanged,
    /// The object does not exist.
    Missing,
}

/// Reads `path`, lets `change` edit the object (it returns false when there is nothing to do), and
/// writes it to `path` + `subresource` (`""` or `"/status"`) with the resourceVersion it read.
/// A 409 Conflict is retried from a fresh read, up to [`MAX_ATTEMPTS`] times.
pub async fn update(
    api: &ApiClient,
    path: &str,
    subresource: &str,
    mut change: impl FnMut(&mut Value) -> bool,
) -> Result<Updated, Error> {
    let mut last = String::new();
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            let cap = (1u64 << attempt.min(10)).min(MAX_PAUSE_MS);
            let pause = rand::random_range(0..=cap);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        let got = api.call("GET", path, "", None).await?;
        match got.status {
            200 => {}
            404 => return Ok(Updated::Missing),
            s => {
                return Err(Error::Api {
                    status: s,
                    message: status_message(&got.body),
                })
            }
        }
        let mut obj: Value = serde_json::from_slice(&got.body).map_err(|e| Error::Decode(format!("{path}: {e}")))?;
        if !change(&mut obj) {
            return Ok(Updated::Unchanged);
        }
        let put = api.call("PUT", &format!("{path}{subresource}"), "", Some(&obj)).await?;
        match put.status {
            200 => {
                let v = serde_json::from_slice(&put.body).map_err(|e| Error::Decode(format!("{path}: {e}")))?;
                return Ok(Updated::Written(v));
            }
            409 => last = status_message(&put.body),
            404 => return Ok(Updated::Missing),
            s => {
                return Err(Error::Api {
                    status: s,
                    message: status_message(&put.body),
                })
            }
        }
    }
    Err(Error::Api {
        status: 409,
        message: format!("still conflicting after {MAX_ATTEMPTS} attempts: {last}"),
    })
}

/// Sends one write and accepts 200, 201 and 404 (already gone); anything else is an error naming
/// the call.
pub async fn call_ok(api: &ApiClient, method: &str, path: &str, body: Option<&Value>) -> Result<(), String> {
    let a = api.call(method, path, "", body).await.map_err(|e| e.to_string())?;
    match a.status {
        200 | 201 | 404 => Ok(()),
        s => Err(format!("{method} {path}: {s}: {}", status_message(&a.body))),
    }
}

/// The objects of collection `path` whose controlling owner is `uid`, decoded.
pub async fn owned_by(api: &ApiClient, path: &str, uid: &str) -> Result<Vec<Value>, String> {
    let list = api.list_raw(path, "").await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for b in &list.items {
        let (_, header) = orca_schemas::stored::read_header(b)?;
        if header.controller.as_deref() == Some(uid) {
            out.push(serde_json::from_slice(b).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

/// Writes the fields of `status` into the object's status at `path` (others are kept); nothing is
/// written when they already hold these values.
pub async fn merge_status(api: &ApiClient, path: &str, status: &Value) -> Result<(), String> {
    update(api, path, "/status", |o| {
        let mut merged = if o["status"].is_object() {
            o["status"].clone()
        } else {
            Value::Object(Default::default())
        };
        for (k, v) in status.as_object().into_iter().flatten() {
            merged[k] = v.clone();
        }
        if merged == o["status"] {
            return false;
        }
        o["status"] = merged;
        true
    })
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Creates `obj` as `name` in `collection`, or, when it exists and differs in what `obj` sets,
/// writes `obj` over it (keeping its metadata); retried on conflict.
pub async fn upsert(api: &ApiClient, collection: &str, name: &str, obj: &Value) -> Result<(), String> {
    let path = format!("{collection}/{name}");
    let want = obj.clone();
    let updated = update(api, &path, "", |cur| {
        let mut changed = false;
        for (k, v) in want.as_object().into_iter().flatten() {
            if k == "metadata" {
                for (mk, mv) in v.as_object().into_iter().flatten() {
                    if cur["metadata"][mk] != *mv {
                        cur["metadata"][mk] = mv.clone();
                        changed = true;
                    }
                }
            } else if cur[k] != *v {
                cur[k] = v.clone();
                changed = true;
            }
        }
        changed
    })
    .await
    .map_err(|e| format!("{path}: {e}"))?;
    if updated != Updated::Missing {
        return Ok(());
    }
    let a = api
        .call("POST", collection, "", Some(obj))
        .await
        .map_err(|e| e.to_string())?;
    match a.status {
        200 | 201 | 409 => Ok(()),
        s => Err(format!("POST {collection}: {s}: {}", status_message(&a.body))),
    }
}
