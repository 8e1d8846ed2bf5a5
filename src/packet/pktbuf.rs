//! `PktBuf`: a packet in a buffer with room to grow, with the semantics of
//! libnetfilter_queue's `struct pkt_buff` and the operations its `pktb_*`, `nfq_ip*_*`,
//! `nfq_tcp_*`, `nfq_udp_*` and `nfq_icmp_*` helpers perform on it.
//!
//! The buffer (`storage`) holds the packet at offset 0 followed by spare room. Positions are
//! offsets into it: `data` (moved only by [`push`](PktBuf::push)/[`pull`](PktBuf::pull)),
//! the tail `data + len`, and the MAC, network and transport headers. The upstream bookkeeping
//! is kept as is (`len`, `data_len`, `tailroom = data_len - len` in 32-bit arithmetic), so the
//! answers are upstream's. What differs is that nothing ever reads or writes outside `storage`:
//!
//! - the packet is taken to end at the tail clipped to the buffer (upstream trusts the tail,
//!   which `put`/`trim`/`pull` can move past the allocation);
//! - a header position beyond the end is "no room" (upstream compares the negative distance as
//!   an unsigned number and goes on to read there);
//! - an operation whose reads or writes would leave the buffer fails instead (for example
//!   [`mangle`](PktBuf::mangle) growing by more than the tail room, a match region past the
//!   tail, or a missing network header).
//!
//! ```
//! use nfq_rs::packet::{PktBuf, Replacement, AF_INET};
//! // IPv4/UDP 10.0.0.1:1000 -> 10.0.0.2:53, payload "hello"
//! let mut p = vec![0x45, 0, 0, 33, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! p.extend_from_slice(&[0x03, 0xe8, 0, 53, 0, 13, 0, 0]);
//! p.extend_from_slice(b"hello");
//! let mut pb = PktBuf::alloc(AF_INET, &p, 16).unwrap();
//! let ihl = pb.ip_hdr().unwrap().ihl();
//! assert!(pb.set_transport_ipv4(ihl));
//! assert!(pb.udp_mangle_ipv4(0, 5, Replacement::Bytes(b"hello, world")));
//! assert_eq!(pb.len(), 40);
//! assert_eq!(&pb.packet()[28..], b"hello, world");
//! assert!(pb.ip_hdr().unwrap().checksum_ok());
//! assert_eq!(pb.udp_hdr().unwrap().len(), 20);
//! ```

use super::checksum::{tcpudp_ipv4, tcpudp_ipv4_span, tcpudp_ipv6, tcpudp_ipv6_read_len};
use super::ipv4::{self, IPV4_MIN_LEN, Ipv4Header};
use super::ipv6::{IPV6_HDR_LEN, Ipv6Header, find_header};
use super::l4::{IcmpHeader, TCP_MIN_LEN, TcpHeader, UDP_HDR_LEN, UdpHeader};

/// `AF_INET`: the buffer starts with an IPv4 header.
pub const AF_INET: i32 = 2;
/// `AF_BRIDGE`: the buffer starts with an Ethernet header.
pub const AF_BRIDGE: i32 = 7;
/// `AF_INET6`: the buffer starts with an IPv6 header.
pub const AF_INET6: i32 = 10;
/// Length of an Ethernet header.
pub const ETH_HLEN: usize = 14;
/// EtherType of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;

/// Why a packet buffer could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PktError {
    /// `AF_BRIDGE` and the EtherType is not IPv4 or IPv6 (upstream's errno EPROTONOSUPPORT).
    #[error(
        "AF_BRIDGE frame whose EtherType is not IPv4 or IPv6 (libnetfilter_queue compares it in host byte \
         order, so on little-endian hosts a real 08 00 frame is refused)"
    )]
    ProtoNotSupported,
    /// The packet is longer than the buffer, or the buffer does not fit 32-bit lengths.
    #[error("packet length larger than its buffer, or buffer larger than 4 GiB")]
    BadLength,
}

/// Positions and counters of a packet buffer (upstream's `struct pkt_buff` fields, with
/// pointers as offsets into the buffer; `None` for a NULL pointer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// Offset of the packet start (`pktb_data`); 0 unless pushed or pulled.
    pub data: i64,
    /// Packet length from `data` (`pktb_len`).
    pub len: u32,
    /// Length plus the room given at creation (upstream's `data_len`).
    pub data_len: u32,
    /// MAC header (AF_BRIDGE only).
    pub mac: Option<i64>,
    /// Network header.
    pub network: Option<i64>,
    /// Transport header, once set.
    pub transport: Option<i64>,
    /// Whether a mangle succeeded.
    pub mangled: bool,
}

/// The new content given to a mangle.
#[derive(Clone, Copy, Debug)]
pub enum Replacement<'a> {
    /// Bytes from elsewhere.
    Bytes(&'a [u8]),
    /// `len` bytes at `offset` of the packet buffer itself. They are read after the tail has
    /// been moved, as upstream's `memmove` then `memcpy` does.
    Within {
        /// Offset in the buffer.
        offset: usize,
        /// Length.
        len: usize,
    },
}

impl Replacement<'_> {
    fn len(&self) -> usize {
        match self {
            Replacement::Bytes(b) => b.len(),
            Replacement::Within { len, .. } => *len,
        }
    }
}

/// Where the MAC and network headers are for a packet of `family` in `storage`: IPv4/IPv6 at
/// 0; for AF_BRIDGE the MAC header at 0 and the network header at 14 when the EtherType is IPv4
/// or IPv6. Upstream reads that EtherType as a host-order number (a bug kept for
/// compatibility: on little-endian hosts only the byte-swapped `00 08` / `dd 86` pass). Other
/// families have no network header.
pub fn family_layout(family: i32, storage: &[u8]) -> Result<(Option<i64>, Option<i64>), PktError> {
    match family {
        AF_INET | AF_INET6 => Ok((None, Some(0))),
        AF_BRIDGE => {
            let (Some(&a), Some(&b)) = (storage.get(12), storage.get(13)) else {
                return Err(PktError::ProtoNotSupported);
            };
            match u16::from_ne_bytes([a, b]) {
                ETH_P_IP | ETH_P_IPV6 => Ok((Some(0), Some(ETH_HLEN as i64))),
                _ => Err(PktError::ProtoNotSupported),
            }
        }
        _ => Ok((None, None)),
    }
}

