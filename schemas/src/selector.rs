//! Label selectors (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) and field selectors, parsed and matched.

use std::collections::BTreeMap;

use crate::meta::LabelSelector;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value`: also true when the key is absent.
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)`: also true when the key is absent.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

/// A conjunction of requirements; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

/// A selector that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse selector {text:?}: {reason}")]
pub struct SelectorError {
    /// The text as given.
    pub text: String,
    /// What was wrong.
    pub reason: String,
}

impl Selector {
    /// Parses kubectl's selector syntax.
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let err = |reason: &str| SelectorError {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let mut reqs = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(checked_key(key.trim()).map_err(|r| err(&r))?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(checked_key(k.trim()).map_err(|r| err(&r))?, v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(checked_key(k.trim()).map_err(|r| err(&r))?, v.trim().to_string())
            } else if let Some((k, rest)) = split_set_op(part, " notin ") {
                Requirement::NotIn(
                    checked_key(k).map_err(|r| err(&r))?,
                    parse_set(rest).map_err(|r| err(&r))?,
                )
            } else if let Some((k, rest)) = split_set_op(part, " in ") {
                Requirement::In(
                    checked_key(k).map_err(|r| err(&r))?,
                    parse_set(rest).map_err(|r| err(&r))?,
                )
            } else {
                Requirement::Exists(checked_key(part).map_err(|r| err(&r))?)
            };
            reqs.push(req);
        }
        Ok(Selector(reqs))
    }

    /// Parses a label selector: as `parse`, and every value must be a valid label value (what
    /// Kubernetes answers `labelSelector=a=(b` with).
    pub fn parse_labels(text: &str) -> Result<Selector, SelectorError> {
        let sel = Selector::parse(text)?;
        for r in &sel.0 {
            let values: Vec<&String> = match r {
                Requirement::Equals(_, v) | Requirement::NotEquals(_, v) => vec![v],
                Requirement::In(_, vs) | Requirement::NotIn(_, vs) => vs.iter().collect(),
                _ => Vec::new(),
            };
            for v in values {
                if !label_value_ok(v) {
                    return Err(SelectorError {
                        text: text.to_string(),
                        reason: format!(
                            "invalid label value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63)"
                        ),
                    });
                }
            }
        }
        Ok(sel)
    }

    /// Builds a selector from a manifest's `LabelSelector`.
    pub fn from_label_selector(sel: &LabelSelector) -> Result<Selector, SelectorError> {
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::Equals(k.clone(), v.clone()));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            reqs.push(match e.operator.as_str() {
                "In" => Requirement::In(e.key.clone(), values),
                "NotIn" => Requirement::NotIn(e.key.clone(), values),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                other => {
                    return Err(SelectorError {
                        text: format!("{} {}", e.key, other),
                        reason: format!("unknown operator {other:?}"),
                    })
                }
            });
        }
        Ok(Selector(reqs))
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|k| labels.get(k).map(String::as_str))
    }

    /// Whether values looked up by `get` satisfy every requirement.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }

    /// Whether the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_set_op<'a>(part: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    part.find(op).map(|i| (part[..i].trim(), part[i + op.len()..].trim()))
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| "expected a parenthesised set of values".to_string())?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn checked_key(key: &str) -> Result<String, String> {
    if key.is_empty() || key.contains(char::is_whitespace) || key.contains(['(', ')', '=', '!']) {
        return Err(format!("invalid key {key:?}"));
    }
    Ok(key.to_string())
}

/// Kubernetes' label value: empty, or at most 63 of alphanumerics, `-`, `_`, `.`, alphanumeric at
/// both ends.
fn label_value_ok(v: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    v.is_empty()
        || (v.len() <= 63
            && edge(v.chars().next())
            && edge(v.chars().last())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

/// Field selectors (`metadata.name=x,spec.nodeName!=y`): only equality and inequality.
pub fn parse_field_selector(text: &str) -> Result<Selector, SelectorError> {
    let sel = Selector::parse(text)?;
    for r in &sel.0 {
        if !matches!(r, Requirement::Equals(..) | Requirement::NotEquals(..)) {
            return Err(SelectorError {
                text: text.to_string(),
                reason: "field selectors support only =, == and !=".to_string(),
            });
        }
    }
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_values_are_checked() {
        assert!(Selector::parse_labels("a=(b").is_err());
        assert!(Selector::parse_labels("a in (x, y-z),b!=c.d,e").is_ok());
        assert!(Selector::parse_labels("a=-x").is_err());
        assert!(Selector::parse_labels("a=").is_ok());
    }

    #[test]
    fn matches_every_operator() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("env", "prod")]);
        for (sel, want) in [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("tier in (front,back)", true),
            ("tier in (back)", false),
            ("env notin (dev,test)", true),
            ("env notin (prod)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("app=web,tier in (front),!missing", true),
            ("app=web,env=dev", false),
        ] {
            assert_eq!(Selector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in ["tier in front", "a b", "=x"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_field_selector("metadata.name in (a)").is_err());
        assert!(parse_field_selector("metadata.name=a,spec.nodeName!=n1").is_ok());
    }

    #[test]
    fn label_selector_struct() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![crate::meta::LabelSelectorRequirement {
                key: "env".into(),
                operator: "NotIn".into(),
                values: Some(vec!["dev".into()]),
            }]),
            ..Default::default()
        };
        let s = Selector::from_label_selector(&sel).unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev")])));
    }
}
