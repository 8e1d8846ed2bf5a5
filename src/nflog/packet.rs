//! The log-message view: every attribute of an `NFULNL_MSG_PACKET` message decoded in one pass
//! over its attributes (sizes checked), the integers into fields and the variable payloads as
//! positions in the receive buffer (no copy, no allocation). Presence is explicit: each
//! optional attribute is an `Option`.
//!
//! A message logged by `-j NFLOG --nflog-group 100 --nflog-prefix ping` on OUTPUT, copy mode
//! meta:
//!
//! ```text
//! 30 00 00 00 00 04 00 00 00 00 00 00 00 00 00 00   nlmsghdr len=48 type=0x400
//! 02 00 00 64                                        nfgenmsg AF_INET group 100
//! 08 00 01 00 08 00 03 00                            PACKET_HDR proto=0x0800 hook=3
//! 09 00 0a 00 70 69 6e 67 00 00 00 00                PREFIX "ping\0" (+3 pad)
//! 08 00 05 00 00 00 00 01                            IFINDEX_OUTDEV 1
//! ```

use super::{NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, attr};
use crate::netlink::{
    Attr, Msg, NFGENMSG_LEN, NLA_HDRLEN, NLA_TYPE_MASK, ParseError, align4, attr_header_at, nfnl_msg_type,
};

pub use crate::netlink::Vlan;

/// Where one variable payload lies in the message's attribute area (`len` 0 and `at` 0: absent;
/// a payload never starts at offset 0).
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    at: u32,
    len: u32,
}

/// Slots of the 32-bit attributes in [`LogPacket::u32s`].
pub(crate) mod slot {
    pub const MARK: usize = 0;
    pub const INDEV: usize = 1;
    pub const OUTDEV: usize = 2;
    pub const PHYSINDEV: usize = 3;
    pub const PHYSOUTDEV: usize = 4;
    pub const UID: usize = 5;
    pub const GID: usize = 6;
    pub const SEQ: usize = 7;
    pub const SEQ_GLOBAL: usize = 8;
    pub const CT_INFO: usize = 9;
}

/// Slots of the variable payloads in [`LogPacket::spans`].
pub(crate) mod span {
    pub const TIMESTAMP: usize = 0;
    pub const HWADDR: usize = 1;
    pub const PAYLOAD: usize = 2;
    pub const PREFIX: usize = 3;
    pub const HWHEADER: usize = 4;
    pub const CT: usize = 5;
    pub const VLAN: usize = 6;
    pub const L2HDR: usize = 7;
    pub const N: usize = 8;
}

/// One logged packet, borrowed from the receive buffer.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogPacket<'a> {
    /// The attributes (the message after its nfgenmsg).
    attrs: &'a [u8],
    family: u8,
    hook: u8,
    group: u16,
    hw_protocol: u16,
    hwtype: u16,
    hwlen: u16,
    /// Bit `1 << t` for every attribute type `t` present.
    present: u32,
    /// Indexed by slot (`slot::N` used; 16 so that a masked index needs no bounds check).
    u32s: [u32; 16],
    spans: [Span; span::N],
}

#[cold]
fn size_error(attr: &'static str, len: usize, expected: &'static str) -> ParseError {
    ParseError::AttrSize { attr, len, expected }
}

impl<'a> LogPacket<'a> {
    /// Decodes a log message. Errors on a wrong type, a broken attribute run (a length below 4
    /// or past the end), a missing or short packet header, an attribute of the wrong size, or a
    /// VLAN nest without its two parts; unknown attributes are skipped, and of an attribute
    /// sent twice the last counts.
    #[inline]
    pub fn parse(msg: &Msg<'a>) -> Result<LogPacket<'a>, ParseError> {
        let mut p = LogPacket::default();
        p.parse_in_place(msg)?;
        Ok(p)
    }

    /// [`parse`](Self::parse) into an existing view (the receive loop's, so that nothing is
    /// copied per message); on error the view is left half-filled.
    #[inline]
    pub(crate) fn parse_in_place(&mut self, msg: &Msg<'a>) -> Result<(), ParseError> {
        if msg.msg_type() != nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET) {
            return Err(ParseError::UnexpectedType(msg.msg_type()));
        }
        let p = msg.payload();
        if p.len() < NFGENMSG_LEN {
            return Err(ParseError::Truncated { what: "nfgenmsg", need: NFGENMSG_LEN, have: p.len() });
        }
        self.attrs = &p[NFGENMSG_LEN..];
        self.family = p[0];
        self.group = u16::from_be_bytes([p[2], p[3]]);
        self.present = 0;
        self.u32s = [0; 16];
        self.decode()
    }

