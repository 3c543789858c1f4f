//! Names outside the cluster go to the host's resolvers (the `nameserver` lines of its
//! `/etc/resolv.conf`), over UDP or TCP as the client asked (UDP when TCP fails), each in turn.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How long one upstream gets to answer.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The resolvers named by a resolv.conf text (port 53).
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The host's resolvers.
pub fn host_nameservers() -> Vec<SocketAddr> {
    nameservers(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
}

async fn udp_once(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        "0.0.0.0:0".parse().map_err(std::io::Error::other)?
    } else {
        "[::]:0".parse().map_err(std::io::Error::other)?
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(upstream).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await?;
        // Only the answer to this query (same id).
        if n >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn tcp_once(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(upstream).await?;
    let mut msg = (query.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(query);
    s.write_all(&msg).await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

/// The upstream answer to `query`, or None when no upstream answered in time.
pub async fn forward(upstreams: &[SocketAddr], query: &[u8], tcp: bool) -> Option<Vec<u8>> {
    for u in upstreams {
        // A resolver that does not answer over TCP is asked over UDP (a long answer then comes
        // back truncated, as it would to any UDP client).
        let mut attempt = Err(());
        if tcp {
            attempt = tokio::time::timeout(TIMEOUT, tcp_once(*u, query)).await.map_err(|_| ());
        }
        if !matches!(attempt, Ok(Ok(_))) {
            attempt = tokio::time::timeout(TIMEOUT, udp_once(*u, query)).await.map_err(|_| ());
        }
        match attempt {
            Ok(Ok(answer)) => return Some(answer),
            Ok(Err(e)) => tracing::debug!("dns upstream {u}: {e}"),
            Err(()) => tracing::debug!("dns upstream {u}: no answer in {TIMEOUT:?}"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lines_are_read() {
        let text = "# generated\nsearch example.org\nnameserver 10.255.255.53\nnameserver ::1\nnameserver bad\n";
        let ns = nameservers(text);
        assert_eq!(ns.len(), 2);
        assert_eq!(ns[0].to_string(), "10.255.255.53:53");
    }
}
