//! TCP (RFC 9293), UDP (RFC 768) and ICMP (RFC 792) header views over byte slices.
//!
//! ```
//! use nfq_rs::packet::{TcpHeader, UdpHeader, IcmpHeader};
//! let t = [0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0];
//! let t = TcpHeader::new(&t).unwrap();
//! assert_eq!((t.src_port(), t.dst_port(), t.header_len(), t.syn(), t.ack()), (40000, 80, 20, true, true));
//! let u = UdpHeader::new(&[0, 53, 0x80, 0, 0, 12, 0, 0]).unwrap();
//! assert_eq!((u.src_port(), u.dst_port(), u.len()), (53, 32768, 12));
//! let i = IcmpHeader::new(&[8, 0, 0xf7, 0xfe, 0, 1, 0, 0]).unwrap();
//! assert_eq!((i.icmp_type(), i.code(), i.id(), i.seq()), (8, 0, 1, 0));
//! ```

/// Length of a TCP header without options.
pub const TCP_MIN_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HDR_LEN: usize = 8;
/// Length of the ICMP header (`struct icmphdr`).
pub const ICMP_HDR_LEN: usize = 8;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// TCP flag bits of byte 13.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;
}

/// A view of a TCP header: at least 20 bytes.
#[derive(Clone, Copy, Debug)]
pub struct TcpHeader<'a> {
    bytes: &'a [u8],
}

impl<'a> TcpHeader<'a> {
    /// A view of `bytes`, or `None` if it is shorter than 20 bytes.
    pub fn new(bytes: &'a [u8]) -> Option<TcpHeader<'a>> {
        (bytes.len() >= TCP_MIN_LEN).then_some(TcpHeader { bytes })
    }
    /// The bytes the view was made from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.bytes, 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.bytes, 2)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.bytes, 4)
    }
    /// Acknowledgement number.
    pub fn ack_seq(&self) -> u32 {
        be32(self.bytes, 8)
    }
    /// Data offset in 32-bit words (`doff`).
    pub fn data_offset(&self) -> u8 {
        self.bytes[12] >> 4
    }
    /// Header length in bytes (`doff * 4`; may be below 20 in a malformed header).
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }
    /// The four reserved bits after the data offset.
    pub fn reserved(&self) -> u8 {
        self.bytes[12] & 0x0f
    }
    /// Flag byte (see [`tcp_flags`]).
    pub fn flags(&self) -> u8 {
        self.bytes[13]
    }
    /// FIN flag.
    pub fn fin(&self) -> bool {
        self.flags() & tcp_flags::FIN != 0
    }
    /// SYN flag.
    pub fn syn(&self) -> bool {
        self.flags() & tcp_flags::SYN != 0
    }
    /// RST flag.
    pub fn rst(&self) -> bool {
        self.flags() & tcp_flags::RST != 0
    }
    /// PSH flag.
    pub fn psh(&self) -> bool {
        self.flags() & tcp_flags::PSH != 0
    }
    /// ACK flag.
    pub fn ack(&self) -> bool {
        self.flags() & tcp_flags::ACK != 0
    }
    /// URG flag.
    pub fn urg(&self) -> bool {
        self.flags() & tcp_flags::URG != 0
    }
    /// Window.
    pub fn window(&self) -> u16 {
        be16(self.bytes, 14)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.bytes, 16)
    }
    /// Urgent pointer.
    pub fn urgent_ptr(&self) -> u16 {
        be16(self.bytes, 18)
    }
    /// Options: bytes 20 to the header length, clipped to the slice.
    pub fn options(&self) -> &'a [u8] {
        let end = self.header_len().clamp(TCP_MIN_LEN, self.bytes.len());
        &self.bytes[TCP_MIN_LEN..end]
    }
    /// Payload: what follows the header length, or `None` if the data offset is below 5 or
    /// beyond the slice.
    pub fn payload(&self) -> Option<&'a [u8]> {
        let h = self.header_len();
        if h < TCP_MIN_LEN {
            return None;
        }
        self.bytes.get(h..)
    }
}

/// A view of a UDP header: at least 8 bytes.
#[derive(Clone, Copy, Debug)]
pub struct UdpHeader<'a> {
    bytes: &'a [u8],
}

impl<'a> UdpHeader<'a> {
    /// A view of `bytes`, or `None` if it is shorter than 8 bytes.
    pub fn new(bytes: &'a [u8]) -> Option<UdpHeader<'a>> {
        (bytes.len() >= UDP_HDR_LEN).then_some(UdpHeader { bytes })
    }
    /// The bytes the view was made from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.bytes, 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.bytes, 2)
    }
    /// Length field (header and payload).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(self.bytes, 4)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.bytes, 6)
    }
    /// Payload per the length field, or `None` if the field is below 8 or beyond the slice.
    pub fn payload(&self) -> Option<&'a [u8]> {
        let l = usize::from(self.len());
        if l < UDP_HDR_LEN {
            return None;
        }
        self.bytes.get(UDP_HDR_LEN..l)
    }
}

