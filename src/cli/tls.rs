//! orcactl's credentials and TLS: the current kubeconfig context's cluster CA, client certificate
//! or bearer token (files or inline data, as kubectl reads them), as one rustls configuration
//! shared by HTTP requests and streamed connections (exec, attach, port-forward).

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

/// What a kubeconfig context gives a client.
#[derive(Default, Clone)]
pub struct Credentials {
    pub ca_pem: Option<Vec<u8>>,
    pub cert_pem: Option<Vec<u8>>,
    pub key_pem: Option<Vec<u8>>,
    pub token: Option<String>,
    pub insecure_skip_verify: bool,
}

/// Inline `NAME-data` (base64) or the file `NAME` names.
fn data_or_file(v: &Value, name: &str) -> Result<Option<Vec<u8>>> {
    if let Some(d) = v[format!("{name}-data")].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .with_context(|| format!("{name}-data in the kubeconfig is not base64"))?;
        return Ok(Some(bytes));
    }
    match v[name].as_str() {
        Some(path) => Ok(Some(
            std::fs::read(path).with_context(|| format!("reading {name} {path}"))?,
        )),
        None => Ok(None),
    }
}

impl Credentials {
    /// Credentials from a kubeconfig's cluster and user entries.
    pub fn from_entries(cluster: &Value, user: &Value) -> Result<Credentials> {
        let token = match (user["token"].as_str(), user["tokenFile"].as_str()) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("reading tokenFile {f}"))?
                    .trim()
                    .to_string(),
            ),
            _ => None,
        };
        Ok(Credentials {
            ca_pem: data_or_file(cluster, "certificate-authority")?,
            cert_pem: data_or_file(user, "client-certificate")?,
            key_pem: data_or_file(user, "client-key")?,
            token,
            insecure_skip_verify: cluster["insecure-skip-tls-verify"].as_bool().unwrap_or(false),
        })
    }

    /// The rustls configuration: the cluster CA as the only root (the system's when none is
    /// given is not consulted: an orca cluster has its own CA), and the client certificate.
    pub fn client_config(&self) -> Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow!("TLS: {e}"))?;
        let builder = if self.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            let ca = self
                .ca_pem
                .as_deref()
                .ok_or_else(|| anyhow!("the kubeconfig gives no certificate-authority for an https server"))?;
            for c in CertificateDer::pem_slice_iter(ca) {
                roots
                    .add(c.context("the cluster CA is not PEM")?)
                    .context("the cluster CA")?;
            }
            builder.with_root_certificates(roots)
        };
        let mut config = match (&self.cert_pem, &self.key_pem) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .context("client-certificate is not PEM")?;
                let key = PrivateKeyDer::from_pem_slice(key).context("client-key is not PEM")?;
                builder
                    .with_client_auth_cert(chain, key)
                    .context("client certificate")?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// `insecure-skip-tls-verify: true`: any server certificate is taken.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