    /// The one pass over the attributes ([`decode_attrs`]) into this view.
    #[inline(always)]
    fn decode(&mut self) -> Result<(), ParseError> {
        self.present = decode_attrs(self.attrs, self)?;
        Ok(())
    }

    /// Bit `1 << t` for every `NFULA_*` type `t` present (for the C API's record).
    #[inline]
    pub(crate) fn present_bits(&self) -> u32 {
        self.present
    }

    /// The 32-bit attributes by `slot` (0 where absent; for the C API's record).
    #[inline]
    pub(crate) fn u32_slots(&self) -> &[u32; 16] {
        &self.u32s
    }

    #[inline]
    fn has(&self, ty: u16) -> bool {
        self.present & (1 << ty) != 0
    }

    #[inline]
    fn u32_of(&self, ty: u16, s: usize) -> Option<u32> {
        self.has(ty).then_some(self.u32s[s & 15])
    }

    #[inline]
    fn bytes_of(&self, ty: u16, s: usize) -> Option<&'a [u8]> {
        if !self.has(ty) {
            return None;
        }
        let Span { at, len } = self.spans[s & (span::N - 1)];
        self.attrs.get(at as usize..at as usize + len as usize)
    }

    /// Address family of the hook (AF_INET 2, AF_INET6 10, AF_BRIDGE 7, ...).
    #[inline]
    pub fn family(&self) -> u8 {
        self.family
    }
    /// The NFLOG group the packet was logged to.
    #[inline]
    pub fn group(&self) -> u16 {
        self.group
    }
    /// Link-layer protocol in host order (ETH_P_IP 0x0800, ETH_P_IPV6 0x86dd, ...).
    #[inline]
    pub fn hw_protocol(&self) -> u16 {
        self.hw_protocol
    }
    /// Netfilter hook (0 PREROUTING, 1 INPUT, 2 FORWARD, 3 OUTPUT, 4 POSTROUTING).
    #[inline]
    pub fn hook(&self) -> u8 {
        self.hook
    }
    /// `struct nfulnl_msg_packet_hdr` as sent (hw_protocol big-endian, hook, pad).
    #[inline]
    pub fn raw_header(&self) -> [u8; 4] {
        let p = self.hw_protocol.to_be_bytes();
        [p[0], p[1], self.hook, 0]
    }
    /// skb->mark (the kernel sends it only when non-zero).
    #[inline]
    pub fn mark(&self) -> Option<u32> {
        self.u32_of(attr::MARK, slot::MARK)
    }
    /// Arrival time as (seconds, microseconds); the kernel sends it for PREROUTING, INPUT and
    /// FORWARD only.
    #[inline]
    pub fn timestamp(&self) -> Option<(u64, u64)> {
        let d = self.bytes_of(attr::TIMESTAMP, span::TIMESTAMP)?;
        Attr::new(attr::TIMESTAMP, d).be_u64_pair("NFULA_TIMESTAMP").ok()
    }
    /// Input interface index.
    #[inline]
    pub fn indev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_INDEV, slot::INDEV)
    }
    /// Output interface index.
    #[inline]
    pub fn outdev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_OUTDEV, slot::OUTDEV)
    }
    /// Physical input interface (bridge port).
    #[inline]
    pub fn physindev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_PHYSINDEV, slot::PHYSINDEV)
    }
    /// Physical output interface (bridge port).
    #[inline]
    pub fn physoutdev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_PHYSOUTDEV, slot::PHYSOUTDEV)
    }
    /// The source hardware address (its first `addrlen` bytes): `struct nfulnl_msg_packet_hw`
    /// is decoded, so this is the address alone.
    #[inline]
    pub fn hwaddr(&self) -> Option<&'a [u8]> {
        let raw = self.raw_hwaddr()?;
        let n = (u16::from_be_bytes([raw[0], raw[1]]) as usize).min(8);
        Some(&raw[4..4 + n])
    }
    /// The 12 raw bytes of `struct nfulnl_msg_packet_hw` (addrlen big-endian, pad, address).
    #[inline]
    pub fn raw_hwaddr(&self) -> Option<&'a [u8]> {
        self.bytes_of(attr::HWADDR, span::HWADDR)?.get(..12)
    }
    /// The logged bytes of the packet, from its network header (copy mode packet).
    #[inline]
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.bytes_of(attr::PAYLOAD, span::PAYLOAD)
    }
    /// The rule's log prefix without its terminating NUL; `None` if absent or not UTF-8 (see
    /// [`prefix_bytes`](Self::prefix_bytes)).
    #[inline]
    pub fn prefix(&self) -> Option<&'a str> {
        std::str::from_utf8(self.prefix_bytes()?).ok()
    }
    /// The rule's log prefix as bytes, up to its first NUL.
    #[inline]
    pub fn prefix_bytes(&self) -> Option<&'a [u8]> {
        let p = self.raw_prefix()?;
        // Prefixes are short (at most 63 bytes with iptables, 127 with nft): a plain scan beats
        // a vectorised search's set-up.
        Some(&p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())])
    }
    /// The raw `NFULA_PREFIX` attribute (with its NUL).
    #[inline]
    pub fn raw_prefix(&self) -> Option<&'a [u8]> {
        self.bytes_of(attr::PREFIX, span::PREFIX)
    }
    /// User id owning the packet's local socket (locally generated packets).
    #[inline]
    pub fn uid(&self) -> Option<u32> {
        self.u32_of(attr::UID, slot::UID)
    }
    /// Group id owning the packet's local socket.
    #[inline]
    pub fn gid(&self) -> Option<u32> {
        self.u32_of(attr::GID, slot::GID)
    }
    /// The group's own sequence number (flag `SEQ`).
    #[inline]
    pub fn seq(&self) -> Option<u32> {
        self.u32_of(attr::SEQ, slot::SEQ)
    }
    /// The namespace-wide sequence number (flag `SEQ_GLOBAL`).
    #[inline]
    pub fn seq_global(&self) -> Option<u32> {
        self.u32_of(attr::SEQ_GLOBAL, slot::SEQ_GLOBAL)
    }
    /// Hardware type of the input device (ARPHRD_*).
    #[inline]
    pub fn hwtype(&self) -> Option<u16> {
        self.has(attr::HWTYPE).then_some(self.hwtype)
    }
    /// The link-layer header as received.
    #[inline]
    pub fn hwheader(&self) -> Option<&'a [u8]> {
        self.bytes_of(attr::HWHEADER, span::HWHEADER)
    }
    /// The input device's hardware header length.
    #[inline]
    pub fn hwlen(&self) -> Option<u16> {
        self.has(attr::HWLEN).then_some(self.hwlen)
    }
    /// The raw `NFULA_CT` nest (decode with [`ct`](Self::ct)).
    #[inline]
    pub fn ct_raw(&self) -> Option<&'a [u8]> {
        self.bytes_of(attr::CT, span::CT)
    }
    /// The connection, decoded from `NFULA_CT` (flag `CONNTRACK`).
    #[inline]
    pub fn ct(&self) -> Option<Result<crate::conntrack::Conn<'a>, ParseError>> {
        self.ct_raw().map(|c| crate::conntrack::Conn::parse(self.family, c))
    }
    /// `enum ip_conntrack_info` of the packet.
    #[inline]
    pub fn ct_info(&self) -> Option<u32> {
        self.u32_of(attr::CT_INFO, slot::CT_INFO)
    }
    /// VLAN tag (bridge and netdev families).
    #[inline]
    pub fn vlan(&self) -> Option<Vlan> {
        let d = self.bytes_of(attr::VLAN, span::VLAN)?;
        Attr::new(attr::VLAN, d).vlan("NFULA_VLAN").ok()
    }
    /// The whole layer-2 header (bridge and netdev families).
    #[inline]
    pub fn l2hdr(&self) -> Option<&'a [u8]> {
        self.bytes_of(attr::L2HDR, span::L2HDR)
    }
}

