//! The internet checksum (RFC 1071): a one's complement sum of 16-bit big-endian words.
//!
//! [`Checksum`] accumulates bytes in as many pieces as you like (an odd-length piece carries its
//! last byte over to the next one), so a pseudo-header, a header and a payload can be summed
//! without copying them together. [`update16`] and [`update32`] adjust an existing checksum for
//! a changed field (RFC 1624) without touching the rest of the packet.
//!
//! Values are host integers holding the big-endian checksum: store them with `to_be_bytes`.
//!
//! ```
//! use nfq_rs::packet::checksum::{Checksum, checksum};
//! // The RFC 1071 example words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is !ddf2.
//! let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
//! assert_eq!(checksum(&data), !0xddf2);
//! let mut c = Checksum::new();
//! c.add_bytes(&data[..3]).add_bytes(&data[3..]);
//! assert_eq!(c.sum(), 0xddf2);
//! ```

/// A running one's complement sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Sum of whole words; carries are folded in at the end (a `u64` cannot overflow for any
    /// realistic input: it would take more than 2^48 words).
    acc: u64,
    /// The first byte of a word whose second byte has not been added yet.
    pending: Option<u8>,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Checksum {
        Checksum { acc: 0, pending: None }
    }

    /// Adds bytes as big-endian words, continuing an odd byte left by the previous call.
    pub fn add_bytes(&mut self, mut bytes: &[u8]) -> &mut Checksum {
        if let Some(hi) = self.pending {
            let Some((&lo, rest)) = bytes.split_first() else {
                return self;
            };
            self.acc += u64::from(u16::from_be_bytes([hi, lo]));
            self.pending = None;
            bytes = rest;
        }
        let mut words = bytes.chunks_exact(2);
        for w in &mut words {
            self.acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            self.pending = Some(*last);
        }
        self
    }

    /// Adds one 16-bit value (host order; it stands for the big-endian word on the wire).
    pub fn add_u16(&mut self, v: u16) -> &mut Checksum {
        self.add_bytes(&v.to_be_bytes())
    }

    /// Adds a 32-bit value as two words.
    pub fn add_u32(&mut self, v: u32) -> &mut Checksum {
        self.add_bytes(&v.to_be_bytes())
    }

    /// The folded one's complement sum (not complemented). A pending odd byte counts as the
    /// high byte of a word whose low byte is zero.
    pub fn sum(&self) -> u16 {
        let mut s = self.acc + self.pending.map_or(0, |b| u64::from(b) << 8);
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The checksum: the complement of [`sum`](Checksum::sum).
    pub fn finish(&self) -> u16 {
        !self.sum()
    }
}

/// The internet checksum of `bytes` (an odd last byte is padded with zero).
pub fn checksum(bytes: &[u8]) -> u16 {
    Checksum::new().add_bytes(bytes).finish()
}

/// One's complement addition of two 16-bit values.
fn ones_add(a: u16, b: u16) -> u16 {
    let s = u32::from(a) + u32::from(b);
    ((s & 0xffff) + (s >> 16)) as u16
}

/// Adjusts checksum `check` for a 16-bit field changed from `old` to `new` (RFC 1624, eqn. 3:
/// `HC' = ~(~HC + ~m + m')`).
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    !ones_add(ones_add(!check, !old), new)
}

