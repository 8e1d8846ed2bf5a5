//! Connection tracking on the nfnetlink core: decoding of the `CTA_*` attributes (the `NFQA_CT`
//! nest of a queued packet, and the messages of ctnetlink) into views, and the ctnetlink
//! subsystem itself (dump, get, create, update, delete, flush, statistics, events).
//!
//! The numbers here are the kernel's UAPI (`linux/netfilter/nfnetlink_conntrack.h`,
//! `nf_conntrack_common.h`, `nf_conntrack_tcp.h`, `nf_conntrack_sctp.h`).
//!
//! A connection as the kernel describes it inside `NFQA_CT` or a ctnetlink message, e.g. a UDP
//! flow 10.0.0.1:1000 → 10.0.0.2:53 (original tuple only):
//!
//! ```text
//! 34 00 01 80                    CTA_TUPLE_ORIG (nested, 52 bytes)
//!   14 00 01 80                    CTA_TUPLE_IP
//!     08 00 01 00 0a 00 00 01        CTA_IP_V4_SRC 10.0.0.1
//!     08 00 02 00 0a 00 00 02        CTA_IP_V4_DST 10.0.0.2
//!   1c 00 02 80                    CTA_TUPLE_PROTO
//!     05 00 01 00 11 00 00 00        CTA_PROTO_NUM 17
//!     06 00 02 00 03 e8 00 00        CTA_PROTO_SRC_PORT 1000
//!     06 00 03 00 00 35 00 00        CTA_PROTO_DST_PORT 53
//! 08 00 03 00 00 00 00 08        CTA_STATUS CONFIRMED
//! 08 00 08 00 00 00 00 2a        CTA_MARK 42
//! ```
//!
//! # The table: dump, get, update, delete, events
//!
//! ```no_run
//! use nfq_rs::conntrack::{Conntrack, CtEvent, DumpFilter, Events, Tuple, Update, groups};
//! use nfq_rs::netlink::Netns;
//! use std::time::Duration;
//!
//! let ns = Netns::Path("/var/run/netns/blue".into()); // or Netns::Current
//! let ct = Conntrack::open(&ns)?;
//! // Every IPv4 entry with mark 0x10 in its low byte (the kernel filters by mark).
//! ct.dump(libc::AF_INET as u8, &DumpFilter { mark: Some((0x10, 0xff)), ..Default::default() }, &mut |c| {
//!     println!("{c}"); // the `conntrack -L` layout
//!     true // go on
//! })?;
//! let t = Tuple::ports("10.0.0.1".parse()?, "10.0.0.2".parse()?, 17, 40000, 53);
//! let entry = ct.get(&t, None)?; // ErrorKind::NotFound if there is none
//! println!("timeout {:?}s, state {:?}", entry.view().timeout(), entry.view().proto_state_name());
//! ct.update(&t, None, &Update { mark: Some(0x20), mark_mask: Some(0xf0), ..Default::default() })?;
//! ct.delete(&t, None)?;
//!
//! let ev = Events::open(&ns, groups::NEW | groups::DESTROY)?;
//! ev.run(Some(10), Some(Duration::from_secs(5)), &mut |e| {
//!     if let CtEvent::Conn(kind, c) = e {
//!         println!("{:>9} {c}", kind.tag()); // like `conntrack -E`
//!     }
//!     true
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Expectations, the dying list, filters in the kernel, overflow
//!
//! ```no_run
//! use nfq_rs::conntrack::{
//!     ConnBuf, Conntrack, CtEvent, DumpFilter, EventFilter, Events, ExpectBuf, ProtoInfo, Table, TcpInfo, Tuple,
//!     groups, neg, tcp_state,
//! };
//! use nfq_rs::netlink::Netns;
//! use std::time::Duration;
//!
//! let ns = Netns::Current;
//! let ct = Conntrack::open(&ns)?;
//! let (a, b) = ("10.0.0.1".parse()?, "10.0.0.2".parse()?);
//! // A master connection with the FTP helper, and a data connection it expects.
//! let mut m = ConnBuf::new(0);
//! m.set_orig(Tuple::ports(a, b, 6, 40000, 21)).set_timeout(120).set_helper(b"ftp");
//! m.set_protoinfo(ProtoInfo::Tcp(TcpInfo { state: Some(tcp_state::ESTABLISHED), ..Default::default() }));
//! ct.create(&m.view())?;
//! let mut x = ExpectBuf::new(0);
//! x.set_master(Tuple::ports(a, b, 6, 40000, 21)).set_tuple(Tuple::ports(a, b, 6, 0, 50000));
//! x.set_timeout(60).set_helper(b"ftp"); // no mask: only the protocol must match
//! ct.create_expect(&x.view())?;
//! let got = ct.get_expect(&Tuple::ports(a, b, 6, 0, 50000), None, None)?;
//! ct.delete_expect_id(0, got.view().id().unwrap_or(0))?;
//!
//! // UDP to port 53, filtered by the kernel where it can (see last_dump_report).
//! let f = DumpFilter { orig: Some(Tuple { proto: Some(17), dst_port: Some(53), ..Default::default() }), ..Default::default() };
//! ct.dump(libc::AF_INET as u8, &f, &mut |c| { println!("{c}"); true })?;
//! println!("{:?}", ct.last_dump_report());
//! ct.dump_table(Table::Dying, 0, &DumpFilter::default(), &mut |c| { println!("dying: {c}"); true })?;
//!
//! // Events: only new UDP connections from outside 10.0.0.0/8, dropped in the kernel.
//! let ev = Events::open(&ns, groups::NEW)?;
//! ev.set_kernel_filter(&EventFilter {
//!     l4proto: Some(17),
//!     src: Some(("10.0.0.0".parse()?, 8)),
//!     negate: neg::SRC,
//!     ..Default::default()
//! })?;
//! ev.set_stop_on_overflow(true);
//! loop {
//!     ev.run(None, Some(Duration::from_secs(1)), &mut |e| { if let CtEvent::Conn(_, c) = e { println!("{c}") } true })?;
//!     if ev.take_overflows() > 0 {
//!         ev.resync(&ct, 0, &mut |e| { if let CtEvent::Conn(_, c) = e { println!("now: {c}") } true })?;
//!     }
//! #   break;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Queued packets
//!
//! With the conntrack queue flag (a kernel with `CONFIG_NETFILTER_NETLINK_GLUE_CT`), each
//! packet carries its connection: [`packet_conn`](crate::conntrack::packet_conn), [`packet_ct_info`](crate::conntrack::packet_ct_info), [`packet_expect`](crate::conntrack::packet_expect); a
//! verdict can set the connection mark and labels (`PacketCtx::set_connmark`,
//! `PacketCtx::set_labels`).
//!
//! # Decoding bytes
//!
//! ```
//! use nfq_rs::conntrack::Conn;
//! let bytes = [
//!     0x34, 0, 1, 0x80, 0x14, 0, 1, 0x80, 8, 0, 1, 0, 10, 0, 0, 1, 8, 0, 2, 0, 10, 0, 0, 2,
//!     0x1c, 0, 2, 0x80, 5, 0, 1, 0, 17, 0, 0, 0, 6, 0, 2, 0, 0x03, 0xe8, 0, 0, 6, 0, 3, 0, 0, 53, 0, 0,
//!     8, 0, 3, 0, 0, 0, 0, 8, 8, 0, 8, 0, 0, 0, 0, 42,
//! ];
//! let ct = Conn::parse(2, &bytes).unwrap();
//! let t = ct.orig().unwrap();
//! assert_eq!((t.proto, t.src_port, t.dst_port), (Some(17), Some(1000), Some(53)));
//! assert_eq!(ct.mark(), Some(42));
//! assert_eq!(ct.to_string(), "udp      17 src=10.0.0.1 dst=10.0.0.2 sport=1000 dport=53 [UNREPLIED] mark=42");
//! ```

