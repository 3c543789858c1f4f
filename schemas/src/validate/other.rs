//! Validation of Service, ConfigMap, Secret, Ingress, Node, volumes, Endpoints and Event.

use std::collections::HashSet;

use super::names::{config_key, dns1035_label, dns1123_label, dns1123_subdomain};
use super::{Errors, Path};
use crate::kinds::cluster::{Event, Node, PersistentVolume, PersistentVolumeClaim};
use crate::kinds::config::{ConfigMap, Secret};
use crate::kinds::network::{Endpoints, Ingress, Service};
use crate::meta::IntOrString;

const ACCESS_MODES: &[&str] = &["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];

/// Checks an IngressClass: it names its controller.
pub fn validate_ingressclass(c: &crate::kinds::network::IngressClass, errs: &mut Errors) {
    match c.spec.controller.as_deref() {
        None | Some("") => errs.required(&Path::new("spec").child("controller"), "for example orca.dev/ingress"),
        Some(_) => {}
    }
}

/// Checks a Service.
pub fn validate_service(s: &Service, errs: &mut Errors) {
    let spec = Path::new("spec");
    let t = s.spec.type_.as_deref().unwrap_or("ClusterIP");
    errs.one_of(
        &spec.child("type"),
        t,
        &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
    );
    let ports = s.spec.ports.as_deref().unwrap_or(&[]);
    let headless = s.spec.cluster_ip.as_deref() == Some("None");
    if t == "ExternalName" {
        match &s.spec.external_name {
            Some(n) if dns1123_subdomain(n).is_ok() => {}
            Some(n) => errs.invalid(&spec.child("externalName"), n, "must be a valid DNS name"),
            None => errs.required(&spec.child("externalName"), "required when type is ExternalName"),
        }
    } else if ports.is_empty() && !headless {
        errs.required(&spec.child("ports"), "a Service needs at least one port");
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let pp = spec.child("ports").index(i);
        errs.port(&pp.child("port"), port.port);
        match &port.name {
            Some(n) => {
                if let Err(e) = dns1123_label(n) {
                    errs.invalid(&pp.child("name"), n, &e);
                } else if !names.insert(n.as_str()) {
                    errs.duplicate(&pp.child("name"), n);
                }
            }
            None if ports.len() > 1 => errs.required(
                &pp.child("name"),
                "a name is required when a Service has more than one port",
            ),
            None => {}
        }
        if let Some(proto) = &port.protocol {
            errs.one_of(&pp.child("protocol"), proto, &["TCP", "UDP", "SCTP"]);
        }
        match &port.target_port {
            Some(IntOrString::Int(n)) => errs.port(&pp.child("targetPort"), *n),
            Some(IntOrString::Str(n)) if n.is_empty() || n.len() > 15 => errs.invalid(
                &pp.child("targetPort"),
                n,
                "must be a port number or a port name of at most 15 characters",
            ),
            _ => {}
        }
        if let Some(np) = port.node_port {
            if t == "ClusterIP" && np != 0 {
                errs.forbidden(&pp.child("nodePort"), "may not be used when `type` is 'ClusterIP'");
            } else if np != 0 {
                errs.port(&pp.child("nodePort"), np);
            }
        }
    }
    if let Some(ip) = &s.spec.cluster_ip {
        if !ip.is_empty() && ip != "None" && ip.parse::<std::net::IpAddr>().is_err() {
            errs.invalid(
                &spec.child("clusterIP"),
                ip,
                "must be a valid IP address, 'None' or empty",
            );
        }
    }
    if let Some(a) = &s.spec.session_affinity {
        errs.one_of(&spec.child("sessionAffinity"), a, &["None", "ClientIP"]);
    }
    super::meta::validate_labels(s.spec.selector.as_ref(), &spec.child("selector"), errs);
}

fn validate_data_keys<'a>(
    keys: impl Iterator<Item = &'a String>,
    p: &Path,
    seen: &mut HashSet<String>,
    errs: &mut Errors,
) {
    for k in keys {
        if let Err(e) = config_key(k) {
            errs.invalid(p, k, &e);
        } else if !seen.insert(k.clone()) {
            errs.invalid(p, k, "duplicate of key present in another data map");
        }
    }
}

