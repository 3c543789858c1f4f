//! The committed JSON Schemas in `schemas/json/` equal what the Rust types generate.
//! Run with `ORCA_WRITE_SCHEMAS=1` to regenerate them after changing a type.

use std::path::PathBuf;

use orca_schemas::{json, RESOURCES};

#[test]
fn committed_schemas_match_the_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
    let write = std::env::var_os("ORCA_WRITE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for rt in RESOURCES {
        let text = json::render(rt.kind).expect("every registered kind has a schema");
        let path = dir.join(json::file_name(rt.kind));
        if write {
            std::fs::write(&path, &text).expect("write schema");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale JSON Schemas (regenerate with ORCA_WRITE_SCHEMAS=1 cargo test -p orca-schemas): {stale:?}"
    );
}

#[test]
fn schemas_describe_kubernetes_field_names() {
    let pod = json::schema("Pod").unwrap().to_string();
    for field in [
        "restartPolicy",
        "nodeSelector",
        "terminationGracePeriodSeconds",
        "valueFrom",
        "envFrom",
        "volumeMounts",
        "livenessProbe",
    ] {
        assert!(pod.contains(field), "Pod schema lacks {field}");
    }
    let svc = json::schema("Service").unwrap().to_string();
    assert!(svc.contains("clusterIP") && svc.contains("targetPort"));
}
