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
use crate::netlink::{AttrIndex, Msg, NFGENMSG_LEN, ParseError, nfnl_msg_type};

pub use crate::netlink::Vlan;

/// Attribute types of a log message that the view indexes (`NFULA_*` up to `NFULA_L2HDR`).
const NATTR: usize = attr::L2HDR as usize + 1;

/// Payload sizes each indexed attribute type may have: (min, max) in bytes. Exact for the
/// integers, at least the struct for the fixed structs (a newer kernel may extend them), any
/// size for the variable payloads.
const SIZES: [(u16, u16); NATTR] = {
    let mut t = [(0, u16::MAX); NATTR];
    t[attr::PACKET_HDR as usize] = (4, u16::MAX);
    t[attr::TIMESTAMP as usize] = (16, u16::MAX);
    t[attr::HWADDR as usize] = (12, u16::MAX);
    let u32s = [
        attr::MARK,
        attr::IFINDEX_INDEV,
        attr::IFINDEX_OUTDEV,
        attr::IFINDEX_PHYSINDEV,
        attr::IFINDEX_PHYSOUTDEV,
        attr::UID,
        attr::SEQ,
        attr::SEQ_GLOBAL,
        attr::GID,
        attr::CT_INFO,
    ];
    let mut i = 0;
    while i < u32s.len() {
        t[u32s[i] as usize] = (4, 4);
        i += 1;
    }
    t[attr::HWTYPE as usize] = (2, 2);
    t[attr::HWLEN as usize] = (2, 2);
    t
};

/// Attribute names for error messages.
const NAMES: [&str; NATTR] = [
    "NFULA_UNSPEC",
    "NFULA_PACKET_HDR",
    "NFULA_MARK",
    "NFULA_TIMESTAMP",
    "NFULA_IFINDEX_INDEV",
    "NFULA_IFINDEX_OUTDEV",
    "NFULA_IFINDEX_PHYSINDEV",
    "NFULA_IFINDEX_PHYSOUTDEV",
    "NFULA_HWADDR",
    "NFULA_PAYLOAD",
    "NFULA_PREFIX",
    "NFULA_UID",
    "NFULA_SEQ",
    "NFULA_SEQ_GLOBAL",
    "NFULA_GID",
    "NFULA_HWTYPE",
    "NFULA_HWHEADER",
    "NFULA_HWLEN",
    "NFULA_CT",
    "NFULA_CT_INFO",
    "NFULA_VLAN",
    "NFULA_L2HDR",
];

fn check_size(ty: u16, len: usize) -> Result<(), ParseError> {
    let (min, max) = SIZES[ty as usize];
    if len >= min as usize && len <= max as usize {
        return Ok(());
    }
    let expected = match (min, max) {
        (2, 2) => "2",
        (4, _) => "4",
        (12, _) => "12",
        (16, _) => "16",
        _ => "another size",
    };
    Err(ParseError::AttrSize { attr: NAMES[ty as usize], len, expected })
}

/// One logged packet, borrowed from the receive buffer: the message's attributes indexed by
/// type in one pass, each decoded (and its size checked) only when asked for. An attribute of
/// the wrong size reads as absent; [`check`](Self::check) reports it as an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogPacket<'a> {
    family: u8,
    group: u16,
    ix: AttrIndex<'a, NATTR>,
}

impl<'a> LogPacket<'a> {
    /// Indexes a log message. Errors on a wrong type, a broken attribute run (a length below 4
    /// or past the end) and a missing or short packet header; unknown attributes are skipped.
    /// The sizes of the other attributes are checked when they are read (a wrong one reads as
    /// absent) or all at once by [`check`](Self::check).
    #[inline(always)]
    pub fn parse(msg: &Msg<'a>) -> Result<LogPacket<'a>, ParseError> {
        if msg.msg_type() != nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET) {
            return Err(ParseError::UnexpectedType(msg.msg_type()));
        }
        let p = msg.payload();
        if p.len() < NFGENMSG_LEN {
            return Err(ParseError::Truncated { what: "nfgenmsg", need: NFGENMSG_LEN, have: p.len() });
        }
        let ix = AttrIndex::build(&p[NFGENMSG_LEN..], |_, _| Ok(()))?;
        match ix.get(attr::PACKET_HDR) {
            Some(h) if h.len() >= 4 => {}
            Some(h) => return Err(ParseError::AttrSize { attr: "NFULA_PACKET_HDR", len: h.len(), expected: "4" }),
            None => return Err(ParseError::Missing("NFULA_PACKET_HDR")),
        }
        Ok(LogPacket { family: p[0], group: u16::from_be_bytes([p[2], p[3]]), ix })
    }

    /// Checks every attribute the view knows for its size (and the VLAN nest for its parts):
    /// what the accessors would read as absent is an error here.
    pub fn check(&self) -> Result<(), ParseError> {
        for ty in 0..NATTR as u16 {
            if let Some(d) = self.ix.get(ty) {
                check_size(ty, d.len())?;
            }
        }
        if let Some(v) = self.ix.attr(attr::VLAN) {
            v.vlan("NFULA_VLAN_PROTO/NFULA_VLAN_TCI")?;
        }
        Ok(())
    }

    #[inline]
    fn u32_of(&self, ty: u16) -> Option<u32> {
        self.ix.get_array::<4>(ty).map(|d| u32::from_be_bytes(*d))
    }

