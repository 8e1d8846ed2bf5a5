//! Packet headers and packet buffers: bounds-checked views of IPv4, IPv6, TCP, UDP and ICMP
//! headers over byte slices, the internet checksum (whole or incremental) with the IPv4 header
//! and TCP/UDP pseudo-header variants, the IPv6 extension-header walk, and [`PktBuf`](crate::packet::PktBuf), a packet
//! in a buffer with room to grow that can be mangled with its lengths and checksums fixed up.
//!
//! [`PktBuf`](crate::packet::PktBuf) and the [`fmt`](crate::packet::fmt) texts follow libnetfilter_queue's `pktb_*` and `nfq_ip*_*`,
//! `nfq_tcp_*`, `nfq_udp_*` helpers answer for answer (the compat exports are thin shims over
//! them), except that nothing here reads or writes outside the given buffer. No function panics
//! on any input.
//!
//! ```
//! use nfq_rs::packet::{Ipv4Header, TcpHeader};
//! let pkt = [
//!     0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, // IPv4
//!     0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0, // TCP SYN
//! ];
//! let ip = Ipv4Header::new(&pkt).unwrap();
//! let tcp = TcpHeader::new(&pkt[ip.header_len()..]).unwrap();
//! assert_eq!((ip.protocol(), tcp.dst_port(), tcp.syn()), (6, 80, true));
//! ```

pub mod checksum;
pub mod fmt;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod pktbuf;

pub use checksum::Checksum;
pub use ipv4::Ipv4Header;
pub use ipv6::Ipv6Header;
pub use l4::{IcmpHeader, TcpHeader, UdpHeader};
pub use pktbuf::{AF_BRIDGE, AF_INET, AF_INET6, Meta, PktBuf, PktError, Replacement};