/// A packet in a buffer with room to grow (see the module documentation).
#[derive(Clone, Debug)]
pub struct PktBuf<B> {
    storage: B,
    meta: Meta,
}

impl PktBuf<Vec<u8>> {
    /// Copies `data` into a new buffer with `extra` bytes of room (zeroed), like `pktb_alloc`.
    pub fn alloc(family: i32, data: &[u8], extra: usize) -> Result<PktBuf<Vec<u8>>, PktError> {
        let total = data.len().checked_add(extra).ok_or(PktError::BadLength)?;
        let mut v = vec![0u8; total];
        v[..data.len()].copy_from_slice(data);
        PktBuf::new(family, v, data.len())
    }
}

impl<B: AsRef<[u8]>> PktBuf<B> {
    /// A packet of `len` bytes at the start of `storage`; the rest of `storage` is the room to
    /// grow (like `pktb_setup_raw`, without copying).
    pub fn new(family: i32, storage: B, len: usize) -> Result<PktBuf<B>, PktError> {
        let cap = storage.as_ref().len();
        let data_len = u32::try_from(cap).map_err(|_| PktError::BadLength)?;
        if len > cap {
            return Err(PktError::BadLength);
        }
        let (mac, network) = family_layout(family, storage.as_ref())?;
        let meta = Meta { data: 0, len: len as u32, data_len, mac, network, transport: None, mangled: false };
        Ok(PktBuf { storage, meta })
    }

    /// A packet buffer from its parts, for example a state saved with [`meta`](PktBuf::meta).
    /// Any meta is accepted: operations check every position against `storage`.
    pub fn with_meta(storage: B, meta: Meta) -> PktBuf<B> {
        PktBuf { storage, meta }
    }

