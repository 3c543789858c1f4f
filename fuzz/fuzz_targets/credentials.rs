//! What callers present: client certificate subjects (DER), bearer tokens and join tokens, from
//! arbitrary bytes: read or refused, never a panic, and no token verifies without the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orca_actors::auth::{tokens, x509};

fuzz_target!(|data: &[u8]| {
    let _ = x509::subject(data);
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(
            tokens::verify(b"the cluster key", text, 0).is_none(),
            "a forged token verified"
        );
        let _ = tokens::unhex(text);
        let _ = orca_actors::cluster::nats_auth::parse_join_token(text);
        let _ = orca_actors::auth::attributes::of_request("GET", text, text);
    }
});