/// Where the one decoding pass ([`decode_attrs`]) puts what it finds: the view keeps
/// positions, the C API's record ([`super::LogRecord`]) keeps pointers. One pass and one set
/// of checks serve both, so they accept and refuse the same messages.
pub(crate) trait Store<'a> {
    /// A 32-bit attribute, by [`slot`].
    fn u32(&mut self, slot: usize, v: u32);
    /// A variable attribute, by span slot: its payload `d`, at offset `at` of the attributes.
    fn span(&mut self, span: usize, at: usize, d: &'a [u8]);
    /// `NFULA_PACKET_HDR`.
    fn hdr(&mut self, hw_protocol: u16, hook: u8);
    /// `NFULA_HWTYPE` (`hwlen` false) or `NFULA_HWLEN` (`hwlen` true).
    fn hw16(&mut self, hwlen: bool, v: u16);
}

impl<'a> Store<'a> for LogPacket<'a> {
    #[inline(always)]
    fn u32(&mut self, slot: usize, v: u32) {
        self.u32s[slot & 15] = v;
    }
    #[inline(always)]
    fn span(&mut self, span: usize, at: usize, d: &'a [u8]) {
        self.spans[span & (span::N - 1)] = Span { at: at as u32, len: d.len() as u32 };
    }
    #[inline(always)]
    fn hdr(&mut self, hw_protocol: u16, hook: u8) {
        self.hw_protocol = hw_protocol;
        self.hook = hook;
    }
    #[inline(always)]
    fn hw16(&mut self, hwlen: bool, v: u16) {
        *if hwlen { &mut self.hwlen } else { &mut self.hwtype } = v;
    }
}

