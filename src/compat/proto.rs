//! libnetfilter_queue's protocol helpers (`nfq_ip_*`, `nfq_ip6_*`, `nfq_tcp_*`, `nfq_udp_*`,
//! `nfq_icmp_get_hdr`) over [`crate::packet`].
//!
//! Functions given a `pkt_buff` work on a bounds-checked view of its buffer. Functions given
//! only header pointers (checksums, `*_snprintf`) trust those pointers as upstream does: the
//! header must be complete and, for checksums, the lengths in it must describe readable
//! memory. Failure values for NULL arguments: NULL, 0, -1 (int results where upstream returns
//! -1 on failure, and for `*_snprintf`), or nothing for `void` functions (upstream crashes).
//! Each deliberate difference from upstream is marked "Differs from upstream" below and listed,
//! with the reason, in docs/compat-differences.md.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::ptr;

use super::boundary;
use super::pktbuff::{mangle_export, pkt_buff, ptr_at, with_view, with_view_mut};
use crate::packet::checksum::{tcpudp_ipv4, tcpudp_ipv4_span, tcpudp_ipv6, tcpudp_ipv6_read_len};
use crate::packet::{Ipv4Header, Ipv6Header, TcpHeader, UdpHeader, fmt, ipv4};

/// `struct iphdr` (opaque here).
#[allow(non_camel_case_types)]
pub struct iphdr {
    _opaque: [u8; 0],
}
/// `struct ip6_hdr` (opaque here).
#[allow(non_camel_case_types)]
pub struct ip6_hdr {
    _opaque: [u8; 0],
}
/// `struct tcphdr` (opaque here).
#[allow(non_camel_case_types)]
pub struct tcphdr {
    _opaque: [u8; 0],
}
/// `struct udphdr` (opaque here).
#[allow(non_camel_case_types)]
pub struct udphdr {
    _opaque: [u8; 0],
}
/// `struct icmphdr` (opaque here).
#[allow(non_camel_case_types)]
pub struct icmphdr {
    _opaque: [u8; 0],
}

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// Offset of the checksum field in a TCP header.
const TCP_CHECK: usize = 16;
/// Offset of the checksum field in a UDP header.
const UDP_CHECK: usize = 6;

/// Copies the first `N` bytes of a header.
///
/// # Safety
/// `p` points at `N` readable bytes.
unsafe fn header<const N: usize, T>(p: *const T) -> [u8; N] {
    // SAFETY: per the contract; [u8; N] has alignment 1.
    unsafe { ptr::read(p as *const [u8; N]) }
}

/// Writes `s` into `buf` as `snprintf` would (at most `size - 1` bytes and a NUL when
/// `size > 0`) and returns `ret`.
///
/// # Safety
/// `buf` is writable for `size` bytes, or `size` is 0.
unsafe fn emit(buf: *mut c_char, size: usize, s: &str, ret: usize) -> c_int {
    if size > 0 {
        let n = s.len().min(size - 1);
        // SAFETY: buf has size > n bytes per the contract; s has n readable bytes.
        unsafe {
            ptr::copy_nonoverlapping(s.as_ptr(), buf as *mut u8, n);
            *buf.add(n) = 0;
        }
    }
    c_int::try_from(ret).unwrap_or(c_int::MAX)
}

/// Shared checks of the `*_snprintf` exports: a NULL header, or a NULL buffer with a nonzero
/// size, gives -1 (upstream would crash).
fn printable<T>(buf: *mut c_char, size: usize, h: *const T) -> bool {
    !h.is_null() && (size == 0 || !buf.is_null())
}

// ---- IPv4 ----

/// The IPv4 header at the network header: NULL unless at least 20 bytes remain, the version is
/// 4 and `tot_len` fits in them (`ihl` is not checked). **Differs from upstream:** NULL when
/// the network header is missing or past the end (upstream reads there).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip_get_hdr(pktb: *mut pkt_buff) -> *mut iphdr {
    boundary(ptr::null_mut(), || {
        // SAFETY: pktb is NULL or live (export contract).
        let ok = unsafe { with_view(pktb, |pb| pb.ip_hdr().is_some()) }.unwrap_or(false);
        // SAFETY: pktb is live when ok.
        if ok { unsafe { (*pktb).network_header as *mut iphdr } } else { ptr::null_mut() }
    })
}