pub mod bpf;
mod ctnetlink;
mod entry;
mod expect;
mod fmt;
mod tuple;

pub use ctnetlink::{
    Conntrack, CpuStats, CtEvent, DumpFilter, DumpReport, EventFilter, EventKind, EventStats, Events, ExpCpuStats,
    GlobalStats, Table, Update, filter_flags, neg,
};
pub use entry::{
    Conn, ConnBuf, Counters, DccpInfo, NatRange, ProtoInfo, SctpInfo, SeqAdj, Synproxy, TcpFlags, TcpInfo,
};
pub use expect::{Expect, ExpectBuf};
pub(crate) use fmt::write_tuple;
pub use fmt::{dccp_state_name, l4proto_name, sctp_state_name, tcp_state_name};
pub use tuple::Tuple;

use crate::queue::Packet;

/// nfnetlink subsystem id of ctnetlink (`NFNL_SUBSYS_CTNETLINK`).
pub const NFNL_SUBSYS_CTNETLINK: u8 = 1;
/// nfnetlink subsystem id of the expectation part of ctnetlink (`NFNL_SUBSYS_CTNETLINK_EXP`).
pub const NFNL_SUBSYS_CTNETLINK_EXP: u8 = 2;

/// Conntrack message types (`enum cntl_msg_types`).
pub mod msg {
    #![allow(missing_docs)]
    pub const CT_NEW: u8 = 0;
    pub const CT_GET: u8 = 1;
    pub const CT_DELETE: u8 = 2;
    pub const CT_GET_CTRZERO: u8 = 3;
    pub const CT_GET_STATS_CPU: u8 = 4;
    pub const CT_GET_STATS: u8 = 5;
    pub const CT_GET_DYING: u8 = 6;
    pub const CT_GET_UNCONFIRMED: u8 = 7;
    /// Expectation messages (`enum ctnl_exp_msg_types`).
    pub const EXP_NEW: u8 = 0;
    pub const EXP_GET: u8 = 1;
    pub const EXP_DELETE: u8 = 2;
    pub const EXP_GET_STATS_CPU: u8 = 3;
}

