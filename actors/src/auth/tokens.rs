//! Bearer tokens: a static token file (Kubernetes' CSV format) and ServiceAccount tokens (JWTs
//! signed with the cluster's token key, HS256), checked against the ServiceAccount still existing.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};

use super::Identity;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of lower- or upper-case hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Tokens read from a file of `token,user,uid,"group1,group2"` lines.
#[derive(Debug, Default, Clone)]
pub struct StaticTokens(HashMap<String, Identity>);

impl StaticTokens {
    /// Reads a token file; a malformed line is an error naming its number.
    pub fn load(path: &Path) -> Result<StaticTokens, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(format!(
                    "{} line {}: want token,user,uid[,\"group1,group2\"]",
                    path.display(),
                    i + 1
                ));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            out.insert(fields[0].clone(), Identity::new(&fields[1], &fields[2], groups));
        }
        Ok(StaticTokens(out))
    }

    /// The identity a token names.
    pub fn get(&self, token: &str) -> Option<&Identity> {
        self.0.get(token)
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// What a ServiceAccount token names.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAccountClaim {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub expires: u64,
}

fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// A token for the ServiceAccount, valid until `expires` (seconds since the epoch).
pub fn issue(key: &[u8], c: &ServiceAccountClaim) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({"iss": "orca", "sub": format!("system:serviceaccount:{}:{}", c.namespace, c.name),
        "exp": c.expires, "kubernetes.io": {"namespace": c.namespace, "serviceaccount": {"name": c.name, "uid": c.uid}}});
    let body = format!("{header}.{}", B64.encode(claims.to_string()));
    let sig = B64.encode(sign(key, body.as_bytes()));
    format!("{body}.{sig}")
}

/// The claim of a token this key signed and that has not expired at `now`.
pub fn verify(key: &[u8], token: &str, now: u64) -> Option<ServiceAccountClaim> {
    let (body, sig) = token.rsplit_once('.')?;
    let sig = B64.decode(sig).ok()?;
    ring::hmac::verify(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        body.as_bytes(),
        &sig,
    )
    .ok()?;
    let (_, claims) = body.split_once('.')?;
    let v: Value = serde_json::from_slice(&B64.decode(claims).ok()?).ok()?;
    let k = &v["kubernetes.io"];
    let c = ServiceAccountClaim {
        namespace: k["namespace"].as_str()?.to_string(),
        name: k["serviceaccount"]["name"].as_str()?.to_string(),
        uid: k["serviceaccount"]["uid"].as_str()?.to_string(),
        expires: v["exp"].as_u64()?,
    };
    (c.expires > now).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_key_and_before_they_expire() {
        let c = ServiceAccountClaim {
            namespace: "ns".into(),
            name: "sa".into(),
            uid: "u1".into(),
            expires: 100,
        };
        let t = issue(b"key", &c);
        assert_eq!(verify(b"key", &t, 99), Some(c.clone()));
        assert_eq!(verify(b"key", &t, 100), None, "expired");
        assert_eq!(verify(b"other", &t, 1), None, "another cluster's key");
        let forged = t.replacen(".", ".e30", 1);
        assert_eq!(verify(b"key", &forged, 1), None);
        assert_eq!(unhex(&hex(&[0, 15, 255])), Some(vec![0, 15, 255]));
    }

    #[test]
    fn token_files_read_as_kubernetes_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokens.csv");
        std::fs::write(&p, "# comment\nabc,alice,u1,\"dev,ops\"\ndef,bob,u2\n").unwrap();
        let t = StaticTokens::load(&p).unwrap();
        assert_eq!(
            t.get("abc").unwrap().groups[..2],
            ["dev".to_string(), "ops".to_string()]
        );
        assert_eq!(t.get("def").unwrap().user, "bob");
        std::fs::write(&p, "abc\n").unwrap();
        assert!(StaticTokens::load(&p).unwrap_err().contains("line 1"));
    }
}
