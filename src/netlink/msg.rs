//! Zero-copy, bounds-checked views of netlink messages, nfgenmsg headers and attributes.
//!
//! A datagram from the kernel holds one or more messages; each message is
//! `struct nlmsghdr` (16 bytes, host byte order) followed by its payload, and the next message
//! starts at the 4-byte aligned end of the previous one. For nfnetlink the payload starts with
//! `struct nfgenmsg` (4 bytes) and is followed by attributes:
//!
//! ```text
//! 14 00 00 00  02 03  00 00   00 00 00 00  00 00 00 00   nlmsghdr len=20 type=0x302
//! 02 00 00 00                                            nfgenmsg AF_INET, v0, res_id 0
//! ```

use super::error::ParseError;
use super::{NFGENMSG_LEN, NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, NLMSG_ERROR, NLMSG_HDRLEN, align4};

#[inline]
fn ne_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

#[inline]
fn ne_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The header of the attribute at offset `pos` of `buf`: `nla_len` and the raw `nla_type`
/// (flags included), or None when fewer than 4 bytes are left there. The hand-written hot
/// attribute walks (the log view's decoder, the libnetfilter_log drop-in's pointer table) read
/// headers with it; the length is the caller's to check.
#[inline(always)]
pub fn attr_header_at(buf: &[u8], pos: usize) -> Option<(usize, u16)> {
    if buf.len() < NLA_HDRLEN || pos > buf.len() - NLA_HDRLEN {
        return None;
    }
    // SAFETY: pos + 4 <= buf.len(), checked above; read_unaligned has no alignment requirement.
    let h = unsafe { buf.as_ptr().add(pos).cast::<[u8; NLA_HDRLEN]>().read_unaligned() };
    Some((u16::from_ne_bytes([h[0], h[1]]) as usize, u16::from_ne_bytes([h[2], h[3]])))
}

/// One netlink message: exactly `nlmsg_len` bytes, header included.
#[derive(Clone, Copy, Debug)]
pub struct Msg<'a> {
    buf: &'a [u8],
}

impl<'a> Msg<'a> {
    /// Checks the header of the first message in `buf` and returns it and the rest of the
    /// buffer (starting at the next aligned message).
    pub fn split(buf: &'a [u8]) -> Result<(Msg<'a>, &'a [u8]), ParseError> {
        if buf.len() < NLMSG_HDRLEN {
            return Err(ParseError::Truncated { what: "nlmsghdr", need: NLMSG_HDRLEN, have: buf.len() });
        }
        let len = ne_u32(buf, 0) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(ParseError::BadLength { what: "nlmsg", len, room: buf.len() });
        }
        let next = align4(len).min(buf.len());
        Ok((Msg { buf: &buf[..len] }, &buf[next..]))
    }

    /// The whole message, header included.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// `nlmsg_len`.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// Never true: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// `nlmsg_type`.
    pub fn msg_type(&self) -> u16 {
        ne_u16(self.buf, 4)
    }
    /// `nlmsg_flags`.
    pub fn flags(&self) -> u16 {
        ne_u16(self.buf, 6)
    }
    /// `nlmsg_seq`.
    pub fn seq(&self) -> u32 {
        ne_u32(self.buf, 8)
    }
    /// `nlmsg_pid`.
    pub fn pid(&self) -> u32 {
        ne_u32(self.buf, 12)
    }
    /// The payload after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[NLMSG_HDRLEN..]
    }
    /// The nfnetlink subsystem id (high byte of the type).
    pub fn subsys(&self) -> u8 {
        (self.msg_type() >> 8) as u8
    }

    /// The nfgenmsg header and the attributes after it.
    pub fn nfgen(&self) -> Result<(NfGenMsg, Attrs<'a>), ParseError> {
        let p = self.payload();
        if p.len() < NFGENMSG_LEN {
            return Err(ParseError::Truncated { what: "nfgenmsg", need: NFGENMSG_LEN, have: p.len() });
        }
        let g = NfGenMsg { family: p[0], version: p[1], res_id: u16::from_be_bytes([p[2], p[3]]) };
        Ok((g, Attrs::new(&p[NFGENMSG_LEN..])))
    }

    /// If this is an `NLMSG_ERROR` message, its contents.
    pub fn error(&self) -> Option<Result<ErrorMsg<'a>, ParseError>> {
        if self.msg_type() != NLMSG_ERROR {
            return None;
        }
        let p = self.payload();
        if p.len() < 4 {
            return Some(Err(ParseError::Truncated { what: "nlmsgerr", need: 4, have: p.len() }));
        }
        let error = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
        Some(Ok(ErrorMsg { error, echoed: &p[4..], flags: self.flags() }))
    }
}