/// Top-level conntrack attributes (`enum ctattr_type`).
pub mod cta {
    #![allow(missing_docs)]
    pub const TUPLE_ORIG: u16 = 1;
    pub const TUPLE_REPLY: u16 = 2;
    pub const STATUS: u16 = 3;
    pub const PROTOINFO: u16 = 4;
    pub const HELP: u16 = 5;
    pub const NAT_SRC: u16 = 6;
    pub const TIMEOUT: u16 = 7;
    pub const MARK: u16 = 8;
    pub const COUNTERS_ORIG: u16 = 9;
    pub const COUNTERS_REPLY: u16 = 10;
    pub const USE: u16 = 11;
    pub const ID: u16 = 12;
    pub const NAT_DST: u16 = 13;
    pub const TUPLE_MASTER: u16 = 14;
    pub const SEQ_ADJ_ORIG: u16 = 15;
    pub const SEQ_ADJ_REPLY: u16 = 16;
    pub const SECMARK: u16 = 17;
    pub const ZONE: u16 = 18;
    pub const SECCTX: u16 = 19;
    pub const TIMESTAMP: u16 = 20;
    pub const MARK_MASK: u16 = 21;
    pub const LABELS: u16 = 22;
    pub const LABELS_MASK: u16 = 23;
    pub const SYNPROXY: u16 = 24;
    pub const FILTER: u16 = 25;
    pub const STATUS_MASK: u16 = 26;

    /// Inside a tuple (`enum ctattr_tuple`).
    pub const TUPLE_IP: u16 = 1;
    pub const TUPLE_PROTO: u16 = 2;
    pub const TUPLE_ZONE: u16 = 3;

    /// Inside `CTA_TUPLE_IP` (`enum ctattr_ip`).
    pub const IP_V4_SRC: u16 = 1;
    pub const IP_V4_DST: u16 = 2;
    pub const IP_V6_SRC: u16 = 3;
    pub const IP_V6_DST: u16 = 4;