/// Sets the transport header to network header + `iph->ihl * 4`. Returns 0, or -1 if
/// `(int)pktb_len - ihl*4 <= 0` (upstream's check, on the whole length) or for NULL
/// arguments. **Differs from upstream:** -1 without a network header (upstream sets the
/// transport header to the address `ihl*4` and returns 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip_set_transport_header(pktb: *mut pkt_buff, iph: *mut iphdr) -> c_int {
    boundary(-1, || {
        if iph.is_null() {
            return -1;
        }
        // SAFETY: iph points at an IPv4 header (export contract); read before the view exists.
        let [b0] = unsafe { header::<1, _>(iph) };
        // SAFETY: pktb is NULL or live.
        let ok = unsafe { with_view_mut(pktb, ptr::null(), 0, |pb, _| pb.set_transport_ipv4(b0 & 0x0f)) };
        if ok == Some(true) { 0 } else { -1 }
    })
}

/// Recomputes the IPv4 header checksum over `ihl * 4` bytes (the field zeroed first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip_set_checksum(iph: *mut iphdr) {
    boundary((), || {
        if iph.is_null() {
            return;
        }
        // SAFETY: iph points at a complete IPv4 header: at least max(12, ihl*4) bytes.
        unsafe {
            let [b0] = header::<1, _>(iph);
            let n = (usize::from(b0 & 0x0f) * 4).max(12);
            ipv4::set_checksum(std::slice::from_raw_parts_mut(iph as *mut u8, n));
        }
    })
}

/// [`pktb_mangle`](super::pktbuff::pktb_mangle) at network + `dataoff`, then `tot_len` and the
/// header checksum are fixed. 1 or 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip_mangle(
    pktb: *mut pkt_buff,
    dataoff: c_uint,
    match_offset: c_uint,
    match_len: c_uint,
    rep_buffer: *const c_char,
    rep_len: c_uint,
) -> c_int {
    // SAFETY: pktb and rep_buffer follow the export's contract.
    unsafe { mangle_export(pktb, rep_buffer, rep_len, |pb, rep| pb.ip_mangle(dataoff, match_offset, match_len, rep)) }
}

/// Prints `SRC=.. DST=.. LEN=.. TOS=0x.. PREC=0x.. TTL=.. ID=.. PROTO=.. ` (iptables LOG style)
/// like `snprintf`; returns the full length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip_snprintf(buf: *mut c_char, size: usize, iph: *const iphdr) -> c_int {
    boundary(-1, || {
        if !printable(buf, size, iph) {
            return -1;
        }
        // SAFETY: iph points at a 20-byte IPv4 header.
        let h = unsafe { header::<20, _>(iph) };
        let s = Ipv4Header::new(&h).map(|h| fmt::ip_log(&h)).unwrap_or_default();
        // SAFETY: buf has size bytes.
        unsafe { emit(buf, size, &s, s.len()) }
    })
}

// ---- IPv6 ----

/// The IPv6 header at the network header: NULL unless at least 40 bytes remain and the
/// version nibble is 6.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip6_get_hdr(pktb: *mut pkt_buff) -> *mut ip6_hdr {
    boundary(ptr::null_mut(), || {
        // SAFETY: export contract.
        let ok = unsafe { with_view(pktb, |pb| pb.ip6_hdr().is_some()) }.unwrap_or(false);
        // SAFETY: pktb is live when ok.
        if ok { unsafe { (*pktb).network_header as *mut ip6_hdr } } else { ptr::null_mut() }
    })
}

