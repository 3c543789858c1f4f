//! Kubernetes resource quantities (`100m`, `1.5`, `512Mi`, `1G`, `1e3`) parsed to milli-units.

/// Parses a quantity into thousandths of its unit (`"100m"` -> 100, `"1Ki"` -> 1_024_000).
/// Returns `None` when the text is not a quantity.
pub fn parse_milli(text: &str) -> Option<i128> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() || num == "+" || num == "-" {
        return None;
    }
    let (mul_num, mul_den): (i128, i128) = match suffix {
        "" => (1000, 1),
        "m" => (1, 1),
        "k" => (1_000_000, 1),
        "M" => (1_000_000_000, 1),
        "G" => (1_000_000_000_000, 1),
        "T" => (1_000_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1000 << 10, 1),
        "Mi" => (1000 << 20, 1),
        "Gi" => (1000 << 30, 1),
        "Ti" => (1000 << 40, 1),
        "Pi" => (1000 << 50, 1),
        "Ei" => (1000 << 60, 1),
        "E" => (1_000_000_000_000_000_000_000, 1),
        x if x.starts_with(['e', 'E']) => {
            let exp: u32 = x[1..].parse().ok()?;
            if exp > 18 {
                return None;
            }
            (1000 * 10i128.pow(exp), 1)
        }
        _ => return None,
    };
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    let negative = int_part.starts_with('-');
    let int_digits = int_part.strip_prefix(['+', '-']).unwrap_or(int_part);
    if int_digits.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_digits.chars().all(|c| c.is_ascii_digit()) || !frac_part.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let int_val: i128 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().ok()?
    };
    let frac_digits = frac_part.len().min(18) as u32;
    let frac_val: i128 = if frac_digits == 0 {
        0
    } else {
        frac_part[..frac_digits as usize].parse().ok()?
    };
    let scale = 10i128.pow(frac_digits);
    let total = int_val.checked_mul(scale)?.checked_add(frac_val)?;
    let milli = total.checked_mul(mul_num)? / (scale * mul_den);
    Some(if negative { -milli } else { milli })
}

#[cfg(test)]
mod tests {
    use super::parse_milli;

    #[test]
    fn parses_kubernetes_quantities() {
        for (text, milli) in [
            ("100m", 100),
            ("1", 1000),
            ("1.5", 1500),
            ("0.25", 250),
            ("1Ki", 1_024_000),
            ("512Mi", 512 * 1024 * 1024 * 1000),
            ("1G", 1_000_000_000_000),
            ("1e3", 1_000_000),
            ("2k", 2_000_000),
        ] {
            assert_eq!(parse_milli(text), Some(milli), "{text}");
        }
        for bad in ["", "abc", "1x", "1.2.3", "m", "--1"] {
            assert_eq!(parse_milli(bad), None, "{bad}");
        }
    }
}

/// The text of a quantity written as a YAML or JSON number, as Kubernetes reads it: whole numbers
/// as they are (`1`, `1000000000` for `1e9`), fractions in milli-units (`0.5` -> `500m`).
pub fn number_text(n: &serde_json::Number) -> Option<String> {
    if let Some(i) = n.as_i64() {
        return Some(i.to_string());
    }
    let f = n.as_f64()?;
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    if f.fract() == 0.0 && f < 9.0e18 {
        return Some(format!("{}", f as i64));
    }
    let milli = f * 1000.0;
    if (milli - milli.round()).abs() < 1e-6 {
        return Some(format!("{}m", milli.round() as i64));
    }
    Some(n.to_string())
}

/// Serde helper: a map of quantities whose values may be strings or numbers.
pub mod quantity_map {
    use std::collections::BTreeMap;

    use serde::{de::Error, Deserialize, Deserializer};
    use serde_json::Value;

    /// Reads `{name: quantity}` accepting `"1"`, `1`, `0.5` and `1e9`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BTreeMap<String, String>>, D::Error> {
        let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
        let Some(raw) = raw else { return Ok(None) };
        let mut out = BTreeMap::new();
        for (k, v) in raw {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => {
                    super::number_text(&n).ok_or_else(|| D::Error::custom(format!("{k}: {n} is not a quantity")))?
                }
                other => {
                    return Err(D::Error::custom(format!(
                        "{k}: expected a quantity such as \"500m\" or 1, found {other}"
                    )))
                }
            };
            out.insert(k, text);
        }
        Ok(Some(out))
    }
}

/// Serde helper: one quantity, a string or a number.
pub fn one_quantity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::{de::Error, Deserialize};
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => number_text(&n)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not a quantity"))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a quantity such as \"1Gi\", found {other}"
        ))),
    }
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn numbers_read_as_kubernetes_reads_them() {
        let t = |s: &str| number_text(&serde_json::from_str(s).unwrap()).unwrap();
        assert_eq!(t("1"), "1");
        assert_eq!(t("0.5"), "500m");
        assert_eq!(t("1e9"), "1000000000");
        assert_eq!(t("2.25"), "2250m");
    }
}
