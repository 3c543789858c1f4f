//! The container's log: appended to `current.log`; past the size limit the file is renamed to
//! `current.log.1` (replacing the one before) and a new `current.log` begins.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// An append-only log file that rotates itself.
pub struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
}

fn open(path: &PathBuf) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Rotating {
    /// Opens (appends to) `path`; rotates past `max` bytes.
    pub fn open(path: PathBuf, max: u64) -> std::io::Result<Self> {
        let file = open(&path)?;
        let size = file.metadata()?.len();
        Ok(Rotating { path, file, size, max })
    }

    /// Appends `data`, rotating at a line's end where the limit falls inside a line (a line longer
    /// than the limit is cut). A failing disk loses output, never the container: errors are
    /// dropped.
    pub fn write(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = self.max.saturating_sub(self.size) as usize;
            if data.len() <= room {
                self.append(data);
                return;
            }
            let cut = match data[..room].iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                None if self.size == 0 => room.max(1),
                None => 0,
            };
            self.append(&data[..cut]);
            data = &data[cut..];
            self.rotate();
        }
    }

    fn append(&mut self, data: &[u8]) {
        if !data.is_empty() && self.file.write_all(data).is_ok() {
            self.size += data.len() as u64;
        }
    }

    fn rotate(&mut self) {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        if std::fs::rename(&self.path, &old).is_ok() {
            if let Ok(f) = open(&self.path) {
                self.file = f;
            }
        }
        // Also when the rename failed: the file is not grown past the limit again and again.
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_past_the_limit() {
        let dir = std::env::temp_dir().join(format!("orca-shim-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("current.log");
        let mut log = Rotating::open(path.clone(), 10).unwrap();
        log.write(b"1234\n678\n");
        log.write(b"ab\ncd\nef");
        assert_eq!(std::fs::read(dir.join("current.log.1")).unwrap(), b"1234\n678\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"ab\ncd\nef");
        log.write(b"\nx\ny");
        assert_eq!(std::fs::read(dir.join("current.log.1")).unwrap(), b"ab\ncd\nef\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"x\ny");
        // A line longer than the limit is cut at the limit.
        log.write(b"\nghijklmnopqrs\n");
        assert_eq!(std::fs::read(dir.join("current.log.1")).unwrap(), b"ghijklmnop");
        assert_eq!(std::fs::read(&path).unwrap(), b"qrs\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