    /// The positions and counters.
    pub fn meta(&self) -> Meta {
        self.meta
    }
    /// The whole buffer, room included.
    pub fn storage(&self) -> &[u8] {
        self.storage.as_ref()
    }
    /// Gives the buffer back.
    pub fn into_storage(self) -> B {
        self.storage
    }
    /// Packet length (`pktb_len`).
    pub fn len(&self) -> u32 {
        self.meta.len
    }
    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.meta.len == 0
    }
    /// Upstream's `data_len`: length plus the room given at creation.
    pub fn data_len(&self) -> u32 {
        self.meta.data_len
    }
    /// Room to grow (`pktb_tailroom`): `data_len - len`, in 32-bit arithmetic as upstream.
    pub fn tailroom(&self) -> u32 {
        self.meta.data_len.wrapping_sub(self.meta.len)
    }
    /// Offset of the packet start (`pktb_data`).
    pub fn data_offset(&self) -> i64 {
        self.meta.data
    }
    /// MAC header offset (`pktb_mac_header`).
    pub fn mac_header(&self) -> Option<i64> {
        self.meta.mac
    }
    /// Network header offset (`pktb_network_header`).
    pub fn network_header(&self) -> Option<i64> {
        self.meta.network
    }
    /// Transport header offset (`pktb_transport_header`), once set.
    pub fn transport_header(&self) -> Option<i64> {
        self.meta.transport
    }
    /// Whether a mangle succeeded (`pktb_mangled`).
    pub fn mangled(&self) -> bool {
        self.meta.mangled
    }

    /// The tail, `data + len`, unclipped.
    pub fn tail(&self) -> i64 {
        self.meta.data + i64::from(self.meta.len)
    }

    /// Where the packet ends for reading: the tail clipped to the buffer.
    fn end(&self) -> i64 {
        self.tail().clamp(0, self.storage.as_ref().len() as i64)
    }

    /// The bytes from `off` to the end of the packet, if `off` lies within it.
    fn bytes_from(&self, off: i64) -> Option<&[u8]> {
        if off < 0 || off > self.end() {
            return None;
        }
        self.storage.as_ref().get(off as usize..self.end() as usize)
    }

    /// The packet bytes, from its start to its end (empty if the start is outside the buffer).
    pub fn packet(&self) -> &[u8] {
        self.bytes_from(self.meta.data).unwrap_or(&[])
    }

    /// The bytes from the network header to the end of the packet.
    pub fn network_bytes(&self) -> Option<&[u8]> {
        self.bytes_from(self.meta.network?)
    }

    /// The bytes from the transport header to the end of the packet.
    pub fn transport_bytes(&self) -> Option<&[u8]> {
        self.bytes_from(self.meta.transport?)
    }

    /// Whether `[off, off + n)` lies inside the buffer (the room after the tail counts: upstream
    /// writes header fields there when a header is cut short).
    fn in_storage(&self, off: i64, n: usize) -> bool {
        off >= 0 && off.checked_add(n as i64).is_some_and(|e| e <= self.storage.as_ref().len() as i64)
    }

    fn byte(&self, off: i64) -> Option<u8> {
        if off < 0 {
            return None;
        }
        self.storage.as_ref().get(off as usize).copied()
    }

    /// `pktb_push`: moves the start back by `n` (no checks; upstream's 32-bit length).
    pub fn push(&mut self, n: u32) {
        self.meta.data -= i64::from(n);
        self.meta.len = self.meta.len.wrapping_add(n);
    }
    /// `pktb_pull`: moves the start forward by `n`.
    pub fn pull(&mut self, n: u32) {
        self.meta.data += i64::from(n);
        self.meta.len = self.meta.len.wrapping_sub(n);
    }
    /// `pktb_put`: grows the length by `n` (the caller has written the bytes in the room).
    pub fn put(&mut self, n: u32) {
        self.meta.len = self.meta.len.wrapping_add(n);
    }
    /// `pktb_trim`: sets the length.
    pub fn trim(&mut self, n: u32) {
        self.meta.len = n;
    }
    /// Sets the transport header offset directly.
    pub fn set_transport_header(&mut self, off: Option<i64>) {
        self.meta.transport = off;
    }

    /// `nfq_ip_get_hdr`: the IPv4 header at the network header, if at least 20 bytes remain,
    /// the version is 4 and `tot_len` fits in what remains (`ihl` is not checked).
    pub fn ip_hdr(&self) -> Option<Ipv4Header<'_>> {
        let b = self.network_bytes()?;
        let h = Ipv4Header::new(b)?;
        (h.version() == 4 && usize::from(h.total_len()) <= b.len()).then_some(h)
    }

    /// `nfq_ip_set_transport_header`: transport = network + `ihl * 4`, where `ihl` is the
    /// caller's header field. Fails (false, nothing set) if `(int)len - ihl*4 <= 0` (upstream
    /// compares with the whole length, not the length after the network header) or if there is
    /// no network header.
    pub fn set_transport_ipv4(&mut self, ihl: u8) -> bool {
        let doff = i64::from(ihl & 0x0f) * 4;
        if i64::from(self.meta.len as i32) - doff <= 0 {
            return false;
        }
        let Some(net) = self.meta.network else {
            return false;
        };
        self.meta.transport = Some(net + doff);
        true
    }

    /// `nfq_ip6_get_hdr`: the IPv6 header at the network header, if at least 40 bytes remain
    /// and the version nibble is 6.
    pub fn ip6_hdr(&self) -> Option<Ipv6Header<'_>> {
        let h = Ipv6Header::new(self.network_bytes()?)?;
        (h.version() == 6).then_some(h)
    }

    /// `nfq_ip6_set_transport_header` (git behaviour, see [`find_header`]) for the IPv6 header
    /// at offset `ip6`: sets the transport header to the header of protocol `target` and
    /// returns true, or clears it and returns false.
    pub fn set_transport_ipv6_at(&mut self, ip6: i64, target: u8) -> bool {
        let found = self.bytes_from(ip6).and_then(|b| find_header(b, target)).map(|off| ip6 + off as i64);
        self.meta.transport = found;
        found.is_some()
    }

    /// [`set_transport_ipv6_at`](PktBuf::set_transport_ipv6_at) the network header.
    pub fn set_transport_ipv6(&mut self, target: u8) -> bool {
        match self.meta.network {
            Some(net) => self.set_transport_ipv6_at(net, target),
            None => {
                self.meta.transport = None;
                false
            }
        }
    }

    /// `nfq_tcp_get_hdr`: the TCP header at the transport header if 20 bytes remain.
    pub fn tcp_hdr(&self) -> Option<TcpHeader<'_>> {
        TcpHeader::new(self.transport_bytes()?)
    }
    /// `nfq_udp_get_hdr`: the UDP header at the transport header if 8 bytes remain.
    pub fn udp_hdr(&self) -> Option<UdpHeader<'_>> {
        UdpHeader::new(self.transport_bytes()?)
    }
    /// `nfq_icmp_get_hdr`: the ICMP header at the transport header if 8 bytes remain.
    pub fn icmp_hdr(&self) -> Option<IcmpHeader<'_>> {
        IcmpHeader::new(self.transport_bytes()?)
    }

    /// `nfq_tcp_get_payload`: offset of the TCP payload for data offset `doff` (the caller's
    /// header field): transport + `doff * 4`, if that is at least 20 and within the packet.
    pub fn tcp_payload(&self, doff: u8) -> Option<i64> {
        let t = self.meta.transport?;
        let len = i64::from(doff & 0x0f) * 4;
        if len < TCP_MIN_LEN as i64 || t < 0 || t + len > self.end() {
            return None;
        }
        Some(t + len)
    }

    /// `nfq_tcp_get_payload_len`: `end - transport - doff * 4` in unsigned 32-bit arithmetic
    /// (unchecked, as upstream: it wraps when the header is longer than the packet). 0 without a
    /// transport header.
    pub fn tcp_payload_len(&self, doff: u8) -> u32 {
        self.meta.transport.map_or(0, |t| (self.end() - t - i64::from(doff & 0x0f) * 4) as u32)
    }

    /// `nfq_udp_get_payload`: offset of the UDP payload (transport + 8), if the caller's length
    /// field `udp_len` is at least 8 and transport + `udp_len` is within the packet.
    pub fn udp_payload(&self, udp_len: u16) -> Option<i64> {
        let t = self.meta.transport?;
        if usize::from(udp_len) < UDP_HDR_LEN || t < 0 || t + i64::from(udp_len) > self.end() {
            return None;
        }
        Some(t + UDP_HDR_LEN as i64)
    }

    /// `nfq_udp_get_payload_len`: `end - transport - 8`, unsigned 32-bit (wraps like upstream).
    pub fn udp_payload_len(&self) -> u32 {
        self.meta.transport.map_or(0, |t| (self.end() - t - UDP_HDR_LEN as i64) as u32)
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> PktBuf<B> {
    /// The whole buffer, writable. Positions are not changed.
    pub fn storage_mut(&mut self) -> &mut [u8] {
        self.storage.as_mut()
    }

    fn put_be16(&mut self, off: i64, v: u16) -> bool {
        if !self.in_storage(off, 2) {
            return false;
        }
        let o = off as usize;
        self.storage.as_mut()[o..o + 2].copy_from_slice(&v.to_be_bytes());
        true
    }

    /// `pktb_mangle`: replaces `mlen` bytes at network + `dataoff` + `moff` with `rep`, moving
    /// the rest of the packet, and marks the buffer mangled. Checksums are not updated.
    ///
    /// Fails (false, nothing changed) if there is no network header, if the packet would grow
    /// by more than [`tailroom`](PktBuf::tailroom) (upstream then tries to "enlarge" the packet
    /// and, when the growth is at most twice the room, writes past its buffer; here it simply
    /// fails), or if the region or the moved tail would lie outside the buffer (upstream's
    /// `memmove` gets a negative length there).
    pub fn mangle(&mut self, dataoff: i32, moff: u32, mlen: u32, rep: Replacement<'_>) -> bool {
        let Some(net) = self.meta.network else {
            return false;
        };
        let Ok(rlen) = u32::try_from(rep.len()) else {
            return false;
        };
        if rlen > mlen && rlen - mlen > self.tailroom() {
            return false;
        }
        let cap = self.storage.as_ref().len() as i64;
        let start = net + i64::from(dataoff) + i64::from(moff);
        let mend = start + i64::from(mlen);
        let tail = self.tail();
        if start < 0 || mend > tail || tail > cap || tail - i64::from(mlen) + i64::from(rlen) > cap {
            return false;
        }
        if let Replacement::Within { offset, len } = rep {
            if offset.checked_add(len).is_none_or(|e| e as i64 > cap) {
                return false;
            }
        }
        let (start, mend, tail) = (start as usize, mend as usize, tail as usize);
        let buf = self.storage.as_mut();
        buf.copy_within(mend..tail, start + rlen as usize);
        match rep {
            Replacement::Bytes(b) => buf[start..start + b.len()].copy_from_slice(b),
            Replacement::Within { offset, len } => buf.copy_within(offset..offset + len, start),
        }
        self.meta.len = if rlen > mlen {
            self.meta.len.wrapping_add(rlen - mlen)
        } else {
            self.meta.len.wrapping_add(rlen).wrapping_sub(mlen)
        };
        self.meta.mangled = true;
        true
    }

    /// IPv4 header length at `net` for fixing it up: `max(12, ihl * 4)` bytes (the checksum
    /// field and the bytes summed) must lie in the buffer.
    fn ipv4_fix_len(&self, net: i64) -> Option<usize> {
        let ihl4 = usize::from(self.byte(net)? & 0x0f) * 4;
        let n = ihl4.max(12);
        self.in_storage(net, n).then_some(n)
    }

    /// `nfq_ip_mangle`: [`mangle`](PktBuf::mangle), then `tot_len = tail - network` (low 16
    /// bits) and the header checksum. Fails without changing anything if the IPv4 header is
    /// not inside the buffer.
    pub fn ip_mangle(&mut self, dataoff: u32, moff: u32, mlen: u32, rep: Replacement<'_>) -> bool {
        let Some(net) = self.meta.network else {
            return false;
        };
        if self.ipv4_fix_len(net).is_none() || !self.mangle(dataoff as i32, moff, mlen, rep) {
            return false;
        }
        self.fix_ipv4_header(net)
    }

    /// Sets `tot_len` from the tail and recomputes the checksum of the IPv4 header at `net`.
    fn fix_ipv4_header(&mut self, net: i64) -> bool {
        let tot = (self.tail() - net) as u16;
        // The header may have been changed by the mangle: look at ihl again.
        let Some(n) = self.ipv4_fix_len(net) else {
            return false;
        };
        let o = net as usize;
        let hdr = &mut self.storage.as_mut()[o..o + n];
        hdr[2..4].copy_from_slice(&tot.to_be_bytes());
        ipv4::set_checksum(hdr)
    }

    /// `nfq_ip6_mangle`: [`mangle`](PktBuf::mangle), then
    /// `payload_len = tail - network - 40` (low 16 bits). Fails without changing anything if
    /// the payload length field is not inside the buffer.
    pub fn ip6_mangle(&mut self, dataoff: u32, moff: u32, mlen: u32, rep: Replacement<'_>) -> bool {
        let Some(net) = self.meta.network else {
            return false;
        };
        if !self.in_storage(net + 4, 2) || !self.mangle(dataoff as i32, moff, mlen, rep) {
            return false;
        }
        let plen = (self.tail() - net - IPV6_HDR_LEN as i64) as u16;
        self.put_be16(net + 4, plen)
    }

    /// Recomputes the TCP or UDP checksum of the segment at `l4` (checksum field at
    /// `l4 + check_at`) inside the IPv4 packet at `ip`, as `nfq_{tcp,udp}_compute_checksum_ipv4`
    /// does (lengths from `tot_len`; see [`tcpudp_ipv4`]). False if it would leave the buffer.
    pub fn l4_checksum_ipv4_at(&mut self, l4: i64, check_at: i64, ip: i64, proto: u8) -> bool {
        let Some(span) = self.storage_from(ip).and_then(tcpudp_ipv4_span) else {
            return false;
        };
        if !self.in_storage(ip, span.max(IPV4_MIN_LEN)) || !self.put_be16(l4 + check_at, 0) {
            return false;
        }
        let o = ip as usize;
        let Some(c) = tcpudp_ipv4(&self.storage.as_ref()[o..o + span], proto) else {
            return false;
        };
        self.put_be16(l4 + check_at, c)
    }

    /// Recomputes the TCP or UDP checksum of the segment at `l4` inside the IPv6 packet at
    /// `ip6`, as `nfq_{tcp,udp}_compute_checksum_ipv6` does (see [`tcpudp_ipv6`]). False if
    /// the segment starts before the IPv6 header or a read or write would leave the buffer.
    pub fn l4_checksum_ipv6_at(&mut self, l4: i64, check_at: i64, ip6: i64, proto: u8) -> bool {
        if l4 < ip6 || !self.in_storage(ip6, IPV6_HDR_LEN) {
            return false;
        }
        let hdr_len = (l4 - ip6) as u32;
        let Some(n) = self.storage_from(ip6).and_then(|b| tcpudp_ipv6_read_len(b, hdr_len)) else {
            return false;
        };
        if !self.in_storage(l4, n) || !self.put_be16(l4 + check_at, 0) {
            return false;
        }
        let s = self.storage.as_ref();
        let (i, l) = (ip6 as usize, l4 as usize);
        let Some(c) = tcpudp_ipv6(&s[i..i + IPV6_HDR_LEN], &s[l..l + n], hdr_len, proto) else {
            return false;
        };
        self.put_be16(l4 + check_at, c)
    }

    /// The bytes from `off` to the end of the buffer (room included).
    fn storage_from(&self, off: i64) -> Option<&[u8]> {
        if off < 0 {
            return None;
        }
        self.storage.as_ref().get(off as usize..)
    }

    /// `nfq_tcp_compute_checksum_ipv4` for the current network and transport headers.
    pub fn tcp_checksum_ipv4(&mut self) -> bool {
        match (self.meta.transport, self.meta.network) {
            (Some(t), Some(n)) => self.l4_checksum_ipv4_at(t, 16, n, 6),
            _ => false,
        }
    }
    /// `nfq_udp_compute_checksum_ipv4` for the current network and transport headers.
    pub fn udp_checksum_ipv4(&mut self) -> bool {
        match (self.meta.transport, self.meta.network) {
            (Some(t), Some(n)) => self.l4_checksum_ipv4_at(t, 6, n, 17),
            _ => false,
        }
    }
    /// `nfq_tcp_compute_checksum_ipv6` for the current network and transport headers.
    pub fn tcp_checksum_ipv6(&mut self) -> bool {
        match (self.meta.transport, self.meta.network) {
            (Some(t), Some(n)) => self.l4_checksum_ipv6_at(t, 16, n, 6),
            _ => false,
        }
    }
    /// `nfq_udp_compute_checksum_ipv6` for the current network and transport headers.
    pub fn udp_checksum_ipv6(&mut self) -> bool {
        match (self.meta.transport, self.meta.network) {
            (Some(t), Some(n)) => self.l4_checksum_ipv6_at(t, 6, n, 17),
            _ => false,
        }
    }

    /// `nfq_tcp_mangle_ipv4`: mangles the TCP payload (offsets from its start, which is
    /// network + `ihl*4` + `doff*4` computed from the network header, not from the transport
    /// header), then fixes the IPv4 length and checksum and the TCP checksum.
    pub fn tcp_mangle_ipv4(&mut self, moff: u32, mlen: u32, rep: Replacement<'_>) -> bool {
        let Some(net) = self.meta.network else {
            return false;
        };
        let Some(ihl4) = self.byte(net).map(|b| i64::from(b & 0x0f) * 4) else {
            return false;
        };
        let th = net + ihl4;
        if !self.in_storage(th, 18) {
            return false;
        }
        let doff4 = i64::from(self.byte(th + 12).unwrap_or(0) >> 4) * 4;
        if !self.ip_mangle((ihl4 + doff4) as u32, moff, mlen, rep) {
            return false;
        }
        self.l4_checksum_ipv4_at(th, 16, net, 6)
    }

    /// `nfq_udp_mangle_ipv4`: sets the UDP length field to `len + rlen - mlen` **before**
    /// mangling (upstream leaves it changed when the mangle then fails), mangles the UDP payload
    /// (offsets from network + `ihl*4` + 8), then fixes the IPv4 length and checksum and the
    /// UDP checksum (a zero result stays zero).
    pub fn udp_mangle_ipv4(&mut self, moff: u32, mlen: u32, rep: Replacement<'_>) -> bool {
        let Some(net) = self.meta.network else {
            return false;
        };
        let Some(ihl4) = self.byte(net).map(|b| i64::from(b & 0x0f) * 4) else {
            return false;
        };
        let uh = net + ihl4;
        if !self.in_storage(uh, UDP_HDR_LEN) {
            return false;
        }
        self.bump_udp_len(uh, rep.len() as u32, mlen);
        if !self.ip_mangle((ihl4 + UDP_HDR_LEN as i64) as u32, moff, mlen, rep) {
            return false;
        }
        self.l4_checksum_ipv4_at(uh, 6, net, 17)
    }

    fn bump_udp_len(&mut self, uh: i64, rlen: u32, mlen: u32) {
        let o = uh as usize + 4;
        let s = self.storage.as_mut();
        let old = u32::from(u16::from_be_bytes([s[o], s[o + 1]]));
        let new = old.wrapping_add(rlen).wrapping_sub(mlen) as u16;
        s[o..o + 2].copy_from_slice(&new.to_be_bytes());
    }

    /// `nfq_tcp_mangle_ipv6`: needs the transport header; mangles the TCP payload (offsets from
    /// transport + `doff*4`), fixes the IPv6 payload length and the TCP checksum.
    pub fn tcp_mangle_ipv6(&mut self, moff: u32, mlen: u32, rep: Replacement<'_>) -> bool {
        let (Some(net), Some(t)) = (self.meta.network, self.meta.transport) else {
            return false;
        };
        if !self.in_storage(t, 18) {
            return false;
        }
        let doff4 = i64::from(self.byte(t + 12).unwrap_or(0) >> 4) * 4;
        let dataoff = ((t - net) as u32).wrapping_add(doff4 as u32);
        if !self.ip6_mangle(dataoff, moff, mlen, rep) {
            return false;
        }
        self.l4_checksum_ipv6_at(t, 16, net, 6)
    }

    /// `nfq_udp_mangle_ipv6`: needs the transport header; updates the UDP length first (as the
    /// IPv4 variant), mangles the UDP payload, fixes the IPv6 payload length and UDP checksum.
    pub fn udp_mangle_ipv6(&mut self, moff: u32, mlen: u32, rep: Replacement<'_>) -> bool {
        let (Some(net), Some(t)) = (self.meta.network, self.meta.transport) else {
            return false;
        };
        if !self.in_storage(t, UDP_HDR_LEN) {
            return false;
        }
        self.bump_udp_len(t, rep.len() as u32, mlen);
        let dataoff = ((t - net) as u32).wrapping_add(UDP_HDR_LEN as u32);
        if !self.ip6_mangle(dataoff, moff, mlen, rep) {
            return false;
        }
        self.l4_checksum_ipv6_at(t, 6, net, 17)
    }
}

#[cfg(test)]
mod tests {
    use super::super::checksum::Checksum;
    use super::*;

    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// IPv4 (ihl 5 + `opts` words) / TCP (doff 5) with `payload`, checksums right.
    fn tcp4(opts: usize, payload: &[u8]) -> Vec<u8> {
        let ihl = 5 + opts;
        let mut p = vec![0u8; ihl * 4 + 20];
        p[0] = 0x40 | ihl as u8;
        let tot = (p.len() + payload.len()) as u16;
        p[2..4].copy_from_slice(&tot.to_be_bytes());
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        for b in &mut p[20..ihl * 4] {
            *b = 1; // NOP options
        }
        let t = ihl * 4;
        p[t..t + 2].copy_from_slice(&1234u16.to_be_bytes());
        p[t + 2..t + 4].copy_from_slice(&80u16.to_be_bytes());
        p[t + 12] = 0x50;
        p[t + 13] = 0x18;
        p.extend_from_slice(payload);
        assert!(ipv4::set_checksum(&mut p));
        let c = tcpudp_ipv4(&p, 6).unwrap();
        p[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn l4_ok_ipv4(p: &[u8]) -> bool {
        let ihl4 = usize::from(p[0] & 15) * 4;
        let tot = usize::from(u16::from_be_bytes([p[2], p[3]]));
        let mut c = Checksum::new();
        c.add_bytes(&p[12..20]).add_u16(u16::from(p[9])).add_u16((tot - ihl4) as u16).add_bytes(&p[ihl4..tot]);
        c.sum() == 0xffff
    }

    #[test]
    fn alloc_copies_and_sets_headers() {
        let p = tcp4(0, b"abc");
        let pb = PktBuf::alloc(AF_INET, &p, 10).unwrap();
        assert_eq!((pb.len(), pb.data_len(), pb.tailroom()), (43, 53, 10));
        assert_eq!((pb.network_header(), pb.mac_header(), pb.transport_header()), (Some(0), None, None));
        assert_eq!(pb.packet(), &p[..]);
        assert!(!pb.mangled());
        assert_eq!(&pb.storage()[43..], &[0; 10]);
        let other = PktBuf::alloc(17, &p, 0).unwrap();
        assert_eq!(other.network_header(), None);
        assert!(other.ip_hdr().is_none());
    }

    #[test]
    fn bridge_ethertype_is_compared_in_host_order() {
        let mut f = vec![0u8; 14];
        f.extend_from_slice(&tcp4(0, b""));
        f[12..14].copy_from_slice(&0x0800u16.to_ne_bytes());
        let pb = PktBuf::alloc(AF_BRIDGE, &f, 0).unwrap();
        assert_eq!((pb.mac_header(), pb.network_header()), (Some(0), Some(14)));
        assert!(pb.ip_hdr().is_some());
        f[12..14].copy_from_slice(&0x86ddu16.to_ne_bytes());
        assert!(PktBuf::alloc(AF_BRIDGE, &f, 0).is_ok());
        f[12..14].copy_from_slice(&0x0806u16.to_ne_bytes());
        assert_eq!(PktBuf::alloc(AF_BRIDGE, &f, 0).unwrap_err(), PktError::ProtoNotSupported);
        if cfg!(target_endian = "little") {
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            assert_eq!(PktBuf::alloc(AF_BRIDGE, &f, 0).unwrap_err(), PktError::ProtoNotSupported);
        }
        // the EtherType is read from the room when the frame is shorter than 14 bytes
        assert_eq!(PktBuf::alloc(AF_BRIDGE, &f[..13], 0).unwrap_err(), PktError::ProtoNotSupported);
        assert_eq!(PktBuf::alloc(AF_BRIDGE, &f[..12], 1).unwrap_err(), PktError::ProtoNotSupported);
        assert_eq!(PktBuf::new(AF_INET, vec![0; 4], 5).unwrap_err(), PktError::BadLength);
    }

    #[test]
    fn ip_hdr_checks_length_version_and_tot_len() {
        let p = tcp4(1, b"xy");
        assert!(PktBuf::alloc(AF_INET, &p, 0).unwrap().ip_hdr().is_some());
        assert!(PktBuf::alloc(AF_INET, &p[..19], 0).unwrap().ip_hdr().is_none());
        assert!(PktBuf::alloc(AF_INET, &p[..p.len() - 1], 0).unwrap().ip_hdr().is_none());
        let mut q = p.clone();
        q[0] = 0x65;
        assert!(PktBuf::alloc(AF_INET, &q, 0).unwrap().ip_hdr().is_none());
        // tot_len smaller than the buffer is fine; ihl is not checked
        let mut q = p.clone();
        q[3] = 10;
        q[0] = 0x4f;
        assert!(PktBuf::alloc(AF_INET, &q, 0).unwrap().ip_hdr().is_some());
    }

    #[test]
    fn transport_ipv4_uses_the_whole_length() {
        let p = tcp4(0, b"");
        let mut pb = PktBuf::alloc(AF_INET, &p, 0).unwrap();
        assert!(pb.set_transport_ipv4(5));
        assert_eq!(pb.transport_header(), Some(20));
        assert_eq!(pb.tcp_hdr().unwrap().dst_port(), 80);
        assert_eq!(pb.tcp_payload(5), Some(40));
        assert_eq!(pb.tcp_payload_len(5), 0);
        assert_eq!(pb.tcp_payload_len(6), u32::MAX - 3);
        assert_eq!(pb.tcp_payload(6), None);
        assert_eq!(pb.tcp_payload(4), None);
        let mut short = PktBuf::alloc(AF_INET, &p[..20], 0).unwrap();
        assert!(!short.set_transport_ipv4(5));
        assert_eq!(short.transport_header(), None);
        assert!(short.set_transport_ipv4(4));
        assert!(short.tcp_hdr().is_none());
    }

    #[test]
    fn transport_beyond_the_tail_has_no_header() {
        // AF_BRIDGE: set_transport compares ihl*4 with the whole length (L2 included), so the
        // transport header can land past the tail.
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&ETH_P_IP.to_ne_bytes());
        f.extend_from_slice(&tcp4(0, b"")[..22]);
        let mut pb = PktBuf::alloc(AF_BRIDGE, &f, 0).unwrap();
        assert!(pb.set_transport_ipv4(8)); // 36 - 32 > 0
        assert_eq!(pb.transport_header(), Some(46));
        assert!(pb.tcp_hdr().is_none() && pb.udp_hdr().is_none() && pb.icmp_hdr().is_none());
        assert_eq!(pb.udp_payload(8), None);
    }

    #[test]
    fn udp_payload_follows_the_length_field() {
        let mut p = tcp4(0, b"");
        p[9] = 17;
        p.truncate(28);
        p[24..26].copy_from_slice(&8u16.to_be_bytes());
        let mut pb = PktBuf::alloc(AF_INET, &p, 0).unwrap();
        assert!(pb.set_transport_ipv4(5));
        assert_eq!(pb.udp_payload(8), Some(28));
        assert_eq!(pb.udp_payload(9), None);
        assert_eq!(pb.udp_payload(7), None);
        assert_eq!(pb.udp_payload_len(), 0);
        assert_eq!(pb.icmp_hdr().unwrap().icmp_type(), 0x04);
    }

    #[test]
    fn mangle_grows_shrinks_and_respects_tailroom() {
        let p = tcp4(0, b"hello world");
        let mut pb = PktBuf::alloc(AF_INET, &p, 4).unwrap();
        assert!(pb.mangle(40, 0, 5, Replacement::Bytes(b"howdy!!!!")));
        assert_eq!(&pb.packet()[40..], b"howdy!!!! world");
        assert_eq!((pb.len(), pb.tailroom()), (55, 0));
        assert!(pb.mangled());
        assert!(!pb.mangle(40, 0, 0, Replacement::Bytes(b"x")));
        assert!(pb.mangle(40, 0, 9, Replacement::Bytes(b"")));
        assert_eq!(&pb.packet()[40..], b" world");
        assert_eq!(pb.tailroom(), 9);
        // growth of more than the room fails even where upstream "enlarges" (up to 2x room)
        assert!(!pb.mangle(40, 0, 0, Replacement::Bytes(&[0; 10])));
        assert_eq!(pb.len(), 46);
        // region past the tail
        assert!(!pb.mangle(40, 6, 1, Replacement::Bytes(b"")));
        assert!(pb.mangle(40, 6, 0, Replacement::Bytes(b"!")));
        assert_eq!(&pb.packet()[40..], b" world!");
        // before the buffer
        assert!(!pb.mangle(-1, 0, 0, Replacement::Bytes(b"")));
        let mut none = PktBuf::alloc(0, &p, 4).unwrap();
        assert!(!none.mangle(0, 0, 0, Replacement::Bytes(b"")));
    }

    #[test]
    fn mangle_from_inside_reads_after_the_move() {
        let mut pb = PktBuf::alloc(AF_INET, b"0123456789", 4).unwrap();
        // replace "23" by 4 bytes taken from offset 6: after the tail moved by 2, offset 6
        // holds "45" shifted: "01" "23" -> the moved tail "456789" starts at 6.
        assert!(pb.mangle(0, 2, 2, Replacement::Within { offset: 6, len: 4 }));
        assert_eq!(pb.packet(), b"014567456789");
        assert!(!pb.mangle(0, 0, 0, Replacement::Within { offset: 12, len: 3 }));
    }

    #[test]
    fn ip_mangle_fixes_length_and_checksum() {
        let p = tcp4(2, b"abcdef");
        let mut pb = PktBuf::alloc(AF_INET, &p, 8).unwrap();
        assert!(pb.ip_mangle(48, 1, 2, Replacement::Bytes(b"XYZW")));
        let h = pb.ip_hdr().unwrap();
        assert_eq!(usize::from(h.total_len()), pb.len() as usize);
        assert!(h.checksum_ok());
        assert_eq!(&pb.packet()[48..], b"aXYZWdef");
    }

    #[test]
    fn tcp_mangle_ipv4_fixes_every_checksum() {
        for opts in 0..3 {
            let p = tcp4(opts, b"GET /index.html HTTP/1.0\r\n");
            let mut pb = PktBuf::alloc(AF_INET, &p, 64).unwrap();
            assert!(pb.tcp_mangle_ipv4(4, 11, Replacement::Bytes(b"/a/much/longer/path")));
            let q = pb.packet().to_vec();
            assert!(Ipv4Header::new(&q).unwrap().checksum_ok());
            assert!(l4_ok_ipv4(&q));
            assert!(q.ends_with(b"GET /a/much/longer/path HTTP/1.0\r\n"));
            assert!(pb.tcp_mangle_ipv4(0, 4, Replacement::Bytes(b"")));
            assert!(l4_ok_ipv4(pb.packet()));
        }
    }

    #[test]
    fn udp_mangle_updates_length_first_even_on_failure() {
        let mut p = tcp4(0, b"");
        p.truncate(20);
        p[9] = 17;
        p.extend_from_slice(&[0, 1, 0, 2, 0, 12, 0, 0, b'a', b'b', b'c', b'd']);
        p[2..4].copy_from_slice(&32u16.to_be_bytes());
        ipv4::set_checksum(&mut p);
        let mut pb = PktBuf::alloc(AF_INET, &p, 2).unwrap();
        assert!(pb.udp_mangle_ipv4(1, 1, Replacement::Bytes(b"BBB")));
        assert_eq!(&pb.packet()[28..], b"aBBBcd");
        assert_eq!(pb.udp_hdr().map(|u| u.len()), None); // transport not set
        assert_eq!(u16::from_be_bytes([pb.packet()[24], pb.packet()[25]]), 14);
        assert!(l4_ok_ipv4(pb.packet()));
        // no room left: fails, but the UDP length has already been bumped
        assert!(!pb.udp_mangle_ipv4(0, 0, Replacement::Bytes(b"zz")));
        assert_eq!(u16::from_be_bytes([pb.packet()[24], pb.packet()[25]]), 16);
        assert_eq!(pb.len(), 34);
    }

    fn ip6_udp(ext: &[u8], first: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = first;
        p[7] = 64;
        p[23] = 1;
        p[39] = 2;
        p.extend_from_slice(ext);
        let ulen = (8 + payload.len()) as u16;
        p.extend_from_slice(&[0x30, 0x39, 0, 53]);
        p.extend_from_slice(&ulen.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    }

    #[test]
    fn ipv6_transport_and_mangles() {
        let p = ip6_udp(&[17, 0, 1, 4, 0, 0, 0, 0], 0, b"payload");
        let mut pb = PktBuf::alloc(AF_INET6, &p, 16).unwrap();
        assert!(pb.ip6_hdr().is_some());
        assert!(!pb.set_transport_ipv6(6));
        assert_eq!(pb.transport_header(), None);
        assert!(!pb.udp_mangle_ipv6(0, 0, Replacement::Bytes(b"")));
        assert!(pb.set_transport_ipv6(17));
        assert_eq!(pb.transport_header(), Some(48));
        assert_eq!(pb.udp_payload(pb.udp_hdr().unwrap().len()), Some(56));
        assert!(pb.udp_mangle_ipv6(0, 7, Replacement::Bytes(b"PAYLOAD++")));
        let q = pb.packet().to_vec();
        assert_eq!(u16::from_be_bytes([q[4], q[5]]) as usize, q.len() - 40);
        assert_eq!(u16::from_be_bytes([q[52], q[53]]), 17);
        let mut c = Checksum::new();
        c.add_bytes(&q[8..40]).add_u16(17).add_u16(17).add_bytes(&q[48..]);
        assert_eq!(c.sum(), 0xffff);
        assert!(pb.ip6_mangle(0, 7, 1, Replacement::Bytes(&[1])));
        assert_eq!(pb.packet()[7], 1);
    }

    #[test]
    fn push_pull_put_trim_keep_upstream_arithmetic() {
        let mut pb = PktBuf::alloc(AF_INET, &tcp4(0, b""), 8).unwrap();
        pb.push(4);
        assert_eq!((pb.data_offset(), pb.len(), pb.tailroom(), pb.tail()), (-4, 44, 4, 40));
        assert_eq!(pb.packet(), &[] as &[u8]);
        pb.pull(6);
        assert_eq!((pb.data_offset(), pb.len(), pb.tailroom()), (2, 38, 10));
        // upstream's room is now larger than the buffer's: a mangle uses the buffer's
        assert!(!pb.mangle(0, 40, 0, Replacement::Bytes(&[0; 9])));
        assert!(pb.mangle(0, 40, 0, Replacement::Bytes(&[0; 8])));
        pb.trim(1000);
        assert_eq!(pb.packet().len(), 46);
        assert!(!pb.mangle(0, 0, 0, Replacement::Bytes(b"")));
        pb.put(u32::MAX);
        assert_eq!(pb.len(), 999);
        pb.pull(u32::MAX);
        assert_eq!(pb.packet(), &[] as &[u8]);
        let _ = pb.ip_hdr();
    }

    /// Runs every read-only helper and every mangle on `pb`.
    fn exercise(pb: &mut PktBuf<Vec<u8>>) {
        let _ = (pb.ip_hdr().map(|h| h.ihl()), pb.ip6_hdr().map(|h| h.next_header()));
        let ihl = pb.network_bytes().and_then(|b| b.first().copied()).unwrap_or(0x45) & 0x0f;
        let _ = pb.set_transport_ipv4(ihl) || pb.set_transport_ipv6(6) || pb.set_transport_ipv6(17);
        let _ = (pb.tcp_hdr().map(|h| h.flags()), pb.udp_hdr().map(|h| h.len()), pb.icmp_hdr().map(|h| h.code()));
        let _ = (pb.tcp_payload(5), pb.tcp_payload_len(15), pb.udp_payload(8), pb.udp_payload_len());
        let _ = (pb.tcp_checksum_ipv4(), pb.udp_checksum_ipv4(), pb.tcp_checksum_ipv6(), pb.udp_checksum_ipv6());
        let rep = Replacement::Bytes(b"0123456789");
        let _ = pb.tcp_mangle_ipv4(0, 3, rep) | pb.udp_mangle_ipv4(1, 2, rep) | pb.tcp_mangle_ipv6(0, 1, rep);
        let _ = pb.udp_mangle_ipv6(0, 0, rep) | pb.ip_mangle(20, 0, 4, rep) | pb.ip6_mangle(40, 2, 2, rep);
        let _ = pb.mangle(-14, 0, 2, rep) | pb.mangle(0, 1, 0, Replacement::Within { offset: 2, len: 4 });
    }

    #[test]
    fn every_prefix_of_real_packets_is_safe() {
        // hop-by-hop -> routing -> UDP
        let v6 = ip6_udp(&[43, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0], 0, b"data!");
        let mut bridge = vec![0u8; 12];
        bridge.extend_from_slice(&ETH_P_IP.to_ne_bytes());
        bridge.extend_from_slice(&tcp4(1, b"frame"));
        let cases = [(AF_INET, tcp4(3, b"GET / HTTP/1.1\r\n")), (AF_INET6, v6), (AF_BRIDGE, bridge)];
        for (fam, p) in cases {
            for n in 0..=p.len() {
                for extra in [0, 1, 8, 64] {
                    if let Ok(mut pb) = PktBuf::alloc(fam, &p[..n], extra) {
                        exercise(&mut pb);
                        assert_eq!(pb.storage().len(), n + extra);
                        assert!(pb.len() as usize <= n + extra);
                    }
                }
            }
        }
    }

    #[test]
    fn random_operations_never_panic_or_leave_the_buffer() {
        let mut seed = 0xfeed_f00d_u64;
        for round in 0..4000 {
            let n = (rng(&mut seed) % 90) as usize;
            let mut pkt: Vec<u8> = (0..n).map(|_| rng(&mut seed) as u8).collect();
            if n > 0 && round % 2 == 0 {
                pkt[0] = if round % 4 == 0 { 0x45 } else { 0x60 };
            }
            let fam = [AF_INET, AF_INET6, AF_BRIDGE, 0][(rng(&mut seed) % 4) as usize];
            let extra = (rng(&mut seed) % 20) as usize;
            let Ok(mut pb) = PktBuf::alloc(fam, &pkt, extra) else { continue };
            let cap = pb.storage().len();
            for _ in 0..12 {
                let r = rng(&mut seed);
                let small = (r >> 8) as u32 % 64;
                let rep = vec![0xaau8; ((r >> 20) % 24) as usize];
                match r % 22 {
                    0 => pb.push(small % 4),
                    1 => pb.pull(small % 4),
                    2 => pb.put(small % 8),
                    3 => pb.trim(small),
                    4 => {
                        let _ = pb.set_transport_ipv4((r >> 30) as u8);
                    }
                    5 => {
                        let _ = pb.set_transport_ipv6((r >> 30) as u8 % 64);
                    }
                    6 => {
                        let _ = pb.mangle((small as i32) - 20, small % 7, small % 9, Replacement::Bytes(&rep));
                    }
                    7 => {
                        let _ = pb.ip_mangle(small, small % 5, small % 3, Replacement::Bytes(&rep));
                    }
                    8 => {
                        let _ = pb.ip6_mangle(small, small % 5, small % 3, Replacement::Bytes(&rep));
                    }
                    9 => {
                        let _ = pb.tcp_mangle_ipv4(small % 5, small % 3, Replacement::Bytes(&rep));
                    }
                    10 => {
                        let _ = pb.udp_mangle_ipv4(small % 5, small % 3, Replacement::Bytes(&rep));
                    }
                    11 => {
                        let _ = pb.tcp_mangle_ipv6(small % 5, small % 3, Replacement::Bytes(&rep));
                    }
                    12 => {
                        let _ = pb.udp_mangle_ipv6(small % 5, small % 3, Replacement::Bytes(&rep));
                    }
                    13 => {
                        let _ = (pb.ip_hdr().is_some(), pb.ip6_hdr().is_some());
                    }
                    14 => {
                        let _ = (pb.tcp_hdr().is_some(), pb.udp_hdr().is_some(), pb.icmp_hdr().is_some());
                    }
                    15 => {
                        let _ = (pb.tcp_payload((r >> 40) as u8), pb.tcp_payload_len((r >> 40) as u8));
                    }
                    16 => {
                        let _ = (pb.udp_payload((r >> 40) as u16), pb.udp_payload_len());
                    }
                    17 => {
                        let _ = (pb.tcp_checksum_ipv4(), pb.udp_checksum_ipv4());
                    }
                    18 => {
                        let _ = (pb.tcp_checksum_ipv6(), pb.udp_checksum_ipv6());
                    }
                    19 => pb.set_transport_header(Some((r >> 33) as i64 % 200 - 50)),
                    20 => {
                        let _ =
                            pb.mangle(0, small % 9, small % 4, Replacement::Within { offset: small as usize, len: 3 });
                    }
                    _ => {
                        let _ = pb.packet().len();
                    }
                }
                assert_eq!(pb.storage().len(), cap);
            }
        }
    }
}
