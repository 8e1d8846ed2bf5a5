//! libnetfilter_queue's packet-buffer API as C programs call it: `pktb_alloc` (or
//! `pktb_setup_raw` on our own memory) over fuzz bytes, then a sequence of `pktb_*`,
//! `nfq_ip*_*`, `nfq_tcp_*` and `nfq_udp_*` calls with arbitrary offsets and lengths. Header
//! pointers handed to the pointer-only helpers (snprintf, checksums) are the ones the library
//! returned, as the upstream contract requires; AddressSanitizer reports any access outside
//! the buffers.
#![no_main]

use std::ffi::{c_char, c_int, c_uint, c_void};

use libfuzzer_sys::fuzz_target;

// Nothing here names a Rust item of the crate: an explicit `extern crate` links it anyway,
// which brings in the C exports declared below.
extern crate nfq_rs;

type P = *mut c_void;

unsafe extern "C" {
    fn pktb_alloc(family: c_int, data: *mut c_void, len: usize, extra: usize) -> P;
    fn pktb_setup_raw(mem: *mut c_void, family: c_int, data: *mut c_void, len: usize, extra: usize) -> P;
    fn pktb_head_size() -> usize;
    fn pktb_free(p: P);
    fn pktb_data(p: P) -> *mut u8;
    fn pktb_len(p: P) -> u32;
    fn pktb_push(p: P, len: c_uint);
    fn pktb_pull(p: P, len: c_uint);
    fn pktb_put(p: P, len: c_uint);
    fn pktb_trim(p: P, len: c_uint);
    fn pktb_tailroom(p: P) -> c_uint;
    fn pktb_mac_header(p: P) -> *mut u8;
    fn pktb_network_header(p: P) -> *mut u8;
    fn pktb_transport_header(p: P) -> *mut u8;
    fn pktb_mangled(p: P) -> bool;
    fn pktb_mangle(p: P, dataoff: c_int, moff: c_uint, mlen: c_uint, rep: *const c_char, rlen: c_uint) -> c_int;
    fn nfq_ip_get_hdr(p: P) -> P;
    fn nfq_ip_set_transport_header(p: P, iph: P) -> c_int;
    fn nfq_ip_mangle(p: P, dataoff: c_uint, moff: c_uint, mlen: c_uint, rep: *const c_char, rlen: c_uint) -> c_int;
    fn nfq_ip_snprintf(buf: *mut c_char, size: usize, iph: P) -> c_int;
    fn nfq_ip6_get_hdr(p: P) -> P;
    fn nfq_ip6_set_transport_header(p: P, ip6h: P, target: u8) -> c_int;
    fn nfq_ip6_mangle(p: P, dataoff: c_uint, moff: c_uint, mlen: c_uint, rep: *const c_char, rlen: c_uint) -> c_int;
    fn nfq_ip6_snprintf(buf: *mut c_char, size: usize, ip6h: P) -> c_int;
    fn nfq_tcp_get_hdr(p: P) -> P;
    fn nfq_tcp_get_payload(tcph: P, p: P) -> *mut c_void;
    fn nfq_tcp_get_payload_len(tcph: P, p: P) -> c_uint;
    fn nfq_tcp_mangle_ipv4(p: P, moff: c_uint, mlen: c_uint, rep: *const c_char, rlen: c_uint) -> c_int;
    fn nfq_tcp_mangle_ipv6(p: P, moff: c_uint, mlen: c_uint, rep: *const c_char, rlen: c_uint) -> c_int;
    fn nfq_tcp_snprintf(buf: *mut c_char, size: usize, tcph: P) -> c_int;
    fn nfq_udp_get_hdr(p: P) -> P;
    fn nfq_udp_get_payload(udph: P, p: P) -> *mut c_void;
    fn nfq_udp_get_payload_len(udph: P, p: P) -> c_uint;
    fn nfq_udp_mangle_ipv4(p: P, moff: c_uint, mlen: c_uint, rep: *const c_char, rlen: c_uint) -> c_int;
    fn nfq_udp_mangle_ipv6(p: P, moff: c_uint, mlen: c_uint, rep: *const c_char, rlen: c_uint) -> c_int;
    fn nfq_udp_snprintf(buf: *mut c_char, size: usize, udph: P) -> c_int;
    fn nfq_icmp_get_hdr(p: P) -> P;
}

struct Ops<'a>(&'a [u8]);

impl Ops<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        let tag = self.u8();
        let v = if tag & 0x80 != 0 {
            u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
        } else {
            self.u8() as u32
        };
        if tag & 0x40 != 0 { v.wrapping_neg() } else { v }
    }
}

