//! The packet view: every attribute of an `NFQNL_MSG_PACKET` message, decoded in one pass
//! into slices of the receive buffer (no copy, no allocation). Presence is explicit: each
//! optional attribute is an `Option`.
//!
//! A message for a 4-byte payload on queue 0, OUTPUT hook:
//!
//! ```text
//! 2c 00 00 00 00 03 00 00 00 00 00 00 00 00 00 00   nlmsghdr len=44 type=0x300
//! 02 00 00 00                                        nfgenmsg AF_INET queue 0
//! 0b 00 01 00 00 00 00 01 08 00 03 00               PACKET_HDR id=1 proto=0x0800 hook=3
//! 08 00 06 00 00 00 00 01                            IFINDEX_OUTDEV 1
//! 08 00 0a 00 45 00 00 04                            PAYLOAD
//! ```

use super::attr;
use super::{NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET};
pub use crate::netlink::Vlan;
use crate::netlink::{Msg, ParseError, nfnl_msg_type};

/// `struct nfqnl_msg_packet_hdr`, decoded to host order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketHeader {
    /// Packet id (per queue, starts at 1, wraps).
    pub id: u32,
    /// Link-layer protocol (ETH_P_IP = 0x0800, ETH_P_IPV6 = 0x86dd, ...).
    pub hw_protocol: u16,
    /// Netfilter hook (0 PREROUTING, 1 INPUT, 2 FORWARD, 3 OUTPUT, 4 POSTROUTING).
    pub hook: u8,
}

/// A queued packet, borrowed from the receive buffer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Packet<'a> {
    pub(crate) family: u8,
    pub(crate) queue: u16,
    pub(crate) hdr: PacketHeader,
    pub(crate) raw_hdr: &'a [u8],
    pub(crate) mark: Option<u32>,
    pub(crate) timestamp: Option<(u64, u64)>,
    pub(crate) indev: Option<u32>,
    pub(crate) outdev: Option<u32>,
    pub(crate) physindev: Option<u32>,
    pub(crate) physoutdev: Option<u32>,
    pub(crate) hwaddr: Option<&'a [u8]>,
    pub(crate) payload: Option<&'a [u8]>,
    pub(crate) ct: Option<&'a [u8]>,
    pub(crate) ct_info: Option<u32>,
    pub(crate) cap_len: Option<u32>,
    pub(crate) skb_info: Option<u32>,
    pub(crate) exp: Option<&'a [u8]>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) secctx: Option<&'a [u8]>,
    pub(crate) vlan: Option<Vlan>,
    pub(crate) l2hdr: Option<&'a [u8]>,
    pub(crate) priority: Option<u32>,
    pub(crate) cgroup_classid: Option<u32>,
}

impl<'a> Packet<'a> {
    /// Decodes a packet message. Errors on a wrong type, a missing or short packet header, or
    /// an attribute of the wrong size; unknown attributes are skipped.
    pub fn parse(msg: &Msg<'a>) -> Result<Packet<'a>, ParseError> {
        if msg.msg_type() != nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET) {
            return Err(ParseError::UnexpectedType(msg.msg_type()));
        }
        let (g, attrs) = msg.nfgen()?;
        // Built in place inside the result: returning a local Packet as Ok(p) copied its fields
        // one by one into the caller's slot.
        let mut out = Ok(Packet { family: g.family, queue: g.res_id, ..Default::default() });
        let Ok(p) = &mut out else { return out };
        let mut have_hdr = false;
        for a in attrs {
            let a = a?;
            match a.kind() {
                attr::PACKET_HDR => {
                    let d = a.at_least(7, "NFQA_PACKET_HDR", "7")?;
                    p.hdr = PacketHeader {
                        id: u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
                        hw_protocol: u16::from_be_bytes([d[4], d[5]]),
                        hook: d[6],
                    };
                    p.raw_hdr = d;
                    have_hdr = true;
                }
                attr::MARK => p.mark = Some(a.be_u32("NFQA_MARK")?),
                attr::TIMESTAMP => p.timestamp = Some(a.be_u64_pair("NFQA_TIMESTAMP")?),
                attr::IFINDEX_INDEV => p.indev = Some(a.be_u32("NFQA_IFINDEX_INDEV")?),
                attr::IFINDEX_OUTDEV => p.outdev = Some(a.be_u32("NFQA_IFINDEX_OUTDEV")?),
                attr::IFINDEX_PHYSINDEV => p.physindev = Some(a.be_u32("NFQA_IFINDEX_PHYSINDEV")?),
                attr::IFINDEX_PHYSOUTDEV => p.physoutdev = Some(a.be_u32("NFQA_IFINDEX_PHYSOUTDEV")?),
                attr::HWADDR => p.hwaddr = Some(a.at_least(12, "NFQA_HWADDR", "12")?),
                attr::PAYLOAD => p.payload = Some(a.data()),
                attr::CT => p.ct = Some(a.data()),
                attr::CT_INFO => p.ct_info = Some(a.be_u32("NFQA_CT_INFO")?),
                attr::CAP_LEN => p.cap_len = Some(a.be_u32("NFQA_CAP_LEN")?),
                attr::SKB_INFO => p.skb_info = Some(a.be_u32("NFQA_SKB_INFO")?),
                attr::EXP => p.exp = Some(a.data()),
                attr::UID => p.uid = Some(a.be_u32("NFQA_UID")?),
                attr::GID => p.gid = Some(a.be_u32("NFQA_GID")?),
                attr::SECCTX => p.secctx = Some(a.data()),
                attr::VLAN => p.vlan = Some(a.vlan("NFQA_VLAN_PROTO/NFQA_VLAN_TCI")?),
                attr::L2HDR => p.l2hdr = Some(a.data()),
                attr::PRIORITY => p.priority = Some(a.be_u32("NFQA_PRIORITY")?),
                attr::CGROUP_CLASSID => p.cgroup_classid = Some(a.be_u32("NFQA_CGROUP_CLASSID")?),
                _ => {}
            }
        }
        if !have_hdr {
            return Err(ParseError::Missing("NFQA_PACKET_HDR"));
        }
        out
    }