    /// Inside `CTA_TUPLE_PROTO` (`enum ctattr_l4proto`).
    pub const PROTO_NUM: u16 = 1;
    pub const PROTO_SRC_PORT: u16 = 2;
    pub const PROTO_DST_PORT: u16 = 3;
    pub const PROTO_ICMP_ID: u16 = 4;
    pub const PROTO_ICMP_TYPE: u16 = 5;
    pub const PROTO_ICMP_CODE: u16 = 6;
    pub const PROTO_ICMPV6_ID: u16 = 7;
    pub const PROTO_ICMPV6_TYPE: u16 = 8;
    pub const PROTO_ICMPV6_CODE: u16 = 9;

    /// Inside `CTA_PROTOINFO` (`enum ctattr_protoinfo`).
    pub const PROTOINFO_TCP: u16 = 1;
    pub const PROTOINFO_DCCP: u16 = 2;
    pub const PROTOINFO_SCTP: u16 = 3;

    /// Inside `CTA_PROTOINFO_TCP` (`enum ctattr_protoinfo_tcp`).
    pub const TCP_STATE: u16 = 1;
    pub const TCP_WSCALE_ORIGINAL: u16 = 2;
    pub const TCP_WSCALE_REPLY: u16 = 3;
    pub const TCP_FLAGS_ORIGINAL: u16 = 4;
    pub const TCP_FLAGS_REPLY: u16 = 5;

    /// Inside `CTA_PROTOINFO_DCCP` (`enum ctattr_protoinfo_dccp`).
    pub const DCCP_STATE: u16 = 1;
    pub const DCCP_ROLE: u16 = 2;
    pub const DCCP_HANDSHAKE_SEQ: u16 = 3;

    /// Inside `CTA_PROTOINFO_SCTP` (`enum ctattr_protoinfo_sctp`).
    pub const SCTP_STATE: u16 = 1;
    pub const SCTP_VTAG_ORIGINAL: u16 = 2;
    pub const SCTP_VTAG_REPLY: u16 = 3;

    /// Inside `CTA_COUNTERS_*` (`enum ctattr_counters`).
    pub const COUNTERS_PACKETS: u16 = 1;
    pub const COUNTERS_BYTES: u16 = 2;
    pub const COUNTERS32_PACKETS: u16 = 3;
    pub const COUNTERS32_BYTES: u16 = 4;

    /// Inside `CTA_TIMESTAMP` (`enum ctattr_tstamp`).
    pub const TIMESTAMP_START: u16 = 1;
    pub const TIMESTAMP_STOP: u16 = 2;

    /// Inside `CTA_NAT_*` (`enum ctattr_nat`).
    pub const NAT_V4_MINIP: u16 = 1;
    pub const NAT_V4_MAXIP: u16 = 2;
    pub const NAT_PROTO: u16 = 3;
    pub const NAT_V6_MINIP: u16 = 4;
    pub const NAT_V6_MAXIP: u16 = 5;

    /// Inside `CTA_NAT_PROTO` (`enum ctattr_protonat`).
    pub const PROTONAT_PORT_MIN: u16 = 1;
    pub const PROTONAT_PORT_MAX: u16 = 2;

    /// Inside `CTA_SEQ_ADJ_*` (`enum ctattr_seqadj`).
    pub const SEQADJ_CORRECTION_POS: u16 = 1;
    pub const SEQADJ_OFFSET_BEFORE: u16 = 2;
    pub const SEQADJ_OFFSET_AFTER: u16 = 3;

    /// Inside `CTA_SYNPROXY` (`enum ctattr_synproxy`).
    pub const SYNPROXY_ISN: u16 = 1;
    pub const SYNPROXY_ITS: u16 = 2;
    pub const SYNPROXY_TSOFF: u16 = 3;

    /// Inside `CTA_HELP` (`enum ctattr_help`).
    pub const HELP_NAME: u16 = 1;
    pub const HELP_INFO: u16 = 2;

    /// Inside `CTA_SECCTX` (`enum ctattr_secctx`).
    pub const SECCTX_NAME: u16 = 1;
}