/// The contents of an `NLMSG_ERROR` message.
#[derive(Clone, Copy, Debug)]
pub struct ErrorMsg<'a> {
    /// 0 for an ACK, otherwise a negative errno.
    pub error: i32,
    /// The echoed request (its header, and its payload unless capped), then extended-ACK TLVs.
    pub echoed: &'a [u8],
    flags: u16,
}

impl<'a> ErrorMsg<'a> {
    /// The header of the request this answers: (type, flags, seq), if echoed.
    pub fn request_header(&self) -> Option<(u16, u16, u32)> {
        if self.echoed.len() < NLMSG_HDRLEN {
            return None;
        }
        Some((ne_u16(self.echoed, 4), ne_u16(self.echoed, 6), ne_u32(self.echoed, 8)))
    }

    /// The echoed request, when the kernel sent it whole.
    pub fn request(&self) -> Option<Msg<'a>> {
        if self.flags & super::NLM_F_CAPPED != 0 {
            return None;
        }
        Msg::split(self.echoed).ok().map(|(m, _)| m)
    }

    /// The extended-ACK message text (`NLMSGERR_ATTR_MSG`), if the kernel sent one.
    pub fn ext_message(&self) -> Option<&'a str> {
        if self.flags & super::NLM_F_ACK_TLVS == 0 || self.echoed.len() < NLMSG_HDRLEN {
            return None;
        }
        let req_len =
            if self.flags & super::NLM_F_CAPPED != 0 { NLMSG_HDRLEN } else { align4(ne_u32(self.echoed, 0) as usize) };
        let tlvs = self.echoed.get(req_len..)?;
        for a in Attrs::new(tlvs) {
            let a = a.ok()?;
            if a.kind() == 1 {
                let s = a.data();
                let s = &s[..memchr::memchr(0, s).unwrap_or(s.len())];
                return std::str::from_utf8(s).ok();
            }
        }
        None
    }
}

/// Iterator over the messages of one datagram. Yields an error and stops at the first
/// malformed header.
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    /// Messages in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { rest: buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Msg<'a>, ParseError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Msg::split(self.rest) {
            Ok((m, rest)) => {
                self.rest = rest;
                Some(Ok(m))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// `struct nfgenmsg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NfGenMsg {
    /// Address family (AF_INET, AF_INET6, AF_BRIDGE, ...).
    pub family: u8,
    /// Always 0.
    pub version: u8,
    /// Resource id in host order (the queue number for NFQUEUE).
    pub res_id: u16,
}

/// One attribute: its type (flags masked off) and its payload (without padding).
#[derive(Clone, Copy, Debug)]
pub struct Attr<'a> {
    raw_type: u16,
    data: &'a [u8],
}