    /// Finds the queue number and packet id of a packet message that does not parse whole
    /// (cut short, or with a broken later attribute), so it can still get a verdict.
    pub fn salvage_id(buf: &[u8]) -> Option<(u16, u32)> {
        // nlmsghdr(16) nfgenmsg(4) then PACKET_HDR is the first attribute the kernel emits.
        if buf.len() < 16 + 4 + 4 + 7 {
            return None;
        }
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        if ty != nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET) {
            return None;
        }
        let queue = u16::from_be_bytes([buf[18], buf[19]]);
        let alen = u16::from_ne_bytes([buf[20], buf[21]]) as usize;
        let atype = u16::from_ne_bytes([buf[22], buf[23]]) & crate::netlink::NLA_TYPE_MASK;
        if atype != attr::PACKET_HDR || alen < 11 {
            return None;
        }
        Some((queue, u32::from_be_bytes([buf[24], buf[25], buf[26], buf[27]])))
    }

    /// Address family of the hook (AF_INET 2, AF_INET6 10, AF_BRIDGE 7, ...).
    pub fn family(&self) -> u8 {
        self.family
    }
    /// Queue number this packet came from.
    pub fn queue(&self) -> u16 {
        self.queue
    }
    /// The packet header, decoded.
    pub fn header(&self) -> PacketHeader {
        self.hdr
    }
    /// The 7 raw bytes of `struct nfqnl_msg_packet_hdr` (big-endian fields), in the buffer.
    pub fn raw_header(&self) -> &'a [u8] {
        self.raw_hdr
    }
    /// Packet id.
    pub fn id(&self) -> u32 {
        self.hdr.id
    }
    /// Link-layer protocol in host order.
    pub fn hw_protocol(&self) -> u16 {
        self.hdr.hw_protocol
    }
    /// Netfilter hook number.
    pub fn hook(&self) -> u8 {
        self.hdr.hook
    }
    /// skb->mark, sent when nonzero.
    pub fn mark(&self) -> Option<u32> {
        self.mark
    }
    /// Receive timestamp (seconds, microseconds); input/forward hooks only.
    pub fn timestamp(&self) -> Option<(u64, u64)> {
        self.timestamp
    }
    /// Input interface index.
    pub fn indev(&self) -> Option<u32> {
        self.indev
    }
    /// Output interface index.
    pub fn outdev(&self) -> Option<u32> {
        self.outdev
    }
    /// Physical input interface (bridge port).
    pub fn physindev(&self) -> Option<u32> {
        self.physindev
    }
    /// Physical output interface (bridge port).
    pub fn physoutdev(&self) -> Option<u32> {
        self.physoutdev
    }
    /// The 12 raw bytes of `struct nfqnl_msg_packet_hw` (be16 length, pad, 8 address bytes).
    pub fn raw_hwaddr(&self) -> Option<&'a [u8]> {
        self.hwaddr
    }
    /// The link-layer source address (its announced length, at most 8 bytes).
    pub fn hw_addr(&self) -> Option<&'a [u8]> {
        self.hwaddr.map(|h| {
            let n = (u16::from_be_bytes([h[0], h[1]]) as usize).min(8);
            &h[4..4 + n]
        })
    }
    /// The packet from its network header (absent in meta copy mode).
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.payload
    }
    /// The raw `NFQA_CT` nest (CTA_* attributes).
    pub fn ct(&self) -> Option<&'a [u8]> {
        self.ct
    }
    /// `enum ip_conntrack_info`.
    pub fn ct_info(&self) -> Option<u32> {
        self.ct_info
    }
    /// Original packet length, sent only when the payload was cut to the copy range.
    pub fn cap_len(&self) -> Option<u32> {
        self.cap_len
    }
    /// The full length of the packet (cap_len when truncated, else the payload length).
    pub fn orig_len(&self) -> usize {
        self.cap_len.map(|c| c as usize).unwrap_or_else(|| self.payload.map_or(0, |p| p.len()))
    }
    /// Whether the payload is shorter than the packet.
    pub fn is_truncated(&self) -> bool {
        match (self.cap_len, self.payload) {
            (Some(c), Some(p)) => c as usize > p.len(),
            (Some(_), None) => true,
            _ => false,
        }
    }
    /// `NFQA_SKB_INFO` bits (see [`super::skbinfo`]); 0 when absent.
    pub fn skb_info(&self) -> Option<u32> {
        self.skb_info
    }
    /// The raw `NFQA_EXP` nest.
    pub fn exp(&self) -> Option<&'a [u8]> {
        self.exp
    }
    /// Socket owner uid (flag UID_GID, local sockets only).
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }
    /// Socket owner gid.
    pub fn gid(&self) -> Option<u32> {
        self.gid
    }
    /// Security context (flag SECCTX).
    pub fn secctx(&self) -> Option<&'a [u8]> {
        self.secctx
    }
    /// VLAN tag (bridge family).
    pub fn vlan(&self) -> Option<Vlan> {
        self.vlan
    }
    /// Link-layer header (bridge family).
    pub fn l2hdr(&self) -> Option<&'a [u8]> {
        self.l2hdr
    }
    /// skb->priority, sent when nonzero.
    pub fn priority(&self) -> Option<u32> {
        self.priority
    }
    /// Net class cgroup id, sent when nonzero (kernel 6.4+).
    pub fn cgroup_classid(&self) -> Option<u32> {
        self.cgroup_classid
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::netlink::{Messages, MsgBuilder, NLA_F_NESTED};

    /// Builds a packet message like the kernel does.
    pub(crate) fn kernel_packet(queue: u16, id: u32, extra: impl FnOnce(&mut MsgBuilder<'_>)) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut b = MsgBuilder::new(&mut buf, 0x300, 0, 0);
        b.nfgen(2, queue);
        let mut h = id.to_be_bytes().to_vec();
        h.extend_from_slice(&0x0800u16.to_be_bytes());
        h.push(3);
        b.put(attr::PACKET_HDR, &h);
        extra(&mut b);
        b.finish();
        buf
    }

    fn parse(buf: &[u8]) -> Result<Packet<'_>, ParseError> {
        let m = Messages::new(buf).next().unwrap().unwrap();
        Packet::parse(&m)
    }

    #[test]
    fn decodes_every_attribute() {
        let buf = kernel_packet(5, 77, |b| {
            b.put_be32(attr::IFINDEX_INDEV, 1)
                .put_be32(attr::IFINDEX_OUTDEV, 2)
                .put_be32(attr::IFINDEX_PHYSINDEV, 3)
                .put_be32(attr::IFINDEX_PHYSOUTDEV, 4)
                .put_be32(attr::MARK, 0xabc)
                .put_be32(attr::PRIORITY, 6);
            b.put(attr::HWADDR, &[0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0]);
            let n = b.nest_start(attr::VLAN);
            b.put_be16(attr::VLAN_PROTO, 0x8100).put_be16(attr::VLAN_TCI, 42);
            b.nest_end(n);
            b.put(attr::L2HDR, &[9; 14]);
            let mut ts = 1_700_000_000u64.to_be_bytes().to_vec();
            ts.extend_from_slice(&123_456u64.to_be_bytes());
            b.put(attr::TIMESTAMP, &ts);
            b.put_be32(attr::UID, 1000).put_be32(attr::GID, 100).put_be32(attr::CGROUP_CLASSID, 0x10001);
            b.put(attr::SECCTX, b"system_u:object_r:x:s0");
            b.put(attr::CT, &[8, 0, 8, 0, 0, 0, 0, 1]).put_be32(attr::CT_INFO, 2);
            b.put(attr::EXP, &[4, 0, 1, 0]);
            b.put_be32(attr::CAP_LEN, 1500).put_be32(attr::SKB_INFO, 4);
            b.put(99, &[1, 2, 3]);
            b.put(attr::PAYLOAD, &[0x45, 0, 0, 20, 1]);
        });
        let p = parse(&buf).unwrap();
        assert_eq!((p.queue(), p.id(), p.hw_protocol(), p.hook(), p.family()), (5, 77, 0x800, 3, 2));
        assert_eq!(p.raw_header(), &[0, 0, 0, 77, 8, 0, 3]);
        assert_eq!((p.indev(), p.outdev(), p.physindev(), p.physoutdev()), (Some(1), Some(2), Some(3), Some(4)));
        assert_eq!(p.mark(), Some(0xabc));
        assert_eq!(p.priority(), Some(6));
        assert_eq!(p.hw_addr(), Some(&[1u8, 2, 3, 4, 5, 6][..]));
        assert_eq!(p.vlan(), Some(Vlan { proto: 0x8100, tci: 42 }));
        assert_eq!(p.l2hdr().unwrap().len(), 14);
        assert_eq!(p.timestamp(), Some((1_700_000_000, 123_456)));
        assert_eq!((p.uid(), p.gid(), p.cgroup_classid()), (Some(1000), Some(100), Some(0x10001)));
        assert_eq!(p.secctx(), Some(&b"system_u:object_r:x:s0"[..]));
        assert_eq!(p.ct().unwrap().len(), 8);
        assert_eq!(p.ct_info(), Some(2));
        assert_eq!(p.exp().unwrap().len(), 4);
        assert_eq!(p.cap_len(), Some(1500));
        assert!(p.is_truncated());
        assert_eq!(p.orig_len(), 1500);
        assert_eq!(p.skb_info(), Some(4));
        assert_eq!(p.payload(), Some(&[0x45u8, 0, 0, 20, 1][..]));
    }

    #[test]
    fn absent_attributes_are_none() {
        let buf = kernel_packet(0, 1, |_| {});
        let p = parse(&buf).unwrap();
        assert!(p.mark().is_none() && p.payload().is_none() && p.timestamp().is_none());
        assert!(p.hw_addr().is_none() && p.uid().is_none() && p.vlan().is_none());
        assert!(!p.is_truncated());
        assert_eq!(p.orig_len(), 0);
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        let no_hdr = {
            let mut buf = Vec::new();
            let mut b = MsgBuilder::new(&mut buf, 0x300, 0, 0);
            b.nfgen(2, 0);
            b.put_be32(attr::MARK, 1);
            b.finish();
            buf
        };
        assert_eq!(parse(&no_hdr).unwrap_err(), ParseError::Missing("NFQA_PACKET_HDR"));
        let short_mark = kernel_packet(0, 1, |b| {
            b.put(attr::MARK, &[1, 2]);
        });
        assert!(matches!(parse(&short_mark), Err(ParseError::AttrSize { .. })));
        let short_hdr = {
            let mut buf = Vec::new();
            let mut b = MsgBuilder::new(&mut buf, 0x300, 0, 0);
            b.nfgen(2, 0);
            b.put(attr::PACKET_HDR, &[0, 0, 0, 1]);
            b.finish();
            buf
        };
        assert!(matches!(parse(&short_hdr), Err(ParseError::AttrSize { .. })));
        let bad_vlan = kernel_packet(0, 1, |b| {
            let n = b.nest_start(attr::VLAN);
            b.put_be16(attr::VLAN_TCI, 1);
            b.nest_end(n);
        });
        assert!(matches!(parse(&bad_vlan), Err(ParseError::Missing(_))));
        // Zero-length attribute header inside the attribute run.
        let mut zero = kernel_packet(0, 1, |b| {
            b.put_be32(attr::MARK, 1);
        });
        let at = zero.len() - 8;
        zero[at] = 0;
        assert!(matches!(parse(&zero), Err(ParseError::BadLength { .. })));
        let _ = NLA_F_NESTED;
    }

    #[test]
    fn every_prefix_of_a_packet_is_handled_without_panic() {
        let buf = kernel_packet(3, 9, |b| {
            b.put_be32(attr::MARK, 1);
            b.put(attr::PAYLOAD, &[1; 33]);
        });
        for cut in 0..buf.len() {
            let mut v = buf[..cut].to_vec();
            if v.len() >= 4 {
                v[0..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            }
            for m in Messages::new(&v).flatten() {
                let _ = Packet::parse(&m);
            }
            if let Some((q, id)) = Packet::salvage_id(&v) {
                assert_eq!((q, id), (3, 9));
            }
        }
    }

    #[test]
    fn salvage_finds_id_of_a_truncated_message() {
        let buf = kernel_packet(4, 0x01020304, |b| {
            b.put(attr::PAYLOAD, &[0; 100]);
        });
        assert_eq!(Packet::salvage_id(&buf[..40]), Some((4, 0x01020304)));
        assert_eq!(Packet::salvage_id(&buf[..20]), None);
    }
}