/// Expectation attributes (`enum ctattr_expect`).
pub mod cta_exp {
    #![allow(missing_docs)]
    pub const MASTER: u16 = 1;
    pub const TUPLE: u16 = 2;
    pub const MASK: u16 = 3;
    pub const TIMEOUT: u16 = 4;
    pub const ID: u16 = 5;
    pub const HELP_NAME: u16 = 6;
    pub const ZONE: u16 = 7;
    pub const FLAGS: u16 = 8;
    pub const CLASS: u16 = 9;
    pub const NAT: u16 = 10;
    pub const FN: u16 = 11;
    /// Inside `CTA_EXPECT_NAT` (`enum ctattr_expect_nat`).
    pub const NAT_DIR: u16 = 1;
    pub const NAT_TUPLE: u16 = 2;
}

/// Statistics attributes (`enum ctattr_stats_cpu`, `ctattr_stats_global`,
/// `ctattr_expect_stats`).
pub mod cta_stats {
    #![allow(missing_docs)]
    pub const SEARCHED: u16 = 1;
    pub const FOUND: u16 = 2;
    pub const NEW: u16 = 3;
    pub const INVALID: u16 = 4;
    pub const IGNORE: u16 = 5;
    pub const DELETE: u16 = 6;
    pub const DELETE_LIST: u16 = 7;
    pub const INSERT: u16 = 8;
    pub const INSERT_FAILED: u16 = 9;
    pub const DROP: u16 = 10;
    pub const EARLY_DROP: u16 = 11;
    pub const ERROR: u16 = 12;
    pub const SEARCH_RESTART: u16 = 13;
    pub const CLASH_RESOLVE: u16 = 14;
    pub const CHAIN_TOOLONG: u16 = 15;
    pub const GLOBAL_ENTRIES: u16 = 1;
    pub const GLOBAL_MAX_ENTRIES: u16 = 2;
    pub const EXP_NEW: u16 = 1;
    pub const EXP_CREATE: u16 = 2;
    pub const EXP_DELETE: u16 = 3;
}

/// Connection status bits (`enum ip_conntrack_status`).
pub mod status {
    /// An expected connection (bit 0).
    pub const EXPECTED: u32 = 1 << 0;
    /// Packets were seen in both directions.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// Never early-expired.
    pub const ASSURED: u32 = 1 << 2;
    /// The first packet left the box: the entry is in the table.
    pub const CONFIRMED: u32 = 1 << 3;
    /// Needs source NAT in the original direction.
    pub const SRC_NAT: u32 = 1 << 4;
    /// Needs destination NAT in the original direction.
    pub const DST_NAT: u32 = 1 << 5;
    /// TCP sequence numbers need adjusting.
    pub const SEQ_ADJUST: u32 = 1 << 6;
    /// Source NAT set up.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// Destination NAT set up.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// Being removed.
    pub const DYING: u32 = 1 << 9;
    /// Fixed timeout.
    pub const FIXED_TIMEOUT: u32 = 1 << 10;
    /// A template.
    pub const TEMPLATE: u32 = 1 << 11;
    /// Untracked (obsolete).
    pub const UNTRACKED: u32 = 1 << 12;
    /// A helper was attached explicitly.
    pub const HELPER: u32 = 1 << 13;
    /// Offloaded to a flow table.
    pub const OFFLOAD: u32 = 1 << 14;
    /// Offloaded to hardware.
    pub const HW_OFFLOAD: u32 = 1 << 15;
    /// Bits the kernel does not let userspace change.
    pub const UNCHANGEABLE: u32 = SRC_NAT_DONE
        | DST_NAT_DONE
        | SRC_NAT
        | DST_NAT
        | EXPECTED
        | CONFIRMED
        | DYING
        | SEQ_ADJUST
        | TEMPLATE
        | UNTRACKED
        | OFFLOAD
        | HW_OFFLOAD;
}

/// TCP connection states (`enum tcp_conntrack`).
pub mod tcp_state {
    #![allow(missing_docs)]
    pub const NONE: u8 = 0;
    pub const SYN_SENT: u8 = 1;
    pub const SYN_RECV: u8 = 2;
    pub const ESTABLISHED: u8 = 3;
    pub const FIN_WAIT: u8 = 4;
    pub const CLOSE_WAIT: u8 = 5;
    pub const LAST_ACK: u8 = 6;
    pub const TIME_WAIT: u8 = 7;
    pub const CLOSE: u8 = 8;
    /// Also `LISTEN` (obsolete).
    pub const SYN_SENT2: u8 = 9;
}

