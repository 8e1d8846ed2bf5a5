//! ctnetlink: the conntrack table over netlink. [`Conntrack`] makes requests (dump, get,
//! create, update, delete, flush, statistics), each answered by an ACK or a multipart dump
//! through the core's [`transact`] and [`dump`]; [`Events`] listens to the conntrack multicast
//! groups. Both open their socket in a chosen network namespace, since the table is per
//! namespace.
//!
//! Threads: a handle serves one call at a time. A second call while one runs (from another
//! thread, or from inside a dump or event callback on the same handle) fails at once with
//! `Busy` rather than waiting; use a second handle for that. No lock is waited on while a
//! callback runs. [`Events::stop`] works from any thread and from a signal handler.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use super::entry::{Conn, ConnBuf, ProtoInfo};
use super::expect::{Expect, ExpectBuf};
use super::tuple::Tuple;
use super::{NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_CTNETLINK_EXP, cta, cta_exp, cta_stats, msg};
use crate::netlink::{
    DumpEnd, Error, ErrorKind, Event, EventFd, Failure, Msg, MsgBuilder, NETLINK_NETFILTER, NLM_F_ACK, NLM_F_CREATE,
    NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, Netns, RecvBatch, Result, Socket, dump, errno_name, nfnl_msg_type, transact,
};

/// Receive buffer of a request handle: a dump datagram is at most 32 KiB.
const REQ_BUF: usize = 128 * 1024;
/// One receive slot of an event handle.
const EVENT_SLOT: usize = 16 * 1024;
/// Receive slots per `recvmmsg` of an event handle.
const EVENT_BATCH: usize = 16;

/// What to keep of a dump (go-conntrack's `Query`/`FilterAttr`). Each part is sent to the
/// kernel where the kernel can filter by it, and every part is also checked here, so a kernel
/// without a filter gives the same result (only slower); [`Conntrack::last_dump_report`] says
/// which parts the kernel applied.
///
/// - `mark`: `CTA_MARK`/`CTA_MARK_MASK` (every kernel with ctnetlink),
/// - `zone`: `CTA_ZONE` (Linux 6.8 and later),
/// - `orig`/`reply`/`l4proto`: the `CTA_FILTER` tuple filter (Linux 5.10 and later): each
///   part of the tuple that is `Some` must be equal (addresses, protocol, ports, ICMP
///   type/code/id, tuple zone); the kernel compares them exactly (no address masks). IPv6
///   addresses and the tuple's zone are compared here only: the kernel compares IPv6
///   addresses inverted (an entry passes when its address differs; seen on Linux 6.18) and
///   ignores the tuple zone, so they are not sent; the other parts are.
///
/// ```
/// use nfq_rs::conntrack::{DumpFilter, Tuple};
/// // Every TCP connection to 10.0.0.2:443, whatever its source.
/// let f = DumpFilter {
///     orig: Some(Tuple { dst: Some("10.0.0.2".parse().unwrap()), proto: Some(6), dst_port: Some(443), ..Default::default() }),
///     ..Default::default()
/// };
/// assert_eq!(f.orig_flags(), nfq_rs::conntrack::filter_flags::IP_DST | nfq_rs::conntrack::filter_flags::PROTO_NUM | nfq_rs::conntrack::filter_flags::PROTO_DST_PORT);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpFilter {
    /// Keep entries whose `mark & mask == value & mask`: `(value, mask)`.
    pub mark: Option<(u32, u32)>,
    /// Keep entries of this zone (0 is the default zone).
    pub zone: Option<u16>,
    /// Keep entries of this layer-4 protocol (sent as the protocol of the original-direction
    /// tuple filter).
    pub l4proto: Option<u8>,
    /// Keep entries whose original tuple has these values (the `Some` parts).
    pub orig: Option<Tuple>,
    /// Keep entries whose reply tuple has these values (the `Some` parts).
    pub reply: Option<Tuple>,
}

/// The `CTA_FILTER_F_*` bits: which parts of a tuple filter the kernel compares.
pub mod filter_flags {
    #![allow(missing_docs)]
    pub const IP_SRC: u32 = 1 << 0;
    pub const IP_DST: u32 = 1 << 1;
    pub const TUPLE_ZONE: u32 = 1 << 2;
    pub const PROTO_NUM: u32 = 1 << 3;
    pub const PROTO_SRC_PORT: u32 = 1 << 4;
    pub const PROTO_DST_PORT: u32 = 1 << 5;
    pub const PROTO_ICMP_TYPE: u32 = 1 << 6;
    pub const PROTO_ICMP_CODE: u32 = 1 << 7;
    pub const PROTO_ICMP_ID: u32 = 1 << 8;
    pub const PROTO_ICMPV6_TYPE: u32 = 1 << 9;
    pub const PROTO_ICMPV6_CODE: u32 = 1 << 10;
    pub const PROTO_ICMPV6_ID: u32 = 1 << 11;
    /// Every bit the kernel knows.
    pub const ALL: u32 = (1 << 12) - 1;
}

/// Inside `CTA_FILTER` (`enum ctattr_filter`).
const CTA_FILTER_ORIG_FLAGS: u16 = 1;
const CTA_FILTER_REPLY_FLAGS: u16 = 2;

/// The `filter_flags` bits for the `Some` parts of `t`.
fn tuple_flags(t: &Tuple) -> u32 {
    use filter_flags::*;
    let v6 = t.proto == Some(super::tuple::PROTO_ICMPV6);
    let mut f = 0;
    for (on, bit) in [
        (t.src.is_some(), IP_SRC),
        (t.dst.is_some(), IP_DST),
        (t.zone.is_some(), TUPLE_ZONE),
        (t.proto.is_some(), PROTO_NUM),
        (t.src_port.is_some(), PROTO_SRC_PORT),
        (t.dst_port.is_some(), PROTO_DST_PORT),
        (t.icmp_type.is_some(), if v6 { PROTO_ICMPV6_TYPE } else { PROTO_ICMP_TYPE }),
        (t.icmp_code.is_some(), if v6 { PROTO_ICMPV6_CODE } else { PROTO_ICMP_CODE }),
        (t.icmp_id.is_some(), if v6 { PROTO_ICMPV6_ID } else { PROTO_ICMP_ID }),
    ] {
        if on {
            f |= bit;
        }
    }
    f
}

/// Whether every `Some` part of `want` equals that part of `have`.
fn tuple_matches(want: &Tuple, have: Option<&Tuple>) -> bool {
    let Some(h) = have else { return false };
    fn eq<T: PartialEq>(w: Option<T>, h: Option<T>) -> bool {
        w.is_none() || w == h
    }
    eq(want.src, h.src)
        && eq(want.dst, h.dst)
        && eq(want.proto, h.proto)
        && eq(want.src_port, h.src_port)
        && eq(want.dst_port, h.dst_port)
        && eq(want.icmp_type, h.icmp_type)
        && eq(want.icmp_code, h.icmp_code)
        && eq(want.icmp_id, h.icmp_id)
        && (want.zone.is_none() || want.zone == Some(h.zone.unwrap_or(0)))
}

impl DumpFilter {
    /// Whether `c` passes (the check done in the library).
    pub fn matches(&self, c: &Conn<'_>) -> bool {
        if let Some((v, m)) = self.mark {
            if c.mark().unwrap_or(0) & m != v & m {
                return false;
            }
        }
        if let Some(z) = self.zone {
            if c.zone().unwrap_or(0) != z {
                return false;
            }
        }
        if let Some(p) = self.l4proto {
            if c.l4proto() != Some(p) {
                return false;
            }
        }
        if let Some(t) = &self.orig {
            if !tuple_matches(t, c.orig()) {
                return false;
            }
        }
        if let Some(t) = &self.reply {
            if !tuple_matches(t, c.reply()) {
                return false;
            }
        }
        true
    }

    /// The original-direction tuple filter as sent (with `l4proto` folded in), if any.
    fn orig_sent(&self) -> Option<Tuple> {
        match (self.orig, self.l4proto) {
            (None, None) => None,
            (Some(t), None) => Some(t),
            (t, Some(p)) => Some(Tuple { proto: Some(t.and_then(|t| t.proto).unwrap_or(p)), ..t.unwrap_or_default() }),
        }
    }

    /// `CTA_FILTER_ORIG_FLAGS`: the parts of the original tuple the kernel is asked to compare.
    pub fn orig_flags(&self) -> u32 {
        self.orig_sent().map_or(0, |t| tuple_flags(&t))
    }

    /// `CTA_FILTER_REPLY_FLAGS`: the parts of the reply tuple the kernel is asked to compare.
    pub fn reply_flags(&self) -> u32 {
        self.reply.map_or(0, |t| tuple_flags(&t))
    }

    /// Checks that the kernel can express the filter: a port or ICMP part needs the protocol,
    /// the two tuples and `l4proto` agree on the protocol, and addresses are of one family
    /// (the dump's, if it has one). Returns the family to dump (taken from the addresses when
    /// `family` is 0).
    pub fn check(&self, family: u8) -> std::result::Result<u8, String> {
        if let (Some(p), Some(Some(q))) = (self.l4proto, self.orig.map(|t| t.proto)) {
            if p != q {
                return Err(format!("l4proto {p} and the original tuple's protocol {q} differ: no entry can match"));
            }
        }
        let mut fam = family;
        for (name, t) in [("original", self.orig_sent()), ("reply", self.reply)] {
            let Some(t) = t else { continue };
            let has_l4 = t.src_port.is_some()
                || t.dst_port.is_some()
                || t.icmp_type.is_some()
                || t.icmp_code.is_some()
                || t.icmp_id.is_some();
            if has_l4 && t.proto.is_none() {
                return Err(format!(
                    "the {name} tuple filter has ports or ICMP fields but no protocol: the kernel reads them by \
                     protocol; set its proto"
                ));
            }
            for a in [t.src, t.dst].into_iter().flatten() {
                let f = if a.is_ipv4() { libc::AF_INET as u8 } else { libc::AF_INET6 as u8 };
                if fam != 0 && fam != f {
                    return Err(format!(
                        "the {name} tuple filter has an address ({a}) of another family than the dump's ({fam})"
                    ));
                }
                fam = f;
            }
        }
        if let (Some(a), Some(b)) = (self.orig_sent().and_then(|t| t.proto), self.reply.and_then(|t| t.proto)) {
            if a != b {
                return Err(format!("the original ({a}) and reply ({b}) tuple filters name different protocols"));
            }
        }
        Ok(fam)
    }
}

/// Which parts of a dump filter the kernel applied ([`Conntrack::last_dump_report`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpReport {
    /// Entries the kernel sent.
    pub received: usize,
    /// Entries handed to the callback (those that passed the filter here too).
    pub kept: usize,
    /// The kernel filtered by mark.
    pub kernel_mark: bool,
    /// The kernel filtered by zone (Linux 6.8 and later).
    pub kernel_zone: bool,
    /// The kernel applied the whole tuple filter (`CTA_FILTER`, Linux 5.10 and later). False
    /// when the filter has IPv6 addresses or a tuple zone: those are compared here (the other
    /// parts still go to the kernel).
    pub kernel_tuple: bool,
}

