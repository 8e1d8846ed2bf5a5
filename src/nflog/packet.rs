//! The log-message view: every attribute of an `NFULNL_MSG_PACKET` message, decoded in one pass
//! into slices of the receive buffer (no copy, no allocation). Presence is explicit: each
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
use crate::netlink::{Msg, ParseError, nfnl_msg_type};

pub use crate::netlink::Vlan;

/// One logged packet, borrowed from the receive buffer.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogPacket<'a> {
    pub(crate) family: u8,
    pub(crate) group: u16,
    pub(crate) hw_protocol: u16,
    pub(crate) hook: u8,
    pub(crate) raw_hdr: &'a [u8],
    pub(crate) mark: Option<u32>,
    pub(crate) timestamp: Option<(u64, u64)>,
    pub(crate) indev: Option<u32>,
    pub(crate) outdev: Option<u32>,
    pub(crate) physindev: Option<u32>,
    pub(crate) physoutdev: Option<u32>,
    pub(crate) hwaddr: Option<&'a [u8]>,
    pub(crate) payload: Option<&'a [u8]>,
    pub(crate) prefix: Option<&'a [u8]>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) seq: Option<u32>,
    pub(crate) seq_global: Option<u32>,
    pub(crate) hwtype: Option<u16>,
    pub(crate) hwheader: Option<&'a [u8]>,
    pub(crate) hwlen: Option<u16>,
    pub(crate) ct: Option<&'a [u8]>,
    pub(crate) ct_info: Option<u32>,
    pub(crate) vlan: Option<Vlan>,
    pub(crate) l2hdr: Option<&'a [u8]>,
}

impl<'a> LogPacket<'a> {
    /// Decodes a log message. Errors on a wrong type, a missing or short packet header, or an
    /// attribute of the wrong size; unknown attributes are skipped.
    pub fn parse(msg: &Msg<'a>) -> Result<LogPacket<'a>, ParseError> {
        if msg.msg_type() != nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET) {
            return Err(ParseError::UnexpectedType(msg.msg_type()));
        }
        let (g, attrs) = msg.nfgen()?;
        let mut out = Ok(LogPacket { family: g.family, group: g.res_id, ..Default::default() });
        let Ok(p) = &mut out else { return out };
        let mut have_hdr = false;
        for a in attrs {
            let a = a?;
            match a.kind() {
                attr::PACKET_HDR => {
                    let d = a.at_least(4, "NFULA_PACKET_HDR", "4")?;
                    p.hw_protocol = u16::from_be_bytes([d[0], d[1]]);
                    p.hook = d[2];
                    p.raw_hdr = d;
                    have_hdr = true;
                }
                attr::MARK => p.mark = Some(a.be_u32("NFULA_MARK")?),
                attr::TIMESTAMP => p.timestamp = Some(a.be_u64_pair("NFULA_TIMESTAMP")?),
                attr::IFINDEX_INDEV => p.indev = Some(a.be_u32("NFULA_IFINDEX_INDEV")?),
                attr::IFINDEX_OUTDEV => p.outdev = Some(a.be_u32("NFULA_IFINDEX_OUTDEV")?),
                attr::IFINDEX_PHYSINDEV => p.physindev = Some(a.be_u32("NFULA_IFINDEX_PHYSINDEV")?),
                attr::IFINDEX_PHYSOUTDEV => p.physoutdev = Some(a.be_u32("NFULA_IFINDEX_PHYSOUTDEV")?),
                attr::HWADDR => p.hwaddr = Some(a.at_least(12, "NFULA_HWADDR", "12")?),
                attr::PAYLOAD => p.payload = Some(a.data()),
                attr::PREFIX => p.prefix = Some(a.data()),
                attr::UID => p.uid = Some(a.be_u32("NFULA_UID")?),
                attr::GID => p.gid = Some(a.be_u32("NFULA_GID")?),
                attr::SEQ => p.seq = Some(a.be_u32("NFULA_SEQ")?),
                attr::SEQ_GLOBAL => p.seq_global = Some(a.be_u32("NFULA_SEQ_GLOBAL")?),
                attr::HWTYPE => p.hwtype = Some(a.be_u16("NFULA_HWTYPE")?),
                attr::HWHEADER => p.hwheader = Some(a.data()),
                attr::HWLEN => p.hwlen = Some(a.be_u16("NFULA_HWLEN")?),
                attr::CT => p.ct = Some(a.data()),
                attr::CT_INFO => p.ct_info = Some(a.be_u32("NFULA_CT_INFO")?),
                attr::VLAN => p.vlan = Some(a.vlan("NFULA_VLAN_PROTO/NFULA_VLAN_TCI")?),
                attr::L2HDR => p.l2hdr = Some(a.data()),
                _ => {}
            }
        }
        if !have_hdr {
            return Err(ParseError::Missing("NFULA_PACKET_HDR"));
        }
        out
    }