/// TCP per-direction flags (`IP_CT_TCP_FLAG_*`).
pub mod tcp_flags {
    #![allow(missing_docs)]
    pub const WINDOW_SCALE: u8 = 0x01;
    pub const SACK_PERM: u8 = 0x02;
    pub const CLOSE_INIT: u8 = 0x04;
    pub const BE_LIBERAL: u8 = 0x08;
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    pub const MAXACK_SET: u8 = 0x20;
    pub const CHALLENGE_ACK: u8 = 0x40;
    pub const SIMULTANEOUS_OPEN: u8 = 0x80;
}

/// SCTP association states (`enum sctp_conntrack`).
pub mod sctp_state {
    #![allow(missing_docs)]
    pub const NONE: u8 = 0;
    pub const CLOSED: u8 = 1;
    pub const COOKIE_WAIT: u8 = 2;
    pub const COOKIE_ECHOED: u8 = 3;
    pub const ESTABLISHED: u8 = 4;
    pub const SHUTDOWN_SENT: u8 = 5;
    pub const SHUTDOWN_RECD: u8 = 6;
    pub const SHUTDOWN_ACK_SENT: u8 = 7;
    pub const HEARTBEAT_SENT: u8 = 8;
    pub const HEARTBEAT_ACKED: u8 = 9;
}

/// DCCP connection states (`enum ct_dccp_states`; DCCP tracking is gone from recent kernels).
pub mod dccp_state {
    #![allow(missing_docs)]
    pub const NONE: u8 = 0;
    pub const REQUEST: u8 = 1;
    pub const RESPOND: u8 = 2;
    pub const PARTOPEN: u8 = 3;
    pub const OPEN: u8 = 4;
    pub const CLOSEREQ: u8 = 5;
    pub const CLOSING: u8 = 6;
    pub const TIMEWAIT: u8 = 7;
    pub const IGNORE: u8 = 8;
    pub const INVALID: u8 = 9;
}

/// Expectation flags (`NF_CT_EXPECT_*`).
pub mod exp_flags {
    /// Stays after it was used.
    pub const PERMANENT: u32 = 0x1;
    /// Not yet active.
    pub const INACTIVE: u32 = 0x2;
    /// Created from userspace.
    pub const USERSPACE: u32 = 0x4;
}

/// Event groups to subscribe to (bit `n - 1` is multicast group `n`, `NFNLGRP_CONNTRACK_*`).
pub mod groups {
    /// New connections.
    pub const NEW: u32 = 1 << 0;
    /// Connection updates (state, status, mark, labels, ...).
    pub const UPDATE: u32 = 1 << 1;
    /// Destroyed connections.
    pub const DESTROY: u32 = 1 << 2;
    /// New expectations.
    pub const EXP_NEW: u32 = 1 << 3;
    /// Expectation updates.
    pub const EXP_UPDATE: u32 = 1 << 4;
    /// Destroyed expectations.
    pub const EXP_DESTROY: u32 = 1 << 5;
    /// The three connection groups.
    pub const CONNTRACK: u32 = NEW | UPDATE | DESTROY;
    /// The three expectation groups.
    pub const EXPECT: u32 = EXP_NEW | EXP_UPDATE | EXP_DESTROY;
    /// Everything.
    pub const ALL: u32 = CONNTRACK | EXPECT;
}

/// How a queued packet relates to its connection (`enum ip_conntrack_info`, the value of
/// `NFQA_CT_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtInfo {
    /// Part of an established connection, original direction.
    Established,
    /// Related to an existing connection (e.g. an ICMP error, an FTP data connection).
    Related,
    /// Starts a new connection.
    New,
    /// Part of an established connection, reply direction.
    EstablishedReply,
    /// Related, reply direction.
    RelatedReply,
    /// `IP_CT_NEW_REPLY`: only in userspace compatibility code, never sent by the kernel.
    NewReply,
    /// A value this library does not know.
    Unknown(u32),
}