    #[inline]
    fn u16_of(&self, ty: u16) -> Option<u16> {
        self.ix.get_array::<2>(ty).map(|d| u16::from_be_bytes(*d))
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
        let h = self.raw_header();
        u16::from_be_bytes([h[0], h[1]])
    }
    /// Netfilter hook (0 PREROUTING, 1 INPUT, 2 FORWARD, 3 OUTPUT, 4 POSTROUTING).
    pub fn hook(&self) -> u8 {
        self.raw_header()[2]
    }
    /// The 4 raw bytes of `struct nfulnl_msg_packet_hdr` (hw_protocol big-endian, hook, pad).
    pub fn raw_header(&self) -> &'a [u8] {
        // parse() made sure it has 4 bytes; only a default-constructed view has none.
        self.ix.get(attr::PACKET_HDR).and_then(|d| d.get(..4)).unwrap_or(&[0; 4])
    }
    /// skb->mark (the kernel sends it only when non-zero).
    pub fn mark(&self) -> Option<u32> {
        self.u32_of(attr::MARK)
    }
    /// Arrival time as (seconds, microseconds); the kernel sends it for PREROUTING, INPUT and
    /// FORWARD only.
    pub fn timestamp(&self) -> Option<(u64, u64)> {
        self.ix.attr(attr::TIMESTAMP)?.be_u64_pair("NFULA_TIMESTAMP").ok()
    }
    /// Input interface index.
    pub fn indev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_INDEV)
    }
    /// Output interface index.
    pub fn outdev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_OUTDEV)
    }
    /// Physical input interface (bridge port).
    pub fn physindev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_PHYSINDEV)
    }
    /// Physical output interface (bridge port).
    pub fn physoutdev(&self) -> Option<u32> {
        self.u32_of(attr::IFINDEX_PHYSOUTDEV)
    }
    /// The source hardware address (its first `addrlen` bytes): `struct nfulnl_msg_packet_hw`
    /// is decoded, so this is the address alone.
    pub fn hwaddr(&self) -> Option<&'a [u8]> {
        let raw = self.raw_hwaddr()?;
        let n = (u16::from_be_bytes([raw[0], raw[1]]) as usize).min(8);
        Some(&raw[4..4 + n])
    }
    /// The 12 raw bytes of `struct nfulnl_msg_packet_hw` (addrlen big-endian, pad, address).
    pub fn raw_hwaddr(&self) -> Option<&'a [u8]> {
        self.ix.get(attr::HWADDR)?.get(..12)
    }
    /// The logged bytes of the packet, from its network header (copy mode packet).
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.ix.get(attr::PAYLOAD)
    }
    /// The rule's log prefix without its terminating NUL; `None` if absent or not UTF-8 (see
    /// [`prefix_bytes`](Self::prefix_bytes)).
    pub fn prefix(&self) -> Option<&'a str> {
        std::str::from_utf8(self.prefix_bytes()?).ok()
    }
    /// The rule's log prefix as bytes, up to its first NUL.
    pub fn prefix_bytes(&self) -> Option<&'a [u8]> {
        let p = self.raw_prefix()?;
        // Prefixes are short (at most 63 bytes with iptables, 127 with nft): a plain scan beats
        // a vectorised search's set-up.
        Some(&p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())])
    }
    /// The raw `NFULA_PREFIX` attribute (with its NUL).
    pub fn raw_prefix(&self) -> Option<&'a [u8]> {
        self.ix.get(attr::PREFIX)
    }
    /// User id owning the packet's local socket (locally generated packets).
    pub fn uid(&self) -> Option<u32> {
        self.u32_of(attr::UID)
    }
    /// Group id owning the packet's local socket.
    pub fn gid(&self) -> Option<u32> {
        self.u32_of(attr::GID)
    }
    /// The group's own sequence number (flag `SEQ`).
    pub fn seq(&self) -> Option<u32> {
        self.u32_of(attr::SEQ)
    }
    /// The namespace-wide sequence number (flag `SEQ_GLOBAL`).
    pub fn seq_global(&self) -> Option<u32> {
        self.u32_of(attr::SEQ_GLOBAL)
    }
    /// Hardware type of the input device (ARPHRD_*).
    pub fn hwtype(&self) -> Option<u16> {
        self.u16_of(attr::HWTYPE)
    }
    /// The link-layer header as received.
    pub fn hwheader(&self) -> Option<&'a [u8]> {
        self.ix.get(attr::HWHEADER)
    }
    /// The input device's hardware header length.
    pub fn hwlen(&self) -> Option<u16> {
        self.u16_of(attr::HWLEN)
    }
    /// The raw `NFULA_CT` nest (decode with [`ct`](Self::ct)).
    pub fn ct_raw(&self) -> Option<&'a [u8]> {
        self.ix.get(attr::CT)
    }
    /// The connection, decoded from `NFULA_CT` (flag `CONNTRACK`).
    pub fn ct(&self) -> Option<Result<crate::conntrack::Conn<'a>, ParseError>> {
        self.ct_raw().map(|c| crate::conntrack::Conn::parse(self.family, c))
    }
    /// `enum ip_conntrack_info` of the packet.
    pub fn ct_info(&self) -> Option<u32> {
        self.u32_of(attr::CT_INFO)
    }
    /// VLAN tag (bridge and netdev families).
    pub fn vlan(&self) -> Option<Vlan> {
        self.ix.attr(attr::VLAN)?.vlan("NFULA_VLAN").ok()
    }
    /// The whole layer-2 header (bridge and netdev families).
    pub fn l2hdr(&self) -> Option<&'a [u8]> {
        self.ix.get(attr::L2HDR)
    }
}
