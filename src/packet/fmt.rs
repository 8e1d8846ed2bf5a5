//! Text forms of headers in the iptables LOG style that libnetfilter_queue's `nfq_*_snprintf`
//! helpers print, and the address formatting of glibc's `inet_ntop`.
//!
//! The texts are byte-for-byte those of libnetfilter_queue, including its oddities (kept so
//! that log parsers keep working): the IPv6 traffic class and flow label are taken from the
//! first header word read in host byte order, and the TCP `RES` field is the reserved nibble
//! shifted left by two.
//!
//! ```
//! use nfq_rs::packet::fmt::{inet_ntop6, udp_log};
//! use nfq_rs::packet::UdpHeader;
//! assert_eq!(inet_ntop6(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), "2001:db8::1");
//! assert_eq!(udp_log(&UdpHeader::new(&[0, 53, 0x04, 0x01, 0, 8, 0, 0]).unwrap()), "SPT=53 DPT=1025 ");
//! ```

use std::fmt::Write;

use super::ipv4::Ipv4Header;
use super::ipv6::Ipv6Header;
use super::l4::{TcpHeader, UdpHeader};

/// Dotted-quad form of an IPv4 address.
pub fn inet_ntop4(a: &[u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// Text form of an IPv6 address exactly as glibc's `inet_ntop(AF_INET6)` writes it: lowercase
/// hex groups without leading zeros; the longest run of two or more zero groups (the first one
/// on a tie) becomes `::`; `::a.b.c.d` and `::ffff:a.b.c.d` for IPv4-compatible and -mapped
/// addresses.
pub fn inet_ntop6(a: &[u8; 16]) -> String {
    let mut w = [0u16; 8];
    for (i, word) in w.iter_mut().enumerate() {
        *word = u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
    }
    // Longest run of zero words.
    let (mut best, mut best_len) = (None::<usize>, 0usize);
    let (mut cur, mut cur_len) = (None::<usize>, 0usize);
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            if cur.is_none() {
                cur = Some(i);
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur.is_some() {
            if best.is_none() || cur_len > best_len {
                (best, best_len) = (cur, cur_len);
            }
            cur = None;
        }
    }
    if cur.is_some() && (best.is_none() || cur_len > best_len) {
        (best, best_len) = (cur, cur_len);
    }
    if best_len < 2 {
        best = None;
    }
    let mut s = String::with_capacity(46);
    for i in 0..8 {
        if let Some(b) = best {
            if i >= b && i < b + best_len {
                if i == b {
                    s.push(':');
                }
                continue;
            }
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 && best == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            s.push_str(&inet_ntop4(&[a[12], a[13], a[14], a[15]]));
            return s;
        }
        let _ = write!(s, "{:x}", w[i]);
    }
    if best.is_some_and(|b| b + best_len == 8) {
        s.push(':');
    }
    s
}

/// `nfq_ip_snprintf`'s text:
/// `SRC=a DST=b LEN=tot_len TOS=0xTOS PREC=0xPREC TTL=ttl ID=id PROTO=proto ` (with a trailing
/// space; TOS is `tos & 0x1e`, PREC `tos & 0xe0`, both uppercase hex).
pub fn ip_log(h: &Ipv4Header<'_>) -> String {
    format!(
        "SRC={} DST={} LEN={} TOS=0x{:X} PREC=0x{:X} TTL={} ID={} PROTO={} ",
        inet_ntop4(&h.src()),
        inet_ntop4(&h.dst()),
        h.total_len(),
        h.tos() & 0x1e,
        h.tos() & 0xe0,
        h.ttl(),
        h.id(),
        h.protocol()
    )
}

/// `nfq_ip6_snprintf`'s text:
/// `SRC=a DST=b LEN=plen+40 TC=0xTC HOPLIMIT=hl FLOWLBL=fl `. Upstream masks the first header
/// word without converting it from network order, so on a little-endian host TC and FLOWLBL
/// are not the real traffic class and flow label. This reproduces the value of the host this
/// runs on (`from_ne_bytes`), as upstream compiled for it would print.
pub fn ip6_log(h: &Ipv6Header<'_>) -> String {
    let b = h.as_bytes();
    let flow = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    format!(
        "SRC={} DST={} LEN={} TC=0x{:X} HOPLIMIT={} FLOWLBL={} ",
        inet_ntop6(&h.src()),
        inet_ntop6(&h.dst()),
        usize::from(h.payload_len()) + 40,
        (flow & 0x0ff0_0000) >> 20,
        h.hop_limit(),
        flow & 0x000f_ffff
    )
}

/// `nfq_tcp_snprintf`'s text and return value. The text is
/// `SPT=s DPT=d SEQ=seq ACK=ack WINDOW=w RES=0xNN ` followed by `URG `, `ACK `, `PSH `, `RST `,
/// `SYN `, `FIN ` for each flag set. RES is upstream's `(reserved nibble) << 2` (it shifts the
/// masked word by 22 instead of 24). The second value is what upstream returns: the length of
/// the last piece printed (4 when a flag was printed), not the total.
pub fn tcp_log(h: &TcpHeader<'_>) -> (String, usize) {
    let mut s = format!(
        "SPT={} DPT={} SEQ={} ACK={} WINDOW={} RES=0x{:02x} ",
        h.src_port(),
        h.dst_port(),
        h.seq(),
        h.ack_seq(),
        h.window(),
        h.reserved() << 2
    );
    let mut last = s.len();
    for (set, name) in [
        (h.urg(), "URG "),
        (h.ack(), "ACK "),
        (h.psh(), "PSH "),
        (h.rst(), "RST "),
        (h.syn(), "SYN "),
        (h.fin(), "FIN "),
    ] {
        if set {
            s.push_str(name);
            last = name.len();
        }
    }
    (s, last)
}

/// `nfq_udp_snprintf`'s text: `SPT=s DPT=d `.
pub fn udp_log(h: &UdpHeader<'_>) -> String {
    format!("SPT={} DPT={} ", h.src_port(), h.dst_port())
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" {
        fn inet_ntop(
            af: libc::c_int,
            src: *const libc::c_void,
            dst: *mut libc::c_char,
            size: libc::socklen_t,
        ) -> *const libc::c_char;
    }

    fn libc_ntop6(a: &[u8; 16]) -> String {
        let mut buf = [0 as libc::c_char; 64];
        // SAFETY: a is 16 bytes (an in6_addr); buf has 64 bytes, more than INET6_ADDRSTRLEN.
        let p = unsafe { inet_ntop(libc::AF_INET6, a.as_ptr().cast(), buf.as_mut_ptr(), 64) };
        assert!(!p.is_null());
        // SAFETY: inet_ntop wrote a NUL-terminated string into buf.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn ipv6_text_matches_glibc_on_special_and_random_addresses() {
        let mut cases: Vec<[u8; 16]> = vec![[0; 16]];
        let mut one = [0u8; 16];
        one[15] = 1;
        cases.push(one);
        let mut mapped = [0u8; 16];
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        mapped[12..].copy_from_slice(&[192, 0, 2, 1]);
        cases.push(mapped);
        let mut compat = [0u8; 16];
        compat[12..].copy_from_slice(&[10, 1, 2, 3]);
        cases.push(compat);
        let mut compat0 = [0u8; 16];
        compat0[14] = 1;
        cases.push(compat0);
        // every pattern of zero/non-zero words, with several fillers
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for mask in 0u32..256 {
            for _ in 0..3 {
                let mut a = [0u8; 16];
                for i in 0..8 {
                    if mask & (1 << i) != 0 {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let v = match seed % 3 {
                            0 => 0xffff,
                            1 => (seed >> 20) as u16 & 0x00ff | 1,
                            _ => (seed >> 32) as u16 | 1,
                        };
                        a[2 * i..2 * i + 2].copy_from_slice(&v.to_be_bytes());
                    }
                }
                cases.push(a);
            }
        }
        for a in cases {
            assert_eq!(inet_ntop6(&a), libc_ntop6(&a), "{a:?}");
        }
    }

    #[test]
    fn ip_log_format() {
        let b = [0x45, 0xfe, 0, 0x54, 0x1c, 0x46, 0x40, 0, 0x40, 1, 0xb1, 0xe6, 192, 168, 0, 1, 192, 168, 0, 199];
        assert_eq!(
            ip_log(&Ipv4Header::new(&b).unwrap()),
            "SRC=192.168.0.1 DST=192.168.0.199 LEN=84 TOS=0x1E PREC=0xE0 TTL=64 ID=7238 PROTO=1 "
        );
    }

    #[test]
    fn ip6_log_keeps_the_host_order_quirk() {
        let mut b = [0u8; 40];
        b[..4].copy_from_slice(&[0x6a, 0xbc, 0xde, 0xf1]);
        b[5] = 20;
        b[7] = 255;
        b[23] = 1;
        b[39] = 2;
        let s = ip6_log(&Ipv6Header::new(&b).unwrap());
        let w = u32::from_ne_bytes([0x6a, 0xbc, 0xde, 0xf1]);
        assert_eq!(
            s,
            format!("SRC=::1 DST=::2 LEN=60 TC=0x{:X} HOPLIMIT=255 FLOWLBL={} ", (w & 0x0ff00000) >> 20, w & 0xfffff)
        );
        if cfg!(target_endian = "little") {
            assert_eq!(s, "SRC=::1 DST=::2 LEN=60 TC=0x1D HOPLIMIT=255 FLOWLBL=965738 ");
        }
    }

    #[test]
    fn tcp_log_format_and_return_value() {
        let mut b = [0u8; 20];
        b[0..2].copy_from_slice(&80u16.to_be_bytes());
        b[2..4].copy_from_slice(&1234u16.to_be_bytes());
        b[4..8].copy_from_slice(&1u32.to_be_bytes());
        b[8..12].copy_from_slice(&2u32.to_be_bytes());
        b[12] = 0x5f;
        b[13] = 0x12;
        b[14..16].copy_from_slice(&100u16.to_be_bytes());
        let (s, last) = tcp_log(&TcpHeader::new(&b).unwrap());
        assert_eq!(s, "SPT=80 DPT=1234 SEQ=1 ACK=2 WINDOW=100 RES=0x3c ACK SYN ");
        assert_eq!(last, 4);
        b[13] = 0;
        let (s, last) = tcp_log(&TcpHeader::new(&b).unwrap());
        assert_eq!(last, s.len());
    }
}