/// The one pass over a log message's attributes (`buf`: after the nfgenmsg): per attribute one
/// bounds check of its header, one of its length, one table lookup for what it is, its size
/// check and its store. Returns bit `1 << t` for every known type `t` present. Errors on a
/// broken attribute run (a length below 4 or past the end), a missing packet header, an
/// attribute of the wrong size, or a VLAN nest without its two parts; unknown types are
/// skipped, and of an attribute sent twice the last counts.
#[inline(always)]
pub(crate) fn decode_attrs<'a, S: Store<'a>>(buf: &'a [u8], out: &mut S) -> Result<u32, ParseError> {
    let end = buf.len();
    let mut pos = 0usize;
    let mut present = 0u32;
    // pos may pass the end by up to 3 after the last attribute (a missing last pad).
    while let Some((len, raw_type)) = attr_header_at(buf, pos) {
        let ty = raw_type & NLA_TYPE_MASK;
        let room = end - pos;
        if len < NLA_HDRLEN || len > room {
            return Err(ParseError::BadLength { what: "nlattr", len, room });
        }
        let at = pos + NLA_HDRLEN;
        // SAFETY: at <= pos + len <= end (len >= 4 and len <= room, checked above).
        let d = unsafe { buf.get_unchecked(at..pos + len) };
        pos += align4(len);
        match ty {
            attr::PACKET_HDR => {
                if d.len() < 4 {
                    return Err(size_error("NFULA_PACKET_HDR", d.len(), "4"));
                }
                out.hdr(u16::from_be_bytes([d[0], d[1]]), d[2]);
            }
            attr::MARK => out.u32(slot::MARK, be32(d, "NFULA_MARK")?),
            attr::IFINDEX_INDEV => out.u32(slot::INDEV, be32(d, "NFULA_IFINDEX_INDEV")?),
            attr::IFINDEX_OUTDEV => out.u32(slot::OUTDEV, be32(d, "NFULA_IFINDEX_OUTDEV")?),
            attr::IFINDEX_PHYSINDEV => out.u32(slot::PHYSINDEV, be32(d, "NFULA_IFINDEX_PHYSINDEV")?),
            attr::IFINDEX_PHYSOUTDEV => out.u32(slot::PHYSOUTDEV, be32(d, "NFULA_IFINDEX_PHYSOUTDEV")?),
            attr::UID => out.u32(slot::UID, be32(d, "NFULA_UID")?),
            attr::GID => out.u32(slot::GID, be32(d, "NFULA_GID")?),
            attr::SEQ => out.u32(slot::SEQ, be32(d, "NFULA_SEQ")?),
            attr::SEQ_GLOBAL => out.u32(slot::SEQ_GLOBAL, be32(d, "NFULA_SEQ_GLOBAL")?),
            attr::CT_INFO => out.u32(slot::CT_INFO, be32(d, "NFULA_CT_INFO")?),
            attr::PAYLOAD => out.span(span::PAYLOAD, at, d),
            attr::PREFIX => out.span(span::PREFIX, at, d),
            attr::TIMESTAMP => {
                if d.len() < 16 {
                    return Err(size_error("NFULA_TIMESTAMP", d.len(), "16"));
                }
                out.span(span::TIMESTAMP, at, d);
            }
            attr::HWADDR => {
                if d.len() < 12 {
                    return Err(size_error("NFULA_HWADDR", d.len(), "12"));
                }
                out.span(span::HWADDR, at, d);
            }
            attr::HWHEADER => out.span(span::HWHEADER, at, d),
            attr::CT => out.span(span::CT, at, d),
            attr::L2HDR => out.span(span::L2HDR, at, d),
            attr::VLAN => {
                Attr::new(ty, d).vlan("NFULA_VLAN_PROTO/NFULA_VLAN_TCI")?;
                out.span(span::VLAN, at, d);
            }
            attr::HWTYPE => out.hw16(false, be16(d, "NFULA_HWTYPE")?),
            attr::HWLEN => out.hw16(true, be16(d, "NFULA_HWLEN")?),
            _ => continue, // unknown: skipped
        }
        present |= 1 << ty;
    }
    if present & (1 << attr::PACKET_HDR) == 0 {
        return Err(ParseError::Missing("NFULA_PACKET_HDR"));
    }
    Ok(present)
}

