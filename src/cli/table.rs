//! kubectl-style tables: per-kind columns, `-o wide` extras, a NAMESPACE column with `-A`, AGE.

use serde_json::Value;

use orca_schemas::ResourceType;

use orca_actors::printers::columns::{columns, row};
pub use orca_actors::printers::{age, s};

/// Renders rows (with a header when asked) aligned like kubectl's tables.
pub fn render(rt: &ResourceType, items: &[Value], wide: bool, show_ns: bool, header: bool) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut head: Vec<String> = columns(rt.kind, wide).into_iter().map(str::to_string).collect();
    if show_ns {
        head.insert(0, "NAMESPACE".into());
    }
    if header {
        rows.push(head.clone());
    }
    for it in items {
        let mut r = row(rt.kind, it, wide);
        if show_ns {
            r.insert(0, s(it, "/metadata/namespace"));
        }
        rows.push(r);
    }
    aligned(rows)
}

/// Rows (the first may be a header) in columns three spaces apart, as kubectl aligns them.
pub fn aligned(rows: Vec<Vec<String>>) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == r.len() {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}
