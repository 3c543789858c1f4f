//! Manifests from arbitrary JSON and YAML, for every kind: admission returns the object or field
//! errors, never panics; an admitted object is admitted again unchanged (defaulting is idempotent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use orca_schemas::admit::admit;
use orca_schemas::registry::RESOURCES;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let rt = &RESOURCES[pick as usize % RESOURCES.len()];
    let value: Option<serde_json::Value> = if pick & 0x80 == 0 {
        serde_json::from_slice(rest).ok()
    } else {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|t| serde_yaml_ng::from_str(t).ok())
    };
    let Some(mut value) = value else { return };
    if let Some(m) = value.as_object_mut() {
        m.insert("apiVersion".into(), rt.api_version().into());
        m.insert("kind".into(), rt.kind.into());
    }
    if let Ok(first) = admit(rt, value) {
        let second = admit(rt, first.object.clone()).expect("an admitted object is admitted again");
        assert_eq!(first.object, second.object, "defaulting is idempotent");
        let _ = orca_schemas::admit::validate_update(rt, &first.object, &second.object);
    }
});