/// Walks the extension headers after `ip6h` to the header of protocol `target`. Returns 1
/// with the transport header set, or 0 with it cleared. NULL arguments: 0, nothing changed.
/// **Differs from upstream 1.0.5:** this is the walk of libnetfilter_queue's git tree (1.0.5
/// steps into payloads and tests the fragment offset on the wrong bytes), and it never reads
/// past the end of the packet (see `packet::ipv6::find_header`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip6_set_transport_header(pktb: *mut pkt_buff, ip6h: *mut ip6_hdr, target: u8) -> c_int {
    boundary(0, || {
        if pktb.is_null() || ip6h.is_null() {
            return 0;
        }
        // SAFETY: export contract. The header is addressed by its position in the buffer.
        let ok = unsafe {
            let base = ptr_at(pktb, 0);
            let off = (ip6h as usize).wrapping_sub(base as usize) as isize as i64;
            with_view_mut(pktb, ptr::null(), 0, |pb, _| pb.set_transport_ipv6_at(off, target))
        };
        ok.unwrap_or(false) as c_int
    })
}

/// [`pktb_mangle`](super::pktbuff::pktb_mangle) at network + `dataoff`, then the payload length
/// is fixed. 1 or 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip6_mangle(
    pktb: *mut pkt_buff,
    dataoff: c_uint,
    match_offset: c_uint,
    match_len: c_uint,
    rep_buffer: *const c_char,
    rep_len: c_uint,
) -> c_int {
    // SAFETY: pktb and rep_buffer follow the export's contract.
    unsafe { mangle_export(pktb, rep_buffer, rep_len, |pb, rep| pb.ip6_mangle(dataoff, match_offset, match_len, rep)) }
}

/// Prints `SRC=.. DST=.. LEN=.. TC=0x.. HOPLIMIT=.. FLOWLBL=.. ` like `snprintf`. TC and
/// FLOWLBL reproduce upstream's host-byte-order reading of the first header word.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_ip6_snprintf(buf: *mut c_char, size: usize, ip6h: *const ip6_hdr) -> c_int {
    boundary(-1, || {
        if !printable(buf, size, ip6h) {
            return -1;
        }
        // SAFETY: ip6h points at a 40-byte IPv6 header.
        let h = unsafe { header::<40, _>(ip6h) };
        let s = Ipv6Header::new(&h).map(|h| fmt::ip6_log(&h)).unwrap_or_default();
        // SAFETY: buf has size bytes.
        unsafe { emit(buf, size, &s, s.len()) }
    })
}

// ---- TCP ----

/// The TCP header at the transport header if at least 20 bytes remain. **Differs from
/// upstream:** NULL when the transport header lies past the end of the packet (upstream's
/// unsigned comparison hands out that pointer; AF_BRIDGE frames can get there).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_get_hdr(pktb: *mut pkt_buff) -> *mut tcphdr {
    boundary(ptr::null_mut(), || {
        // SAFETY: export contract.
        let ok = unsafe { with_view(pktb, |pb| pb.tcp_hdr().is_some()) }.unwrap_or(false);
        // SAFETY: pktb is live when ok.
        if ok { unsafe { (*pktb).transport_header as *mut tcphdr } } else { ptr::null_mut() }
    })
}

/// The TCP payload: transport header + `tcph->doff * 4` if that is at least 20 and within the
/// packet, else NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_get_payload(tcph: *mut tcphdr, pktb: *mut pkt_buff) -> *mut c_void {
    boundary(ptr::null_mut(), || {
        if tcph.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: tcph points at a TCP header (export contract).
        let h = unsafe { header::<13, _>(tcph) };
        // SAFETY: export contract.
        let off = unsafe { with_view(pktb, |pb| pb.tcp_payload(h[12] >> 4)) }.flatten();
        // SAFETY: pktb is live when off is Some.
        off.map_or(ptr::null_mut(), |o| unsafe { ptr_at(pktb, o) }.cast())
    })
}

/// `end - transport - doff * 4` in unsigned arithmetic (wraps when the header is longer than
/// the packet, as upstream). 0 for NULL arguments or without a transport header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_get_payload_len(tcph: *mut tcphdr, pktb: *mut pkt_buff) -> c_uint {
    boundary(0, || {
        if tcph.is_null() {
            return 0;
        }
        // SAFETY: tcph points at a TCP header.
        let h = unsafe { header::<13, _>(tcph) };
        // SAFETY: export contract.
        unsafe { with_view(pktb, |pb| pb.tcp_payload_len(h[12] >> 4)) }.unwrap_or(0)
    })
}

