//! SPDY/3.1 framing as Kubernetes' streaming protocols use it (`kubectl port-forward`): control
//! frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE)
//! and data frames; header blocks are zlib streams with SPDY's preset dictionary, one per
//! direction and connection. What this side sends is written as stored (uncompressed) deflate
//! blocks, which every zlib reader takes.

use flate2::{Decompress, FlushDecompress, Status};

/// SPDY/3's header dictionary (from the protocol's draft 3).
const DICTIONARY: &[u8] = include_bytes!("spdy_dictionary.bin");

/// Control frame types.
pub mod kind {
    /// Opens a stream.
    pub const SYN_STREAM: u16 = 1;
    /// Accepts a stream.
    pub const SYN_REPLY: u16 = 2;
    /// Ends a stream abnormally.
    pub const RST_STREAM: u16 = 3;
    /// Connection settings.
    pub const SETTINGS: u16 = 4;
    /// Liveness.
    pub const PING: u16 = 6;
    /// Ends the connection.
    pub const GOAWAY: u16 = 7;
    /// More headers.
    pub const HEADERS: u16 = 8;
    /// Flow control.
    pub const WINDOW_UPDATE: u16 = 9;
}

/// The FIN flag (of data frames and SYN frames).
pub const FLAG_FIN: u8 = 1;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A control frame: its type, flags and payload.
    Control { kind: u16, flags: u8, payload: Vec<u8> },
    /// A data frame.
    Data { stream: u32, flags: u8, data: Vec<u8> },
}

/// Reads one frame from the front of `buf`: the frame and the bytes it used, or None when the
/// buffer does not hold a whole one yet.
pub fn read_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < 8 {
        return None;
    }
    let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
    let payload = buf.get(8..8 + len)?.to_vec();
    let flags = buf[4];
    let frame = if buf[0] & 0x80 != 0 {
        Frame::Control {
            kind: u16::from_be_bytes([buf[2], buf[3]]),
            flags,
            payload,
        }
    } else {
        Frame::Data {
            stream: u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) & 0x7fff_ffff,
            flags,
            data: payload,
        }
    };
    Some((frame, 8 + len))
}

fn header(first: [u8; 4], flags: u8, len: usize) -> Vec<u8> {
    let l = (len as u32).to_be_bytes();
    let mut out = Vec::with_capacity(8 + len);
    out.extend_from_slice(&first);
    out.extend_from_slice(&[flags, l[1], l[2], l[3]]);
    out
}

/// A control frame.
pub fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let k = kind.to_be_bytes();
    let mut out = header([0x80, 3, k[0], k[1]], flags, payload.len());
    out.extend_from_slice(payload);
    out
}

/// A data frame.
pub fn data(stream: u32, flags: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = header((stream & 0x7fff_ffff).to_be_bytes(), flags, bytes.len());
    out.extend_from_slice(bytes);
    out
}

/// The stream id at the start of a control frame's payload.
pub fn stream_of(payload: &[u8]) -> u32 {
    payload
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff)
}

/// RST_STREAM for `stream` with `status` (5: cancel).
pub fn rst_stream(stream: u32, status: u32) -> Vec<u8> {
    let mut p = stream.to_be_bytes().to_vec();
    p.extend_from_slice(&status.to_be_bytes());
    control(kind::RST_STREAM, 0, &p)
}

/// Reads header blocks: one zlib stream with the preset dictionary across the connection.
pub struct HeaderReader {
    z: Decompress,
}

impl Default for HeaderReader {
    fn default() -> Self {
        HeaderReader {
            z: Decompress::new(true),
        }
    }
}

impl HeaderReader {
    /// The name/value pairs of one compressed header block.
    pub fn read(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        loop {
            let before_in = self.z.total_in();
            if out.capacity() - out.len() < 256 {
                out.reserve(4096);
            }
            let res = self.z.decompress_vec(input, &mut out, FlushDecompress::Sync);
            let used = (self.z.total_in() - before_in) as usize;
            input = &input[used..];
            match res {
                Ok(Status::Ok | Status::BufError) if input.is_empty() => break,
                Ok(Status::StreamEnd) => break,
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.z
                        .set_dictionary(DICTIONARY)
                        .map_err(|e| format!("header dictionary: {e}"))?;
                }
                Err(e) => return Err(format!("header block: {e}")),
            }
        }
        parse_pairs(&out)
    }
}