    /// Address family of the hook (AF_INET 2, AF_INET6 10, AF_BRIDGE 7, ...).
    pub fn family(&self) -> u8 {
        self.family
    }
    /// The NFLOG group the packet was logged to.
    pub fn group(&self) -> u16 {
        self.group
    }
    /// Link-layer protocol in host order (ETH_P_IP 0x0800, ETH_P_IPV6 0x86dd, ...).
    pub fn hw_protocol(&self) -> u16 {
        self.hw_protocol
    }
    /// Netfilter hook (0 PREROUTING, 1 INPUT, 2 FORWARD, 3 OUTPUT, 4 POSTROUTING).
    pub fn hook(&self) -> u8 {
        self.hook
    }
    /// The 4 raw bytes of `struct nfulnl_msg_packet_hdr` (hw_protocol big-endian, hook, pad).
    pub fn raw_header(&self) -> &'a [u8] {
        self.raw_hdr
    }
    /// skb->mark (the kernel sends it only when non-zero).
    pub fn mark(&self) -> Option<u32> {
        self.mark
    }
    /// Arrival time as (seconds, microseconds); the kernel sends it for PREROUTING, INPUT and
    /// FORWARD only.
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
    /// The source hardware address (its first `addrlen` bytes): `struct nfulnl_msg_packet_hw`
    /// is decoded, so this is the address alone.
    pub fn hwaddr(&self) -> Option<&'a [u8]> {
        let raw = self.hwaddr?;
        let n = (u16::from_be_bytes([raw[0], raw[1]]) as usize).min(8);
        Some(&raw[4..4 + n])
    }
    /// The 12 raw bytes of `struct nfulnl_msg_packet_hw` (addrlen big-endian, pad, address).
    pub fn raw_hwaddr(&self) -> Option<&'a [u8]> {
        self.hwaddr
    }
    /// The logged bytes of the packet, from its network header (copy mode packet).
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.payload
    }
    /// The rule's log prefix without its terminating NUL; `None` if absent or not UTF-8 (see
    /// [`prefix_bytes`](Self::prefix_bytes)).
    pub fn prefix(&self) -> Option<&'a str> {
        std::str::from_utf8(self.prefix_bytes()?).ok()
    }
    /// The rule's log prefix as bytes, up to its first NUL.
    pub fn prefix_bytes(&self) -> Option<&'a [u8]> {
        let p = self.prefix?;
        Some(&p[..memchr::memchr(0, p).unwrap_or(p.len())])
    }
    /// The raw `NFULA_PREFIX` attribute (with its NUL).
    pub fn raw_prefix(&self) -> Option<&'a [u8]> {
        self.prefix
    }
    /// User id owning the packet's local socket (locally generated packets).
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }
    /// Group id owning the packet's local socket.
    pub fn gid(&self) -> Option<u32> {
        self.gid
    }
    /// The group's own sequence number (flag `SEQ`).
    pub fn seq(&self) -> Option<u32> {
        self.seq
    }
    /// The namespace-wide sequence number (flag `SEQ_GLOBAL`).
    pub fn seq_global(&self) -> Option<u32> {
        self.seq_global
    }
    /// Hardware type of the input device (ARPHRD_*).
    pub fn hwtype(&self) -> Option<u16> {
        self.hwtype
    }
    /// The link-layer header as received.
    pub fn hwheader(&self) -> Option<&'a [u8]> {
        self.hwheader
    }
    /// The input device's hardware header length.
    pub fn hwlen(&self) -> Option<u16> {
        self.hwlen
    }
    /// The raw `NFULA_CT` nest (decode with [`ct`](Self::ct)).
    pub fn ct_raw(&self) -> Option<&'a [u8]> {
        self.ct
    }
    /// The connection, decoded from `NFULA_CT` (flag `CONNTRACK`).
    pub fn ct(&self) -> Option<Result<crate::conntrack::Conn<'a>, ParseError>> {
        self.ct.map(|c| crate::conntrack::Conn::parse(self.family, c))
    }
    /// `enum ip_conntrack_info` of the packet.
    pub fn ct_info(&self) -> Option<u32> {
        self.ct_info
    }
    /// VLAN tag (bridge and netdev families).
    pub fn vlan(&self) -> Option<Vlan> {
        self.vlan
    }
    /// The whole layer-2 header (bridge and netdev families).
    pub fn l2hdr(&self) -> Option<&'a [u8]> {
        self.l2hdr
    }
}
