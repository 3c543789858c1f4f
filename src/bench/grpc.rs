//! The few protobuf messages of etcd's `KV/Txn` gRPC call, encoded by hand, and gRPC's framing:
//! enough to drive etcd through its native protocol without generated code.

/// Appends a varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a varint field.
fn field_varint(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field) << 3);
    varint(out, v);
}

/// Appends a length-delimited field (bytes or an embedded message).
fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `TxnRequest`: if the key's create revision is 0 (it does not exist), put the value. This is the
/// transaction Kubernetes' etcd3 store sends to create an object.
pub fn create_txn(key: &[u8], value: &[u8]) -> Vec<u8> {
    // Compare { result = EQUAL (0), target = CREATE (1), key = 3, create_revision = 5 }
    let mut compare = Vec::new();
    field_varint(&mut compare, 2, 1);
    field_bytes(&mut compare, 3, key);
    field_varint(&mut compare, 5, 0);
    // RequestOp { request_put = 2: PutRequest { key = 1, value = 2 } }
    let mut put = Vec::new();
    field_bytes(&mut put, 1, key);
    field_bytes(&mut put, 2, value);
    let mut op = Vec::new();
    field_bytes(&mut op, 2, &put);
    // TxnRequest { compare = 1, success = 2 }
    let mut txn = Vec::new();
    field_bytes(&mut txn, 1, &compare);
    field_bytes(&mut txn, 2, &op);
    txn
}

/// Wraps a message in gRPC's length-prefixed frame (uncompressed).
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// `TxnResponse.succeeded` (field 2) from a gRPC response body; `None` when the body holds no
/// message (an error, reported in the trailers).
pub fn txn_succeeded(body: &[u8]) -> Option<bool> {
    let len = u32::from_be_bytes(body.get(1..5)?.try_into().ok()?) as usize;
    let msg = body.get(5..5 + len)?;
    let mut pos = 0;
    let mut succeeded = false;
    while pos < msg.len() {
        let tag = read_varint(msg, &mut pos)?;
        match (tag >> 3, tag & 7) {
            (2, 0) => succeeded = read_varint(msg, &mut pos)? != 0,
            (_, 0) => {
                read_varint(msg, &mut pos)?;
            }
            (_, 2) => {
                let n = read_varint(msg, &mut pos)? as usize;
                pos += n;
            }
            (_, 1) => pos += 8,
            (_, 5) => pos += 4,
            _ => return None,
        }
    }
    Some(succeeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_create_transaction() {
        let txn = create_txn(b"/k", b"v");
        // compare(1) { target=1, key="/k", create_revision=0 }, success(2) { put(2) { key, value } }
        assert_eq!(
            txn,
            vec![10, 8, 16, 1, 26, 2, b'/', b'k', 40, 0, 18, 9, 18, 7, 10, 2, b'/', b'k', 18, 1, b'v']
        );
        let f = frame(&txn);
        assert_eq!(&f[..5], &[0, 0, 0, 0, txn.len() as u8]);
    }

    #[test]
    fn reads_succeeded() {
        // header(1) {cluster_id=1}, succeeded(2)=true
        let msg = [10u8, 2, 8, 1, 16, 1];
        assert_eq!(txn_succeeded(&frame(&msg)), Some(true));
        assert_eq!(txn_succeeded(&frame(&[10, 2, 8, 1])), Some(false));
        assert_eq!(txn_succeeded(&[]), None);
    }
}