/// The conntrack tables that can be dumped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// The connection table (`IPCTNL_MSG_CT_GET`).
    Main,
    /// Connections being destroyed whose destroy event has not been delivered yet
    /// (`IPCTNL_MSG_CT_GET_DYING`).
    Dying,
    /// Connections not yet confirmed (`IPCTNL_MSG_CT_GET_UNCONFIRMED`; always empty since
    /// Linux 6.1, which keeps no such list).
    Unconfirmed,
}

impl Table {
    fn msg(self) -> u8 {
        match self {
            Table::Main => msg::CT_GET,
            Table::Dying => msg::CT_GET_DYING,
            Table::Unconfirmed => msg::CT_GET_UNCONFIRMED,
        }
    }
    fn what(self) -> &'static str {
        match self {
            Table::Main => "dumping the conntrack table",
            Table::Dying => "dumping the dying list",
            Table::Unconfirmed => "dumping the unconfirmed list",
        }
    }
}

/// The running kernel's (major, minor), from uname; (0, 0) if unknown.
pub(crate) fn kernel_version() -> (u32, u32) {
    // SAFETY: utsname is plain old data; uname fills it or fails.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (0, 0);
    }
    // SAFETY: uname NUL-terminates release.
    let rel = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy().into_owned();
    parse_version(&rel)
}

fn parse_version(rel: &str) -> (u32, u32) {
    let mut it = rel.split(|c: char| !c.is_ascii_digit());
    let major = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let minor = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// Changes to an existing connection ([`Conntrack::update`]). Absent parts stay as they are.
/// Masks mean "only these bits change, to their value in the new mark/labels".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Update<'a> {
    /// New mark; with `mark_mask`, only the bits of the mask change.
    pub mark: Option<u32>,
    /// Which mark bits to change (default: all).
    pub mark_mask: Option<u32>,
    /// New timeout in seconds.
    pub timeout: Option<u32>,
    /// The new full status. The kernel refuses (EBUSY) to clear `CONFIRMED`, `EXPECTED`,
    /// `SEEN_REPLY` or `ASSURED` or to change `DYING`: start from the current status.
    pub status: Option<u32>,
    /// New labels and the mask of the label bits to change. The connection needs label
    /// storage, which the kernel gives connections created while a connlabel rule exists.
    pub labels: Option<(&'a [u8; 16], &'a [u8; 16])>,
}

/// Per-CPU conntrack counters (`IPCTNL_MSG_CT_GET_STATS_CPU`, like `conntrack -S`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// The CPU.
    pub cpu: u16,
    /// Lookups that found an entry.
    pub found: u32,
    /// Packets that could not be tracked.
    pub invalid: u32,
    /// Entries inserted.
    pub insert: u32,
    /// Inserts that failed (a clash).
    pub insert_failed: u32,
    /// Packets dropped because the table was full or an entry could not be made.
    pub drop: u32,
    /// Entries dropped early to make room.
    pub early_drop: u32,
    /// Protocol errors.
    pub error: u32,
    /// Lookups restarted because the table changed.
    pub search_restart: u32,
    /// Clashes resolved.
    pub clash_resolve: u32,
    /// Hash chains found too long.
    pub chain_toolong: u32,
    /// Lookups (no longer counted by current kernels).
    pub searched: u32,
    /// New entries (no longer counted).
    pub new: u32,
    /// Packets already tracked (no longer counted).
    pub ignore: u32,
    /// Deletions (no longer counted).
    pub delete: u32,
    /// Deletions from the dying list (no longer counted).
    pub delete_list: u32,
}

/// Table-wide conntrack numbers (`IPCTNL_MSG_CT_GET_STATS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalStats {
    /// Entries in the table now.
    pub entries: u32,
    /// The table's limit (`nf_conntrack_max`), when the kernel sends it.
    pub max_entries: Option<u32>,
}

/// Per-CPU expectation counters (`IPCTNL_MSG_EXP_GET_STATS_CPU`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpCpuStats {
    /// The CPU.
    pub cpu: u16,
    /// Expectations created by helpers.
    pub new: u32,
    /// Expectations matched by a new connection.
    pub create: u32,
    /// Expectations removed.
    pub delete: u32,
}

fn cpu_stats(m: &Msg<'_>) -> std::result::Result<CpuStats, crate::netlink::ParseError> {
    let (g, attrs) = m.nfgen()?;
    let mut s = CpuStats { cpu: g.res_id, ..Default::default() };
    for a in attrs {
        let a = a?;
        let v = a.be_u32("CTA_STATS_*")?;
        match a.kind() {
            cta_stats::SEARCHED => s.searched = v,
            cta_stats::FOUND => s.found = v,
            cta_stats::NEW => s.new = v,
            cta_stats::INVALID => s.invalid = v,
            cta_stats::IGNORE => s.ignore = v,
            cta_stats::DELETE => s.delete = v,
            cta_stats::DELETE_LIST => s.delete_list = v,
            cta_stats::INSERT => s.insert = v,
            cta_stats::INSERT_FAILED => s.insert_failed = v,
            cta_stats::DROP => s.drop = v,
            cta_stats::EARLY_DROP => s.early_drop = v,
            cta_stats::ERROR => s.error = v,
            cta_stats::SEARCH_RESTART => s.search_restart = v,
            cta_stats::CLASH_RESOLVE => s.clash_resolve = v,
            cta_stats::CHAIN_TOOLONG => s.chain_toolong = v,
            _ => {}
        }
    }
    Ok(s)
}

/// A ctnetlink request handle.
pub struct Conntrack {
    sock: Socket,
    seq: AtomicU32,
    buf: Mutex<Vec<u8>>,
    timeout: Duration,
    interrupted: AtomicBool,
    last_error: Mutex<String>,
    /// Whether the kernel has the `CTA_FILTER` tuple filter: 0 not probed yet, 1 yes, 2 no.
    tuple_filter: AtomicU8,
    report: Mutex<DumpReport>,
}

fn open_socket(netns: &Netns, what: &str) -> Result<Socket> {
    let sock = Socket::open_in(NETLINK_NETFILTER, netns).map_err(|e| match netns {
        Netns::Current => Error::from_io(&e, &format!("opening the {what} socket")),
        ns => Error::from_io(&e, &format!("opening the {what} socket in network namespace {ns:?}")),
    })?;
    let _ = sock.set_ext_ack(true);
    Ok(sock)
}

/// Starts a ctnetlink message in `buf`.
fn start(buf: &mut Vec<u8>, subsys: u8, ty: u8, flags: u16, seq: u32, family: u8) -> MsgBuilder<'_> {
    let mut b = MsgBuilder::new(buf, nfnl_msg_type(subsys, ty), flags, seq);
    b.nfgen(family, 0);
    b
}

/// Appends labels and their mask. The kernel computes `(old & !mask) ^ labels`, so the
/// labels are cut to the mask first: the bits of the mask take their value from `labels`.
fn put_labels(b: &mut MsgBuilder<'_>, labels: &[u8], mask: Option<&[u8]>) {
    match mask {
        Some(m) if m.len() == labels.len() && labels.len() <= 128 => {
            let mut l = [0u8; 128];
            for (i, (x, y)) in labels.iter().zip(m).enumerate() {
                l[i] = x & y;
            }
            b.put(cta::LABELS, &l[..labels.len()]).put(cta::LABELS_MASK, m);
        }
        Some(m) => {
            b.put(cta::LABELS, labels).put(cta::LABELS_MASK, m);
        }
        None => {
            b.put(cta::LABELS, labels);
        }
    }
}

fn put_protoinfo(b: &mut MsgBuilder<'_>, p: &ProtoInfo) {
    let n = b.nest_start(cta::PROTOINFO);
    match p {
        ProtoInfo::Tcp(t) => {
            let x = b.nest_start(cta::PROTOINFO_TCP);
            if let Some(s) = t.state {
                b.put_u8(cta::TCP_STATE, s);
            }
            if let Some(s) = t.wscale_orig {
                b.put_u8(cta::TCP_WSCALE_ORIGINAL, s);
            }
            if let Some(s) = t.wscale_reply {
                b.put_u8(cta::TCP_WSCALE_REPLY, s);
            }
            if let Some(f) = t.flags_orig {
                b.put(cta::TCP_FLAGS_ORIGINAL, &[f.flags, f.mask]);
            }
            if let Some(f) = t.flags_reply {
                b.put(cta::TCP_FLAGS_REPLY, &[f.flags, f.mask]);
            }
            b.nest_end(x);
        }
        ProtoInfo::Sctp(s) => {
            let x = b.nest_start(cta::PROTOINFO_SCTP);
            if let Some(v) = s.state {
                b.put_u8(cta::SCTP_STATE, v);
            }
            if let Some(v) = s.vtag_orig {
                b.put_be32(cta::SCTP_VTAG_ORIGINAL, v);
            }
            if let Some(v) = s.vtag_reply {
                b.put_be32(cta::SCTP_VTAG_REPLY, v);
            }
            b.nest_end(x);
        }
        ProtoInfo::Dccp(d) => {
            let x = b.nest_start(cta::PROTOINFO_DCCP);
            if let Some(v) = d.state {
                b.put_u8(cta::DCCP_STATE, v);
            }
            if let Some(v) = d.role {
                b.put_u8(cta::DCCP_ROLE, v);
            }
            if let Some(v) = d.handshake_seq {
                b.put_be64(cta::DCCP_HANDSHAKE_SEQ, v);
            }
            b.nest_end(x);
        }
    }
    b.nest_end(n);
}

/// Encodes a request that creates `c` (`IPCTNL_MSG_CT_NEW` with create and exclusive flags).
/// A missing reply tuple is the original one reversed.
pub(crate) fn encode_create(buf: &mut Vec<u8>, seq: u32, c: &Conn<'_>) {
    let mut b = start(
        buf,
        NFNL_SUBSYS_CTNETLINK,
        msg::CT_NEW,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
        c.family(),
    );
    let orig = c.orig().copied().unwrap_or_default();
    orig.put(&mut b, cta::TUPLE_ORIG);
    c.reply().copied().unwrap_or_else(|| orig.reversed()).put(&mut b, cta::TUPLE_REPLY);
    if let Some(s) = c.status() {
        b.put_be32(cta::STATUS, s);
    }
    if let Some(t) = c.timeout() {
        b.put_be32(cta::TIMEOUT, t);
    }
    if let Some(m) = c.mark() {
        b.put_be32(cta::MARK, m);
    }
    if let Some(z) = c.zone() {
        b.put_be16(cta::ZONE, z);
    }
    if let Some(p) = c.protoinfo() {
        put_protoinfo(&mut b, p);
    }
    if let Some(l) = c.labels() {
        put_labels(&mut b, l, c.labels_mask());
    }
    if let Some(h) = c.helper_name() {
        let n = b.nest_start(cta::HELP);
        put_cstr(&mut b, cta::HELP_NAME, h);
        b.nest_end(n);
    }
    b.finish();
}

