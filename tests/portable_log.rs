//! Export and import: a round trip rebuilds an identical log (verify passes, a second export is byte
//! for byte the same); redaction blanks Secret data; a flipped byte is reported with its revision; a
//! cut-off export or one missing a record is refused.

mod common;

use std::process::Command;

use common::{cluster, Http};
use serde_json::json;

fn orca(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orca")).args(args).output().unwrap()
}

#[test]
fn export_import_round_trip_redaction_and_damage() {
    let (_nats, mut orca_server, dir) = cluster(&[]);
    let h = Http::new(&orca_server.url);
    for i in 0..10 {
        h.post(
            "/api/v1/namespaces/default/configmaps",
            &json!({"metadata": {"name": format!("c{i}")}, "data": {"v": i.to_string()}}),
        );
    }
    h.post(
        "/api/v1/namespaces/default/secrets",
        &json!({"metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}),
    );
    orca_server.stop();
    let src = dir.path().to_str().unwrap().to_string();

    let export = orca(&["log", "export", "--data-dir", &src]);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let file = dir.path().join("log.export");
    std::fs::write(&file, &export.stdout).unwrap();
    assert!(
        !export.stdout.windows(7).any(|w| w == b"hunter2"),
        "secrets stay encrypted in an export"
    );

    // Without the key the sealed Secret cannot be read; with it the import is exact.
    let no_key = orca(&[
        "log",
        "import",
        file.to_str().unwrap(),
        "--into",
        dir.path().join("nokey").to_str().unwrap(),
    ]);
    assert!(!no_key.status.success());
    assert!(
        String::from_utf8_lossy(&no_key.stderr).contains("--key"),
        "{}",
        String::from_utf8_lossy(&no_key.stderr)
    );
    let copy = dir.path().join("copy");
    let imported = orca(&[
        "log",
        "import",
        file.to_str().unwrap(),
        "--into",
        copy.to_str().unwrap(),
        "--key",
        dir.path().join("secret.key").to_str().unwrap(),
    ]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(orca(&["log", "verify", "--data-dir", copy.to_str().unwrap()])
        .status
        .success());
    let again = orca(&["log", "export", "--data-dir", copy.to_str().unwrap()]);
    assert_eq!(again.stdout, export.stdout, "a round trip gives an identical log");

    // Redacted: no key needed, Secret data blanked.
    let redacted = orca(&["log", "export", "--data-dir", &src, "--redact-secrets"]);
    let rfile = dir.path().join("redacted.export");
    std::fs::write(&rfile, &redacted.stdout).unwrap();
    let rdir = dir.path().join("redacted");
    assert!(orca(&[
        "log",
        "import",
        rfile.to_str().unwrap(),
        "--into",
        rdir.to_str().unwrap()
    ])
    .status
    .success());
    let ro = common::ReadOnly::start(&rdir);
    let rh = &ro.http;
    let secret = rh.get("/api/v1/namespaces/default/secrets/db").body;
    assert_eq!(secret["data"]["password"], "");
    assert_eq!(secret["metadata"]["annotations"]["orca.dev/redacted"], "true");
    assert_eq!(
        rh.get("/api/v1/namespaces/default/configmaps/c3").body["data"]["v"],
        "3"
    );
    drop(ro);

    // A flipped byte in the middle of the export is reported with its revision.
    let mut damaged = export.stdout.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    let dfile = dir.path().join("damaged.export");
    std::fs::write(&dfile, &damaged).unwrap();
    let bad = orca(&[
        "log",
        "import",
        dfile.to_str().unwrap(),
        "--into",
        dir.path().join("bad").to_str().unwrap(),
        "--key",
        dir.path().join("secret.key").to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("record") && err.contains("corrupt"), "{err}");

    // An export cut inside a record header, or missing a record, is refused, not taken as whole.
    let import = |bytes: &[u8], name: &str| {
        let f = dir.path().join(format!("{name}.export"));
        std::fs::write(&f, bytes).unwrap();
        orca(&[
            "log",
            "import",
            f.to_str().unwrap(),
            "--into",
            dir.path().join(name).to_str().unwrap(),
            "--key",
            dir.path().join("secret.key").to_str().unwrap(),
        ])
    };
    // Records: (revision u64, length u32, bytes) after the 9-byte preamble.
    let mut records = Vec::new();
    let mut pos = 9;
    while pos < export.stdout.len() {
        let len = u32::from_be_bytes(export.stdout[pos + 8..pos + 12].try_into().unwrap()) as usize;
        records.push(pos..pos + 12 + len);
        pos += 12 + len;
    }
    let cut = &export.stdout[..records[3].start + 5];
    let out = import(cut, "cut");
    assert!(!out.status.success(), "a cut-off export was taken as whole");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cut off"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut gap = export.stdout[..records[2].start].to_vec();
    gap.extend_from_slice(&export.stdout[records[3].start..]);
    let out = import(&gap, "gap");
    assert!(!out.status.success(), "an export missing a record was taken");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a gap"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