/// Reads `n` bytes at `p` so ASan checks the whole range the library promised.
fn touch(p: *const u8, n: usize) {
    if !p.is_null() && n > 0 {
        // SAFETY: the library promised n readable bytes at p.
        let _ = std::hint::black_box(unsafe { std::slice::from_raw_parts(p, n) }.iter().fold(0u8, |a, &b| a ^ b));
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let family = [2, 10, 7, 0][(data[0] & 3) as usize];
    let extra = data[1] as usize;
    let split = (data[2] as usize).min(data.len() - 3);
    let (pkt, ops) = data[3..].split_at(split);
    let raw = data[0] & 4 != 0;
    let mut copy = pkt.to_vec();
    // pktb_setup_raw works in place: the caller's buffer needs len + extra bytes.
    let mut raw_buf = pkt.to_vec();
    raw_buf.resize(pkt.len() + extra, 0);
    let mut head = vec![0u64; 8];
    // SAFETY: every pointer is live for its length; head has pktb_head_size() bytes.
    let p = unsafe {
        assert!(pktb_head_size() <= head.len() * 8);
        if raw {
            pktb_setup_raw(head.as_mut_ptr().cast(), family, raw_buf.as_mut_ptr().cast(), pkt.len(), extra)
        } else {
            pktb_alloc(family, copy.as_mut_ptr().cast(), pkt.len(), extra)
        }
    };
    if p.is_null() {
        return;
    }
    // Where the buffer is and how big (pktb_alloc puts it right after the header).
    let (base, cap) = if raw {
        (raw_buf.as_ptr() as usize, raw_buf.len())
    } else {
        // SAFETY: pktb_head_size has no preconditions.
        (p as usize + unsafe { pktb_head_size() }, pkt.len() + extra)
    };
    let rep: Vec<u8> = (0..=255u8).rev().collect();
    let mut ops = Ops(ops);
    let mut text = [0 as c_char; 96];
    for _ in 0..32 {
        if ops.0.is_empty() {
            break;
        }
        let op = ops.u8();
        let (a, b) = (ops.u32(), ops.u32());
        let rlen = ops.u8() as u32;
        // The replacement: our own bytes, or (high bit) bytes inside the packet itself.
        // SAFETY: every call below gets the live buffer p and pointers from the library or
        // from `rep` with rlen <= 256 readable bytes.
        unsafe {
            let d = pktb_data(p) as usize;
            let inside = op & 0x80 != 0 && d >= base && d + rlen as usize <= base + cap;
            let src = if inside { pktb_data(p) as *const c_char } else { rep.as_ptr() as *const c_char };
            match op & 0x1f {
                0 => pktb_push(p, a & 0xff),
                1 => pktb_pull(p, a & 0xff),
                2 => pktb_put(p, a & 0xff),
                3 => pktb_trim(p, a),
                4 => {
                    let _ = pktb_mangle(p, a as c_int, b & 0xfff, (b >> 12) & 0xfff, src, rlen);
                }
                5 => {
                    let _ = nfq_ip_mangle(p, a & 0xfff, b & 0xfff, (b >> 12) & 0xfff, src, rlen);
                }
                6 => {
                    let _ = nfq_ip6_mangle(p, a & 0xfff, b & 0xfff, (b >> 12) & 0xfff, src, rlen);
                }
                7 => {
                    let _ = nfq_tcp_mangle_ipv4(p, a & 0xfff, b & 0xfff, src, rlen);
                }
                8 => {
                    let _ = nfq_udp_mangle_ipv4(p, a & 0xfff, b & 0xfff, src, rlen);
                }
                9 => {
                    let _ = nfq_tcp_mangle_ipv6(p, a & 0xfff, b & 0xfff, src, rlen);
                }
                10 => {
                    let _ = nfq_udp_mangle_ipv6(p, a & 0xfff, b & 0xfff, src, rlen);
                }
                11 => {
                    let iph = nfq_ip_get_hdr(p);
                    if !iph.is_null() {
                        touch(iph as *const u8, 20);
                        let _ = nfq_ip_snprintf(text.as_mut_ptr(), (a as usize) % (text.len() + 1), iph);
                        let _ = nfq_ip_set_transport_header(p, iph);
                    }
                }
                12 => {
                    let ip6h = nfq_ip6_get_hdr(p);
                    if !ip6h.is_null() {
                        touch(ip6h as *const u8, 40);
                        let _ = nfq_ip6_snprintf(text.as_mut_ptr(), (a as usize) % (text.len() + 1), ip6h);
                        let _ = nfq_ip6_set_transport_header(p, ip6h, b as u8);
                    }
                }
                13 => {
                    let tcph = nfq_tcp_get_hdr(p);
                    if !tcph.is_null() {
                        touch(tcph as *const u8, 20);
                        let _ = nfq_tcp_snprintf(text.as_mut_ptr(), (a as usize) % (text.len() + 1), tcph);
                        let pl = nfq_tcp_get_payload(tcph, p);
                        let n = nfq_tcp_get_payload_len(tcph, p);
                        if !pl.is_null() && (n as i32) >= 0 {
                            // The payload runs to the end of the packet (inside the buffer).
                            let end = (pktb_data(p) as usize).wrapping_add(pktb_len(p) as usize).min(base + cap);
                            touch(pl as *const u8, end.saturating_sub(pl as usize));
                        }
                    }
                }
                14 => {
                    let udph = nfq_udp_get_hdr(p);
                    if !udph.is_null() {
                        touch(udph as *const u8, 8);
                        let _ = nfq_udp_snprintf(text.as_mut_ptr(), (a as usize) % (text.len() + 1), udph);
                        let _ = nfq_udp_get_payload(udph, p);
                        let _ = nfq_udp_get_payload_len(udph, p);
                    }
                }
                15 => {
                    let icmph = nfq_icmp_get_hdr(p);
                    touch(icmph as *const u8, if icmph.is_null() { 0 } else { 8 });
                }
                _ => {
                    let _ = (pktb_len(p), pktb_tailroom(p), pktb_mangled(p));
                    let _ = (pktb_mac_header(p), pktb_network_header(p), pktb_transport_header(p));
                }
            }
        }
    }
    if !raw {
        // SAFETY: p came from pktb_alloc.
        unsafe { pktb_free(p) };
    }
});