impl<'a> Attr<'a> {
    /// An attribute of type `raw_type` (flags included) with payload `data`.
    pub fn new(raw_type: u16, data: &'a [u8]) -> Self {
        Attr { raw_type, data }
    }
    /// The type without the nested / byte-order flags.
    #[inline]
    pub fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }
    /// The type as sent, flags included.
    pub fn raw_type(&self) -> u16 {
        self.raw_type
    }
    /// Whether the nested flag is set.
    pub fn is_nested(&self) -> bool {
        self.raw_type & NLA_F_NESTED != 0
    }
    /// The payload (`nla_len - 4` bytes).
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// The attributes nested inside this one.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.data)
    }
    /// The payload as exactly `N` bytes.
    #[inline]
    pub fn array<const N: usize>(&self, name: &'static str) -> Result<[u8; N], ParseError> {
        self.data.try_into().map_err(|_| ParseError::AttrSize {
            attr: name,
            len: self.data.len(),
            expected: match N {
                1 => "1",
                2 => "2",
                4 => "4",
                8 => "8",
                16 => "16",
                _ => "a fixed size",
            },
        })
    }
    /// A big-endian u16 payload.
    pub fn be_u16(&self, name: &'static str) -> Result<u16, ParseError> {
        self.array::<2>(name).map(u16::from_be_bytes)
    }
    /// A big-endian u32 payload.
    #[inline]
    pub fn be_u32(&self, name: &'static str) -> Result<u32, ParseError> {
        self.array::<4>(name).map(u32::from_be_bytes)
    }
    /// A big-endian u64 payload.
    pub fn be_u64(&self, name: &'static str) -> Result<u64, ParseError> {
        self.array::<8>(name).map(u64::from_be_bytes)
    }
    /// A u8 payload.
    pub fn u8(&self, name: &'static str) -> Result<u8, ParseError> {
        self.array::<1>(name).map(|a| a[0])
    }
    /// The first `n` bytes of a payload that must have at least that many (fixed-size structs
    /// that a newer kernel may extend).
    pub fn at_least(&self, n: usize, name: &'static str, expected: &'static str) -> Result<&'a [u8], ParseError> {
        self.data.get(..n).ok_or(ParseError::AttrSize { attr: name, len: self.data.len(), expected })
    }
    /// Two big-endian u64 (a `struct nfqnl_msg_packet_timestamp` / `nfulnl_msg_packet_timestamp`:
    /// seconds and microseconds).
    pub fn be_u64_pair(&self, name: &'static str) -> Result<(u64, u64), ParseError> {
        let d = self.at_least(16, name, "16")?;
        let (a, b) = d.split_at(8);
        Ok((u64::from_be_bytes(a.try_into().unwrap_or_default()), u64::from_be_bytes(b.try_into().unwrap_or_default())))
    }
    /// A VLAN nest (`NFQA_VLAN` / `NFULA_VLAN`, laid out alike: protocol in nested attribute 1
    /// and TCI in 2, both big-endian u16, both required).
    pub fn vlan(&self, name: &'static str) -> Result<Vlan, ParseError> {
        let (mut proto, mut tci) = (None, None);
        for n in self.nested() {
            let n = n?;
            match n.kind() {
                1 => proto = Some(n.be_u16(name)?),
                2 => tci = Some(n.be_u16(name)?),
                _ => {}
            }
        }
        match (proto, tci) {
            (Some(proto), Some(tci)) => Ok(Vlan { proto, tci }),
            _ => Err(ParseError::Missing(name)),
        }
    }
}

/// A VLAN tag as NFQUEUE and NFLOG report it (bridge and netdev families).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vlan {
    /// Tag protocol (0x8100, 0x88a8).
    pub proto: u16,
    /// Tag control information (priority, DEI, VLAN id).
    pub tci: u16,
}