impl CtInfo {
    /// Decodes the kernel value.
    pub const fn from_raw(v: u32) -> CtInfo {
        match v {
            0 => CtInfo::Established,
            1 => CtInfo::Related,
            2 => CtInfo::New,
            3 => CtInfo::EstablishedReply,
            4 => CtInfo::RelatedReply,
            5 => CtInfo::NewReply,
            v => CtInfo::Unknown(v),
        }
    }
    /// The kernel value.
    pub const fn raw(self) -> u32 {
        match self {
            CtInfo::Established => 0,
            CtInfo::Related => 1,
            CtInfo::New => 2,
            CtInfo::EstablishedReply => 3,
            CtInfo::RelatedReply => 4,
            CtInfo::NewReply => 5,
            CtInfo::Unknown(v) => v,
        }
    }
    /// Whether the packet travels in the reply direction.
    pub const fn is_reply(self) -> bool {
        matches!(self, CtInfo::EstablishedReply | CtInfo::RelatedReply | CtInfo::NewReply)
    }
    /// Established in either direction.
    pub const fn is_established(self) -> bool {
        matches!(self, CtInfo::Established | CtInfo::EstablishedReply)
    }
    /// Related in either direction.
    pub const fn is_related(self) -> bool {
        matches!(self, CtInfo::Related | CtInfo::RelatedReply)
    }
    /// A new connection.
    pub const fn is_new(self) -> bool {
        matches!(self, CtInfo::New | CtInfo::NewReply)
    }
    /// The name `iptables -m conntrack --ctstate` uses: "ESTABLISHED", "RELATED", "NEW" (or
    /// "UNKNOWN").
    pub const fn state_name(self) -> &'static str {
        if self.is_established() {
            "ESTABLISHED"
        } else if self.is_related() {
            "RELATED"
        } else if self.is_new() {
            "NEW"
        } else {
            "UNKNOWN"
        }
    }
}

/// The connection of a queued packet (`NFQA_CT`, sent with the conntrack queue flag), decoded:
/// `None` when the packet came without one.
pub fn packet_conn<'a>(p: &Packet<'a>) -> Option<Result<Conn<'a>, crate::netlink::ParseError>> {
    p.ct().map(|ct| Conn::parse(p.family(), ct))
}

/// The expectation of a queued packet (`NFQA_EXP`), decoded.
pub fn packet_expect<'a>(p: &Packet<'a>) -> Option<Result<Expect<'a>, crate::netlink::ParseError>> {
    p.exp().map(|e| Expect::parse(p.family(), e))
}

