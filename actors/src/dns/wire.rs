//! DNS messages (RFC 1035): reading a query's header and question, writing an answer with A, CNAME
//! and SRV records; large UDP answers are cut and marked truncated so the client asks over TCP.

use std::net::Ipv4Addr;

/// Record types answered.
pub const TYPE_A: u16 = 1;
/// CNAME.
pub const TYPE_CNAME: u16 = 5;
/// AAAA (asked often; answered with no records).
pub const TYPE_AAAA: u16 = 28;
/// SRV.
pub const TYPE_SRV: u16 = 33;
/// ANY.
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Largest UDP answer without EDNS.
pub const UDP_MAX: usize = 512;

/// Response codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    /// No error.
    NoError = 0,
    /// The query could not be read.
    FormErr = 1,
    /// The server failed (upstream unreachable).
    ServFail = 2,
    /// The name does not exist.
    NxDomain = 3,
    /// The kind of query is not supported.
    NotImp = 4,
}

/// A query's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Transaction id.
    pub id: u16,
    /// Opcode and recursion-desired bits of the flags, kept for the answer.
    pub flags: u16,
    /// The name, lower case, without the trailing dot.
    pub name: String,
    /// Record type asked.
    pub qtype: u16,
    /// Class asked.
    pub qclass: u16,
    /// Where the question ends in the message.
    pub end: usize,
}

/// Data of one answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// Another name.
    Cname(String),
    /// A service location.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Host name.
        target: String,
    },
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name.
    pub name: String,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// Its data.
    pub data: Data,
}

/// Reads the header and the first question of `msg`; `None` when it is not a query.
pub fn parse(msg: &[u8]) -> Option<Query> {
    if msg.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if flags & 0x8000 != 0 || qdcount == 0 {
        return None;
    }
    let mut pos = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *msg.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = msg.get(pos..pos + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    let qclass = u16::from_be_bytes([*msg.get(pos + 2)?, *msg.get(pos + 3)?]);
    Some(Query {
        id,
        flags,
        name: labels.join("."),
        qtype,
        qclass,
        end: pos + 4,
    })
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    out.push(0);
}

fn put_record(out: &mut Vec<u8>, q: &Query, r: &Record) {
    if r.name == q.name {
        out.extend_from_slice(&[0xc0, 0x0c]);
    } else {
        put_name(out, &r.name);
    }
    let (rtype, rdata) = match &r.data {
        Data::A(ip) => (TYPE_A, ip.octets().to_vec()),
        Data::Cname(target) => {
            let mut d = Vec::new();
            put_name(&mut d, target);
            (TYPE_CNAME, d)
        }
        Data::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            let mut d = Vec::new();
            d.extend_from_slice(&priority.to_be_bytes());
            d.extend_from_slice(&weight.to_be_bytes());
            d.extend_from_slice(&port.to_be_bytes());
            put_name(&mut d, target);
            (TYPE_SRV, d)
        }
    };
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
}

/// The answer to `q` (its question repeated), authoritative, with `answers` and `additional`
/// records; cut to the question alone with the TC bit when longer than `max` bytes.
pub fn answer(query: &[u8], q: &Query, rcode: Rcode, answers: &[Record], additional: &[Record], max: usize) -> Vec<u8> {
    let head = |out: &mut Vec<u8>, tc: bool, an: usize, ar: usize| {
        out.extend_from_slice(&q.id.to_be_bytes());
        // QR, the query's opcode and RD, AA, RA, and the code.
        let mut flags = 0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | rcode as u16;
        if tc {
            flags |= 0x0200;
        }
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&(an as u16).to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&(ar as u16).to_be_bytes());
        out.extend_from_slice(&query[12..q.end]);
    };
    let mut out = Vec::with_capacity(128);
    head(&mut out, false, answers.len(), additional.len());
    for r in answers.iter().chain(additional) {
        put_record(&mut out, q, r);
    }
    if out.len() > max {
        out.clear();
        head(&mut out, true, 0, 0);
    }
    out
}

/// An answer carrying only a response code (the question repeated when it could be read).
pub fn error(query: &[u8], rcode: Rcode) -> Vec<u8> {
    match parse(query) {
        Some(q) => answer(query, &q, rcode, &[], &[], UDP_MAX),
        None if query.len() >= 2 => {
            let mut out = vec![query[0], query[1], 0x80, rcode as u8];
            out.extend_from_slice(&[0; 8]);
            out
        }
        None => Vec::new(),
    }
}

/// The largest UDP answer the client accepts (its EDNS payload size, else 512).
pub fn udp_limit(msg: &[u8], q: &Query) -> usize {
    let arcount = u16::from_be_bytes([msg[10], msg[11]]);
    // An OPT record right after the question: root name, type 41, class = payload size.
    if arcount > 0 && msg.len() >= q.end + 5 && msg[q.end] == 0 && msg[q.end + 1..q.end + 3] == [0, 41] {
        let size = u16::from_be_bytes([msg[q.end + 3], msg[q.end + 4]]) as usize;
        return size.clamp(UDP_MAX, 4096);
    }
    UDP_MAX
}

/// A query for `name` and `qtype` (the forwarder's tests and the agent's checks).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    put_name(&mut out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_read_and_answered_with_its_question() {
        let msg = query(7, "Web.Default.svc.cluster.local", TYPE_A);
        let q = parse(&msg).expect("a query");
        assert_eq!(
            (q.id, q.name.as_str(), q.qtype),
            (7, "web.default.svc.cluster.local", TYPE_A)
        );
        let rec = Record {
            name: q.name.clone(),
            ttl: 5,
            data: Data::A(Ipv4Addr::new(10, 96, 0, 10)),
        };
        let out = answer(&msg, &q, Rcode::NoError, &[rec], &[], UDP_MAX);
        assert_eq!(&out[0..2], &[0, 7]);
        assert_eq!(out[2] & 0x80, 0x80, "QR set");
        assert_eq!(&out[6..8], &[0, 1], "one answer");
        assert_eq!(&out[out.len() - 4..], &[10, 96, 0, 10]);
        assert!(parse(&out).is_none(), "an answer is not a query");
    }

    #[test]
    fn long_udp_answers_are_truncated() {
        let msg = query(1, "h.default.svc.cluster.local", TYPE_A);
        let q = parse(&msg).expect("a query");
        let recs: Vec<Record> = (0..100)
            .map(|i| Record {
                name: q.name.clone(),
                ttl: 5,
                data: Data::A(Ipv4Addr::new(10, 244, 0, i)),
            })
            .collect();
        let out = answer(&msg, &q, Rcode::NoError, &recs, &[], UDP_MAX);
        assert_eq!(out[2] & 0x02, 0x02, "TC set");
        assert_eq!(&out[6..8], &[0, 0]);
        assert!(answer(&msg, &q, Rcode::NoError, &recs, &[], 65535).len() > UDP_MAX);
    }

    #[test]
    fn garbage_is_not_a_query() {
        assert!(parse(&[1, 2, 3]).is_none());
        assert_eq!(error(&[0, 9, 1, 0], Rcode::FormErr)[3], 1);
    }
}
