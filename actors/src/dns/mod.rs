//! The cluster DNS server: an actor of the control plane that follows Services and EndpointSlices
//! through informers and answers `*.cluster.local` over UDP and TCP, forwarding other names to the
//! host's resolvers. It publishes itself as the selector-less Service `kube-system/kube-dns`, whose
//! ClusterIP each node's proxy carries to it on port 53 and runc pods find in `/etc/resolv.conf`.

pub mod forward;
pub mod publish;
pub mod records;
pub mod wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use actix::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use self::records::{resolve, Cluster, Resolved};
use self::wire::Rcode;
use crate::bus::client::ApiClient;
use crate::runtime::informer::{self, InformerEvent, InformerSpec};
use crate::runtime::supervisor::{supervise, Supervised};

/// The DNS actor: it keeps the informers that fill the caches the listeners answer from.
pub struct ClusterDns;

/// A change of a Service or an EndpointSlice (the caches are already current).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DnsChanged(pub InformerEvent);

impl Actor for ClusterDns {
    type Context = Context<Self>;
}

impl Handler<DnsChanged> for ClusterDns {
    type Result = ();
    fn handle(&mut self, _: DnsChanged, _: &mut Context<Self>) {}
}

/// The address pods reach the host by: the source address of its default route, else loopback.
pub fn advertise_ip() -> Ipv4Addr {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        // No packet is sent: connecting a UDP socket only picks the route.
        s.connect("192.0.2.1:9")?;
        s.local_addr()
    });
    match probe.map(|a| a.ip()) {
        Ok(IpAddr::V4(ip)) if !ip.is_unspecified() => ip,
        _ => Ipv4Addr::LOCALHOST,
    }
}

async fn bind(ip: Ipv4Addr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    // The same port number for UDP and TCP.
    for _ in 0..20 {
        let udp = UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), 0)).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}

/// The answer to one message, or the query to send upstream.
fn answer(cluster: &Cluster, msg: &[u8], limit: usize) -> Result<Vec<u8>, ()> {
    let Some(q) = wire::parse(msg) else {
        return Ok(wire::error(msg, Rcode::FormErr));
    };
    if (q.flags >> 11) & 0xf != 0 || q.qclass != wire::CLASS_IN {
        return Ok(wire::answer(msg, &q, Rcode::NotImp, &[], &[], limit));
    }
    match resolve(cluster, &q.name, q.qtype) {
        Resolved::Forward => Err(()),
        Resolved::Answer {
            rcode,
            answers,
            additional,
        } => Ok(wire::answer(msg, &q, rcode, &answers, &additional, limit)),
    }
}

async fn serve_udp(sock: Arc<UdpSocket>, cluster: Cluster, upstream: Arc<Vec<SocketAddr>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("cluster dns: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let msg = buf[..n].to_vec();
        let limit = wire::parse(&msg).map_or(wire::UDP_MAX, |q| wire::udp_limit(&msg, &q));
        match answer(&cluster, &msg, limit) {
            Ok(out) => {
                let _ = sock.send_to(&out, from).await;
            }
            Err(()) => {
                let (sock, upstream) = (sock.clone(), upstream.clone());
                tokio::spawn(async move {
                    let out = forward::forward(&upstream, &msg, false)
                        .await
                        .unwrap_or_else(|| wire::error(&msg, Rcode::ServFail));
                    let _ = sock.send_to(&out, from).await;
                });
            }
        }
    }
}

async fn serve_tcp_conn(mut s: TcpStream, cluster: Cluster, upstream: Arc<Vec<SocketAddr>>) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).await.is_err() {
            return Ok(());
        }
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut msg).await?;
        let out = match answer(&cluster, &msg, u16::MAX as usize) {
            Ok(out) => out,
            Err(()) => forward::forward(&upstream, &msg, true)
                .await
                .unwrap_or_else(|| wire::error(&msg, Rcode::ServFail)),
        };
        let mut framed = (out.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&out);
        s.write_all(&framed).await?;
    }
}

async fn serve_tcp(listener: TcpListener, cluster: Cluster, upstream: Arc<Vec<SocketAddr>>) {
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                let (c, u) = (cluster.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), serve_tcp_conn(s, c, u)).await;
                });
            }
            Err(e) => {
                tracing::warn!("cluster dns: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

impl ClusterDns {
    /// Binds UDP and TCP on the host's address, starts answering, publishes `kube-dns` and starts
    /// the actor under a supervisor. Returns the actor and the address it answers on.
    pub async fn start(api: ApiClient, member: &str) -> std::io::Result<(Supervised<ClusterDns>, SocketAddr)> {
        let (udp, tcp) = bind(advertise_ip()).await?;
        let addr = udp.local_addr()?;
        let cluster = Cluster::default();
        let upstream: Vec<SocketAddr> = forward::host_nameservers().into_iter().filter(|u| *u != addr).collect();
        let upstream = Arc::new(upstream);
        tokio::spawn(serve_udp(Arc::new(udp), cluster.clone(), upstream.clone()));
        tokio::spawn(serve_tcp(tcp, cluster.clone(), upstream));
        // Published before the control plane says it is ready, so pods started right after find it
        // and clients see no writes of the server's own after their first read.
        let mut tries = 0;
        while let Err(e) = publish::publish(&api, addr, member).await {
            tries += 1;
            if tries >= 20 {
                tracing::warn!("cluster dns: publishing kube-system/kube-dns: {e}; trying again later");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::spawn(publish::keep_published(api.clone(), addr, member.to_string()));
        let dns = supervise("cluster-dns", move |ctx: &mut Context<ClusterDns>| {
            let s = informer::start(
                api.clone(),
                InformerSpec::new("/api/v1/services", ""),
                cluster.services.clone(),
            );
            let e = informer::start(
                api.clone(),
                InformerSpec::new("/apis/discovery.k8s.io/v1/endpointslices", ""),
                cluster.slices.clone(),
            );
            ctx.add_message_stream(futures::StreamExt::map(s, DnsChanged));
            ctx.add_message_stream(futures::StreamExt::map(e, DnsChanged));
            ClusterDns
        });
        Ok((dns, addr))
    }
}