/// Encodes a request that changes the connection with original tuple `t`.
pub(crate) fn encode_update(buf: &mut Vec<u8>, seq: u32, t: &Tuple, zone: Option<u16>, u: &Update<'_>) {
    let mut b = start(buf, NFNL_SUBSYS_CTNETLINK, msg::CT_NEW, NLM_F_REQUEST | NLM_F_ACK, seq, t.family());
    t.put(&mut b, cta::TUPLE_ORIG);
    if let Some(z) = zone {
        b.put_be16(cta::ZONE, z);
    }
    if let Some(m) = u.mark {
        // The kernel computes (old & ~mask) ^ mark: keep the mark inside the mask.
        let mask = u.mark_mask.unwrap_or(u32::MAX);
        b.put_be32(cta::MARK, m & mask);
        if u.mark_mask.is_some() {
            b.put_be32(cta::MARK_MASK, mask);
        }
    }
    if let Some(t) = u.timeout {
        b.put_be32(cta::TIMEOUT, t);
    }
    if let Some(s) = u.status {
        b.put_be32(cta::STATUS, s);
    }
    if let Some((l, m)) = u.labels {
        put_labels(&mut b, l, Some(m));
    }
    b.finish();
}

/// Encodes a get (`IPCTNL_MSG_CT_GET`) or delete (`IPCTNL_MSG_CT_DELETE`) of one connection.
pub(crate) fn encode_key(buf: &mut Vec<u8>, seq: u32, ty: u8, t: &Tuple, zone: Option<u16>, id: Option<u32>) {
    let mut b = start(buf, NFNL_SUBSYS_CTNETLINK, ty, NLM_F_REQUEST | NLM_F_ACK, seq, t.family());
    t.put(&mut b, cta::TUPLE_ORIG);
    if let Some(z) = zone {
        b.put_be16(cta::ZONE, z);
    }
    if let Some(id) = id {
        b.put_be32(cta::ID, id);
    }
    b.finish();
}

/// Encodes a dump request of `table` with the kernel-side parts of `f` (`tuple`: send the
/// `CTA_FILTER` tuple filter).
pub(crate) fn encode_dump(buf: &mut Vec<u8>, seq: u32, table: Table, family: u8, f: &DumpFilter, tuple: bool) {
    let mut b = start(buf, NFNL_SUBSYS_CTNETLINK, table.msg(), NLM_F_REQUEST | NLM_F_DUMP, seq, family);
    if let Some((v, m)) = f.mark {
        b.put_be32(cta::MARK, v & m).put_be32(cta::MARK_MASK, m);
    }
    if let Some(z) = f.zone.filter(|&z| z != 0) {
        b.put_be16(cta::ZONE, z);
    }
    let (orig, reply) = (f.orig_sent().map(kernel_part), f.reply.map(kernel_part));
    let (of, rf) = (orig.map_or(0, |t| tuple_flags(&t)), reply.map_or(0, |t| tuple_flags(&t)));
    if tuple && (of | rf) != 0 {
        if let Some(t) = orig.filter(|_| of != 0) {
            t.put(&mut b, cta::TUPLE_ORIG);
        }
        if let Some(t) = reply.filter(|_| rf != 0) {
            t.put(&mut b, cta::TUPLE_REPLY);
        }
        let n = b.nest_start(cta::FILTER);
        if of != 0 {
            b.put(CTA_FILTER_ORIG_FLAGS, &of.to_ne_bytes());
        }
        if rf != 0 {
            b.put(CTA_FILTER_REPLY_FLAGS, &rf.to_ne_bytes());
        }
        b.nest_end(n);
    }
    b.finish();
}

/// The part of a tuple filter the kernel compares correctly: all but IPv6 addresses, which
/// the kernel's `CTA_FILTER` compares inverted (an entry passes when its address differs; seen
/// on Linux 6.18), so those are compared in the library only.
fn kernel_part(t: Tuple) -> Tuple {
    let v4 = |a: Option<IpAddr>| a.filter(|a| a.is_ipv4());
    Tuple { src: v4(t.src), dst: v4(t.dst), ..t }
}

/// Whether the tuple filters of `f` have a part only the library compares (`kernel_part`).
fn library_only_tuple_parts(f: &DumpFilter) -> bool {
    [f.orig, f.reply]
        .into_iter()
        .flatten()
        .any(|t| t.src.is_some_and(|a| a.is_ipv6()) || t.dst.is_some_and(|a| a.is_ipv6()) || t.zone.is_some())
}

/// Encodes the probe for the `CTA_FILTER` tuple filter: a dump asking for a filter flag no
/// kernel knows. A kernel with the filter refuses it (EOPNOTSUPP or EINVAL); an older one
/// ignores the attribute and dumps.
fn encode_filter_probe(buf: &mut Vec<u8>, seq: u32) {
    let mut b = start(buf, NFNL_SUBSYS_CTNETLINK, msg::CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, libc::AF_INET as u8);
    let n = b.nest_start(cta::FILTER);
    b.put(CTA_FILTER_ORIG_FLAGS, &(1u32 << 31).to_ne_bytes());
    b.nest_end(n);
    b.finish();
}

/// Fills the absent parts of an expectation mask with zeros (wildcards) of the family of
/// `tuple`, and takes its protocol from `tuple` (the kernel reads the mask's ports by the
/// protocol).
fn full_mask(mask: Option<&Tuple>, tuple: &Tuple) -> Tuple {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let zero = if tuple.family() == libc::AF_INET6 as u8 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let m = mask.copied().unwrap_or_default();
    let icmp = matches!(tuple.proto, Some(super::tuple::PROTO_ICMP | super::tuple::PROTO_ICMPV6));
    Tuple {
        src: Some(m.src.unwrap_or(zero)),
        dst: Some(m.dst.unwrap_or(zero)),
        proto: tuple.proto,
        src_port: if icmp { None } else { Some(m.src_port.unwrap_or(0)) },
        dst_port: if icmp { None } else { Some(m.dst_port.unwrap_or(0)) },
        icmp_id: if icmp { Some(m.icmp_id.unwrap_or(0)) } else { None },
        icmp_type: if icmp { Some(m.icmp_type.unwrap_or(0)) } else { None },
        icmp_code: if icmp { Some(m.icmp_code.unwrap_or(0)) } else { None },
        zone: None,
    }
}

/// Appends a NUL-terminated string attribute.
fn put_cstr(b: &mut MsgBuilder<'_>, kind: u16, s: &[u8]) {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    b.put(kind, &v);
}

/// Encodes a request that creates the expectation `e` (`IPCTNL_MSG_EXP_NEW`, create and
/// exclusive), or with `excl` false, changes the timeout of an existing one.
pub(crate) fn encode_create_expect(buf: &mut Vec<u8>, seq: u32, e: &Expect<'_>, create: bool) {
    let flags = if create { NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL } else { NLM_F_REQUEST | NLM_F_ACK };
    let mut b = start(buf, NFNL_SUBSYS_CTNETLINK_EXP, msg::EXP_NEW, flags, seq, e.family());
    let tuple = e.tuple().copied().unwrap_or_default();
    if let Some(m) = e.master() {
        m.put(&mut b, cta_exp::MASTER);
    }
    tuple.put(&mut b, cta_exp::TUPLE);
    full_mask(e.mask(), &tuple).put(&mut b, cta_exp::MASK);
    if let Some(t) = e.timeout() {
        b.put_be32(cta_exp::TIMEOUT, t);
    }
    if let Some(z) = e.zone() {
        b.put_be16(cta_exp::ZONE, z);
    }
    if let Some(id) = e.id() {
        b.put_be32(cta_exp::ID, id);
    }
    if create {
        if let Some(h) = e.helper_name() {
            put_cstr(&mut b, cta_exp::HELP_NAME, h);
        }
        if let Some(f) = e.flags() {
            b.put_be32(cta_exp::FLAGS, f);
        }
        if let Some(c) = e.class() {
            b.put_be32(cta_exp::CLASS, c);
        }
        if let (Some(d), Some(t)) = (e.nat_dir(), e.nat_tuple()) {
            let n = b.nest_start(cta_exp::NAT);
            b.put_be32(cta_exp::NAT_DIR, d);
            t.put(&mut b, cta_exp::NAT_TUPLE);
            b.nest_end(n);
        }
        if let Some(f) = e.function() {
            put_cstr(&mut b, cta_exp::FN, f);
        }
    }
    b.finish();
}

/// Encodes a get (`IPCTNL_MSG_EXP_GET`) or delete (`IPCTNL_MSG_EXP_DELETE`) of the expectation
/// with expected tuple `t` (in `zone`; with `id`, only that one).
pub(crate) fn encode_expect_key(buf: &mut Vec<u8>, seq: u32, ty: u8, t: &Tuple, zone: Option<u16>, id: Option<u32>) {
    let mut b = start(buf, NFNL_SUBSYS_CTNETLINK_EXP, ty, NLM_F_REQUEST | NLM_F_ACK, seq, t.family());
    t.put(&mut b, cta_exp::TUPLE);
    if let Some(z) = zone {
        b.put_be16(cta_exp::ZONE, z);
    }
    if let Some(id) = id {
        b.put_be32(cta_exp::ID, id);
    }
    b.finish();
}

impl Conntrack {
    /// Opens a ctnetlink socket in `netns`. Requests need CAP_NET_ADMIN in that namespace.
    pub fn open(netns: &Netns) -> Result<Conntrack> {
        let sock = open_socket(netns, "ctnetlink")?;
        let _ = sock.set_rcvbuf(1 << 20);
        Ok(Conntrack {
            sock,
            seq: AtomicU32::new(1),
            buf: Mutex::new(Vec::new()),
            timeout: Duration::from_secs(5),
            interrupted: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            tuple_filter: AtomicU8::new(0),
            report: Mutex::new(DumpReport::default()),
        })
    }

    /// How long a request waits for its answer (and a dump for each of its datagrams).
    pub fn set_timeout(&mut self, d: Duration) {
        self.timeout = d;
    }

