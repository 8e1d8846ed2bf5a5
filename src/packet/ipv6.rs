//! IPv6 header view (RFC 8200) and the extension-header walk that finds the transport header.
//!
//! ```
//! use nfq_rs::packet::ipv6::{Ipv6Header, find_header};
//! let mut p = [0u8; 40 + 8 + 8];
//! p[0] = 0x60;
//! p[5] = 16;        // payload length
//! p[6] = 0;         // next: hop-by-hop options
//! p[40] = 17;       // hop-by-hop's next: UDP; its length 0 means 8 bytes
//! let h = Ipv6Header::new(&p).unwrap();
//! assert_eq!((h.version(), h.payload_len(), h.next_header()), (6, 16, 0));
//! assert_eq!(find_header(&p, 17), Some(48));
//! assert_eq!(find_header(&p, 6), None);
//! ```

/// Length of the fixed IPv6 header.
pub const IPV6_HDR_LEN: usize = 40;

/// Hop-by-hop options header.
pub const IPPROTO_HOPOPTS: u8 = 0;
/// Routing header.
pub const IPPROTO_ROUTING: u8 = 43;
/// Fragment header.
pub const IPPROTO_FRAGMENT: u8 = 44;
/// Authentication header.
pub const IPPROTO_AH: u8 = 51;
/// No next header.
pub const IPPROTO_NONE: u8 = 59;
/// Destination options header.
pub const IPPROTO_DSTOPTS: u8 = 60;

/// A view of an IPv6 header: at least 40 bytes.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Header<'a> {
    bytes: &'a [u8],
}

impl<'a> Ipv6Header<'a> {
    /// A view of `bytes`, or `None` if it is shorter than 40 bytes.
    pub fn new(bytes: &'a [u8]) -> Option<Ipv6Header<'a>> {
        (bytes.len() >= IPV6_HDR_LEN).then_some(Ipv6Header { bytes })
    }

    /// The bytes the view was made from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// The first 32-bit word (version, traffic class, flow label) in host order.
    pub fn vtc_flow(&self) -> u32 {
        u32::from_be_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
    }
    /// Version nibble (6).
    pub fn version(&self) -> u8 {
        self.bytes[0] >> 4
    }
    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.vtc_flow() >> 20) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.vtc_flow() & 0x000f_ffff
    }
    /// Payload length field (everything after the fixed header).
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }
    /// Next header field.
    pub fn next_header(&self) -> u8 {
        self.bytes[6]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.bytes[7]
    }
    /// Source address.
    pub fn src(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.bytes[8..24]);
        a
    }
    /// Destination address.
    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.bytes[24..40]);
        a
    }
}

/// Whether `proto` is one of the extension headers [`find_header`] steps over (NONE included:
/// it ends the walk).
pub fn is_extension(proto: u8) -> bool {
    matches!(proto, IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_FRAGMENT | IPPROTO_AH | IPPROTO_NONE | IPPROTO_DSTOPTS)
}