/// Adjusts checksum `check` for a 32-bit field (for example an IPv4 address) changed from
/// `old` to `new`.
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let c = update16(check, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// How many payload bytes libnetfilter_queue's checksum loop reads for a length it computed as
/// an unsigned 32-bit difference: the length itself, except that a "negative" one (the length
/// field was smaller than the headers) makes its loop read exactly one byte.
pub(crate) fn upstream_read_len(len: u32) -> usize {
    if (len as i32) < 0 { 1 } else { len as usize }
}

/// Length of the IPv4 header plus the bytes that [`tcpudp_ipv4`] reads, from the first 20
/// bytes of the header (`ihl` and `tot_len`); `None` if fewer than 4 bytes are given.
pub fn tcpudp_ipv4_span(ip: &[u8]) -> Option<usize> {
    let ihl4 = usize::from(ip.first()? & 0x0f) * 4;
    let tot = u32::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let len = tot.wrapping_sub(ihl4 as u32);
    Some((ihl4 + upstream_read_len(len)).max(20))
}

/// The TCP or UDP checksum of an IPv4 packet, as libnetfilter_queue computes it: the
/// pseudo-header (addresses, `proto`, length) and the `tot_len - ihl*4` bytes that follow the
/// IPv4 header, with the checksum field as it currently is (callers zero it first). `ip` starts
/// at the IPv4 header. `None` if `ip` is shorter than [`tcpudp_ipv4_span`].
///
/// Quirks kept from upstream: the length is taken from `tot_len` (not from the buffer); when
/// `tot_len < ihl*4` it wraps, the pseudo-header gets its low 16 bits and one payload byte is
/// summed; a zero UDP checksum is not turned into 0xffff.
pub fn tcpudp_ipv4(ip: &[u8], proto: u8) -> Option<u16> {
    let span = tcpudp_ipv4_span(ip)?;
    if ip.len() < span {
        return None;
    }
    let ihl4 = usize::from(ip[0] & 0x0f) * 4;
    let len = u32::from(u16::from_be_bytes([ip[2], ip[3]])).wrapping_sub(ihl4 as u32);
    let payload = ip.get(ihl4..ihl4 + upstream_read_len(len))?;
    let mut c = Checksum::new();
    c.add_bytes(&ip[12..20]).add_u16(u16::from(proto)).add_u16(len as u16).add_bytes(payload);
    Some(c.finish())
}

/// How many bytes from the transport header [`tcpudp_ipv6`] reads, given the IPv6 header (at
/// least 6 bytes) and the distance `hdr_len` from it to the transport header.
pub fn tcpudp_ipv6_read_len(ip6: &[u8], hdr_len: u32) -> Option<usize> {
    let plen = u32::from(u16::from_be_bytes([*ip6.get(4)?, *ip6.get(5)?]));
    Some(upstream_read_len(plen.wrapping_sub(hdr_len.wrapping_sub(40))))
}

/// The TCP or UDP checksum of an IPv6 packet, as libnetfilter_queue computes it: the
/// pseudo-header (addresses, `proto`, length) and the transport bytes `l4`. `ip6` is the IPv6
/// header (40 bytes); `hdr_len` is the distance from it to the transport header, so the length
/// is `payload_len - (hdr_len - 40)` (extension headers are subtracted; a routing header's
/// final destination is not used). `None` if a slice is too short.
pub fn tcpudp_ipv6(ip6: &[u8], l4: &[u8], hdr_len: u32, proto: u8) -> Option<u16> {
    let n = tcpudp_ipv6_read_len(ip6, hdr_len)?;
    let addrs = ip6.get(8..40)?;
    let payload = l4.get(..n)?;
    let plen = u32::from(u16::from_be_bytes([ip6[4], ip6[5]]));
    let len = plen.wrapping_sub(hdr_len.wrapping_sub(40));
    let mut c = Checksum::new();
    c.add_bytes(addrs).add_u16(u16::from(proto)).add_u16(len as u16).add_bytes(payload);
    Some(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference sum written the obvious way, for comparisons.
    fn naive(bytes: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for (i, b) in bytes.iter().enumerate() {
            s += if i % 2 == 0 { u32::from(*b) << 8 } else { u32::from(*b) };
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Checksum::new().add_bytes(&data).sum(), 0xddf2);
        assert_eq!(checksum(&data), 0x220d);
    }

    #[test]
    fn empty_and_odd_inputs() {
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xab]), !0xab00);
        assert_eq!(checksum(&[0xff, 0xff]), 0x0000);
    }

    #[test]
    fn split_anywhere_gives_the_same_sum() {
        let mut seed = 0x1234_5678_9abc_def0;
        for _ in 0..200 {
            let n = (rng(&mut seed) % 300) as usize;
            let data: Vec<u8> = (0..n).map(|_| rng(&mut seed) as u8).collect();
            let whole = checksum(&data);
            assert_eq!(whole, naive(&data));
            for cut in 0..=n.min(20) {
                let cut2 = (cut + 7).min(n);
                let mut c = Checksum::new();
                c.add_bytes(&data[..cut]).add_bytes(&data[cut..cut2]).add_bytes(&[]).add_bytes(&data[cut2..]);
                assert_eq!(c.finish(), whole, "n={n} cut={cut}");
            }
        }
    }

    #[test]
    fn all_ones_data_folds_many_carries() {
        let data = vec![0xffu8; 70000];
        assert_eq!(checksum(&data), naive(&data));
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut seed = 99;
        for _ in 0..2000 {
            let mut hdr: Vec<u8> = (0..20).map(|_| rng(&mut seed) as u8).collect();
            hdr[10] = 0;
            hdr[11] = 0;
            let c = checksum(&hdr);
            hdr[10..12].copy_from_slice(&c.to_be_bytes());
            // change a 16-bit field
            let old = u16::from_be_bytes([hdr[8], hdr[9]]);
            let new = rng(&mut seed) as u16;
            hdr[8..10].copy_from_slice(&new.to_be_bytes());
            let upd = update16(c, old, new);
            hdr[10..12].copy_from_slice(&[0, 0]);
            let full = checksum(&hdr);
            // 0x0000 and 0xffff are the same number in one's complement
            assert!(upd == full || (upd ^ full) == 0xffff && (upd == 0 || full == 0), "{upd:#x} {full:#x}");
            hdr[10..12].copy_from_slice(&full.to_be_bytes());
            // and a 32-bit one
            let old = u32::from_be_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]);
            let new = rng(&mut seed) as u32;
            hdr[12..16].copy_from_slice(&new.to_be_bytes());
            let upd = update32(full, old, new);
            hdr[10..12].copy_from_slice(&[0, 0]);
            let full2 = checksum(&hdr);
            assert!(upd == full2 || (upd ^ full2) == 0xffff && (upd == 0 || full2 == 0), "{upd:#x} {full2:#x}");
        }
    }

    #[test]
    fn tcp_ipv4_checksum_of_a_known_packet() {
        // 127.0.0.1:40000 -> 127.0.0.1:80 SYN, no payload; checksum field zero.
        let mut p = [
            0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00,
            0x00, 0x01, // IPv4
            0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0x00, 0, 0, 0, 0, // TCP
        ];
        let c = tcpudp_ipv4(&p, 6).unwrap();
        p[36..38].copy_from_slice(&c.to_be_bytes());
        // A correct checksum makes the whole segment plus pseudo-header sum to 0xffff.
        let mut v = Checksum::new();
        v.add_bytes(&p[12..20]).add_u16(6).add_u16(20).add_bytes(&p[20..]);
        assert_eq!(v.sum(), 0xffff);
    }

    #[test]
    fn ipv4_length_smaller_than_header_reads_one_byte() {
        let mut p = [0u8; 24];
        p[0] = 0x45;
        p[3] = 10; // tot_len 10 < 20
        p[20] = 0xaa;
        assert_eq!(tcpudp_ipv4_span(&p), Some(21));
        let mut c = Checksum::new();
        c.add_u16(17).add_u16(10u32.wrapping_sub(20) as u16).add_bytes(&[0xaa]);
        assert_eq!(tcpudp_ipv4(&p, 17), Some(c.finish()));
        assert_eq!(tcpudp_ipv4(&p[..20], 17), None);
    }

    #[test]
    fn ipv6_checksum_subtracts_extension_headers() {
        let mut ip6 = [0u8; 40];
        ip6[0] = 0x60;
        ip6[5] = 16; // payload 16 = 8 ext + 8 udp
        ip6[8..24].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip6[24..40].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let udp = [0x12, 0x34, 0x00, 0x35, 0x00, 0x08, 0, 0];
        let c = tcpudp_ipv6(&ip6, &udp, 48, 17).unwrap();
        let mut v = Checksum::new();
        v.add_bytes(&ip6[8..40]).add_u16(17).add_u16(8).add_bytes(&udp);
        assert_eq!(c, v.finish());
        assert_eq!(tcpudp_ipv6(&ip6, &udp[..7], 48, 17), None);
        assert_eq!(tcpudp_ipv6(&ip6[..39], &udp, 48, 17), None);
    }

    #[test]
    fn prefixes_never_panic() {
        let mut p = [0u8; 64];
        p[0] = 0x4f;
        p[2] = 0xff;
        p[3] = 0xff;
        for n in 0..=p.len() {
            let _ = tcpudp_ipv4_span(&p[..n]);
            let _ = tcpudp_ipv4(&p[..n], 6);
            let _ = tcpudp_ipv6_read_len(&p[..n], 40);
            let _ = tcpudp_ipv6(&p[..n], &p[..n], 0, 6);
            let _ = tcpudp_ipv6(&p[..n], &p[..n], u32::MAX, 17);
        }
    }
}