    /// The socket descriptor.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.sock.fd()
    }

    /// The last error recorded on this handle (empty if none).
    pub fn last_error(&self) -> String {
        self.last_error.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether the kernel flagged the last dump as inconsistent (`NLM_F_DUMP_INTR`: the table
    /// changed while it was read, so an entry may be missing or seen twice).
    pub fn last_dump_interrupted(&self) -> bool {
        self.interrupted.load(Relaxed)
    }

    /// Records an error as the handle's last error and returns it (for the FFI layer).
    pub fn record_error(&self, e: Error) -> Error {
        if let Ok(mut s) = self.last_error.lock() {
            s.clear();
            s.push_str(e.message());
        }
        e
    }

    fn next_seq(&self) -> u32 {
        loop {
            let s = self.seq.fetch_add(1, Relaxed);
            if s != 0 {
                return s;
            }
        }
    }

    fn claim(&self, what: &str) -> Result<MutexGuard<'_, Vec<u8>>> {
        match self.buf.try_lock() {
            Ok(g) => Ok(g),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(self.record_error(Error::new(
                ErrorKind::Busy,
                format!(
                    "{what}: another call is in progress on this conntrack handle (another thread, or a callback \
                     calling back into its own handle); use a second handle"
                ),
            ))),
        }
    }

    fn failure(&self, (errno, ext): Failure, what: &str) -> Error {
        let exp = what.contains("expectation");
        let hint = match errno {
            libc::EPERM => Some("EPERM: the process lacks CAP_NET_ADMIN in the network namespace".to_string()),
            libc::ENOENT if what.starts_with("creating an expectation") => Some(
                "ENOENT: the master connection (its original tuple, in the zone given) is not in the table".to_string(),
            ),
            libc::ENOENT if exp => Some("ENOENT: no such expectation".to_string()),
            libc::ENOENT => Some("ENOENT: no such connection".to_string()),
            libc::EEXIST if exp => Some("EEXIST: the expectation exists already".to_string()),
            libc::EEXIST => Some("EEXIST: the connection exists already".to_string()),
            libc::EOPNOTSUPP if what.starts_with("creating an expectation") => Some(
                "EOPNOTSUPP: the master connection has no helper, or the helper named is not in this kernel; \
                 create the master with a helper (ConnBuf::set_helper, e.g. \"ftp\") or let a CT --helper rule \
                 assign one"
                    .to_string(),
            ),
            libc::EINVAL if what.starts_with("creating an expectation") => Some(
                "EINVAL: the kernel refused the expectation (a missing or malformed tuple or mask, a class above \
                 the helper's classes, an unknown function name, or NAT the kernel lacks)"
                    .to_string(),
            ),
            libc::ENOSPC => Some(
                "ENOSPC: the connection has no label storage; the kernel gives it to connections created while a \
                 connlabel rule exists in the namespace (e.g. iptables -m connlabel --label N)"
                    .to_string(),
            ),
            libc::EBUSY => Some(
                "EBUSY: the status change is not allowed (CONFIRMED, EXPECTED, SEEN_REPLY and ASSURED can't be \
                 cleared, DYING can't be changed); start from the current status"
                    .to_string(),
            ),
            libc::EOPNOTSUPP | libc::EAFNOSUPPORT if what.starts_with("dumping the") => {
                Some(format!("{}: this table or filter is not supported by this kernel", errno_name(errno)))
            }
            libc::EOPNOTSUPP | libc::EAFNOSUPPORT => {
                Some(format!("{}: not supported by this kernel (for this family or protocol)", errno_name(errno)))
            }
            _ => None,
        };
        let mut e = Error::from_errno(errno, what);
        if let Some(h) = hint {
            e = e.with_message(format!("{what}: {h}"));
        }
        if let Some(x) = ext {
            let m = format!("{} (kernel: {x})", e.message());
            e = e.with_message(m);
        }
        self.record_error(e)
    }

    /// Sends a request built by `build` and waits for its ACK; answer messages with its
    /// sequence number go to `on_answer`.
    fn request(
        &self,
        what: &str,
        build: impl FnOnce(&mut Vec<u8>, u32),
        on_answer: &mut dyn FnMut(Msg<'_>),
    ) -> Result<()> {
        let mut buf = self.claim(what)?;
        let seq = self.next_seq();
        let mut req = Vec::with_capacity(256);
        build(&mut req, seq);
        let r = transact(&self.sock, &req, seq, &mut buf, REQ_BUF, self.timeout, &mut |ev| {
            if let Event::Other(m, _) = ev {
                if m.seq() == seq {
                    on_answer(m);
                }
            }
        });
        drop(buf);
        r.map_err(|f| self.failure(f, what))
    }

    /// Sends a dump request and hands each answer message to `on_msg` (false stops).
    fn dump_msgs(
        &self,
        what: &str,
        build: impl FnOnce(&mut Vec<u8>, u32),
        on_msg: &mut dyn FnMut(Msg<'_>) -> bool,
    ) -> Result<DumpEnd> {
        let mut buf = self.claim(what)?;
        let seq = self.next_seq();
        let mut req = Vec::with_capacity(64);
        build(&mut req, seq);
        let r = dump(&self.sock, &req, seq, &mut buf, REQ_BUF, self.timeout, on_msg, &mut |_| {});
        drop(buf);
        let end = r.map_err(|f| self.failure(f, what))?;
        self.interrupted.store(end.interrupted, Relaxed);
        Ok(end)
    }

    /// Dumps the connection table of `family` (0: every family), handing each entry that
    /// passes `filter` to `cb` until it returns false. Returns the number handed over.
    pub fn dump(&self, family: u8, filter: &DumpFilter, cb: &mut dyn FnMut(&Conn<'_>) -> bool) -> Result<usize> {
        self.dump_table(Table::Main, family, filter, cb)
    }

    /// Whether the kernel has the `CTA_FILTER` tuple filter (Linux 5.10 and later); probed
    /// once per handle with a request the kernel refuses if it has it.
    pub fn kernel_has_tuple_filter(&self) -> Result<bool> {
        match self.tuple_filter.load(Relaxed) {
            1 => return Ok(true),
            2 => return Ok(false),
            _ => {}
        }
        let r = self.dump_msgs("probing the kernel's dump filter", encode_filter_probe, &mut |_| true);
        let has = match r {
            Ok(_) => false,
            // Linux 5.10 to 6.x refuse the unknown flag (EOPNOTSUPP; EINVAL from the attribute
            // policy in later kernels).
            Err(e) if e.errno() == libc::EOPNOTSUPP || e.errno() == libc::EINVAL => true,
            Err(e) => return Err(e),
        };
        self.tuple_filter.store(if has { 1 } else { 2 }, Relaxed);
        Ok(has)
    }

    /// What the last dump of a table received and which parts of its filter the kernel
    /// applied (the rest were applied here).
    pub fn last_dump_report(&self) -> DumpReport {
        self.report.lock().map(|r| *r).unwrap_or_default()
    }

    /// Dumps `table` (the main table, or the dying or unconfirmed list) of `family` (0: every
    /// family), handing each entry that passes `filter` to `cb` until it returns false.
    /// Returns the number handed over; [`last_dump_report`](Self::last_dump_report) says
    /// what the kernel filtered.
    pub fn dump_table(
        &self,
        table: Table,
        family: u8,
        filter: &DumpFilter,
        cb: &mut dyn FnMut(&Conn<'_>) -> bool,
    ) -> Result<usize> {
        let what = table.what();
        let family = filter
            .check(family)
            .map_err(|m| self.record_error(Error::new(ErrorKind::InvalidArgument, format!("{what}: {m}"))))?;
        let wants_tuple = (filter.orig_flags() | filter.reply_flags()) != 0;
        let tuple = wants_tuple && table == Table::Main && self.kernel_has_tuple_filter()?;
        let (major, minor) = kernel_version();
        let mut report = DumpReport {
            kernel_mark: filter.mark.is_some() && table == Table::Main,
            kernel_zone: filter.zone.is_some() && table == Table::Main && (major, minor) >= (6, 8),
            kernel_tuple: tuple && !library_only_tuple_parts(filter),
            ..Default::default()
        };
        let mut bad = None;
        // The kernel refuses a tuple filter without a family (EOPNOTSUPP): one dump per family.
        let families: &[u8] =
            if tuple && family == 0 { &[libc::AF_INET as u8, libc::AF_INET6 as u8] } else { &[family] };
        let mut r = Ok(DumpEnd::default());
        let mut stopped = false;
        for &fam in families {
            if stopped {
                break;
            }
            r = self.dump_msgs(what, |b, seq| encode_dump(b, seq, table, fam, filter, tuple), &mut |m| {
                match Conn::from_msg(&m) {
                    Ok(c) => {
                        report.received += 1;
                        if (fam == 0 || c.family() == fam) && filter.matches(&c) {
                            report.kept += 1;
                            stopped = !cb(&c);
                            !stopped
                        } else {
                            true
                        }
                    }
                    Err(e) => {
                        bad.get_or_insert(e);
                        true
                    }
                }
            });
            if r.is_err() {
                break;
            }
        }
        if let Ok(mut g) = self.report.lock() {
            *g = report;
        }
        r?;
        if let Some(e) = bad {
            return Err(self.record_error(Error::parse(e, &format!("{what}: malformed entry"))));
        }
        Ok(report.kept)
    }

    /// The connection table of `family` (0: every family) as owned entries.
    pub fn list(&self, family: u8, filter: &DumpFilter) -> Result<Vec<ConnBuf>> {
        let mut v = Vec::new();
        self.dump(family, filter, &mut |c| {
            v.push(c.to_owned());
            true
        })?;
        Ok(v)
    }

    /// Dumps the expectation table of `family` (0: every family).
    pub fn dump_expect(&self, family: u8, cb: &mut dyn FnMut(&Expect<'_>) -> bool) -> Result<usize> {
        let mut n = 0;
        let mut bad = None;
        self.dump_msgs(
            "dumping the expectation table",
            |buf, seq| {
                start(buf, NFNL_SUBSYS_CTNETLINK_EXP, msg::EXP_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, family).finish();
            },
            &mut |m| match Expect::from_msg(&m) {
                Ok(e) => {
                    n += 1;
                    cb(&e)
                }
                Err(e) => {
                    bad.get_or_insert(e);
                    true
                }
            },
        )?;
        if let Some(e) = bad {
            return Err(self.record_error(Error::parse(e, "dumping the expectation table: malformed entry")));
        }
        Ok(n)
    }

    /// The expectation whose expected tuple is `t` (in `zone`, default 0; with `id`, only the
    /// expectation with that id). `NotFound` if there is none.
    pub fn get_expect(&self, t: &Tuple, zone: Option<u16>, id: Option<u32>) -> Result<ExpectBuf> {
        let what = "getting an expectation";
        self.need_family(t, what)?;
        let mut out = None;
        let mut bad = None;
        self.request(what, |b, seq| encode_expect_key(b, seq, msg::EXP_GET, t, zone, id), &mut |m| {
            match Expect::from_msg(&m) {
                Ok(e) => out = Some(e.to_owned()),
                Err(e) => bad = Some(e),
            }
        })?;
        match (out, bad) {
            (Some(e), _) => Ok(e),
            (None, Some(e)) => Err(self.record_error(Error::parse(e, "getting an expectation: malformed answer"))),
            (None, None) => Err(self.record_error(Error::new(
                ErrorKind::Protocol,
                "getting an expectation: the kernel acknowledged without sending it",
            ))),
        }
    }

    /// Creates the expectation `e`: the master connection's original tuple (the connection
    /// must exist and have a helper), the expected tuple, the mask (absent parts are
    /// wildcards), a timeout, and optionally the zone, helper name, flags, class, NAT and
    /// function. `Exists` if an expectation with that tuple exists.
    pub fn create_expect(&self, e: &Expect<'_>) -> Result<()> {
        let what = "creating an expectation";
        let invalid = |m: &str| self.record_error(Error::new(ErrorKind::InvalidArgument, format!("{what}: {m}")));
        let Some(master) = e.master() else {
            return Err(invalid("no master tuple (the original tuple of the connection that expects it)"));
        };
        let Some(t) = e.tuple() else { return Err(invalid("no expected tuple")) };
        self.need_family(master, what)?;
        self.need_family(t, what)?;
        if master.family() != t.family() {
            return Err(invalid("the master and expected tuples are of different families"));
        }
        if t.proto.is_none() {
            return Err(invalid("the expected tuple needs its protocol"));
        }
        if e.timeout().is_none() {
            return Err(invalid("a timeout is required"));
        }
        if let Some(m) = e.mask() {
            if m.family() != 0 && m.family() != t.family() {
                return Err(invalid("the mask's addresses are of another family than the expected tuple's"));
            }
        }
        self.request(what, |b, seq| encode_create_expect(b, seq, e, true), &mut |_| {})
    }

    /// Changes the timeout of the expectation whose expected tuple is `t` (in `zone`): the
    /// only change the kernel allows on an expectation.
    pub fn update_expect_timeout(&self, t: &Tuple, zone: Option<u16>, timeout: u32) -> Result<()> {
        let what = "updating an expectation";
        self.need_family(t, what)?;
        // The kernel wants the master and mask with the tuple even for a change: take them
        // from the expectation as it is.
        let mut e = self.get_expect(t, zone, None).map_err(|e| {
            let m = format!("{what}: {}", e.message());
            self.record_error(e.with_message(m))
        })?;
        e.set_timeout(timeout);
        self.request(what, |b, seq| encode_create_expect(b, seq, &e.view(), false), &mut |_| {})
    }

    /// Deletes the expectation whose expected tuple is `t` (in `zone`; with `id`, only the
    /// expectation with that id). `NotFound` if there is none.
    pub fn delete_expect(&self, t: &Tuple, zone: Option<u16>, id: Option<u32>) -> Result<()> {
        let what = "deleting an expectation";
        self.need_family(t, what)?;
        self.request(what, |b, seq| encode_expect_key(b, seq, msg::EXP_DELETE, t, zone, id), &mut |_| {})
    }

    /// Deletes the expectation with id `id` (of `family`, 0: any): the kernel looks
    /// expectations up by tuple, so this finds the tuple in a dump first. `NotFound` if no
    /// expectation has that id.
    pub fn delete_expect_id(&self, family: u8, id: u32) -> Result<()> {
        let mut found = None;
        self.dump_expect(family, &mut |e| {
            if e.id() == Some(id) {
                found = e.tuple().map(|t| (*t, e.zone()));
                return false;
            }
            true
        })?;
        match found {
            Some((t, zone)) => self.delete_expect(&t, zone, Some(id)),
            None => Err(self.record_error(Error::new(
                ErrorKind::NotFound,
                format!("deleting an expectation: no expectation has id {id:#x}"),
            ))),
        }
    }

    /// Deletes every expectation created by the helper `name` (e.g. `b"ftp"`).
    pub fn delete_expect_helper(&self, family: u8, name: &[u8]) -> Result<()> {
        let what = "deleting the expectations of a helper";
        if name.is_empty() || name.len() > 15 || name.contains(&0) {
            return Err(self.record_error(Error::new(
                ErrorKind::InvalidArgument,
                format!("{what}: the helper name must be 1 to 15 bytes without NUL"),
            )));
        }
        self.request(
            what,
            |buf, seq| {
                let mut b =
                    start(buf, NFNL_SUBSYS_CTNETLINK_EXP, msg::EXP_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, family);
                put_cstr(&mut b, cta_exp::HELP_NAME, name);
                b.finish();
            },
            &mut |_| {},
        )
    }

    fn need_family(&self, t: &Tuple, what: &str) -> Result<()> {
        if t.family() == 0 {
            return Err(self.record_error(Error::new(
                ErrorKind::InvalidArgument,
                format!("{what}: the tuple needs its addresses (they give the family)"),
            )));
        }
        Ok(())
    }

    /// The connection whose original tuple is `t` (in `zone`, default 0). `NotFound` if none.
    pub fn get(&self, t: &Tuple, zone: Option<u16>) -> Result<ConnBuf> {
        let what = "getting a connection";
        self.need_family(t, what)?;
        let mut out = None;
        let mut bad = None;
        self.request(
            what,
            |b, seq| encode_key(b, seq, msg::CT_GET, t, zone, None),
            &mut |m| match Conn::from_msg(&m) {
                Ok(c) => out = Some(c.to_owned()),
                Err(e) => bad = Some(e),
            },
        )?;
        match (out, bad) {
            (Some(c), _) => Ok(c),
            (None, Some(e)) => Err(self.record_error(Error::parse(e, "getting a connection: malformed answer"))),
            (None, None) => Err(self.record_error(Error::new(
                ErrorKind::Protocol,
                "getting a connection: the kernel acknowledged without sending the entry",
            ))),
        }
    }

    /// Creates a connection. It needs an original tuple, a timeout and, for TCP, usually a
    /// state (`ProtoInfo::Tcp`); a missing reply tuple is the original one reversed.
    pub fn create(&self, c: &Conn<'_>) -> Result<()> {
        let what = "creating a connection";
        match c.orig() {
            Some(t) => self.need_family(t, what)?,
            None => {
                return Err(
                    self.record_error(Error::new(ErrorKind::InvalidArgument, format!("{what}: no original tuple")))
                );
            }
        }
        if c.timeout().is_none() {
            return Err(self.record_error(Error::new(
                ErrorKind::InvalidArgument,
                format!("{what}: a timeout is required (the kernel refuses a new entry without one)"),
            )));
        }
        self.request(what, |b, seq| encode_create(b, seq, c), &mut |_| {})
    }

    /// Changes the connection whose original tuple is `t` (in `zone`).
    pub fn update(&self, t: &Tuple, zone: Option<u16>, u: &Update<'_>) -> Result<()> {
        let what = "updating a connection";
        self.need_family(t, what)?;
        self.request(what, |b, seq| encode_update(b, seq, t, zone, u), &mut |_| {})
    }

    /// Deletes the connection whose original tuple is `t` (in `zone`).
    pub fn delete(&self, t: &Tuple, zone: Option<u16>) -> Result<()> {
        let what = "deleting a connection";
        self.need_family(t, what)?;
        self.request(what, |b, seq| encode_key(b, seq, msg::CT_DELETE, t, zone, None), &mut |_| {})
    }

    /// Deletes the entry `c` describes (its original tuple and zone), and only that one: when
    /// it has an id, an entry that replaced it meanwhile is left alone (ENOENT).
    pub fn delete_entry(&self, c: &Conn<'_>) -> Result<()> {
        let what = "deleting a connection";
        let Some(t) = c.orig() else {
            return Err(self.record_error(Error::new(ErrorKind::InvalidArgument, format!("{what}: no original tuple"))));
        };
        self.need_family(t, what)?;
        self.request(what, |b, seq| encode_key(b, seq, msg::CT_DELETE, t, c.zone(), c.id()), &mut |_| {})
    }

    /// Deletes every connection of `family` (0: all families).
    pub fn flush(&self, family: u8) -> Result<()> {
        self.request(
            "flushing the conntrack table",
            |buf, seq| {
                start(buf, NFNL_SUBSYS_CTNETLINK, msg::CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, family).finish();
            },
            &mut |_| {},
        )
    }

    /// Deletes every expectation of `family` (0: all families).
    pub fn flush_expect(&self, family: u8) -> Result<()> {
        self.request(
            "flushing the expectation table",
            |buf, seq| {
                start(buf, NFNL_SUBSYS_CTNETLINK_EXP, msg::EXP_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, family).finish();
            },
            &mut |_| {},
        )
    }

    /// Per-CPU conntrack counters.
    pub fn stats_cpu(&self) -> Result<Vec<CpuStats>> {
        let mut v = Vec::new();
        let mut bad = None;
        self.dump_msgs(
            "reading per-CPU conntrack statistics",
            |buf, seq| {
                start(buf, NFNL_SUBSYS_CTNETLINK, msg::CT_GET_STATS_CPU, NLM_F_REQUEST | NLM_F_DUMP, seq, 0).finish();
            },
            &mut |m| {
                match cpu_stats(&m) {
                    Ok(s) => v.push(s),
                    Err(e) => bad = Some(e),
                }
                true
            },
        )?;
        match bad {
            Some(e) => Err(self.record_error(Error::parse(e, "reading per-CPU conntrack statistics"))),
            None => Ok(v),
        }
    }

    /// Table-wide numbers: entries now and the limit.
    pub fn stats(&self) -> Result<GlobalStats> {
        let mut out = None;
        let mut bad = None;
        self.request(
            "reading conntrack statistics",
            |buf, seq| {
                start(buf, NFNL_SUBSYS_CTNETLINK, msg::CT_GET_STATS, NLM_F_REQUEST | NLM_F_ACK, seq, 0).finish();
            },
            &mut |m| {
                let r = (|| {
                    let (_, attrs) = m.nfgen()?;
                    let mut s = GlobalStats::default();
                    for a in attrs {
                        let a = a?;
                        match a.kind() {
                            cta_stats::GLOBAL_ENTRIES => s.entries = a.be_u32("CTA_STATS_GLOBAL_ENTRIES")?,
                            cta_stats::GLOBAL_MAX_ENTRIES => {
                                s.max_entries = Some(a.be_u32("CTA_STATS_GLOBAL_MAX_ENTRIES")?)
                            }
                            _ => {}
                        }
                    }
                    Ok::<_, crate::netlink::ParseError>(s)
                })();
                match r {
                    Ok(s) => out = Some(s),
                    Err(e) => bad = Some(e),
                }
            },
        )?;
        match (out, bad) {
            (Some(s), _) => Ok(s),
            (None, Some(e)) => Err(self.record_error(Error::parse(e, "reading conntrack statistics"))),
            (None, None) => Err(self.record_error(Error::new(
                ErrorKind::Protocol,
                "reading conntrack statistics: the kernel acknowledged without sending them",
            ))),
        }
    }

    /// Per-CPU expectation counters.
    pub fn exp_stats_cpu(&self) -> Result<Vec<ExpCpuStats>> {
        let mut v = Vec::new();
        let mut bad = None;
        self.dump_msgs(
            "reading per-CPU expectation statistics",
            |buf, seq| {
                start(buf, NFNL_SUBSYS_CTNETLINK_EXP, msg::EXP_GET_STATS_CPU, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
                    .finish();
            },
            &mut |m| {
                let r = (|| {
                    let (g, attrs) = m.nfgen()?;
                    let mut s = ExpCpuStats { cpu: g.res_id, ..Default::default() };
                    for a in attrs {
                        let a = a?;
                        let val = a.be_u32("CTA_STATS_EXP_*")?;
                        match a.kind() {
                            cta_stats::EXP_NEW => s.new = val,
                            cta_stats::EXP_CREATE => s.create = val,
                            cta_stats::EXP_DELETE => s.delete = val,
                            _ => {}
                        }
                    }
                    Ok::<_, crate::netlink::ParseError>(s)
                })();
                match r {
                    Ok(s) => v.push(s),
                    Err(e) => bad = Some(e),
                }
                true
            },
        )?;
        match bad {
            Some(e) => Err(self.record_error(Error::parse(e, "reading per-CPU expectation statistics"))),
            None => Ok(v),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// What happened to a connection or an expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Created.
    New,
    /// Changed (state, status, mark, labels, ...).
    Update,
    /// Removed.
    Destroy,
}

impl EventKind {
    /// The tag `conntrack -E` prints: `[NEW]`, `[UPDATE]`, `[DESTROY]`.
    pub fn tag(self) -> &'static str {
        match self {
            EventKind::New => "[NEW]",
            EventKind::Update => "[UPDATE]",
            EventKind::Destroy => "[DESTROY]",
        }
    }
}

/// One event.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant)] // both variants are views of a few hundred bytes
pub enum CtEvent<'a> {
    /// A connection event.
    Conn(EventKind, Conn<'a>),
    /// An expectation event.
    Expect(EventKind, Expect<'a>),
}

impl<'a> CtEvent<'a> {
    /// Decodes an event message; `Ok(None)` for messages that are not events.
    pub fn from_msg(m: &Msg<'a>) -> std::result::Result<Option<CtEvent<'a>>, crate::netlink::ParseError> {
        let created = m.flags() & (NLM_F_CREATE | NLM_F_EXCL) != 0;
        let ty = m.msg_type() as u8;
        match m.subsys() {
            NFNL_SUBSYS_CTNETLINK => {
                let kind = match ty {
                    msg::CT_NEW if created => EventKind::New,
                    msg::CT_NEW => EventKind::Update,
                    msg::CT_DELETE => EventKind::Destroy,
                    _ => return Ok(None),
                };
                Ok(Some(CtEvent::Conn(kind, Conn::from_msg(m)?)))
            }
            NFNL_SUBSYS_CTNETLINK_EXP => {
                let kind = match ty {
                    msg::EXP_NEW if created => EventKind::New,
                    msg::EXP_NEW => EventKind::Update,
                    msg::EXP_DELETE => EventKind::Destroy,
                    _ => return Ok(None),
                };
                Ok(Some(CtEvent::Expect(kind, Expect::from_msg(m)?)))
            }
            _ => Ok(None),
        }
    }

    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            CtEvent::Conn(k, _) | CtEvent::Expect(k, _) => *k,
        }
    }

    /// The `groups::*` bit this event belongs to.
    pub fn group(&self) -> u32 {
        use super::groups;
        match self {
            CtEvent::Conn(EventKind::New, _) => groups::NEW,
            CtEvent::Conn(EventKind::Update, _) => groups::UPDATE,
            CtEvent::Conn(EventKind::Destroy, _) => groups::DESTROY,
            CtEvent::Expect(EventKind::New, _) => groups::EXP_NEW,
            CtEvent::Expect(EventKind::Update, _) => groups::EXP_UPDATE,
            CtEvent::Expect(EventKind::Destroy, _) => groups::EXP_DESTROY,
        }
    }
}

/// Which events to hand over. Checked in the library on each event
/// ([`Events::set_filter`]); the same description compiles to a classic BPF program the
/// kernel runs on the event socket ([`Events::set_kernel_filter`]), so filtered events are
/// never copied to the process. Both give the same result on the same events.
///
/// Connection events are checked on their original-direction tuple. Expectation events are
/// checked on `kinds`, `family`, `l4proto` (of the expected tuple) and `zone`; a filter with
/// any connection-only part (`mark`, `status`, `src`, `dst`, `src_port`, `dst_port`) leaves
/// expectation events out. Each part can be negated (`negate`, `neg::*` bits): then events
/// for which that part does not hold pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// `groups::*` bits of the events to keep (0: all).
    pub kinds: u32,
    /// Keep events of this family only.
    pub family: Option<u8>,
    /// Keep connection events of this layer-4 protocol (for expectations: of the expected tuple).
    pub l4proto: Option<u8>,
    /// Keep connection events whose `mark & mask == value & mask`: `(value, mask)` (an event
    /// without a mark has mark 0).
    pub mark: Option<(u32, u32)>,
    /// Keep events of this zone (0 is the default zone).
    pub zone: Option<u16>,
    /// Keep connection events whose `status & mask == value & mask` (`status::*` bits).
    pub status: Option<(u32, u32)>,
    /// Keep connection events whose original source address is in this network: (address,
    /// prefix length).
    pub src: Option<(IpAddr, u8)>,
    /// Keep connection events whose original destination address is in this network.
    pub dst: Option<(IpAddr, u8)>,
    /// Keep connection events with this original source port.
    pub src_port: Option<u16>,
    /// Keep connection events with this original destination port.
    pub dst_port: Option<u16>,
    /// The parts that are negated: `neg::*` bits.
    pub negate: u32,
}

/// Bits of [`EventFilter::negate`].
pub mod neg {
    #![allow(missing_docs)]
    pub const L4PROTO: u32 = 1 << 0;
    pub const MARK: u32 = 1 << 1;
    pub const ZONE: u32 = 1 << 2;
    pub const STATUS: u32 = 1 << 3;
    pub const SRC: u32 = 1 << 4;
    pub const DST: u32 = 1 << 5;
    pub const SRC_PORT: u32 = 1 << 6;
    pub const DST_PORT: u32 = 1 << 7;
    /// Every bit.
    pub const ALL: u32 = (1 << 8) - 1;
}

/// Whether `a` is in the network `net/len` (false across families).
pub(crate) fn in_prefix(a: IpAddr, net: IpAddr, len: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len.min(32) as u32) };
            u32::from(a) & m == u32::from(n) & m
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = if len == 0 { 0 } else { u128::MAX << (128 - len.min(128) as u32) };
            u128::from(a) & m == u128::from(n) & m
        }
        _ => false,
    }
}

impl EventFilter {
    /// Whether the filter has a part only connection events have.
    pub(crate) fn conn_only(&self) -> bool {
        self.mark.is_some()
            || self.status.is_some()
            || self.src.is_some()
            || self.dst.is_some()
            || self.src_port.is_some()
            || self.dst_port.is_some()
    }

    /// Checks the description: prefix lengths within the address size, addresses of the
    /// filter's family, known negation bits.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.negate & !neg::ALL != 0 {
            return Err(format!("unknown negation bits {:#x} (use neg::*)", self.negate & !neg::ALL));
        }
        if self.kinds & !super::groups::ALL != 0 {
            return Err(format!("unknown event kinds {:#x} (use groups::*)", self.kinds & !super::groups::ALL));
        }
        for (name, bit, v) in [("src", neg::SRC, self.src), ("dst", neg::DST, self.dst)] {
            let Some((a, len)) = v else {
                if self.negate & bit != 0 {
                    return Err(format!("{name} is negated but not set"));
                }
                continue;
            };
            let max = if a.is_ipv4() { 32 } else { 128 };
            if len > max {
                return Err(format!("{name} prefix /{len} is longer than the address ({max} bits)"));
            }
            let fam = if a.is_ipv4() { libc::AF_INET as u8 } else { libc::AF_INET6 as u8 };
            if let Some(f) = self.family {
                if f != fam {
                    return Err(format!("{name} {a} is not of the filter's family {f}: no event could match"));
                }
            }
        }
        for (name, bit, set) in [
            ("l4proto", neg::L4PROTO, self.l4proto.is_some()),
            ("mark", neg::MARK, self.mark.is_some()),
            ("zone", neg::ZONE, self.zone.is_some()),
            ("status", neg::STATUS, self.status.is_some()),
            ("src_port", neg::SRC_PORT, self.src_port.is_some()),
            ("dst_port", neg::DST_PORT, self.dst_port.is_some()),
        ] {
            if self.negate & bit != 0 && !set {
                return Err(format!("{name} is negated but not set"));
            }
        }
        Ok(())
    }

    /// Whether `ev` passes.
    pub fn matches(&self, ev: &CtEvent<'_>) -> bool {
        if self.kinds != 0 && self.kinds & ev.group() == 0 {
            return false;
        }
        let n = |bit: u32, holds: bool| holds != (self.negate & bit != 0);
        match ev {
            CtEvent::Conn(_, c) => {
                let t = c.orig();
                self.family.is_none_or(|fam| c.family() == fam)
                    && self.l4proto.is_none_or(|p| n(neg::L4PROTO, c.l4proto() == Some(p)))
                    && self.mark.is_none_or(|(v, m)| n(neg::MARK, c.mark().unwrap_or(0) & m == v & m))
                    && self.zone.is_none_or(|z| n(neg::ZONE, c.zone().unwrap_or(0) == z))
                    && self.status.is_none_or(|(v, m)| n(neg::STATUS, c.status().unwrap_or(0) & m == v & m))
                    && self
                        .src
                        .is_none_or(|(a, l)| n(neg::SRC, t.and_then(|t| t.src).is_some_and(|x| in_prefix(x, a, l))))
                    && self
                        .dst
                        .is_none_or(|(a, l)| n(neg::DST, t.and_then(|t| t.dst).is_some_and(|x| in_prefix(x, a, l))))
                    && self.src_port.is_none_or(|p| n(neg::SRC_PORT, t.and_then(|t| t.src_port) == Some(p)))
                    && self.dst_port.is_none_or(|p| n(neg::DST_PORT, t.and_then(|t| t.dst_port) == Some(p)))
            }
            CtEvent::Expect(_, e) => {
                !self.conn_only()
                    && self.family.is_none_or(|fam| e.family() == fam)
                    && self.zone.is_none_or(|z| n(neg::ZONE, e.zone().unwrap_or(0) == z))
                    && self.l4proto.is_none_or(|p| n(neg::L4PROTO, e.tuple().and_then(|t| t.proto) == Some(p)))
            }
        }
    }
}