fn parse_pairs(b: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut pos = 0;
    let u32_at = |p: &mut usize| -> Result<usize, String> {
        let v = b.get(*p..*p + 4).ok_or("short header block")?;
        *p += 4;
        Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]]) as usize)
    };
    let n = u32_at(&mut pos)?;
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let l = u32_at(&mut pos)?;
        let name = b.get(pos..pos + l).ok_or("short header name")?;
        pos += l;
        let l = u32_at(&mut pos)?;
        let value = b.get(pos..pos + l).ok_or("short header value")?;
        pos += l;
        out.push((
            String::from_utf8_lossy(name).to_lowercase(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }
    Ok(out)
}

/// Writes header blocks: the zlib stream of this side, in stored blocks.
#[derive(Default)]
pub struct HeaderWriter {
    started: bool,
}

impl HeaderWriter {
    /// One header block holding `pairs`.
    pub fn block(&mut self, pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut raw = (pairs.len() as u32).to_be_bytes().to_vec();
        for (k, v) in pairs {
            raw.extend_from_slice(&(k.len() as u32).to_be_bytes());
            raw.extend_from_slice(k.as_bytes());
            raw.extend_from_slice(&(v.len() as u32).to_be_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 8);
        if !self.started {
            // zlib: deflate with a 32 KiB window, no preset dictionary needed by what follows.
            out.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        for chunk in raw.chunks(u16::MAX as usize) {
            let len = chunk.len() as u16;
            out.push(0); // a stored block, not the last
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        // An empty stored block, as a sync flush ends: it is what tells a reader (Go's among
        // them) to hand over what it has instead of asking for the next block.
        out.extend_from_slice(&[0, 0, 0, 0xff, 0xff]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    #[test]
    fn frames_round_trip_and_header_blocks_read_a_dictionary_stream() {
        let f = control(kind::PING, 0, &7u32.to_be_bytes());
        assert_eq!(
            read_frame(&f),
            Some((
                Frame::Control {
                    kind: kind::PING,
                    flags: 0,
                    payload: 7u32.to_be_bytes().to_vec()
                },
                12
            ))
        );
        let d = data(3, FLAG_FIN, b"hi");
        assert_eq!(
            read_frame(&d).unwrap().0,
            Frame::Data {
                stream: 3,
                flags: FLAG_FIN,
                data: b"hi".to_vec()
            }
        );
        assert!(read_frame(&d[..9]).is_none());
        // What a SPDY client sends: a zlib stream with the dictionary, flushed per block.
        let mut z = Compress::new(Compression::best(), true);
        z.set_dictionary(DICTIONARY).unwrap();
        let mut reader = HeaderReader::default();
        for round in 0..3 {
            let port = format!("80{round}");
            let pairs: Vec<u8> = {
                let mut p = 2u32.to_be_bytes().to_vec();
                for (k, v) in [("streamType", "data"), ("port", port.as_str())] {
                    p.extend_from_slice(&(k.len() as u32).to_be_bytes());
                    p.extend_from_slice(k.as_bytes());
                    p.extend_from_slice(&(v.len() as u32).to_be_bytes());
                    p.extend_from_slice(v.as_bytes());
                }
                p
            };
            let mut block = Vec::with_capacity(256);
            z.compress_vec(&pairs, &mut block, FlushCompress::Sync).unwrap();
            let got = reader.read(&block).unwrap();
            assert_eq!(got, vec![("streamtype".into(), "data".into()), ("port".into(), port)]);
        }
        // This side's blocks: a zlib stream any inflater reads, block after block.
        let mut w = HeaderWriter::default();
        let mut stream = w.block(&[("a", "1")]);
        stream.extend(w.block(&[]));
        let mut inflate = Decompress::new(true);
        let mut out = Vec::with_capacity(64);
        inflate
            .decompress_vec(&stream, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(parse_pairs(&out).unwrap(), vec![("a".into(), "1".into())]);
        assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 0], "then an empty block");
    }
}
