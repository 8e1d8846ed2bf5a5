//! IPv4 header view (RFC 791) over a byte slice.
//!
//! ```text
//! 45 00 00 73  00 00 40 00  40 11 b8 61  c0 a8 00 01  c0 a8 00 c7
//! ver/ihl tos tot_len      id    flags/frag ttl proto check  saddr        daddr
//! ```
//!
//! ```
//! use nfq_rs::packet::Ipv4Header;
//! let b = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61, 192, 168, 0, 1, 192, 168, 0, 199];
//! let h = Ipv4Header::new(&b).unwrap();
//! assert_eq!((h.version(), h.header_len(), h.total_len(), h.protocol()), (4, 20, 115, 17));
//! assert_eq!(h.src(), [192, 168, 0, 1]);
//! assert!(h.checksum_ok());
//! ```

use super::checksum::checksum;

/// Length of an IPv4 header without options.
pub const IPV4_MIN_LEN: usize = 20;

/// A view of an IPv4 header: at least [`IPV4_MIN_LEN`] bytes. Options and payload are
/// whatever follows in the slice; nothing else is validated.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Header<'a> {
    bytes: &'a [u8],
}

impl<'a> Ipv4Header<'a> {
    /// A view of `bytes`, or `None` if it is shorter than 20 bytes.
    pub fn new(bytes: &'a [u8]) -> Option<Ipv4Header<'a>> {
        (bytes.len() >= IPV4_MIN_LEN).then_some(Ipv4Header { bytes })
    }

    fn be16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    /// The bytes the view was made from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Version nibble (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.bytes[0] >> 4
    }
    /// Header length in 32-bit words (`ihl`).
    pub fn ihl(&self) -> u8 {
        self.bytes[0] & 0x0f
    }
    /// Header length in bytes (`ihl * 4`; may be below 20 in a malformed header).
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }
    /// Type of service byte.
    pub fn tos(&self) -> u8 {
        self.bytes[1]
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        self.be16(2)
    }
    /// Identification field.
    pub fn id(&self) -> u16 {
        self.be16(4)
    }
    /// Flags and fragment offset (16 bits as on the wire).
    pub fn frag_off(&self) -> u16 {
        self.be16(6)
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.bytes[8]
    }
    /// Protocol of the payload (`IPPROTO_*`).
    pub fn protocol(&self) -> u8 {
        self.bytes[9]
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        self.be16(10)
    }
    /// Source address.
    pub fn src(&self) -> [u8; 4] {
        [self.bytes[12], self.bytes[13], self.bytes[14], self.bytes[15]]
    }
    /// Destination address.
    pub fn dst(&self) -> [u8; 4] {
        [self.bytes[16], self.bytes[17], self.bytes[18], self.bytes[19]]
    }
    /// Options: the bytes from 20 to the header length, clipped to the slice.
    pub fn options(&self) -> &'a [u8] {
        let end = self.header_len().clamp(IPV4_MIN_LEN, self.bytes.len());
        &self.bytes[IPV4_MIN_LEN..end]
    }
    /// Whether the header checksum is right (false if the header is cut short).
    pub fn checksum_ok(&self) -> bool {
        self.bytes.get(..self.header_len()).is_some_and(|h| self.header_len() >= IPV4_MIN_LEN && checksum(h) == 0)
    }
}

/// Recomputes the header checksum of the IPv4 header at the start of `hdr` the way
/// `nfq_ip_set_checksum` does: the field is zeroed, then the sum runs over `ihl * 4` bytes
/// (whatever `ihl` says, even below 20). Returns false, changing nothing, if `hdr` is shorter
/// than `max(12, ihl * 4)` bytes.
pub fn set_checksum(hdr: &mut [u8]) -> bool {
    let Some(&b0) = hdr.first() else {
        return false;
    };
    let hlen = usize::from(b0 & 0x0f) * 4;
    if hdr.len() < hlen.max(12) {
        return false;
    }
    hdr[10] = 0;
    hdr[11] = 0;
    let c = checksum(&hdr[..hlen]);
    hdr[10..12].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const PING: [u8; 20] = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61, 192, 168, 0, 1, 192, 168, 0, 199];

    #[test]
    fn fields_of_a_known_header() {
        let h = Ipv4Header::new(&PING).unwrap();
        assert_eq!(h.version(), 4);
        assert_eq!(h.ihl(), 5);
        assert_eq!(h.tos(), 0);
        assert_eq!(h.total_len(), 115);
        assert_eq!(h.id(), 0);
        assert_eq!(h.frag_off(), 0x4000);
        assert_eq!(h.ttl(), 64);
        assert_eq!(h.protocol(), 17);
        assert_eq!(h.checksum(), 0xb861);
        assert_eq!(h.dst(), [192, 168, 0, 199]);
        assert!(h.options().is_empty());
        assert!(h.checksum_ok());
    }

    #[test]
    fn set_checksum_restores_a_known_checksum() {
        let mut b = PING;
        b[10] = 0x12;
        b[11] = 0x34;
        assert!(set_checksum(&mut b));
        assert_eq!(b, PING);
    }

    #[test]
    fn set_checksum_covers_options_and_refuses_short_buffers() {
        let mut b = [0u8; 24];
        b[..20].copy_from_slice(&PING);
        b[0] = 0x46;
        b[20..24].copy_from_slice(&[1, 1, 1, 0]);
        assert!(set_checksum(&mut b));
        assert!(Ipv4Header::new(&b).unwrap().checksum_ok());
        assert_eq!(Ipv4Header::new(&b).unwrap().options(), &[1, 1, 1, 0]);
        let before = b;
        assert!(!set_checksum(&mut b[..23]));
        assert_eq!(b, before);
        // ihl 0: sums nothing, stores 0xffff
        let mut z = [0u8; 12];
        assert!(set_checksum(&mut z));
        assert_eq!(&z[10..12], &[0xff, 0xff]);
        assert!(!set_checksum(&mut []));
    }

    #[test]
    fn every_prefix_is_safe() {
        let mut b = [0xffu8; 64];
        b[..20].copy_from_slice(&PING);
        b[0] = 0x4f;
        for n in 0..=b.len() {
            let mut c = b;
            let _ = set_checksum(&mut c[..n]);
            if let Some(h) = Ipv4Header::new(&b[..n]) {
                assert!(n >= 20);
                let _ = (h.options(), h.checksum_ok(), h.src(), h.dst(), h.header_len());
            } else {
                assert!(n < 20);
            }
        }
    }
}