/// Counters of an event handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Event messages received.
    pub received: u64,
    /// Events handed to the callback.
    pub delivered: u64,
    /// Events the filter left out.
    pub filtered: u64,
    /// Receive-buffer overflows (ENOBUFS): events were lost.
    pub overflows: u64,
    /// Malformed or cut messages.
    pub parse_errors: u64,
}

/// Received event datagrams and how far they were handed over.
struct EventRx {
    batch: RecvBatch,
    /// Datagrams in the batch.
    count: usize,
    /// The datagram to go on with.
    next: usize,
    /// The offset of the next message in it.
    off: usize,
}

/// A subscription to conntrack events.
pub struct Events {
    sock: Socket,
    wake: EventFd,
    stop: AtomicBool,
    rx: Mutex<Option<EventRx>>,
    filter: Mutex<EventFilter>,
    received: AtomicU64,
    delivered: AtomicU64,
    filtered: AtomicU64,
    overflows: AtomicU64,
    parse_errors: AtomicU64,
    last_error: Mutex<String>,
    /// Overflows not yet taken by [`Events::take_overflows`].
    overflows_pending: AtomicU64,
    stop_on_overflow: AtomicBool,
    kernel_filter: Mutex<Option<EventFilter>>,
}

impl Events {
    /// Opens a socket in `netns` subscribed to `groups` (`groups::*` bits). Needs CAP_NET_ADMIN
    /// in that namespace. The receive buffer is 4 MiB; a burst larger than that loses events
    /// (counted as overflows).
    pub fn open(netns: &Netns, groups: u32) -> Result<Events> {
        if groups == 0 || groups & !super::groups::ALL != 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("subscribing to conntrack events: bad group mask {groups:#x} (use groups::*)"),
            ));
        }
        let sock = open_socket(netns, "conntrack event")?;
        let _ = sock.set_rcvbuf(4 << 20);
        for bit in 0..6 {
            if groups & (1 << bit) != 0 {
                sock.add_membership(bit + 1)
                    .map_err(|e| Error::from_io(&e, &format!("joining conntrack event group {}", bit + 1)))?;
            }
        }
        Ok(Events {
            sock,
            wake: EventFd::new().map_err(|e| Error::from_io(&e, "creating the wake-up eventfd"))?,
            stop: AtomicBool::new(false),
            rx: Mutex::new(None),
            filter: Mutex::new(EventFilter::default()),
            received: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
            parse_errors: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
            overflows_pending: AtomicU64::new(0),
            stop_on_overflow: AtomicBool::new(false),
            kernel_filter: Mutex::new(None),
        })
    }

    /// Compiles `f` to a classic BPF program and attaches it to the socket
    /// (`SO_ATTACH_FILTER`), replacing any earlier one: from then on the kernel drops the
    /// events `f` does not keep before they reach the socket (events already queued are not
    /// filtered). Returns the program's length in instructions. The library-side filter
    /// ([`set_filter`](Self::set_filter)) still applies on top.
    pub fn set_kernel_filter(&self, f: &EventFilter) -> Result<usize> {
        let what = "attaching the kernel event filter";
        let prog = super::bpf::compile(f)
            .map_err(|m| self.record_error(Error::new(ErrorKind::InvalidArgument, format!("{what}: {m}"))))?;
        let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
        // SAFETY: fprog points at prog, alive during the call; the kernel copies the program.
        let r = unsafe {
            libc::setsockopt(
                self.sock.fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &fprog as *const libc::sock_fprog as *const libc::c_void,
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            return Err(self.record_error(Error::from_io(
                &e,
                &format!("{what} ({} instructions; the kernel refused it, which is a bug here)", prog.len()),
            )));
        }
        if let Ok(mut g) = self.kernel_filter.lock() {
            *g = Some(*f);
        }
        Ok(prog.len())
    }

    /// Removes the kernel filter (`SO_DETACH_FILTER`): every subscribed event reaches the socket.
    pub fn clear_kernel_filter(&self) -> Result<()> {
        let zero: libc::c_int = 0;
        // SAFETY: a plain int option.
        let r = unsafe {
            libc::setsockopt(
                self.sock.fd(),
                libc::SOL_SOCKET,
                libc::SO_DETACH_FILTER,
                &zero as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(self.record_error(Error::from_io(&e, "detaching the kernel event filter")));
            }
        }
        if let Ok(mut g) = self.kernel_filter.lock() {
            *g = None;
        }
        Ok(())
    }

    /// The filter the kernel runs on this socket, if any.
    pub fn kernel_filter(&self) -> Option<EventFilter> {
        self.kernel_filter.lock().ok().and_then(|g| *g)
    }

    /// The number of overflows (lost events) since the last call, and resets it. Nonzero
    /// means the caller's view of the table may be stale: [`resync`](Self::resync) it.
    pub fn take_overflows(&self) -> u64 {
        self.overflows_pending.swap(0, SeqCst)
    }

    /// With `on`, a run or poll returns (as if stopped) right after an overflow, so the caller
    /// can resync before going on; without it (the default), overflows are counted and
    /// recorded and receiving goes on.
    pub fn set_stop_on_overflow(&self, on: bool) {
        self.stop_on_overflow.store(on, SeqCst);
    }

    /// Makes a daemon's view of the table whole again after an overflow: dumps the connection
    /// table through `ct` (a request handle on the same namespace) and hands each connection
    /// that passes this handle's filters (kernel and library) to `cb` as a `New` event.
    /// Events that arrive meanwhile are queued as usual and may repeat what the dump shows.
    /// Returns the number handed over.
    pub fn resync(&self, ct: &Conntrack, family: u8, cb: &mut dyn FnMut(&CtEvent<'_>) -> bool) -> Result<usize> {
        let lib = self.filter.lock().map(|f| *f).unwrap_or_default();
        let kern = self.kernel_filter();
        let df = DumpFilter {
            mark: lib.mark.filter(|_| lib.negate & neg::MARK == 0),
            zone: lib.zone.filter(|_| lib.negate & neg::ZONE == 0),
            ..Default::default()
        };
        let family = lib.family.unwrap_or(family);
        let mut n = 0;
        ct.dump(family, &df, &mut |c| {
            let ev = CtEvent::Conn(EventKind::New, *c);
            if !lib.matches(&ev) || kern.is_some_and(|k| !k.matches(&ev)) {
                return true;
            }
            n += 1;
            cb(&ev)
        })
        .map_err(|e| self.record_error(e))?;
        Ok(n)
    }

    /// The socket descriptor (readable when events wait).
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.sock.fd()
    }

    /// Sets the receive buffer; returns what the kernel reports afterwards.
    pub fn set_rcvbuf(&self, bytes: usize) -> Result<usize> {
        self.sock
            .set_rcvbuf(bytes)
            .map_err(|e| self.record_error(Error::from_io(&e, "setting the receive buffer size")))
    }

    /// Replaces the filter.
    pub fn set_filter(&self, f: EventFilter) {
        if let Ok(mut g) = self.filter.lock() {
            *g = f;
        }
    }

    /// The counters.
    pub fn stats(&self) -> EventStats {
        EventStats {
            received: self.received.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            filtered: self.filtered.load(Relaxed),
            overflows: self.overflows.load(Relaxed),
            parse_errors: self.parse_errors.load(Relaxed),
        }
    }

    /// The last error recorded on this handle (empty if none).
    pub fn last_error(&self) -> String {
        self.last_error.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Records an error as the handle's last error and returns it.
    pub fn record_error(&self, e: Error) -> Error {
        if let Ok(mut s) = self.last_error.lock() {
            s.clear();
            s.push_str(e.message());
        }
        e
    }

    /// Asks a running [`run`](Self::run) or [`poll`](Self::poll) to return. Safe from any
    /// thread and from a signal handler.
    pub fn stop(&self) {
        self.stop.store(true, SeqCst);
        self.wake.wake();
    }

    /// Hands over the events already received and not yet handed over; otherwise waits up to
    /// `timeout` (`None`: until something arrives or [`stop`](Self::stop)), receives what is
    /// waiting (many datagrams per syscall) and hands each event that passes the filter to
    /// `cb`. When `cb` returns false the call returns at once, and the events after that one
    /// are kept for the next call. Returns (events handed over, stop asked: by `cb` or by
    /// [`stop`](Self::stop)). Overflows are counted and recorded, and do not fail the call.
    pub fn poll(&self, timeout: Option<Duration>, cb: &mut dyn FnMut(&CtEvent<'_>) -> bool) -> Result<(usize, bool)> {
        let mut rx = match self.rx.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(self.record_error(Error::new(
                    ErrorKind::Busy,
                    "receiving conntrack events: another thread (or a callback) is receiving on this handle",
                )));
            }
        };
        let st = rx.get_or_insert_with(|| EventRx {
            batch: RecvBatch::new(EVENT_BATCH, EVENT_SLOT),
            count: 0,
            next: 0,
            off: 0,
        });
        if self.stop.swap(false, SeqCst) {
            self.wake.drain();
            return Ok((0, true));
        }
        let filter = self.filter.lock().map(|f| *f).unwrap_or_default();
        if st.next < st.count {
            return Ok(self.deliver(st, &filter, cb));
        }
        let (readable, woke) = self
            .sock
            .wait(Some(self.wake.fd()), timeout)
            .map_err(|e| self.record_error(Error::from_io(&e, "waiting for conntrack events")))?;
        let mut stopped = false;
        if woke {
            self.wake.drain();
            stopped = self.stop.swap(false, SeqCst);
        }
        if !readable {
            return Ok((0, stopped));
        }
        st.count = match self.sock.recv_batch(&mut st.batch) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                self.overflows.fetch_add(1, Relaxed);
                self.overflows_pending.fetch_add(1, SeqCst);
                let _ = self.record_error(Error::from_errno(libc::ENOBUFS, "receiving conntrack events").with_message(
                    "receiving conntrack events: ENOBUFS: the socket's receive buffer overflowed and the kernel \
                     dropped events; receiving goes on. Resync the table (Events::resync), and raise the buffer \
                     (set_rcvbuf) or filter in the kernel (set_kernel_filter)",
                ));
                return Ok((0, stopped || self.stop_on_overflow.load(SeqCst)));
            }
            Err(e) => return Err(self.record_error(Error::from_io(&e, "receiving conntrack events"))),
        };
        st.next = 0;
        st.off = 0;
        let (delivered, cb_stopped) = self.deliver(st, &filter, cb);
        Ok((delivered, stopped || cb_stopped))
    }

    /// Hands the received events from the position in `st` on to `cb`, until it returns false
    /// (then the position is kept for the next call) or the batch is used up.
    fn deliver(
        &self,
        st: &mut EventRx,
        filter: &EventFilter,
        cb: &mut dyn FnMut(&CtEvent<'_>) -> bool,
    ) -> (usize, bool) {
        let mut delivered = 0;
        while st.next < st.count {
            let (buf, info) = st.batch.get(st.next);
            if info.sender != 0 || info.truncated {
                if info.truncated {
                    self.parse_errors.fetch_add(1, Relaxed);
                    let _ = self.record_error(Error::new(
                        ErrorKind::Protocol,
                        format!("an event datagram of {} bytes was cut to {}", info.real_len, info.len),
                    ));
                }
                st.next += 1;
                st.off = 0;
                continue;
            }
            let m = match crate::netlink::Messages::new(buf.get(st.off..).unwrap_or(&[])).next() {
                None => {
                    st.next += 1;
                    st.off = 0;
                    continue;
                }
                Some(Err(e)) => {
                    self.parse_errors.fetch_add(1, Relaxed);
                    let _ = self.record_error(Error::parse(e, "malformed conntrack event"));
                    st.next += 1;
                    st.off = 0;
                    continue;
                }
                Some(Ok(m)) => m,
            };
            st.off += crate::netlink::align4(m.len());
            let ev = match CtEvent::from_msg(&m) {
                Ok(Some(ev)) => ev,
                Ok(None) => continue,
                Err(e) => {
                    self.parse_errors.fetch_add(1, Relaxed);
                    let _ = self.record_error(Error::parse(e, "malformed conntrack event"));
                    continue;
                }
            };
            self.received.fetch_add(1, Relaxed);
            if !filter.matches(&ev) {
                self.filtered.fetch_add(1, Relaxed);
                continue;
            }
            delivered += 1;
            self.delivered.fetch_add(1, Relaxed);
            if !cb(&ev) {
                return (delivered, true);
            }
        }
        (delivered, false)
    }

    /// Hands events to `cb` until [`stop`](Self::stop), `cb` returns false, `max` events were
    /// handed over, or `timeout` (the whole run) passed. Returns the number handed over.
    pub fn run(
        &self,
        max: Option<u64>,
        timeout: Option<Duration>,
        cb: &mut dyn FnMut(&CtEvent<'_>) -> bool,
    ) -> Result<u64> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut total = 0u64;
        loop {
            if max.is_some_and(|m| total >= m) {
                return Ok(total);
            }
            let wait = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(total);
                    }
                    Some(d - now)
                }
                None => None,
            };
            let left = max.map(|m| m - total);
            let mut n = 0u64;
            let (_, stopped) = self.poll(wait, &mut |ev| {
                n += 1;
                let more = cb(ev);
                more && left.is_none_or(|l| n < l)
            })?;
            total += n;
            if stopped && max.is_none_or(|m| total < m) {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::entry::tests::{ct_msg, full_tcp, v4};
    use crate::conntrack::{groups, status};
    use crate::netlink::Messages;

    fn one(buf: &[u8]) -> Msg<'_> {
        Messages::new(buf).next().unwrap().unwrap()
    }

    #[test]
    fn event_kinds_come_from_type_and_flags() {
        let new = ct_msg(msg::CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 2, full_tcp);
        let upd = ct_msg(msg::CT_NEW, 0, 2, full_tcp);
        let del = ct_msg(msg::CT_DELETE, 0, 2, full_tcp);
        let get = ct_msg(msg::CT_GET_STATS_CPU, 0, 2, |_| {});
        assert_eq!(CtEvent::from_msg(&one(&new)).unwrap().unwrap().kind(), EventKind::New);
        assert_eq!(CtEvent::from_msg(&one(&upd)).unwrap().unwrap().kind(), EventKind::Update);
        let d = CtEvent::from_msg(&one(&del)).unwrap().unwrap();
        assert_eq!((d.kind(), d.group()), (EventKind::Destroy, groups::DESTROY));
        assert!(CtEvent::from_msg(&one(&get)).unwrap().is_none());
        let mut broken = ct_msg(msg::CT_NEW, 0, 2, |b| {
            b.put(cta::MARK, &[1]);
        });
        assert!(CtEvent::from_msg(&one(&broken)).is_err());
        broken[5] = 9; // another subsystem
        assert!(CtEvent::from_msg(&one(&broken)).unwrap().is_none());
    }

    #[test]
    fn filters_check_kind_family_proto_mark_and_zone() {
        let m = ct_msg(msg::CT_NEW, NLM_F_CREATE, 2, full_tcp); // tcp, mark 0xbeef, zone 3
        let ev = CtEvent::from_msg(&one(&m)).unwrap().unwrap();
        assert!(EventFilter::default().matches(&ev));
        assert!(EventFilter { kinds: groups::NEW, ..Default::default() }.matches(&ev));
        assert!(!EventFilter { kinds: groups::DESTROY, ..Default::default() }.matches(&ev));
        assert!(!EventFilter { family: Some(10), ..Default::default() }.matches(&ev));
        assert!(EventFilter { l4proto: Some(6), ..Default::default() }.matches(&ev));
        assert!(!EventFilter { l4proto: Some(17), ..Default::default() }.matches(&ev));
        assert!(EventFilter { mark: Some((0xef, 0xff)), ..Default::default() }.matches(&ev));
        assert!(!EventFilter { mark: Some((0xee, 0xff)), ..Default::default() }.matches(&ev));
        assert!(EventFilter { zone: Some(3), ..Default::default() }.matches(&ev));
        assert!(!EventFilter { zone: Some(0), ..Default::default() }.matches(&ev));
    }

    fn attrs(buf: &[u8]) -> Vec<(u16, Vec<u8>)> {
        one(buf).nfgen().unwrap().1.map(|a| a.unwrap()).map(|a| (a.raw_type(), a.data().to_vec())).collect()
    }

    #[test]
    fn request_layouts() {
        let t = Tuple::ports(v4([127, 0, 0, 1]), v4([127, 0, 0, 2]), 17, 1000, 53);
        // get: orig tuple + zone, ACK asked, family from the tuple
        let mut buf = Vec::new();
        encode_key(&mut buf, 7, msg::CT_GET, &t, Some(4), None);
        let m = one(&buf);
        assert_eq!((m.msg_type(), m.flags(), m.seq()), (0x101, NLM_F_REQUEST | NLM_F_ACK, 7));
        assert_eq!(m.nfgen().unwrap().0.family, 2);
        let a = attrs(&buf);
        assert_eq!(a[0].0, cta::TUPLE_ORIG | crate::netlink::NLA_F_NESTED);
        assert_eq!(a[1], (cta::ZONE, vec![0, 4]));
        let back = Conn::parse(2, &buf[20..]).unwrap();
        assert_eq!(back.orig(), Some(&t));
        // update: mark kept inside the mask, mask sent
        buf.clear();
        let (l, lm) = ([1u8; 16], [0xffu8; 16]);
        let u = Update {
            mark: Some(0x1234),
            mark_mask: Some(0xff),
            timeout: Some(60),
            status: Some(status::ASSURED),
            labels: Some((&l, &lm)),
        };
        encode_update(&mut buf, 1, &t, None, &u);
        let c = Conn::parse(2, &buf[20..]).unwrap();
        assert_eq!((c.mark(), c.mark_mask(), c.timeout(), c.status()), (Some(0x34), Some(0xff), Some(60), Some(4)));
        assert_eq!((c.labels(), c.labels_mask()), (Some(&l[..]), Some(&lm[..])));
        // Labels outside the mask are not sent (the kernel would XOR them in).
        buf.clear();
        let (l, lm) = ([0xffu8; 16], [0x0fu8; 16]);
        encode_update(&mut buf, 1, &t, None, &Update { labels: Some((&l, &lm)), ..Default::default() });
        assert_eq!(Conn::parse(2, &buf[20..]).unwrap().labels(), Some(&[0x0fu8; 16][..]));
        assert_eq!(one(&buf).flags() & NLM_F_CREATE, 0);
        // create: reply tuple filled in, create|excl
        buf.clear();
        let mut cb = ConnBuf::new(0);
        cb.set_orig(t).set_timeout(30).set_mark(9);
        encode_create(&mut buf, 1, &cb.view());
        assert_eq!(one(&buf).flags(), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        let c = Conn::parse(2, &buf[20..]).unwrap();
        assert_eq!(c.reply(), Some(&t.reversed()));
        // dump: mark filter kernel-side, zone 0 not sent
        buf.clear();
        let f = DumpFilter { mark: Some((0x10f, 0xff)), zone: Some(0), l4proto: Some(6), ..Default::default() };
        encode_dump(&mut buf, 3, Table::Main, 10, &f, false);
        let m = one(&buf);
        assert_eq!((m.msg_type(), m.flags()), (0x101, NLM_F_REQUEST | NLM_F_DUMP));
        assert_eq!(m.nfgen().unwrap().0.family, 10);
        assert_eq!(attrs(&buf), vec![(cta::MARK, vec![0, 0, 0, 0x0f]), (cta::MARK_MASK, vec![0, 0, 0, 0xff])]);
        // With the kernel's tuple filter: the protocol goes in the original tuple, its flag
        // in CTA_FILTER (host order, as the kernel reads it).
        buf.clear();
        let f = DumpFilter {
            l4proto: Some(6),
            reply: Some(Tuple { src: Some(v4([10, 0, 0, 9])), ..Default::default() }),
            ..Default::default()
        };
        encode_dump(&mut buf, 3, Table::Dying, 2, &f, true);
        assert_eq!(one(&buf).msg_type(), 0x106);
        let a = attrs(&buf);
        assert_eq!(a.len(), 3);
        let c = Conn::parse(2, &buf[20..]).unwrap();
        assert_eq!(c.orig(), Some(&Tuple { proto: Some(6), ..Default::default() }));
        assert_eq!(c.reply().and_then(|t| t.src), Some(v4([10, 0, 0, 9])));
        assert_eq!(a[2].0, cta::FILTER | crate::netlink::NLA_F_NESTED);
        let mut flags = Vec::new();
        for x in crate::netlink::Attrs::new(&a[2].1) {
            let x = x.unwrap();
            flags.push((x.kind(), u32::from_ne_bytes(x.data().try_into().unwrap())));
        }
        assert_eq!(
            flags,
            [(CTA_FILTER_ORIG_FLAGS, filter_flags::PROTO_NUM), (CTA_FILTER_REPLY_FLAGS, filter_flags::IP_SRC)]
        );
        // IPv6 addresses stay out of the kernel's filter (compared here); the rest goes.
        buf.clear();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        let f = DumpFilter {
            orig: Some(Tuple { src: Some(v6), proto: Some(17), ..Default::default() }),
            ..Default::default()
        };
        encode_dump(&mut buf, 3, Table::Main, 10, &f, true);
        let c = Conn::parse(10, &buf[20..]).unwrap();
        assert_eq!(c.orig(), Some(&Tuple { proto: Some(17), ..Default::default() }));
        assert!(library_only_tuple_parts(&f));
        assert_eq!(f.orig_flags(), filter_flags::IP_SRC | filter_flags::PROTO_NUM);
        assert_eq!(parse_version("6.18.44-fc-v1300"), (6, 18));
        assert_eq!(parse_version("5.10.0"), (5, 10));
        assert_eq!(parse_version("junk"), (0, 0));
    }

    #[test]
    fn kernel_errors_get_messages_that_name_the_object_and_the_way_out() {
        let ct = Conntrack::open(&crate::netlink::Netns::Current).expect("a netlink socket");
        let cases = [
            (libc::ENOENT, "getting an expectation", "no such expectation"),
            (libc::ENOENT, "creating an expectation", "master connection"),
            (libc::ENOENT, "getting a connection", "no such connection"),
            (libc::EEXIST, "creating an expectation", "expectation exists already"),
            (libc::EEXIST, "creating a connection", "connection exists already"),
            (libc::EOPNOTSUPP, "creating an expectation", "has no helper"),
            (libc::EOPNOTSUPP, "dumping the dying list", "not supported by this kernel"),
            (libc::EINVAL, "creating an expectation", "class above the helper's classes"),
        ];
        for (errno, what, says) in cases {
            let e = ct.failure((errno, Some("extack text".into())), what);
            assert!(e.message().starts_with(what) && e.message().contains(says), "{e}");
            assert!(e.message().ends_with("(kernel: extack text)"), "{e}");
            assert_eq!(e.errno(), errno);
            assert_eq!(ct.last_error(), e.message());
        }
    }

    #[test]
    fn stats_messages_decode() {
        let m = ct_msg(msg::CT_GET_STATS_CPU, 0, 0, |b| {
            b.put_be32(cta_stats::FOUND, 5).put_be32(cta_stats::INVALID, 2).put_be32(cta_stats::CHAIN_TOOLONG, 1);
        });
        let mut v = m.clone();
        v[18..20].copy_from_slice(&3u16.to_be_bytes());
        let s = cpu_stats(&one(&v)).unwrap();
        assert_eq!((s.cpu, s.found, s.invalid, s.chain_toolong, s.drop), (3, 5, 2, 1, 0));
        let bad = ct_msg(msg::CT_GET_STATS_CPU, 0, 0, |b| {
            b.put(cta_stats::FOUND, &[1, 2]);
        });
        assert!(cpu_stats(&one(&bad)).is_err());
    }
}
