//! A streamed connection to the API server (exec, attach, port-forward), plain or TLS, that one
//! thread can read while another writes: the reader holds the stream only for short timed reads.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use parking_lot::Mutex;

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// A connection; clones share it.
#[derive(Clone)]
pub struct Conn {
    inner: Arc<Mutex<Stream>>,
    tcp: Arc<TcpStream>,
    /// `host:port` of the server (for the Host header).
    pub authority: String,
}

/// How long a read holds the stream before letting a writer in.
const READ_SLICE: Duration = Duration::from_millis(20);

impl Conn {
    /// Connects to `base` (`http://` or `https://HOST:PORT`), with `tls` for https.
    pub fn connect(base: &str, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<Conn> {
        let (secure, rest) = match (base.strip_prefix("https://"), base.strip_prefix("http://")) {
            (Some(r), _) => (true, r),
            (None, Some(r)) => (false, r),
            _ => return Err(anyhow!("the server URL {base} is neither http:// nor https://")),
        };
        let authority = rest.split('/').next().unwrap_or("").to_string();
        let mut tcp =
            TcpStream::connect(&authority).with_context(|| format!("cannot reach the orca server at {base}"))?;
        let _ = tcp.set_nodelay(true);
        let handle = Arc::new(tcp.try_clone()?);
        let stream = if secure {
            let config = tls.ok_or_else(|| anyhow!("{base} is https but no TLS configuration was loaded"))?;
            let host = authority.rsplit_once(':').map_or(authority.as_str(), |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = rustls_pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| anyhow!("server name {host}: {e}"))?;
            let mut conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| anyhow!("TLS: {e}"))?;
            // The handshake completes here, with blocking reads; later reads are sliced.
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp)
                    .with_context(|| format!("TLS handshake with {authority}"))?;
            }
            tcp.set_read_timeout(Some(READ_SLICE))?;
            Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
        } else {
            tcp.set_read_timeout(Some(READ_SLICE))?;
            Stream::Plain(tcp)
        };
        Ok(Conn {
            inner: Arc::new(Mutex::new(stream)),
            tcp: handle,
            authority,
        })
    }

    /// Ends the sending side (TLS: close_notify first); the other side keeps reading.
    pub fn shutdown_write(&self) {
        if let Stream::Tls(s) = &mut *self.inner.lock() {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.tcp.shutdown(std::net::Shutdown::Write);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut s = self.inner.lock();
            let r = match &mut *s {
                Stream::Plain(t) => t.read(buf),
                Stream::Tls(t) => t.read(buf),
            };
            match r {
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    parking_lot::MutexGuard::unlock_fair(s);
                }
                // A peer that closes without close_notify has still ended the stream.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(0),
                other => return other,
            }
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut *self.inner.lock() {
            Stream::Plain(t) => t.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut *self.inner.lock() {
            Stream::Plain(t) => t.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}
