//! Container environment: `env` values, `valueFrom` (ConfigMap, Secret, pod fields) and `envFrom`.

use serde_json::Value;

use orca_schemas::kinds::pod::Container;
use orca_schemas::validate::other::base64_decode;

use crate::bus::client::ApiClient;

/// Why the environment could not be built (reported as CreateContainerConfigError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError(pub String);

async fn fetch(api: &ApiClient, kind: &str, ns: &str, name: &str) -> Result<Option<Value>, EnvError> {
    let path = format!("/api/v1/namespaces/{ns}/{kind}/{name}");
    match api.call("GET", &path, "", None).await {
        Ok(a) if a.status == 200 => Ok(serde_json::from_slice(&a.body).ok()),
        Ok(a) if a.status == 404 => Ok(None),
        Ok(a) => Err(EnvError(format!("reading {kind} {name}: status {}", a.status))),
        Err(e) => Err(EnvError(format!("reading {kind} {name}: {e}"))),
    }
}

fn data_of(obj: &Value, secret: bool) -> Vec<(String, String)> {
    obj.get("data")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = v.as_str().unwrap_or_default();
                    let value = if secret {
                        base64_decode(s)
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_default()
                    } else {
                        s.to_string()
                    };
                    (k.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A pod field for `fieldRef`.
pub fn field(pod: &Value, path: &str, host_ip: &str) -> String {
    match path {
        "status.podIP" | "status.hostIP" => host_ip.to_string(),
        p => {
            if let Some(key) = p.strip_prefix("metadata.labels['").and_then(|k| k.strip_suffix("']")) {
                return pod
                    .pointer("/metadata/labels")
                    .and_then(|l| l.get(key))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
            }
            if let Some(key) = p
                .strip_prefix("metadata.annotations['")
                .and_then(|k| k.strip_suffix("']"))
            {
                return pod
                    .pointer("/metadata/annotations")
                    .and_then(|l| l.get(key))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
            }
            pod.pointer(&format!("/{}", p.replace('.', "/")))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        }
    }
}

/// Builds the environment of a container, in Kubernetes' order (envFrom first, then env).
pub async fn resolve(
    api: &ApiClient,
    pod: &Value,
    c: &Container,
    host_ip: &str,
) -> Result<Vec<(String, String)>, EnvError> {
    let ns = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    // Service variables come first: the container's own env and envFrom override them.
    let mut out: Vec<(String, String)> = super::service_env::for_pod(api, pod, ns).await.map_err(EnvError)?;
    let set = |k: String, v: String, out: &mut Vec<(String, String)>| {
        out.retain(|(x, _)| *x != k);
        out.push((k, v));
    };
    for ef in c.env_from.iter().flatten() {
        let prefix = ef.prefix.clone().unwrap_or_default();
        let (kind, r, secret) = match (&ef.config_map_ref, &ef.secret_ref) {
            (Some(r), _) => ("configmaps", r, false),
            (_, Some(r)) => ("secrets", r, true),
            _ => continue,
        };
        match fetch(api, kind, ns, &r.name).await? {
            Some(obj) => {
                for (k, v) in data_of(&obj, secret) {
                    set(format!("{prefix}{k}"), v, &mut out);
                }
            }
            None if r.optional == Some(true) => {}
            None => {
                return Err(EnvError(format!(
                    "{} \"{}\" not found",
                    &kind[..kind.len() - 1],
                    r.name
                )))
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (_, Some(vf)) => {
                if let Some(f) = &vf.field_ref {
                    field(pod, &f.field_path, host_ip)
                } else {
                    let (kind, r, secret) = match (&vf.config_map_key_ref, &vf.secret_key_ref) {
                        (Some(r), _) => ("configmaps", r, false),
                        (_, Some(r)) => ("secrets", r, true),
                        _ => continue,
                    };
                    let found = fetch(api, kind, ns, &r.name).await?.and_then(|obj| {
                        data_of(&obj, secret)
                            .into_iter()
                            .find(|(k, _)| *k == r.key)
                            .map(|(_, v)| v)
                    });
                    match found {
                        Some(v) => v,
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(EnvError(format!(
                                "couldn't find key {} in {} {}/{}",
                                r.key,
                                &kind[..kind.len() - 1],
                                ns,
                                r.name
                            )))
                        }
                    }
                }
            }
            (Some(v), None) => expand(v, &out),
            (None, None) => String::new(),
        };
        set(e.name.clone(), value, &mut out);
    }
    Ok(out)
}

/// Expands `$(VAR)` references to earlier variables, as Kubernetes does.
pub fn expand(value: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("$(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                let name = &after[..j];
                match env.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 3 + j]),
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_expansion() {
        let pod =
            json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}}, "spec": {"nodeName": "n1"}});
        assert_eq!(field(&pod, "metadata.name", "10.0.0.1"), "p");
        assert_eq!(field(&pod, "spec.nodeName", "10.0.0.1"), "n1");
        assert_eq!(field(&pod, "status.podIP", "10.0.0.1"), "10.0.0.1");
        assert_eq!(field(&pod, "metadata.labels['app']", ""), "web");
        let env = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-y", &env), "x-$(B)-y");
    }
}
