//! The packet header views and helpers of `nfq_rs::packet` over arbitrary bytes: IPv4, IPv6
//! (with the extension-header walk), TCP, UDP and ICMP views, every checksum function, and the
//! log texts. The first byte picks the protocol the IPv6 walk looks for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfq_rs::packet::{Checksum, IcmpHeader, Ipv4Header, Ipv6Header, TcpHeader, UdpHeader, checksum, fmt, ipv4, ipv6};

fn l4(b: &[u8]) {
    if let Some(t) = TcpHeader::new(b) {
        let _ = (t.src_port(), t.dst_port(), t.seq(), t.ack_seq(), t.data_offset(), t.header_len());
        let _ = (t.reserved(), t.flags(), t.fin(), t.syn(), t.rst(), t.psh(), t.ack(), t.urg());
        let _ = (t.window(), t.checksum(), t.urgent_ptr(), t.options().len(), t.payload().map(|p| p.len()));
        let _ = fmt::tcp_log(&t);
    }
    if let Some(u) = UdpHeader::new(b) {
        let _ = (u.src_port(), u.dst_port(), u.len(), u.checksum(), u.payload().map(|p| p.len()));
        let _ = fmt::udp_log(&u);
    }
    if let Some(i) = IcmpHeader::new(b) {
        let _ = (i.icmp_type(), i.code(), i.checksum(), i.id(), i.seq(), i.rest());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&target, pkt)) = data.split_first() else { return };
    let _ = checksum::checksum(pkt);
    let mut c = Checksum::new();
    c.add_bytes(pkt).add_u16(0x1234).add_u32(0xdead_beef);
    let _ = (c.sum(), c.finish());
    if pkt.len() >= 6 {
        let old = u16::from_be_bytes([pkt[0], pkt[1]]);
        let new = u16::from_be_bytes([pkt[2], pkt[3]]);
        let _ = checksum::update16(old, old, new);
        let _ = checksum::update32(old, u32::from(new), u32::from(old) << 16);
    }
    if let Some(h) = Ipv4Header::new(pkt) {
        let _ = (h.version(), h.ihl(), h.header_len(), h.tos(), h.total_len(), h.id(), h.frag_off());
        let _ = (h.ttl(), h.protocol(), h.checksum(), h.src(), h.dst(), h.options().len(), h.checksum_ok());
        let _ = fmt::ip_log(&h);
        if let Some(rest) = pkt.get(h.header_len()..) {
            l4(rest);
        }
        let mut copy = pkt.to_vec();
        // Upstream sums `ihl * 4` bytes whatever ihl says; only a real header length verifies.
        if ipv4::set_checksum(&mut copy) && h.ihl() >= 5 {
            assert!(Ipv4Header::new(&copy).is_some_and(|h| h.checksum_ok()));
        }
    }
    let _ = checksum::tcpudp_ipv4_span(pkt);
    let _ = checksum::tcpudp_ipv4(pkt, 6);
    let _ = checksum::tcpudp_ipv4(pkt, 17);
    if let Some(h) = Ipv6Header::new(pkt) {
        let _ = (h.vtc_flow(), h.version(), h.traffic_class(), h.flow_label(), h.payload_len());
        let _ = (h.next_header(), h.hop_limit(), h.src(), h.dst());
        let _ = fmt::ip6_log(&h);
        let _ = ipv6::is_extension(target);
        if let Some(off) = ipv6::find_header(pkt, target) {
            assert!(off >= 40);
            if let Some(rest) = pkt.get(off..) {
                l4(rest);
                let _ = checksum::tcpudp_ipv6(pkt, rest, off as u32, target);
            }
        }
        for hdr_len in [0u32, 40, 48, pkt.len() as u32, u32::MAX] {
            let _ = checksum::tcpudp_ipv6_read_len(pkt, hdr_len);
            let _ = checksum::tcpudp_ipv6(pkt, &pkt[40..], hdr_len, 17);
        }
    }
    l4(pkt);
    if pkt.len() >= 16 {
        let _ = fmt::inet_ntop4(&[pkt[0], pkt[1], pkt[2], pkt[3]]);
        let mut a = [0u8; 16];
        a.copy_from_slice(&pkt[..16]);
        let s = fmt::inet_ntop6(&a);
        assert!(s.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| ip.octets() == a), "{s}");
    }
});