/// Checks a ConfigMap's keys and size.
pub fn validate_configmap(c: &ConfigMap, errs: &mut Errors) {
    let mut seen = HashSet::new();
    validate_data_keys(
        c.data.iter().flat_map(|d| d.keys()),
        &Path::new("data"),
        &mut seen,
        errs,
    );
    validate_data_keys(
        c.binary_data.iter().flat_map(|d| d.keys()),
        &Path::new("binaryData"),
        &mut seen,
        errs,
    );
    for (k, v) in c.binary_data.iter().flatten() {
        if base64_decode(v).is_none() {
            errs.invalid(&Path::new("binaryData").key(k), "(binary)", "must be base64 encoded");
        }
    }
    let size: usize = c.data.iter().flatten().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        + c.binary_data
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > 1024 * 1024 {
        errs.invalid(&Path::new("data"), size, "total length must be at most 1048576 bytes");
    }
}

/// Checks a Secret's keys, encoding and type.
pub fn validate_secret(s: &Secret, errs: &mut Errors) {
    let mut seen = HashSet::new();
    validate_data_keys(
        s.data.iter().flat_map(|d| d.keys()),
        &Path::new("data"),
        &mut seen,
        errs,
    );
    let mut seen_string = HashSet::new();
    validate_data_keys(
        s.string_data.iter().flat_map(|d| d.keys()),
        &Path::new("stringData"),
        &mut seen_string,
        errs,
    );
    for (k, v) in s.data.iter().flatten() {
        if base64_decode(v).is_none() {
            errs.invalid(
                &Path::new("data").key(k),
                "(hidden)",
                "must be base64 encoded (use stringData for plain text)",
            );
        }
    }
    if s.type_.as_deref() == Some("kubernetes.io/tls") {
        for key in ["tls.crt", "tls.key"] {
            let present = s.data.as_ref().is_some_and(|d| d.contains_key(key))
                || s.string_data.as_ref().is_some_and(|d| d.contains_key(key));
            if !present {
                errs.required(&Path::new("data").key(key), "");
            }
        }
    }
}

/// Checks an Ingress's rules and backends.
pub fn validate_ingress(ing: &Ingress, errs: &mut Errors) {
    let spec = Path::new("spec");
    if ing.spec.default_backend.is_none() && ing.spec.rules.as_ref().is_none_or(Vec::is_empty) {
        errs.invalid(&spec, "", "either `defaultBackend` or `rules` must be specified");
    }
    let check_backend = |b: &crate::kinds::network::IngressBackend, p: &Path, errs: &mut Errors| match &b.service {
        Some(svc) => {
            if let Err(e) = dns1035_label(&svc.name) {
                errs.invalid(&p.child("service").child("name"), &svc.name, &e);
            }
            match (&svc.port.name, svc.port.number) {
                (Some(_), Some(_)) => errs.invalid(
                    &p.child("service").child("port"),
                    "",
                    "cannot set both port name & port number",
                ),
                (None, None) => errs.required(&p.child("service").child("port"), "port name or number is required"),
                (None, Some(n)) => errs.port(&p.child("service").child("port").child("number"), n),
                (Some(_), None) => {}
            }
        }
        None => {
            if b.extra.is_empty() {
                errs.required(&p.child("service"), "a backend needs a service")
            }
        }
    };
    if let Some(b) = &ing.spec.default_backend {
        check_backend(b, &spec.child("defaultBackend"), errs);
    }
    for (i, rule) in ing.spec.rules.iter().flatten().enumerate() {
        let rp = spec.child("rules").index(i);
        if let Some(host) = &rule.host {
            let h = host.strip_prefix("*.").unwrap_or(host);
            if let Err(e) = dns1123_subdomain(h) {
                errs.invalid(&rp.child("host"), host, &e);
            }
        }
        for (j, path) in rule.http.iter().flat_map(|h| h.paths.iter()).enumerate() {
            let pp = rp.child("http").child("paths").index(j);
            match path.path_type.as_deref() {
                Some(t) => errs.one_of(&pp.child("pathType"), t, &["Exact", "Prefix", "ImplementationSpecific"]),
                None => errs.required(&pp.child("pathType"), "pathType must be specified"),
            }
            if let Some(p) = &path.path {
                if !p.starts_with('/') {
                    errs.invalid(&pp.child("path"), p, "must be an absolute path");
                }
            }
            check_backend(&path.backend, &pp.child("backend"), errs);
        }
    }
}

