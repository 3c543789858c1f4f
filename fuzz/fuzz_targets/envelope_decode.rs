//! NATS envelopes from arbitrary bytes: every message type decodes or fails, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orca_actors::bus::envelope::{self, ApiAnswer, ApiCall, PartAnswer, PartRequest, WatchFrame, WatchOpen};

fuzz_target!(|data: &[u8]| {
    let _ = envelope::decode::<ApiCall>(data);
    let _ = envelope::decode::<ApiAnswer>(data);
    let _ = envelope::decode::<WatchOpen>(data);
    let _ = envelope::decode::<WatchFrame>(data);
    let _ = envelope::decode::<PartRequest>(data);
    let _ = envelope::decode::<PartAnswer>(data);
    let _ = orca_schemas::protobuf::decode(data);
});
