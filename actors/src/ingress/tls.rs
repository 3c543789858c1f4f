//! TLS for Ingress: certificates from `kubernetes.io/tls` Secrets (`tls.crt`, `tls.key`, PEM),
//! chosen by the client's SNI name (exact host, then `*.` wildcard, then an entry without hosts,
//! then the first certificate for clients that send no name).

use std::sync::Arc;

use base64::Engine;
use parking_lot::RwLock;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

/// A loaded certificate and the hosts it serves.
#[derive(Debug)]
pub struct Loaded {
    /// Hosts (exact or `*.` wildcard); empty: any.
    pub hosts: Vec<String>,
    /// Certificate chain and key.
    pub key: Arc<CertifiedKey>,
}

/// Picks a certificate by SNI; replaced whole when the Ingresses or Secrets change.
#[derive(Debug, Default)]
pub struct CertResolver {
    certs: RwLock<Vec<Loaded>>,
}

impl CertResolver {
    /// Installs a new set of certificates.
    pub fn set(&self, certs: Vec<Loaded>) {
        *self.certs.write() = certs;
    }

    /// The certificate for `name` (None: the first one).
    pub fn pick(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.read();
        if let Some(name) = name.map(str::to_ascii_lowercase) {
            let wildcard = name.split_once('.').map(|(_, rest)| format!("*.{rest}"));
            for want in [Some(name.clone()), wildcard].into_iter().flatten() {
                if let Some(c) = certs.iter().find(|c| c.hosts.contains(&want)) {
                    return Some(c.key.clone());
                }
            }
            if let Some(c) = certs.iter().find(|c| c.hosts.is_empty()) {
                return Some(c.key.clone());
            }
        }
        certs.first().map(|c| c.key.clone())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(hello.server_name())
    }
}

/// The certificate and key of a TLS Secret (its `data`, base64 as the API returns it).
pub fn from_secret(secret: &Value) -> Result<Arc<CertifiedKey>, String> {
    let field = |k: &str| -> Result<Vec<u8>, String> {
        let b64 = secret["data"][k]
            .as_str()
            .ok_or_else(|| format!("the Secret has no data[{k:?}]"))?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("data[{k:?}] is not base64: {e}"))
    };
    let (crt, key) = (field("tls.crt")?, field("tls.key")?);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&crt)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.crt: {e}"))?;
    if chain.is_empty() {
        return Err("tls.crt holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("tls.key: {e}"))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| format!("tls.key: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(chain, signer)))
}

/// A server configuration that answers with the resolver's certificates.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
