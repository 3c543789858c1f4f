//! The API server's TLS configuration (rustls): the cluster's serving certificate, and client
//! certificates verified against the cluster CA when offered (bearer tokens need none).

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::pki::Pki;

/// A rustls server configuration for the PKI, speaking HTTP/1.1 (and HTTP/2 when asked).
pub fn server_config(pki: &Pki) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let read_certs = |name: &str| -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(pki.path(name))
            .map_err(|e| format!("{name}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{name}: {e}"))
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs("ca.crt")? {
        roots.add(c).map_err(|e| format!("ca.crt: {e}"))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("client certificate verifier: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).map_err(|e| format!("server.key: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs("server.crt")?, key)
        .map_err(|e| format!("server certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The subject (user, groups) of the verified client certificate of a TLS connection, if any.
pub fn peer_subject(conn: &rustls::ServerConnection) -> Option<(String, Vec<String>)> {
    let certs = conn.peer_certificates()?;
    super::x509::subject(certs.first()?)
}