/// Checks a Node's taints, and that its capacity and allocatable are non-negative quantities.
pub fn validate_node(n: &Node, errs: &mut Errors) {
    if let Some(st) = &n.status {
        for (field, map) in [("capacity", &st.capacity), ("allocatable", &st.allocatable)] {
            for (k, q) in map.iter().flatten() {
                errs.quantity(&Path::new("status").child(field).key(k), q);
            }
        }
    }
    for (i, t) in n.spec.taints.iter().flatten().enumerate() {
        let tp = Path::new("spec").child("taints").index(i);
        if t.key.is_empty() {
            errs.required(&tp.child("key"), "");
        }
        errs.one_of(
            &tp.child("effect"),
            &t.effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        );
    }
}

/// Checks a PersistentVolume.
pub fn validate_pv(pv: &PersistentVolume, errs: &mut Errors) {
    let spec = Path::new("spec");
    match pv.spec.capacity.as_ref().and_then(|c| c.get("storage")) {
        Some(q) => errs.quantity(&spec.child("capacity").key("storage"), q),
        None => errs.required(&spec.child("capacity").key("storage"), ""),
    }
    validate_access_modes(&pv.spec.access_modes, &spec, errs);
    if let Some(p) = &pv.spec.persistent_volume_reclaim_policy {
        errs.one_of(
            &spec.child("persistentVolumeReclaimPolicy"),
            p,
            &["Retain", "Delete", "Recycle"],
        );
    }
}

/// Checks a PersistentVolumeClaim.
pub fn validate_pvc(pvc: &PersistentVolumeClaim, errs: &mut Errors) {
    let spec = Path::new("spec");
    validate_access_modes(&pvc.spec.access_modes, &spec, errs);
    match pvc
        .spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
    {
        Some(q) => errs.quantity(&spec.child("resources").child("requests").key("storage"), q),
        None => errs.required(&spec.child("resources").child("requests").key("storage"), ""),
    }
}

fn validate_access_modes(modes: &Option<Vec<String>>, spec: &Path, errs: &mut Errors) {
    let modes = modes.as_deref().unwrap_or(&[]);
    if modes.is_empty() {
        errs.required(&spec.child("accessModes"), "at least 1 access mode is required");
    }
    for (i, m) in modes.iter().enumerate() {
        errs.one_of(&spec.child("accessModes").index(i), m, ACCESS_MODES);
    }
}

/// Checks Endpoints addresses and ports.
pub fn validate_endpoints(ep: &Endpoints, errs: &mut Errors) {
    for (i, s) in ep.subsets.iter().flatten().enumerate() {
        let sp = Path::new("subsets").index(i);
        for (j, a) in s.addresses.iter().flatten().enumerate() {
            if a.ip.parse::<std::net::IpAddr>().is_err() {
                errs.invalid(
                    &sp.child("addresses").index(j).child("ip"),
                    &a.ip,
                    "must be a valid IP address",
                );
            }
        }
        for (j, p) in s.ports.iter().flatten().enumerate() {
            errs.port(&sp.child("ports").index(j).child("port"), p.port);
        }
    }
}

/// Checks an Event.
pub fn validate_event(e: &Event, errs: &mut Errors) {
    if e.involved_object.name.as_deref().unwrap_or("").is_empty() {
        errs.required(&Path::new("involvedObject").child("name"), "");
    }
    if let Some(t) = &e.type_ {
        errs.one_of(&Path::new("type"), t, &["Normal", "Warning"]);
    }
}

/// Decodes standard base64 (with padding); `None` when malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 || chunk[..4 - pad].contains(&b'=') {
            return None;
        }
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= if *b == b'=' { 0 } else { val(*b)? } << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

/// Encodes standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n =
            (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "hello world", "\u{1F600}"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).as_deref(),
                Some(s.as_bytes())
            );
        }
        assert_eq!(base64_encode(b"admin"), "YWRtaW4=");
        assert!(base64_decode("not base64!").is_none());
        assert!(base64_decode("YWRtaW4").is_none());
    }
}
