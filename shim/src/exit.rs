//! How the container ended: the exit code of a wait status (128 + signal when killed) and the
//! `exit` file, "CODE\nSECONDS.NANOS\n", written to a temporary name, synced and renamed.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The exit code of a `waitpid` status.
pub fn code(status: i32) -> i32 {
    let sig = status & 0x7f;
    if sig == 0 {
        (status >> 8) & 0xff
    } else if sig != 0x7f {
        128 + sig
    } else {
        255
    }
}

/// Records `code` and the time now in `file`.
pub fn record(file: &Path, code: i32) -> std::io::Result<()> {
    let at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let tmp = file.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    write!(f, "{code}\n{}.{:09}\n", at.as_secs(), at.subsec_nanos())?;
    f.sync_data()?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses() {
        assert_eq!(code(0), 0);
        assert_eq!(code(3 << 8), 3);
        assert_eq!(code(9), 137, "SIGKILL");
        assert_eq!(code(15), 143, "SIGTERM");
    }

    #[test]
    fn record_writes_code_and_time() {
        let dir = std::env::temp_dir().join(format!("orca-shim-exit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        record(&dir.join("exit"), 7).unwrap();
        let text = std::fs::read_to_string(dir.join("exit")).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("7"));
        let secs: f64 = lines.next().unwrap().parse().unwrap();
        assert!(secs > 1.7e9);
        assert!(!dir.join("exit.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
