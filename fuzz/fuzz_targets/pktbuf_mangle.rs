//! `PktBuf` (the safe core of `pktb_*`): a buffer made from fuzz bytes, then a sequence of
//! operations with arbitrary offsets and lengths (push/pull/put/trim, transport header
//! setters, header getters, payload lookups, every mangle and checksum fix-up). After each
//! step the view must stay consistent: nothing outside the buffer is ever read or written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfq_rs::packet::{AF_BRIDGE, AF_INET, AF_INET6, PktBuf, Replacement};

struct Ops<'a>(&'a [u8]);

impl Ops<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u32(&mut self) -> Option<u32> {
        // Small values are the interesting ones most of the time; sometimes anything.
        let tag = self.u8()?;
        let mut v = [0u8; 4];
        let n = if tag & 0x80 != 0 { 4 } else { 1 };
        for b in v.iter_mut().take(n) {
            *b = self.u8()?;
        }
        let v = u32::from_le_bytes(v);
        Some(if tag & 0x40 != 0 { v.wrapping_neg() } else { v })
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let family = [AF_INET, AF_INET6, AF_BRIDGE, 0][(data[0] & 3) as usize];
    let extra = data[1] as usize;
    let split = (data[2] as usize).min(data.len() - 3);
    let (pkt, ops) = data[3..].split_at(split);
    let Ok(mut pb) = PktBuf::alloc(family, pkt, extra) else { return };
    let cap = pb.storage().len();
    let mut ops = Ops(ops);
    let rep_src: Vec<u8> = (0..=255u8).collect();
    for _ in 0..32 {
        let Some(op) = ops.u8() else { break };
        let a = ops.u32().unwrap_or(0);
        let b = ops.u32().unwrap_or(0);
        let rlen = (ops.u8().unwrap_or(0) as usize).min(rep_src.len());
        let inside = op & 0x80 != 0;
        let rep = if inside && rlen <= cap {
            Replacement::Within { offset: (a as usize) % (cap - rlen + 1), len: rlen }
        } else {
            Replacement::Bytes(&rep_src[..rlen])
        };
        match op & 0x1f {
            0 => pb.push(a & 0xff),
            1 => pb.pull(a & 0xff),
            2 => pb.put(a & 0xff),
            3 => pb.trim(a),
            4 => {
                let _ = pb.set_transport_ipv4(a as u8);
            }
            5 => {
                let _ = pb.set_transport_ipv6(a as u8);
            }
            6 => pb.set_transport_header(Some(i64::from(a as i32))),
            7 => {
                let _ = pb.mangle(a as i32, b, b >> 8, rep);
            }
            8 => {
                let _ = pb.ip_mangle(a, b, b >> 8, rep);
            }
            9 => {
                let _ = pb.ip6_mangle(a, b, b >> 8, rep);
            }
            10 => {
                let _ = pb.tcp_mangle_ipv4(a, b, rep);
            }
            11 => {
                let _ = pb.udp_mangle_ipv4(a, b, rep);
            }
            12 => {
                let _ = pb.tcp_mangle_ipv6(a, b, rep);
            }
            13 => {
                let _ = pb.udp_mangle_ipv6(a, b, rep);
            }
            14 => {
                let _ = (pb.tcp_checksum_ipv4(), pb.udp_checksum_ipv4());
            }
            15 => {
                let _ = (pb.tcp_checksum_ipv6(), pb.udp_checksum_ipv6());
            }
            16 => {
                let _ = pb.l4_checksum_ipv4_at(i64::from(a as i32), i64::from(b as u8), i64::from(b >> 16), 6);
            }
            17 => {
                let _ = pb.l4_checksum_ipv6_at(i64::from(a as i32), i64::from(b as u8), i64::from(b >> 16), 17);
            }
            18 => {
                let _ = (pb.tcp_payload(a as u8), pb.tcp_payload_len(a as u8));
                let _ = (pb.udp_payload(a as u16), pb.udp_payload_len());
            }
            _ => {
                let _ = (pb.ip_hdr().is_some(), pb.ip6_hdr().is_some(), pb.tcp_hdr().is_some());
                let _ = (pb.udp_hdr().is_some(), pb.icmp_hdr().is_some());
            }
        }
        assert_eq!(pb.storage().len(), cap, "the buffer never changes size");
        let _ = (pb.len(), pb.tailroom(), pb.data_offset(), pb.mangled(), pb.tail());
        let _ = (pb.packet().len(), pb.network_bytes().map(|b| b.len()), pb.transport_bytes().map(|b| b.len()));
    }
});