/// Computes the L4 checksum of an IPv4 packet given by header pointers, as upstream: the
/// checksum field at `l4 + check_at` is zeroed, then the sum covers the pseudo-header and the
/// `tot_len - ihl*4` bytes after the IPv4 header (not necessarily where `l4` is).
///
/// # Safety
/// `l4` and `ip` are non-NULL; `ip` points at an IPv4 header followed by the bytes its lengths
/// describe; `l4 + check_at` is writable for 2 bytes.
unsafe fn l4_checksum_ipv4(l4: *mut u8, check_at: usize, ip: *const u8, proto: u8) {
    // SAFETY: per the contract (20-byte header, then the described bytes).
    unsafe {
        let head = header::<20, _>(ip);
        let span = tcpudp_ipv4_span(&head).unwrap_or(20);
        ptr::write_bytes(l4.add(check_at), 0, 2);
        let c = tcpudp_ipv4(std::slice::from_raw_parts(ip, span), proto).unwrap_or(0);
        ptr::copy_nonoverlapping(c.to_be_bytes().as_ptr(), l4.add(check_at), 2);
    }
}

/// The IPv6 variant: the length is `payload_len - (l4 - ip6 - 40)`. **Differs from upstream:**
/// a transport header before the IPv6 header (or more than 4 GiB after it) is refused and
/// nothing is changed (upstream sums from a wrapped address).
///
/// # Safety
/// `l4` and `ip6` are non-NULL; `ip6` points at an IPv6 header and `l4` at the bytes the
/// length describes; `l4 + check_at` is writable for 2 bytes.
unsafe fn l4_checksum_ipv6(l4: *mut u8, check_at: usize, ip6: *const u8, proto: u8) {
    let Some(hdr_len) = (l4 as usize).checked_sub(ip6 as usize).and_then(|d| u32::try_from(d).ok()) else {
        return;
    };
    // SAFETY: per the contract.
    unsafe {
        let head = header::<40, _>(ip6);
        let n = tcpudp_ipv6_read_len(&head, hdr_len).unwrap_or(0);
        ptr::write_bytes(l4.add(check_at), 0, 2);
        let c = tcpudp_ipv6(&head, std::slice::from_raw_parts(l4, n), hdr_len, proto).unwrap_or(0);
        ptr::copy_nonoverlapping(c.to_be_bytes().as_ptr(), l4.add(check_at), 2);
    }
}

/// Sets the TCP checksum of an IPv4 packet (see the IPv4 checksum rules in the module doc).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_compute_checksum_ipv4(tcph: *mut tcphdr, iph: *mut iphdr) {
    boundary((), || {
        if !tcph.is_null() && !iph.is_null() {
            // SAFETY: export contract.
            unsafe { l4_checksum_ipv4(tcph.cast(), TCP_CHECK, iph as *const u8, IPPROTO_TCP) }
        }
    })
}

/// Sets the TCP checksum of an IPv6 packet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_compute_checksum_ipv6(tcph: *mut tcphdr, ip6h: *mut ip6_hdr) {
    boundary((), || {
        if !tcph.is_null() && !ip6h.is_null() {
            // SAFETY: export contract.
            unsafe { l4_checksum_ipv6(tcph.cast(), TCP_CHECK, ip6h as *const u8, IPPROTO_TCP) }
        }
    })
}

/// Mangles the TCP payload of an IPv4 packet (offsets from the payload start, computed from
/// the network header), then fixes `tot_len`, the IPv4 checksum and the TCP checksum. 1 or 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_mangle_ipv4(
    pktb: *mut pkt_buff,
    match_offset: c_uint,
    match_len: c_uint,
    rep_buffer: *const c_char,
    rep_len: c_uint,
) -> c_int {
    // SAFETY: pktb and rep_buffer follow the export's contract.
    unsafe { mangle_export(pktb, rep_buffer, rep_len, |pb, rep| pb.tcp_mangle_ipv4(match_offset, match_len, rep)) }
}

