//! Log records from arbitrary bytes: decoding never panics, and a record that decodes encodes back
//! to one that decodes to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orca_actors::eventlog::crypto::SecretBox;
use orca_actors::eventlog::record;

fuzz_target!(|data: &[u8]| {
    let secrets = SecretBox::from_key([7; 32]);
    let _ = record::decode_header(data, 1);
    if let Ok(ev) = record::decode(data, 1, &secrets) {
        let again = record::encode(&ev, &secrets).expect("a decoded event encodes");
        let back = record::decode(&again, 1, &secrets).expect("an encoded event decodes");
        assert_eq!(back.meta, ev.meta);
        assert_eq!(back.json, ev.json);
    }
});
