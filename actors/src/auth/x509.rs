//! Reads the subject of a verified client certificate: its common name (the user) and
//! organizations (the groups), as Kubernetes does. A minimal DER walk; the signature was
//! checked by rustls before this runs.

/// One DER element: tag, content, and what follows it.
fn element(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0a];

/// The subject's common name and organizations.
pub fn subject(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (tag, cert, _) = element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] version (optional), serial, signature algorithm, issuer, validity, subject.
    let (tag, _, after) = element(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (tag, mut name, _) = element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (mut cn, mut orgs) = (None, Vec::new());
    while !name.is_empty() {
        let (tag, mut set, next) = element(name)?;
        name = next;
        if tag != SET {
            return None;
        }
        while !set.is_empty() {
            let (tag, atv, next) = element(set)?;
            set = next;
            if tag != SEQUENCE {
                return None;
            }
            let (tag, oid, value) = element(atv)?;
            if tag != OID {
                return None;
            }
            let (_, text, _) = element(value)?;
            let text = String::from_utf8(text.to_vec()).ok()?;
            match oid {
                CN => cn = Some(text),
                O => orgs.push(text),
                _ => {}
            }
        }
    }
    Some((cn?, orgs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_of_a_certificate_rcgen_made() {
        let dir = tempfile::tempdir().unwrap();
        let pki = super::super::pki::Pki::ensure(dir.path(), &["localhost".into()]).unwrap();
        let issued = pki.issue_client("alice", Some("dev")).unwrap();
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(issued.cert_pem.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
            .unwrap();
        assert_eq!(subject(&der), Some(("alice".into(), vec!["dev".into()])));
        for cut in [0, 1, 10, der.len() / 2] {
            assert_eq!(subject(&der[..cut]), None, "a truncated certificate at {cut}");
        }
    }
}