/// Mangles the TCP payload of an IPv6 packet (needs the transport header; 0 without), then
/// fixes the payload length and the TCP checksum. 1 or 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_mangle_ipv6(
    pktb: *mut pkt_buff,
    match_offset: c_uint,
    match_len: c_uint,
    rep_buffer: *const c_char,
    rep_len: c_uint,
) -> c_int {
    // SAFETY: pktb and rep_buffer follow the export's contract.
    unsafe { mangle_export(pktb, rep_buffer, rep_len, |pb, rep| pb.tcp_mangle_ipv6(match_offset, match_len, rep)) }
}

/// Prints `SPT=.. DPT=.. SEQ=.. ACK=.. WINDOW=.. RES=0x.. ` and the flags like `snprintf`.
/// Returns what upstream returns: the length of the last piece printed (4 when a flag was
/// printed), not the total. **Differs from upstream:** it never writes past `size` bytes
/// (upstream goes on printing the flags past the buffer when the text was cut short).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_tcp_snprintf(buf: *mut c_char, size: usize, tcph: *const tcphdr) -> c_int {
    boundary(-1, || {
        if !printable(buf, size, tcph) {
            return -1;
        }
        // SAFETY: tcph points at a 20-byte TCP header.
        let h = unsafe { header::<20, _>(tcph) };
        let (s, last) = TcpHeader::new(&h).map(|h| fmt::tcp_log(&h)).unwrap_or_default();
        // SAFETY: buf has size bytes.
        unsafe { emit(buf, size, &s, last) }
    })
}

// ---- UDP ----

/// The UDP header at the transport header if at least 8 bytes remain (**differs** like
/// `nfq_tcp_get_hdr` past the end of the packet).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_get_hdr(pktb: *mut pkt_buff) -> *mut udphdr {
    boundary(ptr::null_mut(), || {
        // SAFETY: export contract.
        let ok = unsafe { with_view(pktb, |pb| pb.udp_hdr().is_some()) }.unwrap_or(false);
        // SAFETY: pktb is live when ok.
        if ok { unsafe { (*pktb).transport_header as *mut udphdr } } else { ptr::null_mut() }
    })
}

/// The UDP payload (transport header + 8) if `udph->len` is at least 8 and transport + len is
/// within the packet, else NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_get_payload(udph: *mut udphdr, pktb: *mut pkt_buff) -> *mut c_void {
    boundary(ptr::null_mut(), || {
        if udph.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: udph points at a UDP header.
        let h = unsafe { header::<6, _>(udph) };
        let len = u16::from_be_bytes([h[4], h[5]]);
        // SAFETY: export contract.
        let off = unsafe { with_view(pktb, |pb| pb.udp_payload(len)) }.flatten();
        // SAFETY: pktb is live when off is Some.
        off.map_or(ptr::null_mut(), |o| unsafe { ptr_at(pktb, o) }.cast())
    })
}

/// `end - transport - 8` in unsigned arithmetic (wraps as upstream). `udph` is not used (as
/// upstream; it may be NULL). 0 without a transport header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_get_payload_len(_udph: *mut udphdr, pktb: *mut pkt_buff) -> c_uint {
    // SAFETY: export contract.
    boundary(0, || unsafe { with_view(pktb, |pb| pb.udp_payload_len()) }.unwrap_or(0))
}

/// Sets the UDP checksum of an IPv4 packet (a zero result stays zero, as upstream).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_compute_checksum_ipv4(udph: *mut udphdr, iph: *mut iphdr) {
    boundary((), || {
        if !udph.is_null() && !iph.is_null() {
            // SAFETY: export contract.
            unsafe { l4_checksum_ipv4(udph.cast(), UDP_CHECK, iph as *const u8, IPPROTO_UDP) }
        }
    })
}

/// Sets the UDP checksum of an IPv6 packet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_compute_checksum_ipv6(udph: *mut udphdr, ip6h: *mut ip6_hdr) {
    boundary((), || {
        if !udph.is_null() && !ip6h.is_null() {
            // SAFETY: export contract.
            unsafe { l4_checksum_ipv6(udph.cast(), UDP_CHECK, ip6h as *const u8, IPPROTO_UDP) }
        }
    })
}

