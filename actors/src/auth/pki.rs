//! The cluster's certificates: a CA made on first start, the API server's serving certificate,
//! the admin's client certificate and the key that signs ServiceAccount tokens (`DATA/pki`).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The user and group of the admin certificate `orca up` writes into the kubeconfig.
pub const ADMIN_USER: &str = "orca-admin";
/// Members of this group may do anything (as in Kubernetes).
pub const MASTERS: &str = "system:masters";

/// The files of a cluster's PKI.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
}

/// A certificate and its key, PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "orca-ca");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut p, 10);
    p
}

fn validity(p: &mut CertificateParams, years: i32) {
    // From the start of last year (clocks drift) to `years` after the start of this one.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let year = 1970 + (secs as f64 / (365.2425 * 86400.0)) as i32;
    p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(year + years, 1, 1);
}

/// Writes a file only its owner can read (atomically: a temporary file renamed).
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err(&tmp.display().to_string(), e))?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| err(&tmp.display().to_string(), e))?;
    f.sync_all().map_err(|e| err(&tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(&path.display().to_string(), e))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| err(&path.display().to_string(), e))
}

impl Pki {
    /// Opens `dir`, making the CA, the server certificate (for `hosts`), the admin certificate
    /// and the token key on first use. A server certificate that lacks one of `hosts` is made again.
    pub fn ensure(dir: &Path, hosts: &[String]) -> Result<Pki, String> {
        std::fs::create_dir_all(dir).map_err(|e| err(&dir.display().to_string(), e))?;
        let pki = Pki { dir: dir.to_path_buf() };
        if !pki.path("ca.key").exists() {
            let key = KeyPair::generate().map_err(|e| err("generating the CA key", e))?;
            let cert = ca_params().self_signed(&key).map_err(|e| err("making the CA", e))?;
            write_private(&pki.path("ca.key"), &key.serialize_pem())?;
            write_private(&pki.path("ca.crt"), &cert.pem())?;
        }
        let wanted = hosts.join(",");
        if read(&pki.path("server.hosts")).ok().as_deref() != Some(wanted.as_str()) || !pki.path("server.crt").exists()
        {
            let s = pki.issue_server(hosts)?;
            write_private(&pki.path("server.key"), &s.key_pem)?;
            write_private(&pki.path("server.crt"), &s.cert_pem)?;
            write_private(&pki.path("server.hosts"), &wanted)?;
        }
        if !pki.path("admin.crt").exists() {
            let a = pki.issue_client(ADMIN_USER, Some(MASTERS))?;
            write_private(&pki.path("admin.key"), &a.key_pem)?;
            write_private(&pki.path("admin.crt"), &a.cert_pem)?;
        }
        if !pki.path("token.key").exists() {
            let key: [u8; 32] = rand::random();
            write_private(&pki.path("token.key"), &super::tokens::hex(&key))?;
        }
        Ok(pki)
    }

    /// The PKI another process made in `dir`, as it is (nothing made or changed).
    pub fn open(dir: &Path) -> Pki {
        Pki { dir: dir.to_path_buf() }
    }

    /// A file of the PKI.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> Result<String, String> {
        read(&self.path("ca.crt"))
    }

    /// The admin's certificate and key, PEM.
    pub fn admin(&self) -> Result<Issued, String> {
        Ok(Issued {
            cert_pem: read(&self.path("admin.crt"))?,
            key_pem: read(&self.path("admin.key"))?,
        })
    }

    /// The key that signs ServiceAccount tokens.
    pub fn token_key(&self) -> Result<Vec<u8>, String> {
        super::tokens::unhex(read(&self.path("token.key"))?.trim()).ok_or_else(|| "token.key is not hex".to_string())
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, String> {
        let key = KeyPair::from_pem(&read(&self.path("ca.key"))?).map_err(|e| err("reading the CA key", e))?;
        Ok(Issuer::new(ca_params(), key))
    }

    fn issue(&self, mut params: CertificateParams) -> Result<Issued, String> {
        validity(&mut params, 1);
        let key = KeyPair::generate().map_err(|e| err("generating a key", e))?;
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(|e| err("signing a certificate", e))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    fn issue_server(&self, hosts: &[String]) -> Result<Issued, String> {
        let mut p = CertificateParams::new(hosts.to_vec()).map_err(|e| err("server certificate names", e))?;
        p.distinguished_name.push(DnType::CommonName, "orca-apiserver");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        self.issue(p)
    }

    /// A client certificate for `user` (CN) in `group` (O), as Kubernetes reads them.
    pub fn issue_client(&self, user: &str, group: Option<&str>) -> Result<Issued, String> {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, user);
        if let Some(g) = group {
            p.distinguished_name.push(DnType::OrganizationName, g);
        }
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        self.issue(p)
    }
}

/// The names a server certificate covers: loopback, this host's name, and the listen address.
pub fn server_hosts(listen: &str) -> Vec<String> {
    let mut out = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if let Ok(h) = nix::unistd::gethostname() {
        out.push(h.to_string_lossy().into_owned());
    }
    if let Ok(a) = listen.parse::<std::net::SocketAddr>() {
        if !a.ip().is_unspecified() {
            out.push(a.ip().to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}