/// Finds the header of protocol `target` in the IPv6 packet `pkt` (starting at the fixed
/// header; the slice ends where the packet ends) and returns its offset. This is the walk of
/// `nfq_ip6_set_transport_header` in libnetfilter_queue's git tree:
///
/// - it steps over hop-by-hop, routing, destination options (`(len + 1) * 8` bytes), AH
///   (`(len + 2) * 4` bytes) and fragment headers (8 bytes), and stops early when one of those
///   is itself the `target`;
/// - NONE (59), a fragment that is not the first one (nonzero offset), or an extension header
///   that does not fit before the end gives `None`;
/// - after the extension headers, the next header must be `target`, otherwise `None`.
///
/// The offset returned can lie beyond the end of `pkt` when the last extension header claims
/// more bytes than there are (as upstream); readers check the length again. Unlike upstream,
/// the walk never reads past the end (upstream compares a negative distance as unsigned).
/// `None` if `pkt` is shorter than 40 bytes.
pub fn find_header(pkt: &[u8], target: u8) -> Option<usize> {
    let hdr = Ipv6Header::new(pkt)?;
    let mut next = hdr.next_header();
    let mut cur = IPV6_HDR_LEN;
    while is_extension(next) {
        if next == target {
            break;
        }
        if next == IPPROTO_NONE {
            return None;
        }
        let ext = pkt.get(cur..cur.checked_add(2)?)?;
        let len = if next == IPPROTO_FRAGMENT {
            let frag = pkt.get(cur..cur + 8)?;
            if u16::from_be_bytes([frag[2], frag[3]]) & !0x7 != 0 {
                return None;
            }
            8
        } else if next == IPPROTO_AH {
            (usize::from(ext[1]) + 2) << 2
        } else {
            (usize::from(ext[1]) + 1) << 3
        };
        next = ext[0];
        cur += len;
    }
    (next == target).then_some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(next: u8, ext: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x6a;
        p[1] = 0xbc;
        p[2] = 0xde;
        p[3] = 0xf1;
        p[4..6].copy_from_slice(&((ext.len()) as u16).to_be_bytes());
        p[6] = next;
        p[7] = 64;
        p.extend_from_slice(ext);
        p
    }

    #[test]
    fn fields() {
        let p = pkt(6, &[]);
        let h = Ipv6Header::new(&p).unwrap();
        assert_eq!(h.version(), 6);
        assert_eq!(h.traffic_class(), 0xab);
        assert_eq!(h.flow_label(), 0xcdef1);
        assert_eq!(h.hop_limit(), 64);
        assert_eq!(h.next_header(), 6);
        assert!(Ipv6Header::new(&p[..39]).is_none());
    }

    #[test]
    fn no_extension_headers() {
        let p = pkt(6, &[0; 20]);
        assert_eq!(find_header(&p, 6), Some(40));
        assert_eq!(find_header(&p, 17), None);
        // the target is found even when nothing follows the fixed header
        assert_eq!(find_header(&pkt(17, &[]), 17), Some(40));
    }

    #[test]
    fn steps_over_each_extension_kind() {
        // hop-by-hop (16 bytes) -> routing (8) -> dstopts (8) -> AH (12) -> fragment (8) -> TCP
        let mut e = vec![];
        e.extend_from_slice(&[IPPROTO_ROUTING, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        e.extend_from_slice(&[IPPROTO_DSTOPTS, 0, 0, 0, 0, 0, 0, 0]);
        e.extend_from_slice(&[IPPROTO_AH, 0, 0, 0, 0, 0, 0, 0]);
        e.extend_from_slice(&[IPPROTO_FRAGMENT, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        e.extend_from_slice(&[6, 0, 0x00, 0x01, 0, 0, 0, 1]); // offset 0, M=1: first fragment
        e.extend_from_slice(&[0; 20]);
        let p = pkt(IPPROTO_HOPOPTS, &e);
        assert_eq!(find_header(&p, 6), Some(40 + 16 + 8 + 8 + 12 + 8));
        // each extension header can itself be the target
        assert_eq!(find_header(&p, IPPROTO_HOPOPTS), Some(40));
        assert_eq!(find_header(&p, IPPROTO_ROUTING), Some(56));
        assert_eq!(find_header(&p, IPPROTO_DSTOPTS), Some(64));
        assert_eq!(find_header(&p, IPPROTO_AH), Some(72));
        assert_eq!(find_header(&p, IPPROTO_FRAGMENT), Some(84));
        assert_eq!(find_header(&p, 17), None);
    }

    #[test]
    fn later_fragment_and_none_fail() {
        let p = pkt(IPPROTO_FRAGMENT, &[6, 0, 0x00, 0x08, 0, 0, 0, 1, 0, 0]);
        assert_eq!(find_header(&p, 6), None);
        // the offset is in the high 13 bits; the low 3 bits (M flag, reserved) do not matter
        let p = pkt(IPPROTO_FRAGMENT, &[6, 0, 0x00, 0x07, 0xff, 0xff, 0xff, 0xff, 0, 0]);
        assert_eq!(find_header(&p, 6), Some(48));
        let p = pkt(IPPROTO_NONE, &[0; 8]);
        assert_eq!(find_header(&p, 6), None);
        assert_eq!(find_header(&p, IPPROTO_NONE), Some(40));
        let p = pkt(IPPROTO_DSTOPTS, &[IPPROTO_NONE, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(find_header(&p, 6), None);
    }

    #[test]
    fn truncated_extension_headers_fail() {
        assert_eq!(find_header(&pkt(IPPROTO_HOPOPTS, &[6]), 6), None);
        assert_eq!(find_header(&pkt(IPPROTO_FRAGMENT, &[6, 0, 0, 0, 0, 0, 0]), 6), None);
        // the header claims 2048 bytes: the offset lies beyond the end, as upstream computes it
        let p = pkt(IPPROTO_HOPOPTS, &[6, 255, 0, 0, 0, 0, 0, 0]);
        assert_eq!(find_header(&p, 6), Some(40 + 2048));
        // ... but a walk that would read there stops
        let p = pkt(IPPROTO_HOPOPTS, &[IPPROTO_ROUTING, 255, 0, 0, 0, 0, 0, 0]);
        assert_eq!(find_header(&p, 6), None);
    }

    #[test]
    fn every_prefix_and_random_input_is_safe() {
        let mut seed = 7u64;
        for _ in 0..3000 {
            let n = 40 + (seed % 80) as usize;
            let mut p = vec![0u8; n];
            for b in p.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // favour small values and extension-header numbers
                *b = match seed % 5 {
                    0 => [0, 43, 44, 51, 60][(seed >> 8) as usize % 5],
                    1 => 0,
                    _ => (seed >> 16) as u8,
                };
            }
            p[0] = 0x60;
            for k in 0..=p.len() {
                let _ = find_header(&p[..k], (seed >> 24) as u8);
                let _ = find_header(&p[..k], 6);
            }
        }
    }
}
