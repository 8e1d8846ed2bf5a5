//! Connection tuples (`CTA_TUPLE_*` nests): addresses, layer-4 protocol, ports or ICMP
//! id/type/code, and the tuple's zone. Decoded into a small `Copy` value; encoded back for
//! requests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::cta;
use crate::netlink::{Attr, MsgBuilder, ParseError};

/// `IPPROTO_ICMP`.
pub(crate) const PROTO_ICMP: u8 = 1;
/// `IPPROTO_ICMPV6`.
pub(crate) const PROTO_ICMPV6: u8 = 58;

/// One direction of a connection. Every part is optional, as in the kernel's messages; for
/// ICMPv6 the `icmp_*` fields hold the `CTA_PROTO_ICMPV6_*` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Layer-4 protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, ...).
    pub proto: Option<u8>,
    /// Source port (TCP, UDP, UDP-Lite, SCTP, DCCP), host order.
    pub src_port: Option<u16>,
    /// Destination port, host order.
    pub dst_port: Option<u16>,
    /// ICMP/ICMPv6 echo identifier, host order.
    pub icmp_id: Option<u16>,
    /// ICMP/ICMPv6 type.
    pub icmp_type: Option<u8>,
    /// ICMP/ICMPv6 code.
    pub icmp_code: Option<u8>,
    /// The tuple's zone (`CTA_TUPLE_ZONE`), when the kernel gives zones per direction.
    pub zone: Option<u16>,
}

impl Tuple {
    /// A tuple with ports (TCP, UDP, SCTP, ...).
    pub fn ports(src: IpAddr, dst: IpAddr, proto: u8, src_port: u16, dst_port: u16) -> Tuple {
        Tuple {
            src: Some(src),
            dst: Some(dst),
            proto: Some(proto),
            src_port: Some(src_port),
            dst_port: Some(dst_port),
            ..Default::default()
        }
    }

    /// An ICMP tuple (ICMPv6 when the addresses are IPv6).
    pub fn icmp(src: IpAddr, dst: IpAddr, id: u16, icmp_type: u8, code: u8) -> Tuple {
        let proto = if src.is_ipv6() { PROTO_ICMPV6 } else { PROTO_ICMP };
        Tuple {
            src: Some(src),
            dst: Some(dst),
            proto: Some(proto),
            icmp_id: Some(id),
            icmp_type: Some(icmp_type),
            icmp_code: Some(code),
            ..Default::default()
        }
    }

    /// The same tuple seen from the other end: addresses and ports swapped (ICMP fields and
    /// zone kept).
    pub fn reversed(&self) -> Tuple {
        Tuple { src: self.dst, dst: self.src, src_port: self.dst_port, dst_port: self.src_port, ..*self }
    }

    /// The address family from the addresses (AF_INET or AF_INET6), or 0 without addresses.
    pub fn family(&self) -> u8 {
        match self.src.or(self.dst) {
            Some(IpAddr::V4(_)) => libc::AF_INET as u8,
            Some(IpAddr::V6(_)) => libc::AF_INET6 as u8,
            None => 0,
        }
    }