/// Mangles the UDP payload of an IPv4 packet. The UDP length field is updated **before** the
/// mangle and stays updated if the mangle fails (as upstream). Then `tot_len`, the IPv4 and UDP
/// checksums are fixed. 1 or 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_mangle_ipv4(
    pktb: *mut pkt_buff,
    match_offset: c_uint,
    match_len: c_uint,
    rep_buffer: *const c_char,
    rep_len: c_uint,
) -> c_int {
    // SAFETY: pktb and rep_buffer follow the export's contract.
    unsafe { mangle_export(pktb, rep_buffer, rep_len, |pb, rep| pb.udp_mangle_ipv4(match_offset, match_len, rep)) }
}

/// Mangles the UDP payload of an IPv6 packet (needs the transport header); same length rule
/// as the IPv4 variant; fixes the payload length and the UDP checksum. 1 or 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_mangle_ipv6(
    pktb: *mut pkt_buff,
    match_offset: c_uint,
    match_len: c_uint,
    rep_buffer: *const c_char,
    rep_len: c_uint,
) -> c_int {
    // SAFETY: pktb and rep_buffer follow the export's contract.
    unsafe { mangle_export(pktb, rep_buffer, rep_len, |pb, rep| pb.udp_mangle_ipv6(match_offset, match_len, rep)) }
}

/// Prints `SPT=.. DPT=.. ` like `snprintf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_udp_snprintf(buf: *mut c_char, size: usize, udph: *const udphdr) -> c_int {
    boundary(-1, || {
        if !printable(buf, size, udph) {
            return -1;
        }
        // SAFETY: udph points at an 8-byte UDP header.
        let h = unsafe { header::<8, _>(udph) };
        let s = UdpHeader::new(&h).map(|h| fmt::udp_log(&h)).unwrap_or_default();
        // SAFETY: buf has size bytes.
        unsafe { emit(buf, size, &s, s.len()) }
    })
}

// ---- ICMP ----

/// The ICMP header at the transport header if at least 8 bytes remain (git addition;
/// **differs** like `nfq_tcp_get_hdr` past the end of the packet).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_icmp_get_hdr(pktb: *mut pkt_buff) -> *mut icmphdr {
    boundary(ptr::null_mut(), || {
        // SAFETY: export contract.
        let ok = unsafe { with_view(pktb, |pb| pb.icmp_hdr().is_some()) }.unwrap_or(false);
        // SAFETY: pktb is live when ok.
        if ok { unsafe { (*pktb).transport_header as *mut icmphdr } } else { ptr::null_mut() }
    })
}

#[cfg(test)]
mod tests {
    use super::super::pktbuff::*;
    use super::*;

