//! kubectl's JSONPath templates (`-o jsonpath=...`, `-o custom-columns=...`, `wait
//! --for=jsonpath=...`): `{.a.b}`, `{.items[0]}`, `{.items[*].name}`, filters
//! `[?(@.type=="Ready")]`, `{range .items[*]}...{end}`, quoted literals `{"\n"}` and plain text.

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter(String, String),
}

fn parse_path(expr: &str) -> Result<Vec<Step>> {
    let e = expr.trim();
    let e = e.strip_prefix('$').unwrap_or(e);
    let chars: Vec<char> = e.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
            }
            '[' => {
                let end = (i..chars.len())
                    .find(|&j| chars[j] == ']' && chars[i..j].iter().filter(|c| **c == '"').count() % 2 == 0)
                    .ok_or_else(|| anyhow!("unclosed [ in {expr:?}"))?;
                let inner: String = chars[i + 1..end].iter().collect();
                let inner = inner.trim();
                if inner == "*" {
                    steps.push(Step::All);
                } else if let Some(f) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                    let (lhs, rhs) = f
                        .split_once("==")
                        .ok_or_else(|| anyhow!("only == filters are supported: {inner:?}"))?;
                    let field = lhs
                        .trim()
                        .strip_prefix("@.")
                        .ok_or_else(|| anyhow!("a filter starts with @.: {inner:?}"))?;
                    let value = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
                    steps.push(Step::Filter(field.to_string(), value.to_string()));
                } else if let Ok(n) = inner.parse::<i64>() {
                    steps.push(Step::Index(n));
                } else {
                    steps.push(Step::Field(inner.trim_matches(|c| c == '"' || c == '\'').to_string()));
                }
                i = end + 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                // A bare first field (`metadata.name`), as custom-columns allow.
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                steps.push(Step::Field(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(steps)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The values `expr` selects in `v`.
pub fn select<'a>(v: &'a Value, expr: &str) -> Result<Vec<&'a Value>> {
    let mut cur = vec![v];
    for step in parse_path(expr)? {
        let mut next = Vec::new();
        for c in cur {
            match &step {
                Step::Field(f) => next.extend(c.get(f)),
                Step::Index(n) => {
                    if let Some(a) = c.as_array() {
                        let i = if *n < 0 { a.len() as i64 + n } else { *n };
                        next.extend(usize::try_from(i).ok().and_then(|i| a.get(i)));
                    }
                }
                Step::All => match c {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Filter(field, value) => {
                    for item in c.as_array().into_iter().flatten() {
                        let got = field.split('.').try_fold(item, |x, f| x.get(f));
                        if got.is_some_and(|g| scalar(g) == *value) {
                            next.push(item);
                        }
                    }
                }
            }
        }
        cur = next;
    }
    Ok(cur)
}

fn text_of(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::Object(_) | Value::Array(_) => serde_json::to_string(v).unwrap_or_default(),
            other => scalar(other),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug)]
enum Part {
    Text(String),
    Expr(String),
    Range(String, Vec<Part>),
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\t", "\t")
}

fn parse_template(t: &str) -> Result<Vec<Part>> {
    let mut stack: Vec<(String, Vec<Part>)> = vec![(String::new(), Vec::new())];
    let mut rest = t;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let end = rest
                    .find('}')
                    .ok_or_else(|| anyhow!("unclosed {{ in the template {t:?}"))?;
                let inner = rest[1..end].trim();
                rest = &rest[end + 1..];
                let top = &mut stack.last_mut().expect("the stack has a root").1;
                if let Some(lit) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                    top.push(Part::Text(unescape(lit)));
                } else if let Some(r) = inner.strip_prefix("range ") {
                    stack.push((r.trim().to_string(), Vec::new()));
                } else if inner == "end" {
                    let (expr, parts) = stack
                        .pop()
                        .filter(|_| !stack.is_empty())
                        .ok_or_else(|| anyhow!("{{end}} without {{range}}"))?;
                    stack.last_mut().expect("root stays").1.push(Part::Range(expr, parts));
                } else {
                    top.push(Part::Expr(inner.to_string()));
                }
            }
            Some(n) => {
                stack.last_mut().expect("root").1.push(Part::Text(unescape(&rest[..n])));
                rest = &rest[n..];
            }
            None => {
                stack.last_mut().expect("root").1.push(Part::Text(unescape(rest)));
                rest = "";
            }
        }
    }
    if stack.len() != 1 {
        bail!("{{range}} without {{end}} in {t:?}");
    }
    Ok(stack.pop().expect("root").1)
}

fn render(parts: &[Part], v: &Value, out: &mut String) -> Result<()> {
    for p in parts {
        match p {
            Part::Text(s) => out.push_str(s),
            Part::Expr(e) => out.push_str(&text_of(&select(v, e)?)),
            Part::Range(e, inner) => {
                for item in select(v, e)? {
                    render(inner, item, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Renders a template over `v`.
pub fn template(t: &str, v: &Value) -> Result<String> {
    let mut out = String::new();
    render(&parse_template(t)?, v, &mut out)?;
    Ok(out)
}

/// `-o custom-columns=NAME:.metadata.name,...` over the items.
pub fn custom_columns(spec: &str, items: &[Value]) -> Result<String> {
    let cols: Vec<(String, String)> = spec
        .split(',')
        .map(|c| {
            c.split_once(':')
                .map(|(h, e)| (h.to_string(), e.to_string()))
                .ok_or_else(|| anyhow!("custom-columns are HEADER:.json.path, got {c:?}"))
        })
        .collect::<Result<_>>()?;
    let mut rows = vec![cols.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>()];
    for it in items {
        let mut row = Vec::new();
        for (_, e) in &cols {
            let vals = select(it, e.trim_start_matches('{').trim_end_matches('}'))?;
            let text = text_of(&vals).replace(' ', ",");
            row.push(if vals.is_empty() { "<none>".into() } else { text });
        }
        rows.push(row);
    }
    Ok(super::table::aligned(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_read_as_kubectl_reads_them() {
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "a"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Scheduled", "status": "False"}]},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        assert_eq!(template("{.metadata.name}", &pod).unwrap(), "p");
        assert_eq!(template("{.spec.containers[*].name}", &pod).unwrap(), "a b");
        assert_eq!(template("{.spec.containers[1].image}", &pod).unwrap(), "y");
        assert_eq!(
            template("{.status.conditions[?(@.type==\"Ready\")].status}", &pod).unwrap(),
            "True"
        );
        assert_eq!(
            template("{range .spec.containers[*]}{.name}={.image}{\"\\n\"}{end}", &pod).unwrap(),
            "a=x\nb=y\n"
        );
        assert_eq!(template("name: {.metadata.labels.app}", &pod).unwrap(), "name: a");
        let list = [pod.clone()];
        assert_eq!(
            custom_columns("NAME:.metadata.name,IMAGES:.spec.containers[*].image", &list).unwrap(),
            "NAME   IMAGES\np      x,y\n"
        );
    }
}