/// A big-endian 32-bit attribute payload of exactly 4 bytes.
#[inline(always)]
fn be32(d: &[u8], name: &'static str) -> Result<u32, ParseError> {
    match <[u8; 4]>::try_from(d) {
        Ok(v) => Ok(u32::from_be_bytes(v)),
        Err(_) => Err(size_error(name, d.len(), "4")),
    }
}

/// A big-endian 16-bit attribute payload of exactly 2 bytes.
#[inline(always)]
fn be16(d: &[u8], name: &'static str) -> Result<u16, ParseError> {
    match <[u8; 2]>::try_from(d) {
        Ok(v) => Ok(u16::from_be_bytes(v)),
        Err(_) => Err(size_error(name, d.len(), "2")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{Messages, MsgBuilder};

    fn msg_with(f: impl FnOnce(&mut MsgBuilder<'_>)) -> Vec<u8> {
        let mut v = Vec::new();
        let mut b = MsgBuilder::new(&mut v, nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET), 0, 0);
        b.nfgen(2, 100);
        f(&mut b);
        b.finish();
        v
    }

    fn parse(v: &[u8]) -> Result<LogPacket<'_>, ParseError> {
        LogPacket::parse(&Messages::new(v).next().unwrap().unwrap())
    }

    #[test]
    fn the_documented_example_decodes() {
        let v = [
            0x30, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0x64, 8, 0, 1, 0, 8, 0, 3, 0, 9, 0, 0x0a, 0,
            b'p', b'i', b'n', b'g', 0, 0, 0, 0, 8, 0, 5, 0, 0, 0, 0, 1,
        ];
        let p = parse(&v).unwrap();
        assert_eq!((p.family(), p.group(), p.hw_protocol(), p.hook()), (2, 100, 0x0800, 3));
        assert_eq!(p.raw_header(), [8, 0, 3, 0]);
        assert_eq!((p.prefix(), p.raw_prefix()), (Some("ping"), Some(&b"ping\0"[..])));
        assert_eq!((p.outdev(), p.indev(), p.mark(), p.payload()), (Some(1), None, None, None));
    }

    #[test]
    fn every_attribute_decodes() {
        let v = msg_with(|b| {
            b.put(attr::PACKET_HDR, &[0x86, 0xdd, 1, 0]);
            b.put_be32(attr::MARK, 7);
            b.put(attr::TIMESTAMP, &[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 3]);
            b.put_be32(attr::IFINDEX_INDEV, 2);
            b.put_be32(attr::IFINDEX_OUTDEV, 3);
            b.put_be32(attr::IFINDEX_PHYSINDEV, 4);
            b.put_be32(attr::IFINDEX_PHYSOUTDEV, 5);
            b.put(attr::HWADDR, &[0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0]);
            b.put(attr::PAYLOAD, &[0x60, 0, 0, 0]);
            b.put(attr::PREFIX, b"x\0");
            b.put_be32(attr::UID, 1000);
            b.put_be32(attr::SEQ, 11);
            b.put_be32(attr::SEQ_GLOBAL, 12);
            b.put_be32(attr::GID, 1001);
            b.put_be16(attr::HWTYPE, 1);
            b.put(attr::HWHEADER, &[0xaa; 14]);
            b.put_be16(attr::HWLEN, 14);
            b.put(attr::CT, &[4, 0, 99, 0]);
            b.put_be32(attr::CT_INFO, 2);
            let n = b.nest_start(attr::VLAN);
            b.put_be16(attr::VLAN_PROTO, 0x8100);
            b.put_be16(attr::VLAN_TCI, 42);
            b.nest_end(n);
            b.put(attr::L2HDR, &[0xbb; 18]);
        });
        let p = parse(&v).unwrap();
        assert_eq!((p.hw_protocol(), p.hook(), p.mark(), p.timestamp()), (0x86dd, 1, Some(7), Some((9, 3))));
        assert_eq!((p.indev(), p.outdev(), p.physindev(), p.physoutdev()), (Some(2), Some(3), Some(4), Some(5)));
        assert_eq!(p.hwaddr(), Some(&[1, 2, 3, 4, 5, 6][..]));
        assert_eq!((p.payload(), p.prefix()), (Some(&[0x60, 0, 0, 0][..]), Some("x")));
        assert_eq!((p.uid(), p.gid(), p.seq(), p.seq_global()), (Some(1000), Some(1001), Some(11), Some(12)));
        assert_eq!((p.hwtype(), p.hwlen(), p.hwheader().map(<[u8]>::len)), (Some(1), Some(14), Some(14)));
        assert_eq!((p.ct_raw(), p.ct_info()), (Some(&[4, 0, 99, 0][..]), Some(2)));
        assert_eq!(p.vlan(), Some(Vlan { proto: 0x8100, tci: 42 }));
        assert_eq!(p.l2hdr().map(<[u8]>::len), Some(18));
    }

    #[test]
    fn wrong_sizes_and_a_missing_header_are_errors() {
        for (put, what) in [
            (
                &(|b: &mut MsgBuilder<'_>| {
                    b.put(attr::MARK, &[1, 2]);
                }) as &dyn Fn(&mut MsgBuilder<'_>),
                "NFULA_MARK",
            ),
            (
                &|b: &mut MsgBuilder<'_>| {
                    b.put(attr::HWLEN, &[1, 2, 3, 4]);
                },
                "NFULA_HWLEN",
            ),
            (
                &|b: &mut MsgBuilder<'_>| {
                    b.put(attr::TIMESTAMP, &[0; 8]);
                },
                "NFULA_TIMESTAMP",
            ),
            (
                &|b: &mut MsgBuilder<'_>| {
                    b.put(attr::HWADDR, &[0; 6]);
                },
                "NFULA_HWADDR",
            ),
            (
                &|b: &mut MsgBuilder<'_>| {
                    let n = b.nest_start(attr::VLAN);
                    b.put_be16(attr::VLAN_PROTO, 0x8100);
                    b.nest_end(n);
                },
                "NFULA_VLAN",
            ),
        ] {
            let v = msg_with(|b| {
                b.put(attr::PACKET_HDR, &[8, 0, 3, 0]);
                put(b);
            });
            let e = parse(&v).unwrap_err();
            assert!(e.to_string().contains(what), "{what}: {e}");
        }
        let v = msg_with(|b| {
            b.put_be32(attr::MARK, 1);
        });
        assert_eq!(parse(&v).unwrap_err(), ParseError::Missing("NFULA_PACKET_HDR"));
        let v = msg_with(|b| {
            b.put(attr::PACKET_HDR, &[8, 0]);
        });
        assert!(parse(&v).unwrap_err().to_string().contains("NFULA_PACKET_HDR"));
    }

    #[test]
    fn unknown_attributes_are_skipped_and_a_missing_last_pad_is_fine() {
        let mut v = msg_with(|b| {
            b.put(attr::PACKET_HDR, &[8, 0, 3, 0]);
            b.put(40, &[1, 2, 3]);
            b.put(attr::PAYLOAD, &[1, 2, 3, 4, 5]);
        });
        v.truncate(v.len() - 3); // the pad after the 5-byte payload
        let n = v.len() as u32;
        v[..4].copy_from_slice(&n.to_ne_bytes());
        let p = parse(&v).unwrap();
        assert_eq!(p.payload(), Some(&[1, 2, 3, 4, 5][..]));
    }
}
