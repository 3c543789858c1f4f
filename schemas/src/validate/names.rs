//! Name rules: DNS-1123 subdomains and labels, DNS-1035 labels, label keys and values.

fn alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: at most 63 lower-case alphanumerics or '-', starting and ending alphanumeric.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be no more than 63 characters and not empty".into());
    }
    let ok = s.chars().all(|c| alnum(c) || c == '-') && s.starts_with(alnum) && s.ends_with(alnum);
    if ok {
        Ok(())
    } else {
        Err("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc')".into())
    }
}

/// A DNS-1123 subdomain: at most 253 characters of dot-separated DNS-1123 labels.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err("must be no more than 253 characters and not empty".into());
    }
    let ok = s.chars().all(|c| alnum(c) || c == '-' || c == '.') && s.starts_with(alnum) && s.ends_with(alnum);
    if ok {
        Ok(())
    } else {
        Err("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')".into())
    }
}

/// A DNS-1035 label: a DNS-1123 label that starts with a letter (Service names).
pub fn dns1035_label(s: &str) -> Result<(), String> {
    dns1123_label(s)?;
    if s.starts_with(|c: char| c.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123')".into())
    }
}

fn qualified_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("name part must consist of at most 63 alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc')".into())
    }
}

/// A label or annotation key: `[prefix/]name`, prefix a DNS-1123 subdomain.
pub fn qualified_key(s: &str) -> Result<(), String> {
    match s.split_once('/') {
        Some((prefix, name)) => {
            dns1123_subdomain(prefix).map_err(|e| format!("prefix part {e}"))?;
            qualified_name(name)
        }
        None => qualified_name(s),
    }
}

/// A label value: empty, or at most 63 characters like a qualified name.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    qualified_name(s).map_err(|_| "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345'), at most 63 characters".into())
}

/// An environment variable name (C identifier-like, as Kubernetes relaxed it).
pub fn env_var_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_graphic() && c != '=');
    if ok {
        Ok(())
    } else {
        Err("a valid environment variable name must consist only of printable ASCII characters other than '=' and must not start with a digit".into())
    }
}

/// A ConfigMap or Secret key: alphanumerics, '-', '_' or '.'.
pub fn config_key(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name')".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        for good in ["a", "web-1", "0abc", "a.b.c"] {
            assert!(dns1123_subdomain(good).is_ok(), "{good}");
        }
        for bad in ["", "Web", "-a", "a-", "a_b", &"x".repeat(254)] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
        assert!(dns1123_label("a.b").is_err());
        assert!(dns1035_label("1abc").is_err());
        assert!(dns1035_label("abc1").is_ok());
        assert!(qualified_key("app.kubernetes.io/name").is_ok());
        assert!(qualified_key("Bad Key").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_x").is_ok());
        assert!(label_value("has space").is_err());
        assert!(env_var_name("MY_VAR").is_ok());
        assert!(env_var_name("1VAR").is_err());
        assert!(config_key("app.properties").is_ok());
        assert!(config_key("a/b").is_err());
    }
}
