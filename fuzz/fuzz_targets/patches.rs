//! JSON patches, merge patches and strategic merge patches of arbitrary documents: they apply or
//! fail, never panic; a merge patch applied twice gives what it gave once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orca_actors::api_server::{patch, strategic};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((doc, p)) = text.split_once('\n') else { return };
    let (Ok(doc), Ok(p)) = (serde_json::from_str::<Value>(doc), serde_json::from_str::<Value>(p)) else {
        return;
    };
    let mut merged = doc.clone();
    patch::merge_patch(&mut merged, &p);
    let mut twice = merged.clone();
    patch::merge_patch(&mut twice, &p);
    assert_eq!(merged, twice, "a merge patch is idempotent");
    let mut j = doc.clone();
    let _ = patch::json_patch(&mut j, &p);
    let mut s = doc;
    strategic::apply(&mut s, &p, &mut Vec::new());
});