/// A view of an ICMP header: at least 8 bytes.
#[derive(Clone, Copy, Debug)]
pub struct IcmpHeader<'a> {
    bytes: &'a [u8],
}

impl<'a> IcmpHeader<'a> {
    /// A view of `bytes`, or `None` if it is shorter than 8 bytes.
    pub fn new(bytes: &'a [u8]) -> Option<IcmpHeader<'a>> {
        (bytes.len() >= ICMP_HDR_LEN).then_some(IcmpHeader { bytes })
    }
    /// The bytes the view was made from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Type.
    pub fn icmp_type(&self) -> u8 {
        self.bytes[0]
    }
    /// Code.
    pub fn code(&self) -> u8 {
        self.bytes[1]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.bytes, 2)
    }
    /// Identifier (echo messages).
    pub fn id(&self) -> u16 {
        be16(self.bytes, 4)
    }
    /// Sequence number (echo messages).
    pub fn seq(&self) -> u16 {
        be16(self.bytes, 6)
    }
    /// The second 32-bit word (gateway, or id and sequence, or MTU: depends on the type).
    pub fn rest(&self) -> u32 {
        be32(self.bytes, 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_fields_and_options() {
        let mut b = [0u8; 28];
        b[..4].copy_from_slice(&[0x01, 0xbb, 0xc3, 0x50]);
        b[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        b[8..12].copy_from_slice(&7u32.to_be_bytes());
        b[12] = 0x6a; // doff 6, reserved 0xa
        b[13] = tcp_flags::URG | tcp_flags::PSH | tcp_flags::FIN;
        b[14..16].copy_from_slice(&512u16.to_be_bytes());
        b[16..18].copy_from_slice(&0x1234u16.to_be_bytes());
        b[18..20].copy_from_slice(&9u16.to_be_bytes());
        b[20..24].copy_from_slice(&[2, 4, 5, 0xb4]);
        let t = TcpHeader::new(&b).unwrap();
        assert_eq!((t.src_port(), t.dst_port(), t.seq(), t.ack_seq()), (443, 50000, 0xdead_beef, 7));
        assert_eq!((t.data_offset(), t.header_len(), t.reserved()), (6, 24, 0xa));
        assert!(t.urg() && t.psh() && t.fin() && !t.syn() && !t.ack() && !t.rst());
        assert_eq!((t.window(), t.checksum(), t.urgent_ptr()), (512, 0x1234, 9));
        assert_eq!(t.options(), &[2, 4, 5, 0xb4]);
        assert_eq!(t.payload().unwrap().len(), 4);
        b[12] = 0x40;
        assert_eq!(TcpHeader::new(&b).unwrap().payload(), None);
        b[12] = 0xf0;
        assert_eq!(TcpHeader::new(&b).unwrap().payload(), None);
        assert_eq!(TcpHeader::new(&b).unwrap().options().len(), 8);
    }

    #[test]
    fn udp_payload_follows_the_length_field() {
        let b = [0, 1, 0, 2, 0, 10, 0xab, 0xcd, 1, 2, 3, 4];
        let u = UdpHeader::new(&b).unwrap();
        assert_eq!(u.payload(), Some(&[1u8, 2][..]));
        assert_eq!(u.checksum(), 0xabcd);
        let b = [0, 1, 0, 2, 0, 7, 0, 0];
        assert_eq!(UdpHeader::new(&b).unwrap().payload(), None);
        let b = [0, 1, 0, 2, 0, 9, 0, 0];
        assert_eq!(UdpHeader::new(&b).unwrap().payload(), None);
    }

    #[test]
    fn icmp_fields() {
        let i = IcmpHeader::new(&[3, 4, 0, 0, 0, 0, 0x05, 0xdc]).unwrap();
        assert_eq!((i.icmp_type(), i.code(), i.rest()), (3, 4, 1500));
    }

    #[test]
    fn every_prefix_is_safe() {
        let b = [0xffu8; 64];
        for n in 0..=b.len() {
            let s = &b[..n];
            match TcpHeader::new(s) {
                Some(t) => {
                    assert!(n >= 20);
                    let _ = (t.options(), t.payload(), t.flags(), t.urgent_ptr());
                }
                None => assert!(n < 20),
            }
            match UdpHeader::new(s) {
                Some(u) => {
                    assert!(n >= 8);
                    let _ = (u.payload(), u.checksum());
                }
                None => assert!(n < 8),
            }
            match IcmpHeader::new(s) {
                Some(i) => {
                    assert!(n >= 8);
                    let _ = (i.rest(), i.seq());
                }
                None => assert!(n < 8),
            }
        }
    }
}
