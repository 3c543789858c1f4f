//! Label and field selectors from arbitrary text: they parse or fail, never panic, and a parsed
//! selector can match.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use orca_schemas::selector::{parse_field_selector, Selector};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
    if let Ok(s) = Selector::parse(text) {
        let _ = s.matches(&labels);
    }
    if let Ok(s) = Selector::parse_labels(text) {
        let _ = s.matches(&labels);
    }
    let _ = parse_field_selector(text);
});