/// How the packet relates to its connection (`NFQA_CT_INFO`).
pub fn packet_ct_info(p: &Packet<'_>) -> Option<CtInfo> {
    p.ct_info().map(CtInfo::from_raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{Messages, MsgBuilder};
    use crate::queue::attr;

    /// An NFQUEUE packet message as a kernel with conntrack glue sends it with the conntrack
    /// flag: the connection in `NFQA_CT`, how the packet relates to it in `NFQA_CT_INFO`, and
    /// (for an expected connection) the expectation in `NFQA_EXP`.
    fn queued_packet_with_conntrack(ctinfo: u32, with_exp: bool) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut b = MsgBuilder::new(&mut buf, crate::netlink::nfnl_msg_type(3, 0), 0, 0);
        b.nfgen(2, 0);
        b.put(attr::PACKET_HDR, &[0, 0, 0, 9, 8, 0, 3]);
        let ct = b.nest_start(attr::CT);
        entry::tests::full_tcp(&mut b);
        b.nest_end(ct);
        b.put_be32(attr::CT_INFO, ctinfo);
        if with_exp {
            let e = b.nest_start(attr::EXP);
            let ip = |x| std::net::IpAddr::from([10, 0, 0, x]);
            Tuple::ports(ip(1), ip(2), 6, 40000, 21).put(&mut b, cta_exp::MASTER);
            Tuple::ports(ip(1), ip(2), 6, 0, 50000).put(&mut b, cta_exp::TUPLE);
            b.put_be32(cta_exp::TIMEOUT, 300).put(cta_exp::HELP_NAME, b"ftp\0");
            b.nest_end(e);
        }
        b.put(attr::PAYLOAD, &[0x45, 0, 0, 20]);
        b.finish();
        buf
    }

    #[test]
    fn a_queued_packet_carries_its_connection_ctinfo_and_expectation() {
        let buf = queued_packet_with_conntrack(CtInfo::EstablishedReply.raw(), true);
        let m = Messages::new(&buf).next().unwrap().unwrap();
        let p = Packet::parse(&m).unwrap();
        let c = packet_conn(&p).expect("NFQA_CT present").unwrap();
        assert_eq!(c.family(), 2, "the family comes from the packet");
        assert_eq!(c.orig().unwrap().dst_port, Some(80));
        assert_eq!((c.mark(), c.zone(), c.proto_state_name()), (Some(0xbeef), Some(3), Some("ESTABLISHED")));
        let info = packet_ct_info(&p).unwrap();
        assert!(info.is_reply() && info.is_established());
        let e = packet_expect(&p).expect("NFQA_EXP present").unwrap();
        assert_eq!(e.tuple().unwrap().dst_port, Some(50000));
        assert_eq!(e.helper_name(), Some(&b"ftp"[..]));
        // Without the conntrack flag there is nothing to decode.
        let mut plain = Vec::new();
        let mut b = MsgBuilder::new(&mut plain, crate::netlink::nfnl_msg_type(3, 0), 0, 0);
        b.nfgen(2, 0);
        b.put(attr::PACKET_HDR, &[0, 0, 0, 9, 8, 0, 3]);
        b.finish();
        let m = Messages::new(&plain).next().unwrap().unwrap();
        let p = Packet::parse(&m).unwrap();
        assert!(packet_conn(&p).is_none() && packet_ct_info(&p).is_none() && packet_expect(&p).is_none());
    }

    #[test]
    fn a_damaged_ct_nest_is_an_error_of_the_nest_not_of_the_packet() {
        let buf = queued_packet_with_conntrack(2, false);
        // Every cut of the message: the packet may parse or not, nothing panics, and a CT nest
        // that parses as part of a valid packet decodes or errors cleanly.
        for cut in 20..buf.len() {
            let mut v = buf[..cut].to_vec();
            v[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            if let Some(Ok(m)) = Messages::new(&v).next() {
                if let Ok(p) = Packet::parse(&m) {
                    if let Some(Ok(c)) = packet_conn(&p) {
                        let _ = c.to_string();
                    }
                }
            }
        }
        // A mark of the wrong size inside NFQA_CT: the packet is fine, its connection is not.
        let mut buf = Vec::new();
        let mut b = MsgBuilder::new(&mut buf, crate::netlink::nfnl_msg_type(3, 0), 0, 0);
        b.nfgen(2, 0);
        b.put(attr::PACKET_HDR, &[0, 0, 0, 9, 8, 0, 3]);
        let ct = b.nest_start(attr::CT);
        b.put(cta::MARK, &[1, 2, 3]);
        b.nest_end(ct);
        b.finish();
        let m = Messages::new(&buf).next().unwrap().unwrap();
        let p = Packet::parse(&m).unwrap();
        assert!(matches!(packet_conn(&p), Some(Err(crate::netlink::ParseError::AttrSize { .. }))));
    }

    #[test]
    fn ctinfo_values_follow_the_kernel_enum() {
        for v in 0..6 {
            assert_eq!(CtInfo::from_raw(v).raw(), v);
        }
        assert!(CtInfo::from_raw(3).is_reply() && CtInfo::from_raw(3).is_established());
        assert!(!CtInfo::from_raw(2).is_reply() && CtInfo::from_raw(2).is_new());
        assert_eq!(CtInfo::from_raw(4).state_name(), "RELATED");
        assert_eq!(CtInfo::from_raw(9), CtInfo::Unknown(9));
        assert_eq!(status::UNCHANGEABLE, 0xdbf9);
    }
}