    #[test]
    fn null_arguments_give_failure_values() {
        // SAFETY: NULL is accepted everywhere.
        unsafe {
            let n = ptr::null_mut();
            assert!(nfq_ip_get_hdr(n).is_null());
            assert_eq!(nfq_ip_set_transport_header(n, ptr::null_mut()), -1);
            nfq_ip_set_checksum(ptr::null_mut());
            assert_eq!(nfq_ip_mangle(n, 0, 0, 0, ptr::null(), 0), 0);
            assert_eq!(nfq_ip_snprintf(ptr::null_mut(), 0, ptr::null()), -1);
            assert!(nfq_ip6_get_hdr(n).is_null());
            assert_eq!(nfq_ip6_set_transport_header(n, ptr::null_mut(), 6), 0);
            assert_eq!(nfq_ip6_mangle(n, 0, 0, 0, ptr::null(), 0), 0);
            assert_eq!(nfq_ip6_snprintf(ptr::null_mut(), 0, ptr::null()), -1);
            assert!(nfq_tcp_get_hdr(n).is_null());
            assert!(nfq_tcp_get_payload(ptr::null_mut(), n).is_null());
            assert_eq!(nfq_tcp_get_payload_len(ptr::null_mut(), n), 0);
            nfq_tcp_compute_checksum_ipv4(ptr::null_mut(), ptr::null_mut());
            nfq_tcp_compute_checksum_ipv6(ptr::null_mut(), ptr::null_mut());
            assert_eq!(nfq_tcp_mangle_ipv4(n, 0, 0, ptr::null(), 0), 0);
            assert_eq!(nfq_tcp_mangle_ipv6(n, 0, 0, ptr::null(), 0), 0);
            assert_eq!(nfq_tcp_snprintf(ptr::null_mut(), 0, ptr::null()), -1);
            assert!(nfq_udp_get_hdr(n).is_null());
            assert!(nfq_udp_get_payload(ptr::null_mut(), n).is_null());
            assert_eq!(nfq_udp_get_payload_len(ptr::null_mut(), n), 0);
            nfq_udp_compute_checksum_ipv4(ptr::null_mut(), ptr::null_mut());
            nfq_udp_compute_checksum_ipv6(ptr::null_mut(), ptr::null_mut());
            assert_eq!(nfq_udp_mangle_ipv4(n, 0, 0, ptr::null(), 0), 0);
            assert_eq!(nfq_udp_mangle_ipv6(n, 0, 0, ptr::null(), 0), 0);
            assert_eq!(nfq_udp_snprintf(ptr::null_mut(), 0, ptr::null()), -1);
            assert!(nfq_icmp_get_hdr(n).is_null());
            let h = [0u8; 40];
            assert_eq!(nfq_udp_snprintf(ptr::null_mut(), 5, h.as_ptr().cast()), -1);
            assert_eq!(nfq_udp_snprintf(ptr::null_mut(), 0, h.as_ptr().cast()), 12);
        }
    }

    #[test]
    fn tcp_snprintf_truncates_safely_and_returns_the_last_piece() {
        let mut t = [0u8; 20];
        t[12] = 0x50;
        t[13] = 0x3f;
        let mut buf = [0x55 as c_char; 16];
        // SAFETY: buf has 16 bytes, of which we allow 10.
        let r = unsafe { nfq_tcp_snprintf(buf.as_mut_ptr(), 10, t.as_ptr().cast()) };
        assert_eq!(r, 4);
        assert_eq!(buf[9], 0);
        assert!(buf[10..].iter().all(|&b| b == 0x55));
    }

    #[test]
    fn ipv4_flow_through_the_exports() {
        let mut p = vec![0x45u8, 0, 0, 31, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend_from_slice(&[0, 7, 0, 9, 0, 11, 0, 0, b'a', b'b', b'c']);
        // SAFETY: p outlives the buffer, which is freed at the end.
        unsafe {
            let pb = pktb_alloc(2, p.as_mut_ptr().cast(), p.len(), 8);
            let iph = nfq_ip_get_hdr(pb);
            assert_eq!(iph as *mut u8, pktb_network_header(pb));
            assert_eq!(nfq_ip_set_transport_header(pb, iph), 0);
            let uh = nfq_udp_get_hdr(pb);
            assert_eq!(uh as *mut u8, pktb_network_header(pb).add(20));
            assert_eq!(nfq_udp_get_payload(uh, pb) as *mut u8, pktb_network_header(pb).add(28));
            assert_eq!(nfq_udp_get_payload_len(uh, pb), 3);
            assert_eq!(nfq_udp_mangle_ipv4(pb, 1, 1, b"XYZ".as_ptr().cast(), 3), 1);
            assert_eq!(pktb_len(pb), 33);
            assert!(pktb_mangled(pb));
            let out = std::slice::from_raw_parts(pktb_data(pb), 33);
            assert_eq!(&out[28..], b"aXYZc");
            assert!(Ipv4Header::new(out).unwrap().checksum_ok());
            let mut s = [0 as c_char; 128];
            let n = nfq_ip_snprintf(s.as_mut_ptr(), s.len(), iph);
            let text = std::ffi::CStr::from_ptr(s.as_ptr()).to_str().unwrap();
            assert_eq!(n as usize, text.len());
            assert_eq!(text, "SRC=10.0.0.1 DST=10.0.0.2 LEN=33 TOS=0x0 PREC=0x0 TTL=64 ID=1 PROTO=17 ");
            pktb_free(pb);
        }
    }
}