/// Iterator over a run of attributes. Yields an error and stops at the first attribute whose
/// length is below 4 or past the end; trailing bytes shorter than an attribute header (padding)
/// end the run quietly; a missing pad after the last attribute is tolerated.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    /// Attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs { rest: buf }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, ParseError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.rest;
        if b.len() < NLA_HDRLEN {
            self.rest = &[];
            return None;
        }
        let len = ne_u16(b, 0) as usize;
        if len < NLA_HDRLEN || len > b.len() {
            self.rest = &[];
            return Some(Err(ParseError::BadLength { what: "nlattr", len, room: b.len() }));
        }
        let attr = Attr { raw_type: ne_u16(b, 2), data: &b[NLA_HDRLEN..len] };
        self.rest = &b[align4(len).min(b.len())..];
        Some(Ok(attr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&7u32.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn attr_header_at_reads_a_whole_header_or_nothing() {
        let mut b = Vec::new();
        for v in [8u16, 0x8002, 0, 0x0100, 5] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(attr_header_at(&b, 0), Some((8, 0x8002)));
        assert_eq!(attr_header_at(&b, 6), Some((0x0100, 5)));
        assert_eq!(attr_header_at(&b, 7), None);
        assert_eq!(attr_header_at(&b, 12), None);
        assert_eq!(attr_header_at(&b, usize::MAX), None);
        assert_eq!(attr_header_at(&b[..3], 0), None);
    }

    #[test]
    fn splits_two_messages_with_padding_between() {
        let mut buf = msg(0x300, &[2, 0, 0, 1, 9]);
        buf.extend_from_slice(&[0, 0, 0]);
        buf.extend(msg(0x301, &[10, 0, 0, 2]));
        let v: Vec<_> = Messages::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].len(), 21);
        assert_eq!(v[0].nfgen().unwrap().0, NfGenMsg { family: 2, version: 0, res_id: 1 });
        assert_eq!(v[1].msg_type(), 0x301);
        assert_eq!(v[1].seq(), 7);
    }

    #[test]
    fn last_message_without_padding_is_accepted() {
        let buf = msg(0x300, &[2, 0, 0, 0, 1]);
        assert_eq!(buf.len(), 21);
        let v: Vec<_> = Messages::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn truncated_header_and_overlong_length_are_errors() {
        let buf = msg(0x300, &[0; 8]);
        assert!(matches!(Messages::new(&buf[..10]).next(), Some(Err(ParseError::Truncated { .. }))));
        assert!(matches!(Messages::new(&buf[..20]).next(), Some(Err(ParseError::BadLength { .. }))));
        let mut short = buf.clone();
        short[0] = 3;
        assert!(matches!(Messages::new(&short).next(), Some(Err(ParseError::BadLength { .. }))));
        let mut it = Messages::new(&short);
        it.next();
        assert!(it.next().is_none(), "iteration stops after an error");
    }

    #[test]
    fn attributes_skip_padding_and_tolerate_missing_last_pad() {
        // attr type 1 len 5 (1 byte + 3 pad), attr type 0x8002 len 8 nested, attr type 3 len 6 unpadded
        let buf = [5, 0, 1, 0, 0xaa, 0, 0, 0, 8, 0, 2, 0x80, 4, 0, 9, 0, 6, 0, 3, 0, 1, 2];
        let v: Vec<_> = Attrs::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].kind(), 1);
        assert_eq!(v[0].data(), &[0xaa]);
        assert!(v[1].is_nested());
        assert_eq!(v[1].kind(), 2);
        let inner: Vec<_> = v[1].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].kind(), 9);
        assert_eq!(inner[0].data().len(), 0);
        assert_eq!(v[2].data(), &[1, 2]);
    }

    #[test]
    fn attribute_length_errors_stop_iteration() {
        let zero = [0u8, 0, 1, 0, 0, 0, 0, 0];
        let mut it = Attrs::new(&zero);
        assert!(matches!(it.next(), Some(Err(ParseError::BadLength { .. }))));
        assert!(it.next().is_none());
        let past = [12u8, 0, 1, 0, 0, 0, 0, 0];
        assert!(matches!(Attrs::new(&past).next(), Some(Err(ParseError::BadLength { .. }))));
        let tail = [0u8, 0, 0];
        assert!(Attrs::new(&tail).next().is_none(), "trailing pad bytes end the run");
    }

    #[test]
    fn fixed_size_accessors_check_length() {
        let buf = [8u8, 0, 3, 0, 0, 0, 1, 2];
        let a = Attrs::new(&buf).next().unwrap().unwrap();
        assert_eq!(a.be_u32("x").unwrap(), 0x102);
        assert!(a.be_u16("x").is_err());
        assert!(a.be_u64("x").is_err());
    }

    #[test]
    fn error_message_fields() {
        let mut req = msg(0x302, &[0, 0, 0, 0]);
        req[8..12].copy_from_slice(&42u32.to_ne_bytes());
        let mut p = (-1i32).to_ne_bytes().to_vec();
        p.extend_from_slice(&req);
        let m = msg(NLMSG_ERROR, &p);
        let (mm, _) = Msg::split(&m).unwrap();
        let e = mm.error().unwrap().unwrap();
        assert_eq!(e.error, -1);
        assert_eq!(e.request_header(), Some((0x302, 0, 42)));
        assert_eq!(e.request().unwrap().msg_type(), 0x302);
        assert!(e.ext_message().is_none());
        let trunc = msg(NLMSG_ERROR, &[1, 2]);
        assert!(Msg::split(&trunc).unwrap().0.error().unwrap().is_err());
    }
}
