//! A netlink message builder that appends to a reusable `Vec<u8>` (its capacity is kept, so a
//! builder reused for every verdict allocates nothing in steady state). Several messages can be
//! built back to back in one buffer and sent with one `sendmsg`.

use super::{NFGENMSG_LEN, NLA_F_NESTED, NLA_HDRLEN, NLMSG_HDRLEN, align4};

/// Marks an open nest; pass it to [`MsgBuilder::nest_end`].
#[derive(Debug)]
#[must_use]
pub struct NestToken(usize);

/// Builds one message at the end of a buffer.
pub struct MsgBuilder<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> MsgBuilder<'a> {
    /// Starts a message with header fields; `nlmsg_len` is filled in by [`finish`](Self::finish).
    pub fn new(buf: &'a mut Vec<u8>, msg_type: u16, flags: u16, seq: u32) -> Self {
        let pad = align4(buf.len()) - buf.len();
        buf.extend_from_slice(&[0u8; 3][..pad]);
        let start = buf.len();
        buf.extend_from_slice(&[0u8; 4]);
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        MsgBuilder { buf, start }
    }

    /// Appends `struct nfgenmsg`.
    pub fn nfgen(&mut self, family: u8, res_id: u16) -> &mut Self {
        let r = res_id.to_be_bytes();
        self.buf.extend_from_slice(&[family, super::NFNETLINK_V0, r[0], r[1]]);
        debug_assert_eq!(NFGENMSG_LEN, 4);
        self
    }

    /// Appends an attribute with a payload, padded to 4 bytes.
    pub fn put(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = NLA_HDRLEN + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    /// Appends a big-endian u32 attribute.
    pub fn put_be32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.put(kind, &v.to_be_bytes())
    }

    /// Appends a big-endian u16 attribute.
    pub fn put_be16(&mut self, kind: u16, v: u16) -> &mut Self {
        self.put(kind, &v.to_be_bytes())
    }

    /// Appends a big-endian u64 attribute.
    pub fn put_be64(&mut self, kind: u16, v: u64) -> &mut Self {
        self.put(kind, &v.to_be_bytes())
    }

    /// Appends a u8 attribute.
    pub fn put_u8(&mut self, kind: u16, v: u8) -> &mut Self {
        self.put(kind, &[v])
    }

    /// Opens a nested attribute (the nested flag is set).
    pub fn nest_start(&mut self, kind: u16) -> NestToken {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        NestToken(at)
    }

    /// Closes a nest: its length covers everything appended since `nest_start`.
    pub fn nest_end(&mut self, tok: NestToken) -> &mut Self {
        let len = (self.buf.len() - tok.0) as u16;
        self.buf[tok.0..tok.0 + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// Appends only the header of an attribute whose `len` payload bytes the caller sends from
    /// its own memory (an extra iovec) right after this message's bytes; it must be the last
    /// attribute. Finish with [`finish_external`](Self::finish_external).
    pub fn put_external_header(&mut self, kind: u16, len: usize) -> &mut Self {
        self.buf.extend_from_slice(&((NLA_HDRLEN + len) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self
    }

    /// Bytes of the message so far.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Never true: the header is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn pad(&mut self) {
        let pad = align4(self.buf.len()) - self.buf.len();
        self.buf.extend_from_slice(&[0u8; 3][..pad]);
    }

    /// Writes `nlmsg_len`; returns the message's offset and length in the buffer.
    pub fn finish(self) -> (usize, usize) {
        let len = self.buf.len() - self.start;
        debug_assert!(len >= NLMSG_HDRLEN);
        self.buf[self.start..self.start + 4].copy_from_slice(&(len as u32).to_ne_bytes());
        (self.start, len)
    }

    /// Like [`finish`](Self::finish) for a message whose last attribute has `ext_len` payload
    /// bytes sent separately: `nlmsg_len` includes them (unpadded).
    pub fn finish_external(self, ext_len: usize) -> (usize, usize) {
        let len = self.buf.len() - self.start + ext_len;
        self.buf[self.start..self.start + 4].copy_from_slice(&(len as u32).to_ne_bytes());
        (self.start, self.buf.len() - self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{Messages, NLA_TYPE_MASK};

    #[test]
    fn builds_message_with_nest_that_parses_back() {
        let mut buf = Vec::new();
        let mut b = MsgBuilder::new(&mut buf, 0x301, 1, 9);
        b.nfgen(0, 513);
        b.put_be32(3, 0xdeadbeef).put_u8(4, 7);
        let n = b.nest_start(11);
        b.put_be32(8, 42);
        b.nest_end(n);
        let (off, len) = b.finish();
        assert_eq!(off, 0);
        assert_eq!(len, buf.len());
        assert_eq!(len % 4, 0);
        let m = Messages::new(&buf).next().unwrap().unwrap();
        assert_eq!((m.msg_type(), m.flags(), m.seq()), (0x301, 1, 9));
        let (g, attrs) = m.nfgen().unwrap();
        assert_eq!(g.res_id, 513);
        let a: Vec<_> = attrs.collect::<Result<_, _>>().unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].be_u32("m").unwrap(), 0xdeadbeef);
        assert_eq!(a[1].data(), &[7]);
        assert!(a[2].is_nested());
        assert_eq!(a[2].raw_type() & NLA_TYPE_MASK, 11);
        let inner: Vec<_> = a[2].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].be_u32("ctmark").unwrap(), 42);
    }

    #[test]
    fn second_message_starts_aligned_and_external_len_counts() {
        let mut buf = vec![1u8];
        let mut b = MsgBuilder::new(&mut buf, 0x301, 1, 0);
        b.nfgen(0, 0);
        b.put_external_header(10, 5);
        let (off, len) = b.finish_external(5);
        assert_eq!(off, 4);
        assert_eq!(len, 24);
        assert_eq!(u32::from_ne_bytes(buf[4..8].try_into().unwrap()), 29);
        assert_eq!(u16::from_ne_bytes(buf[24..26].try_into().unwrap()), 9);
    }
}