    /// Decodes a `CTA_TUPLE_*` nest.
    pub(crate) fn parse(nest: &Attr<'_>) -> Result<Tuple, ParseError> {
        let mut t = Tuple::default();
        for a in nest.nested() {
            let a = a?;
            match a.kind() {
                cta::TUPLE_IP => {
                    for ip in a.nested() {
                        let ip = ip?;
                        match ip.kind() {
                            cta::IP_V4_SRC => t.src = Some(Ipv4Addr::from(ip.array::<4>("CTA_IP_V4_SRC")?).into()),
                            cta::IP_V4_DST => t.dst = Some(Ipv4Addr::from(ip.array::<4>("CTA_IP_V4_DST")?).into()),
                            cta::IP_V6_SRC => t.src = Some(Ipv6Addr::from(ip.array::<16>("CTA_IP_V6_SRC")?).into()),
                            cta::IP_V6_DST => t.dst = Some(Ipv6Addr::from(ip.array::<16>("CTA_IP_V6_DST")?).into()),
                            _ => {}
                        }
                    }
                }
                cta::TUPLE_PROTO => {
                    for p in a.nested() {
                        let p = p?;
                        match p.kind() {
                            cta::PROTO_NUM => t.proto = Some(p.u8("CTA_PROTO_NUM")?),
                            cta::PROTO_SRC_PORT => t.src_port = Some(p.be_u16("CTA_PROTO_SRC_PORT")?),
                            cta::PROTO_DST_PORT => t.dst_port = Some(p.be_u16("CTA_PROTO_DST_PORT")?),
                            cta::PROTO_ICMP_ID => t.icmp_id = Some(p.be_u16("CTA_PROTO_ICMP_ID")?),
                            cta::PROTO_ICMP_TYPE => t.icmp_type = Some(p.u8("CTA_PROTO_ICMP_TYPE")?),
                            cta::PROTO_ICMP_CODE => t.icmp_code = Some(p.u8("CTA_PROTO_ICMP_CODE")?),
                            cta::PROTO_ICMPV6_ID => t.icmp_id = Some(p.be_u16("CTA_PROTO_ICMPV6_ID")?),
                            cta::PROTO_ICMPV6_TYPE => t.icmp_type = Some(p.u8("CTA_PROTO_ICMPV6_TYPE")?),
                            cta::PROTO_ICMPV6_CODE => t.icmp_code = Some(p.u8("CTA_PROTO_ICMPV6_CODE")?),
                            _ => {}
                        }
                    }
                }
                cta::TUPLE_ZONE => t.zone = Some(a.be_u16("CTA_TUPLE_ZONE")?),
                _ => {}
            }
        }
        Ok(t)
    }

    /// Appends the tuple as the nest `kind`.
    pub(crate) fn put(&self, b: &mut MsgBuilder<'_>, kind: u16) {
        let n = b.nest_start(kind);
        if self.src.is_some() || self.dst.is_some() {
            let ip = b.nest_start(cta::TUPLE_IP);
            for (addr, v4, v6) in
                [(self.src, cta::IP_V4_SRC, cta::IP_V6_SRC), (self.dst, cta::IP_V4_DST, cta::IP_V6_DST)]
            {
                match addr {
                    Some(IpAddr::V4(a)) => {
                        b.put(v4, &a.octets());
                    }
                    Some(IpAddr::V6(a)) => {
                        b.put(v6, &a.octets());
                    }
                    None => {}
                }
            }
            b.nest_end(ip);
        }
        let p = b.nest_start(cta::TUPLE_PROTO);
        if let Some(n) = self.proto {
            b.put_u8(cta::PROTO_NUM, n);
        }
        if let Some(v) = self.src_port {
            b.put_be16(cta::PROTO_SRC_PORT, v);
        }
        if let Some(v) = self.dst_port {
            b.put_be16(cta::PROTO_DST_PORT, v);
        }
        let (id, ty, code) = if self.proto == Some(PROTO_ICMPV6) {
            (cta::PROTO_ICMPV6_ID, cta::PROTO_ICMPV6_TYPE, cta::PROTO_ICMPV6_CODE)
        } else {
            (cta::PROTO_ICMP_ID, cta::PROTO_ICMP_TYPE, cta::PROTO_ICMP_CODE)
        };
        if let Some(v) = self.icmp_id {
            b.put_be16(id, v);
        }
        if let Some(v) = self.icmp_type {
            b.put_u8(ty, v);
        }
        if let Some(v) = self.icmp_code {
            b.put_u8(code, v);
        }
        b.nest_end(p);
        if let Some(z) = self.zone {
            b.put_be16(cta::TUPLE_ZONE, z);
        }
        b.nest_end(n);
    }
}
