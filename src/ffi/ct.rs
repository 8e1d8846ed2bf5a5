//! The `nfq_rs_ct_*` exports: conntrack entries and expectations (decoded from a queued
//! packet, from raw `CTA_*` bytes, or received from ctnetlink), their accessors, and the
//! ctnetlink handles (requests and events). Same conventions as `api.rs`: pointer checks, a
//! call into `crate::conntrack`, the result mapped; negative `NFQ_RS_E_*` codes and the
//! last-error message on failure. Optional values: accessors return 1 and write `*out` when
//! present, 0 when absent (leaving `*out` alone); NULL out-pointers are allowed.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use super::handles::*;
use super::*;
use crate::conntrack::{
    Conn, ConnBuf, Conntrack, CtEvent, DumpFilter, EventFilter, Events, Expect, ExpectBuf, ProtoInfo, Table, TcpInfo,
    Tuple, Update,
};
use crate::netlink::Netns;

/// Tuple of an entry: original direction.
pub const NFQ_RS_CT_DIR_ORIG: c_int = 0;
/// Tuple of an entry: reply direction.
pub const NFQ_RS_CT_DIR_REPLY: c_int = 1;
/// Tuple of an entry: the master connection (of an expected connection).
pub const NFQ_RS_CT_DIR_MASTER: c_int = 2;

/// Tuple of an expectation: the master connection.
pub const NFQ_RS_CT_EXP_MASTER: c_int = 0;
/// Tuple of an expectation: the expected connection.
pub const NFQ_RS_CT_EXP_TUPLE: c_int = 1;
/// Tuple of an expectation: the mask (zero parts are wildcards).
pub const NFQ_RS_CT_EXP_MASK: c_int = 2;
/// Tuple of an expectation: its NAT tuple.
pub const NFQ_RS_CT_EXP_NAT: c_int = 3;

/// Event group / callback type: new connections.
pub const NFQ_RS_CT_EV_NEW: u32 = 1;
/// Event group / callback type: connection updates.
pub const NFQ_RS_CT_EV_UPDATE: u32 = 2;
/// Event group / callback type: destroyed connections.
pub const NFQ_RS_CT_EV_DESTROY: u32 = 4;
/// Event group / callback type: new expectations.
pub const NFQ_RS_CT_EV_EXP_NEW: u32 = 8;
/// Event group / callback type: expectation updates.
pub const NFQ_RS_CT_EV_EXP_UPDATE: u32 = 16;
/// Event group / callback type: destroyed expectations.
pub const NFQ_RS_CT_EV_EXP_DESTROY: u32 = 32;
/// The three connection event groups.
pub const NFQ_RS_CT_EV_CONNTRACK: u32 = 7;
/// The three expectation event groups.
pub const NFQ_RS_CT_EV_EXPECT: u32 = 56;
/// Every event group.
pub const NFQ_RS_CT_EV_ALL: u32 = 63;

/// Filter part: by mark (`mark & mask == value & mask`).
pub const NFQ_RS_CT_FILTER_MARK: u32 = 1;
/// Filter part: by zone.
pub const NFQ_RS_CT_FILTER_ZONE: u32 = 2;
/// Filter part: by layer-4 protocol.
pub const NFQ_RS_CT_FILTER_L4PROTO: u32 = 4;
/// Filter part (events): by address family.
pub const NFQ_RS_CT_FILTER_FAMILY: u32 = 8;

/// `nfq_rs_ct_update`: set the mark (with its mask).
pub const NFQ_RS_CT_SET_MARK: u32 = 1;
/// `nfq_rs_ct_update`: set the timeout.
pub const NFQ_RS_CT_SET_TIMEOUT: u32 = 2;
/// `nfq_rs_ct_update`: set the status.
pub const NFQ_RS_CT_SET_STATUS: u32 = 4;
/// `nfq_rs_ct_update`: set the labels (with their mask).
pub const NFQ_RS_CT_SET_LABELS: u32 = 8;

/// `nfq_rs_ct_snprintf`: prefix the family (`conntrack -o extended`).
pub const NFQ_RS_CT_FMT_EXTENDED: u32 = 1;
/// `nfq_rs_ct_snprintf`: append the id (`conntrack -o id`).
pub const NFQ_RS_CT_FMT_ID: u32 = 2;

/// Status bit: an expected connection.
pub const NFQ_RS_CT_STATUS_EXPECTED: u32 = 1 << 0;
/// Status bit: packets seen in both directions.
pub const NFQ_RS_CT_STATUS_SEEN_REPLY: u32 = 1 << 1;
/// Status bit: never early-expired.
pub const NFQ_RS_CT_STATUS_ASSURED: u32 = 1 << 2;
/// Status bit: in the table.
pub const NFQ_RS_CT_STATUS_CONFIRMED: u32 = 1 << 3;
/// Status bit: needs source NAT.
pub const NFQ_RS_CT_STATUS_SRC_NAT: u32 = 1 << 4;
/// Status bit: needs destination NAT.
pub const NFQ_RS_CT_STATUS_DST_NAT: u32 = 1 << 5;
/// Status bit: TCP sequence numbers adjusted.
pub const NFQ_RS_CT_STATUS_SEQ_ADJUST: u32 = 1 << 6;
/// Status bit: source NAT set up.
pub const NFQ_RS_CT_STATUS_SRC_NAT_DONE: u32 = 1 << 7;
/// Status bit: destination NAT set up.
pub const NFQ_RS_CT_STATUS_DST_NAT_DONE: u32 = 1 << 8;
/// Status bit: being removed.
pub const NFQ_RS_CT_STATUS_DYING: u32 = 1 << 9;
/// Status bit: fixed timeout.
pub const NFQ_RS_CT_STATUS_FIXED_TIMEOUT: u32 = 1 << 10;
/// Status bit: a template.
pub const NFQ_RS_CT_STATUS_TEMPLATE: u32 = 1 << 11;
/// Status bit: a helper attached explicitly.
pub const NFQ_RS_CT_STATUS_HELPER: u32 = 1 << 13;
/// Status bit: offloaded to a flow table.
pub const NFQ_RS_CT_STATUS_OFFLOAD: u32 = 1 << 14;
/// Status bit: offloaded to hardware.
pub const NFQ_RS_CT_STATUS_HW_OFFLOAD: u32 = 1 << 15;

/// `nfq_rs_packet_ct_info`: part of an established connection, original direction.
pub const NFQ_RS_CTINFO_ESTABLISHED: u32 = 0;
/// `nfq_rs_packet_ct_info`: related to a connection (ICMP error, FTP data, ...).
pub const NFQ_RS_CTINFO_RELATED: u32 = 1;
/// `nfq_rs_packet_ct_info`: starts a new connection.
pub const NFQ_RS_CTINFO_NEW: u32 = 2;
/// `nfq_rs_packet_ct_info`: established, reply direction.
pub const NFQ_RS_CTINFO_ESTABLISHED_REPLY: u32 = 3;
/// `nfq_rs_packet_ct_info`: related, reply direction.
pub const NFQ_RS_CTINFO_RELATED_REPLY: u32 = 4;
/// `nfq_rs_packet_ct_info`: values from this one up are the reply direction.
pub const NFQ_RS_CTINFO_IS_REPLY: u32 = 3;

/// TCP state: none.
pub const NFQ_RS_CT_TCP_NONE: u8 = 0;
/// TCP state: SYN sent.
pub const NFQ_RS_CT_TCP_SYN_SENT: u8 = 1;
/// TCP state: SYN received.
pub const NFQ_RS_CT_TCP_SYN_RECV: u8 = 2;
/// TCP state: established.
pub const NFQ_RS_CT_TCP_ESTABLISHED: u8 = 3;
/// TCP state: FIN wait.
pub const NFQ_RS_CT_TCP_FIN_WAIT: u8 = 4;
/// TCP state: close wait.
pub const NFQ_RS_CT_TCP_CLOSE_WAIT: u8 = 5;
/// TCP state: last ACK.
pub const NFQ_RS_CT_TCP_LAST_ACK: u8 = 6;
/// TCP state: time wait.
pub const NFQ_RS_CT_TCP_TIME_WAIT: u8 = 7;
/// TCP state: closed.
pub const NFQ_RS_CT_TCP_CLOSE: u8 = 8;
/// TCP state: simultaneous open (SYN sent both ways).
pub const NFQ_RS_CT_TCP_SYN_SENT2: u8 = 9;

/// `nfq_rs_ct_stats_cpu`: the CPU number.
pub const NFQ_RS_CT_STAT_CPU: c_int = 0;
/// `nfq_rs_ct_stats_cpu`: lookups that found an entry.
pub const NFQ_RS_CT_STAT_FOUND: c_int = 1;
/// `nfq_rs_ct_stats_cpu`: packets that could not be tracked.
pub const NFQ_RS_CT_STAT_INVALID: c_int = 2;
/// `nfq_rs_ct_stats_cpu`: entries inserted.
pub const NFQ_RS_CT_STAT_INSERT: c_int = 3;
/// `nfq_rs_ct_stats_cpu`: inserts that failed.
pub const NFQ_RS_CT_STAT_INSERT_FAILED: c_int = 4;
/// `nfq_rs_ct_stats_cpu`: packets dropped.
pub const NFQ_RS_CT_STAT_DROP: c_int = 5;
/// `nfq_rs_ct_stats_cpu`: entries dropped early.
pub const NFQ_RS_CT_STAT_EARLY_DROP: c_int = 6;
/// `nfq_rs_ct_stats_cpu`: protocol errors.
pub const NFQ_RS_CT_STAT_ERROR: c_int = 7;
/// `nfq_rs_ct_stats_cpu`: lookups restarted.
pub const NFQ_RS_CT_STAT_SEARCH_RESTART: c_int = 8;
/// `nfq_rs_ct_stats_cpu`: clashes resolved.
pub const NFQ_RS_CT_STAT_CLASH_RESOLVE: c_int = 9;
/// `nfq_rs_ct_stats_cpu`: hash chains too long.
pub const NFQ_RS_CT_STAT_CHAIN_TOOLONG: c_int = 10;

/// `nfq_rs_ct_exp_stats_cpu`: the CPU number.
pub const NFQ_RS_CT_EXP_STAT_CPU: c_int = 0;
/// `nfq_rs_ct_exp_stats_cpu`: expectations created.
pub const NFQ_RS_CT_EXP_STAT_NEW: c_int = 1;
/// `nfq_rs_ct_exp_stats_cpu`: expectations matched.
pub const NFQ_RS_CT_EXP_STAT_CREATE: c_int = 2;
/// `nfq_rs_ct_exp_stats_cpu`: expectations removed.
pub const NFQ_RS_CT_EXP_STAT_DELETE: c_int = 3;

/// `nfq_rs_ct_events_stat`: event messages received.
pub const NFQ_RS_CT_EVSTAT_RECEIVED: c_int = 0;
/// `nfq_rs_ct_events_stat`: events handed to the callback.
pub const NFQ_RS_CT_EVSTAT_DELIVERED: c_int = 1;
/// `nfq_rs_ct_events_stat`: events the filter left out.
pub const NFQ_RS_CT_EVSTAT_FILTERED: c_int = 2;
/// `nfq_rs_ct_events_stat`: receive-buffer overflows (events lost).
pub const NFQ_RS_CT_EVSTAT_OVERFLOWS: c_int = 3;
/// `nfq_rs_ct_events_stat`: malformed messages.
pub const NFQ_RS_CT_EVSTAT_PARSE_ERRORS: c_int = 4;

/// Table of `nfq_rs_ct_dump_table`: the connection table.
pub const NFQ_RS_CT_TABLE_MAIN: c_int = 0;
/// Table of `nfq_rs_ct_dump_table`: connections being destroyed (`conntrack -L dying`).
pub const NFQ_RS_CT_TABLE_DYING: c_int = 1;
/// Table of `nfq_rs_ct_dump_table`: unconfirmed connections (empty since Linux 6.1).
pub const NFQ_RS_CT_TABLE_UNCONFIRMED: c_int = 2;

/// `nfq_rs_ct_tuple_filter.flags` (the kernel's `CTA_FILTER_F_*`): compare the source address.
pub const NFQ_RS_CT_TF_SRC: u32 = 1 << 0;
/// Compare the destination address.
pub const NFQ_RS_CT_TF_DST: u32 = 1 << 1;
/// Compare the tuple's zone.
pub const NFQ_RS_CT_TF_ZONE: u32 = 1 << 2;
/// Compare the layer-4 protocol (needed with ports and ICMP fields).
pub const NFQ_RS_CT_TF_PROTO: u32 = 1 << 3;
/// Compare the source port.
pub const NFQ_RS_CT_TF_SPORT: u32 = 1 << 4;
/// Compare the destination port.
pub const NFQ_RS_CT_TF_DPORT: u32 = 1 << 5;
/// Compare the ICMP/ICMPv6 type.
pub const NFQ_RS_CT_TF_ICMP_TYPE: u32 = 1 << 6;
/// Compare the ICMP/ICMPv6 code.
pub const NFQ_RS_CT_TF_ICMP_CODE: u32 = 1 << 7;
/// Compare the ICMP/ICMPv6 echo id.
pub const NFQ_RS_CT_TF_ICMP_ID: u32 = 1 << 8;

/// `nfq_rs_ct_last_dump_report` kernel bits (besides `NFQ_RS_CT_FILTER_MARK`/`_ZONE`): the
/// kernel applied the tuple filter.
pub const NFQ_RS_CT_FILTER_TUPLE: u32 = 16;

/// `nfq_rs_ct_event_filter.fields`: the status condition applies.
pub const NFQ_RS_CT_FILTER_STATUS: u32 = 32;
/// The source-network condition applies.
pub const NFQ_RS_CT_FILTER_SRC: u32 = 64;
/// The destination-network condition applies.
pub const NFQ_RS_CT_FILTER_DST: u32 = 128;
/// The source-port condition applies.
pub const NFQ_RS_CT_FILTER_SPORT: u32 = 256;
/// The destination-port condition applies.
pub const NFQ_RS_CT_FILTER_DPORT: u32 = 512;

/// `nfq_rs_ct_event_filter.negate`: keep events whose protocol is NOT the one given.
pub const NFQ_RS_CT_NEG_L4PROTO: u32 = 1 << 0;
/// Negate the mark condition.
pub const NFQ_RS_CT_NEG_MARK: u32 = 1 << 1;
/// Negate the zone condition.
pub const NFQ_RS_CT_NEG_ZONE: u32 = 1 << 2;
/// Negate the status condition.
pub const NFQ_RS_CT_NEG_STATUS: u32 = 1 << 3;
/// Negate the source-network condition.
pub const NFQ_RS_CT_NEG_SRC: u32 = 1 << 4;
/// Negate the destination-network condition.
pub const NFQ_RS_CT_NEG_DST: u32 = 1 << 5;
/// Negate the source-port condition.
pub const NFQ_RS_CT_NEG_SPORT: u32 = 1 << 6;
/// Negate the destination-port condition.
pub const NFQ_RS_CT_NEG_DPORT: u32 = 1 << 7;

/// A tuple filter for `nfq_rs_ct_dump_table`: `flags` (`NFQ_RS_CT_TF_*`) say which fields
/// are compared; addresses are 4 (IPv4, the dump's family) or 16 bytes in network order,
/// ports and ids in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nfq_rs_ct_tuple_filter {
    /// `NFQ_RS_CT_TF_*` bits.
    pub flags: u32,
    /// AF_INET or AF_INET6: the family of `src`/`dst` (needed with `NFQ_RS_CT_TF_SRC`/`_DST`).
    pub family: u8,
    /// Layer-4 protocol.
    pub l4proto: u8,
    /// ICMP/ICMPv6 type.
    pub icmp_type: u8,
    /// ICMP/ICMPv6 code.
    pub icmp_code: u8,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// ICMP/ICMPv6 echo id.
    pub icmp_id: u16,
    /// The tuple's zone.
    pub zone: u16,
}

/// An event filter for `nfq_rs_ct_events_set_filter_ex` (checked in the library) and
/// `nfq_rs_ct_events_set_kernel_filter` (compiled to BPF and run by the kernel): `fields` (a
/// mask of `NFQ_RS_CT_FILTER_*`) says which conditions apply, `negate` (`NFQ_RS_CT_NEG_*`)
/// which of them are negated. Addresses are 4 or 16 bytes (by `addr_family`) in network order
/// with a prefix length; the rest in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nfq_rs_ct_event_filter {
    /// `NFQ_RS_CT_EV_*` kinds to keep (0: all).
    pub kinds: u32,
    /// `NFQ_RS_CT_FILTER_*` conditions that apply.
    pub fields: u32,
    /// `NFQ_RS_CT_NEG_*` conditions that are negated.
    pub negate: u32,
    /// Family to keep (`NFQ_RS_CT_FILTER_FAMILY`).
    pub family: u8,
    /// Layer-4 protocol (`NFQ_RS_CT_FILTER_L4PROTO`).
    pub l4proto: u8,
    /// AF_INET or AF_INET6: the family of `src` and `dst`.
    pub addr_family: u8,
    /// Prefix length of `src`.
    pub src_prefix: u8,
    /// Prefix length of `dst`.
    pub dst_prefix: u8,
    /// Zone (`NFQ_RS_CT_FILTER_ZONE`).
    pub zone: u16,
    /// Original source port (`NFQ_RS_CT_FILTER_SPORT`).
    pub sport: u16,
    /// Original destination port (`NFQ_RS_CT_FILTER_DPORT`).
    pub dport: u16,
    /// Mark value and mask (`NFQ_RS_CT_FILTER_MARK`).
    pub mark: u32,
    /// The mark bits compared.
    pub mark_mask: u32,
    /// Status value and mask (`NFQ_RS_CT_FILTER_STATUS`).
    pub status: u32,
    /// The status bits compared.
    pub status_mask: u32,
    /// Original source network (`NFQ_RS_CT_FILTER_SRC`).
    pub src: [u8; 16],
    /// Original destination network (`NFQ_RS_CT_FILTER_DST`).
    pub dst: [u8; 16],
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Writes `v` to `out` when present (and `out` is non-NULL): 1 if present, 0 if not.
fn put<T>(out: *mut T, v: Option<T>) -> c_int {
    match v {
        Some(v) => {
            if !out.is_null() {
                // SAFETY: every export that takes an out-pointer requires it NULL or writable.
                unsafe { out.write(v) };
            }
            1
        }
        None => 0,
    }
}

/// Writes an address (4 or 16 bytes, network order) to `out`: AF_INET/AF_INET6, or 0.
fn put_addr(out: *mut u8, a: Option<IpAddr>) -> c_int {
    let Some(a) = a else { return 0 };
    let (bytes, fam): (&[u8], c_int) = match &a {
        IpAddr::V4(v) => (&v.octets()[..], libc::AF_INET),
        IpAddr::V6(v) => (&v.octets()[..], libc::AF_INET6),
    };
    if !out.is_null() {
        // SAFETY: the exports require `out` NULL or writable for 16 bytes; bytes.len() <= 16.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
    }
    fam
}

/// Copies `s` NUL-terminated (cut to `len`) into `buf`; returns its full length.
fn put_str(buf: *mut c_char, len: usize, s: &[u8]) -> c_int {
    if !buf.is_null() && len > 0 {
        let n = s.len().min(len - 1);
        // SAFETY: buf has room for len bytes per the contract; n + 1 <= len.
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), buf as *mut u8, n);
            *buf.add(n) = 0;
        }
    }
    s.len().min(c_int::MAX as usize) as c_int
}

/// An optional string: its full length when present, 0 (and an empty string) when absent.
fn put_opt_str(buf: *mut c_char, len: usize, s: Option<&[u8]>) -> c_int {
    put_str(buf, len, s.unwrap_or(&[]))
}

fn netns_of(name: &str, path: *const c_char) -> Result<Netns, c_int> {
    if path.is_null() {
        return Ok(Netns::Current);
    }
    // SAFETY: a non-NULL path is a NUL-terminated string per the contract.
    let p = unsafe { CStr::from_ptr(path) };
    if p.to_bytes().is_empty() {
        return Err(invalid(&format!("{name}: netns path is empty (pass NULL for the current namespace)")));
    }
    Ok(Netns::Path(PathBuf::from(std::ffi::OsStr::from_bytes(p.to_bytes()))))
}

fn with_entry(name: &str, p: *const nfq_rs_ct_entry, f: impl FnOnce(&Conn<'_>, &ConnBuf) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL, a live entry, or a callback's entry.
        match unsafe { entry_ref(p) } {
            Some(b) => f(&b.c.view(), &b.c),
            None => invalid(&format!("{name}: entry is NULL or not a conntrack entry")),
        }
    })
}

fn with_entry_mut(name: &str, p: *mut nfq_rs_ct_entry, f: impl FnOnce(&mut ConnBuf) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL or a live entry used by this thread only.
        match unsafe { entry_mut(p) } {
            Some(b) => f(&mut b.c),
            None => {
                invalid(&format!("{name}: entry is NULL or not a conntrack entry (callback entries are read-only)"))
            }
        }
    })
}

fn with_exp(name: &str, p: *const nfq_rs_ct_exp, f: impl FnOnce(&Expect<'_>, &ExpectBuf) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL, a live expectation, or a callback's.
        match unsafe { exp_ref(p) } {
            Some(b) => f(&b.e.view(), &b.e),
            None => invalid(&format!("{name}: expectation is NULL or not an expectation")),
        }
    })
}

fn with_tuple(name: &str, p: *const nfq_rs_ct_tuple, f: impl FnOnce(&Tuple) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL or a tuple pointer still valid.
        match unsafe { tuple_ref(p) } {
            Some(t) => f(t),
            None => invalid(&format!("{name}: tuple is NULL")),
        }
    })
}

fn with_ct(name: &str, p: *const nfq_rs_ct, f: impl FnOnce(&Conntrack) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL or a live handle.
        match unsafe { ct_ref(p) } {
            Some(b) => f(&b.ct),
            None => invalid(&format!("{name}: conntrack handle is NULL or not a conntrack handle")),
        }
    })
}

fn with_events(name: &str, p: *const nfq_rs_ct_events, f: impl FnOnce(&Events) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL or a live handle.
        match unsafe { events_ref(p) } {
            Some(b) => f(&b.ev),
            None => invalid(&format!("{name}: event handle is NULL or not a conntrack event handle")),
        }
    })
}

fn ct_done(ct: &Conntrack, r: crate::netlink::Result<()>) -> c_int {
    match r {
        Ok(()) => NFQ_RS_OK,
        Err(e) => fail(&ct.record_error(e)),
    }
}

fn count(n: impl TryInto<c_int>) -> c_int {
    n.try_into().unwrap_or(c_int::MAX)
}

/// Hands one dump entry or event to the C callback; true to go on.
struct Deliver {
    cb: nfq_rs_ct_callback,
    user: *mut c_void,
    entry: CtEntryBox,
    exp: CtExpBox,
}

impl Deliver {
    fn new(cb: nfq_rs_ct_callback, user: *mut c_void) -> Deliver {
        Deliver { cb, user, entry: CtEntryBox::new(ConnBuf::default()), exp: CtExpBox::new(ExpectBuf::default()) }
    }
    fn conn(&mut self, ty: u32, c: &Conn<'_>) -> bool {
        let Some(f) = self.cb else { return true };
        self.entry.c.copy_from(c);
        // SAFETY: f is the user's callback; the entry pointer is valid during the call.
        unsafe { f(ty, entry_stack_ptr(&self.entry), std::ptr::null(), self.user) == 0 }
    }
    fn exp(&mut self, ty: u32, e: &Expect<'_>) -> bool {
        let Some(f) = self.cb else { return true };
        self.exp.e.copy_from(e);
        // SAFETY: as above.
        unsafe { f(ty, std::ptr::null(), exp_stack_ptr(&self.exp), self.user) == 0 }
    }
}

fn dump_filter(flags: u32, mark: u32, mark_mask: u32, zone: u16, l4proto: u8) -> DumpFilter {
    DumpFilter {
        mark: (flags & NFQ_RS_CT_FILTER_MARK != 0).then_some((mark, mark_mask)),
        zone: (flags & NFQ_RS_CT_FILTER_ZONE != 0).then_some(zone),
        l4proto: (flags & NFQ_RS_CT_FILTER_L4PROTO != 0).then_some(l4proto),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Entries

/// A new, empty entry (to decode into, or to describe an entry for a request). NULL only if
/// out of memory. Free with `nfq_rs_ct_entry_free`.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_ct_entry_new() -> *mut nfq_rs_ct_entry {
    boundary("nfq_rs_ct_entry_new", std::ptr::null_mut(), || entry_into_raw(ConnBuf::default()))
}

/// Frees an entry; NULL is fine.
///
/// # Safety
/// `ct` is NULL or an entry from `nfq_rs_ct_entry_new`/`_clone` not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_free(ct: *mut nfq_rs_ct_entry) {
    // SAFETY: per the contract.
    boundary("nfq_rs_ct_entry_free", (), || unsafe { entry_free(ct) })
}

/// An owned copy of an entry (e.g. of a callback's entry, to keep it). NULL on error.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_clone(ct: *const nfq_rs_ct_entry) -> *mut nfq_rs_ct_entry {
    boundary("nfq_rs_ct_entry_clone", std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        match unsafe { entry_ref(ct) } {
            Some(b) => entry_into_raw(b.c.clone()),
            None => {
                invalid("nfq_rs_ct_entry_clone: entry is NULL or not a conntrack entry");
                std::ptr::null_mut()
            }
        }
    })
}

/// Decodes `len` bytes of `CTA_*` attributes (the payload of `NFQA_CT` from `nfq_rs_packet_ct`,
/// or of a ctnetlink message after its nfgenmsg) into `ct`, replacing its contents and reusing
/// its memory. `family` is the address family if known (0: from the addresses). Returns 0, or
/// `NFQ_RS_E_PROTO` for malformed bytes (the entry is then empty).
///
/// # Safety
/// `ct` is NULL or a live entry; `data` is readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_decode(
    ct: *mut nfq_rs_ct_entry,
    family: u8,
    data: *const c_void,
    len: usize,
) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_decode", ct, |c| {
        if data.is_null() && len != 0 {
            return invalid("nfq_rs_ct_entry_decode: data is NULL");
        }
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: data is readable for len bytes per the contract.
            unsafe { std::slice::from_raw_parts(data as *const u8, len) }
        };
        match c.decode(family, bytes) {
            Ok(()) => NFQ_RS_OK,
            Err(e) => fail(&crate::netlink::Error::parse(e, "nfq_rs_ct_entry_decode")),
        }
    })
}

/// Decodes the connection of a queued packet (`NFQA_CT`, sent with `NFQ_RS_F_CONNTRACK`) into
/// `out`, reusing its memory (no allocation once it has grown). Returns 1 if the packet had
/// one, 0 if not, or a negative error code (malformed: `NFQ_RS_E_PROTO`).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or a live entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_ct_entry(pkt: *const nfq_rs_packet, out: *mut nfq_rs_ct_entry) -> c_int {
    boundary("nfq_rs_packet_ct_entry", NFQ_RS_E_INTERNAL, || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { packet_ref(pkt) }) else {
            return invalid("nfq_rs_packet_ct_entry: packet is NULL");
        };
        // SAFETY: per the contract.
        let Some(o) = (unsafe { entry_mut(out) }) else {
            return invalid("nfq_rs_packet_ct_entry: out is NULL or not a conntrack entry");
        };
        match p.ct() {
            None => 0,
            Some(bytes) => match o.c.decode(p.family(), bytes) {
                Ok(()) => 1,
                Err(e) => fail(&crate::netlink::Error::parse(e, "nfq_rs_packet_ct_entry: malformed NFQA_CT")),
            },
        }
    })
}

/// Decodes the expectation of a queued packet (`NFQA_EXP`) into `out`: 1 if present, 0 if not,
/// or a negative error code.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or a live expectation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_ct_exp(pkt: *const nfq_rs_packet, out: *mut nfq_rs_ct_exp) -> c_int {
    boundary("nfq_rs_packet_ct_exp", NFQ_RS_E_INTERNAL, || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { packet_ref(pkt) }) else {
            return invalid("nfq_rs_packet_ct_exp: packet is NULL");
        };
        // SAFETY: per the contract.
        let Some(o) = (unsafe { exp_mut(out) }) else {
            return invalid("nfq_rs_packet_ct_exp: out is NULL or not an expectation");
        };
        match p.exp() {
            None => 0,
            Some(bytes) => match o.e.decode(p.family(), bytes) {
                Ok(()) => 1,
                Err(e) => fail(&crate::netlink::Error::parse(e, "nfq_rs_packet_ct_exp: malformed NFQA_EXP")),
            },
        }
    })
}

/// The entry's address family (AF_INET, AF_INET6), 0 if unknown or on error.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_family(ct: *const nfq_rs_ct_entry) -> c_int {
    with_entry("nfq_rs_ct_family", ct, |c, _| c.family() as c_int).max(0)
}

/// The tuple of direction `dir` (`NFQ_RS_CT_DIR_*`), NULL if absent. Valid while `ct` lives
/// and is not decoded into or changed.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_tuple(ct: *const nfq_rs_ct_entry, dir: c_int) -> *const nfq_rs_ct_tuple {
    boundary("nfq_rs_ct_entry_tuple", std::ptr::null(), || {
        // SAFETY: per the contract.
        match unsafe { entry_ref(ct) } {
            Some(b) => b.c.tuple_ref(dir as u32).map_or(std::ptr::null(), tuple_raw),
            None => {
                invalid("nfq_rs_ct_entry_tuple: entry is NULL or not a conntrack entry");
                std::ptr::null()
            }
        }
    })
}

/// Raw `CTA_*` bytes the entry was decoded from (or built of): 1, with `*data`/`*len` set.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_raw(ct: *const nfq_rs_ct_entry, data: *mut *const u8, len: *mut usize) -> c_int {
    with_entry("nfq_rs_ct_raw", ct, |c, _| {
        let b = c.bytes();
        put(data, Some(b.as_ptr()));
        put(len, Some(b.len()))
    })
}

/// Status bits (`NFQ_RS_CT_STATUS_*`): 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_status(ct: *const nfq_rs_ct_entry, out: *mut u32) -> c_int {
    with_entry("nfq_rs_ct_status", ct, |c, _| put(out, c.status()))
}

/// Connection mark: 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_mark(ct: *const nfq_rs_ct_entry, out: *mut u32) -> c_int {
    with_entry("nfq_rs_ct_mark", ct, |c, _| put(out, c.mark()))
}

/// Zone: 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_zone(ct: *const nfq_rs_ct_entry, out: *mut u16) -> c_int {
    with_entry("nfq_rs_ct_zone", ct, |c, _| put(out, c.zone()))
}

/// Entry id: 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_id(ct: *const nfq_rs_ct_entry, out: *mut u32) -> c_int {
    with_entry("nfq_rs_ct_id", ct, |c, _| put(out, c.id()))
}

/// Reference count: 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_use(ct: *const nfq_rs_ct_entry, out: *mut u32) -> c_int {
    with_entry("nfq_rs_ct_use", ct, |c, _| put(out, c.use_count()))
}

/// Seconds until the entry expires: 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_timeout(ct: *const nfq_rs_ct_entry, out: *mut u32) -> c_int {
    with_entry("nfq_rs_ct_timeout", ct, |c, _| put(out, c.timeout()))
}

/// Security mark: 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_secmark(ct: *const nfq_rs_ct_entry, out: *mut u32) -> c_int {
    with_entry("nfq_rs_ct_secmark", ct, |c, _| put(out, c.secmark()))
}

/// Layer-4 protocol (from the original, else the reply tuple): 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_l4proto(ct: *const nfq_rs_ct_entry, out: *mut u8) -> c_int {
    with_entry("nfq_rs_ct_l4proto", ct, |c, _| put(out, c.l4proto()))
}

/// Protocol state (TCP `NFQ_RS_CT_TCP_*`, SCTP or DCCP): 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_proto_state(ct: *const nfq_rs_ct_entry, out: *mut u8) -> c_int {
    with_entry("nfq_rs_ct_proto_state", ct, |c, _| put(out, c.proto_state()))
}

/// The protocol state's name as `conntrack` prints it ("ESTABLISHED", ...), or NULL.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_proto_state_name(ct: *const nfq_rs_ct_entry) -> *const c_char {
    boundary("nfq_rs_ct_proto_state_name", std::ptr::null(), || {
        // SAFETY: per the contract.
        match unsafe { entry_ref(ct) } {
            Some(b) => b.c.view().proto_state_name().map_or(std::ptr::null(), static_cstr),
            None => std::ptr::null(),
        }
    })
}

/// A static name as a C string (names are ASCII without NUL; a few are cached here).
fn static_cstr(s: &'static str) -> *const c_char {
    // The names come from fixed tables; each has a NUL-terminated twin here.
    macro_rules! table {
        ($($n:literal),*) => {
            match s { $($n => concat!($n, "\0"),)* _ => "UNKNOWN\0" }
        };
    }
    let t: &'static str = table!(
        "NONE",
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSE",
        "SYN_SENT2",
        "CLOSED",
        "COOKIE_WAIT",
        "COOKIE_ECHOED",
        "SHUTDOWN_SENT",
        "SHUTDOWN_RECD",
        "SHUTDOWN_ACK_SENT",
        "HEARTBEAT_SENT",
        "HEARTBEAT_ACKED",
        "REQUEST",
        "RESPOND",
        "PARTOPEN",
        "OPEN",
        "CLOSEREQ",
        "CLOSING",
        "TIMEWAIT",
        "IGNORE",
        "INVALID",
        "icmp",
        "igmp",
        "tcp",
        "udp",
        "dccp",
        "gre",
        "icmpv6",
        "sctp",
        "udplite",
        "unknown",
        "RELATED",
        "NEW"
    );
    t.as_ptr() as *const c_char
}

/// Packet and byte counters of direction `dir` (`NFQ_RS_CT_DIR_ORIG`/`_REPLY`): 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `packets`/`bytes` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_counters(
    ct: *const nfq_rs_ct_entry,
    dir: c_int,
    packets: *mut u64,
    bytes: *mut u64,
) -> c_int {
    with_entry("nfq_rs_ct_counters", ct, |c, _| {
        let k = match dir {
            NFQ_RS_CT_DIR_ORIG => c.counters_orig(),
            NFQ_RS_CT_DIR_REPLY => c.counters_reply(),
            _ => return invalid("nfq_rs_ct_counters: dir must be NFQ_RS_CT_DIR_ORIG or NFQ_RS_CT_DIR_REPLY"),
        };
        put(packets, k.map(|k| k.packets));
        put(bytes, k.map(|k| k.bytes))
    })
}

/// Start and stop times in nanoseconds since the epoch: 1 if either is present (an absent one
/// is written as 0).
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `start`/`stop` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_timestamp(ct: *const nfq_rs_ct_entry, start: *mut u64, stop: *mut u64) -> c_int {
    with_entry("nfq_rs_ct_timestamp", ct, |c, _| {
        let (a, b) = (c.timestamp_start(), c.timestamp_stop());
        if a.is_none() && b.is_none() {
            return 0;
        }
        put(start, Some(a.unwrap_or(0)));
        put(stop, Some(b.unwrap_or(0)))
    })
}

/// TCP window scales and flags (`IP_CT_TCP_FLAG_*`) per direction: 1 if the entry has TCP
/// state (absent parts are written as 0).
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tcp_info(
    ct: *const nfq_rs_ct_entry,
    wscale_orig: *mut u8,
    wscale_reply: *mut u8,
    flags_orig: *mut u8,
    flags_reply: *mut u8,
) -> c_int {
    with_entry("nfq_rs_ct_tcp_info", ct, |c, _| match c.tcp() {
        Some(t) => {
            put(wscale_orig, Some(t.wscale_orig.unwrap_or(0)));
            put(wscale_reply, Some(t.wscale_reply.unwrap_or(0)));
            put(flags_orig, Some(t.flags_orig.map_or(0, |f| f.flags)));
            put(flags_reply, Some(t.flags_reply.map_or(0, |f| f.flags)))
        }
        None => 0,
    })
}

/// SCTP verification tags: 1 if the entry has SCTP state (absent tags are written as 0).
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_sctp_vtags(ct: *const nfq_rs_ct_entry, orig: *mut u32, reply: *mut u32) -> c_int {
    with_entry("nfq_rs_ct_sctp_vtags", ct, |c, _| match c.sctp() {
        Some(s) => {
            put(orig, Some(s.vtag_orig.unwrap_or(0)));
            put(reply, Some(s.vtag_reply.unwrap_or(0)))
        }
        None => 0,
    })
}

/// DCCP role and handshake sequence: 1 if the entry has DCCP state.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_dccp_info(
    ct: *const nfq_rs_ct_entry,
    role: *mut u8,
    handshake_seq: *mut u64,
) -> c_int {
    with_entry("nfq_rs_ct_dccp_info", ct, |c, _| match c.dccp() {
        Some(d) => {
            put(role, Some(d.role.unwrap_or(0)));
            put(handshake_seq, Some(d.handshake_seq.unwrap_or(0)))
        }
        None => 0,
    })
}

/// The 16 label bytes (as the kernel stores them: 32-bit words in host order): 1 if present.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `out` is NULL or writable for 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_labels(ct: *const nfq_rs_ct_entry, out: *mut u8) -> c_int {
    with_entry("nfq_rs_ct_labels", ct, |c, _| match c.labels() {
        Some(l) => {
            let mut b = [0u8; 16];
            let n = l.len().min(16);
            b[..n].copy_from_slice(&l[..n]);
            put(out as *mut [u8; 16], Some(b))
        }
        None => 0,
    })
}

/// Whether label bit `bit` (0..127) is set: 1 or 0.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_has_label(ct: *const nfq_rs_ct_entry, bit: u32) -> c_int {
    with_entry("nfq_rs_ct_has_label", ct, |c, _| c.has_label(bit) as c_int)
}

/// The helper name ("ftp", ...) into `buf` (NUL-terminated, cut to `len`): its full length,
/// 0 if absent.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_helper_name(ct: *const nfq_rs_ct_entry, buf: *mut c_char, len: usize) -> c_int {
    with_entry("nfq_rs_ct_helper_name", ct, |c, _| put_opt_str(buf, len, c.helper_name()))
}

/// The security context into `buf`: its full length, 0 if absent.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_secctx(ct: *const nfq_rs_ct_entry, buf: *mut c_char, len: usize) -> c_int {
    with_entry("nfq_rs_ct_secctx", ct, |c, _| put_opt_str(buf, len, c.secctx()))
}

/// A NAT range (`which` 0: source NAT, 1: destination NAT): 0 if absent; otherwise the family
/// of its addresses (AF_INET/AF_INET6, writing 4 or 16 bytes to `min_ip`/`max_ip`), or 1 when
/// it has ports only. Absent ports are written as 0.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `min_ip`/`max_ip` are NULL or writable
/// for 16 bytes; the port pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_nat(
    ct: *const nfq_rs_ct_entry,
    which: c_int,
    min_ip: *mut u8,
    max_ip: *mut u8,
    min_port: *mut u16,
    max_port: *mut u16,
) -> c_int {
    with_entry("nfq_rs_ct_nat", ct, |c, _| {
        let n = match which {
            0 => c.nat_src(),
            1 => c.nat_dst(),
            _ => return invalid("nfq_rs_ct_nat: which must be 0 (source) or 1 (destination)"),
        };
        let Some(n) = n else { return 0 };
        put(min_port, Some(n.min_port.unwrap_or(0)));
        put(max_port, Some(n.max_port.unwrap_or(0)));
        let fam = put_addr(min_ip, n.min_ip);
        put_addr(max_ip, n.max_ip);
        if fam == 0 { 1 } else { fam }
    })
}

/// TCP sequence adjustment of direction `dir`: 1 if present (absent parts written as 0).
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_seq_adj(
    ct: *const nfq_rs_ct_entry,
    dir: c_int,
    correction_pos: *mut u32,
    offset_before: *mut u32,
    offset_after: *mut u32,
) -> c_int {
    with_entry("nfq_rs_ct_seq_adj", ct, |c, _| {
        let s = match dir {
            NFQ_RS_CT_DIR_ORIG => c.seq_adj_orig(),
            NFQ_RS_CT_DIR_REPLY => c.seq_adj_reply(),
            _ => return invalid("nfq_rs_ct_seq_adj: dir must be NFQ_RS_CT_DIR_ORIG or NFQ_RS_CT_DIR_REPLY"),
        };
        let Some(s) = s else { return 0 };
        put(correction_pos, Some(s.correction_pos.unwrap_or(0)));
        put(offset_before, Some(s.offset_before.unwrap_or(0)));
        put(offset_after, Some(s.offset_after.unwrap_or(0)))
    })
}

/// SYN proxy state: 1 if present (absent parts written as 0).
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_synproxy(
    ct: *const nfq_rs_ct_entry,
    isn: *mut u32,
    its: *mut u32,
    tsoff: *mut u32,
) -> c_int {
    with_entry("nfq_rs_ct_synproxy", ct, |c, _| match c.synproxy() {
        Some(s) => {
            put(isn, Some(s.isn.unwrap_or(0)));
            put(its, Some(s.its.unwrap_or(0)));
            put(tsoff, Some(s.tsoff.unwrap_or(0)))
        }
        None => 0,
    })
}

/// The entry as one line in the `conntrack -L` layout (`flags`: `NFQ_RS_CT_FMT_*`) into `buf`
/// (NUL-terminated, cut to `len`): the line's full length.
///
/// # Safety
/// `ct` is NULL, a live entry, or a callback's entry; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_snprintf(
    ct: *const nfq_rs_ct_entry,
    buf: *mut c_char,
    len: usize,
    flags: u32,
) -> c_int {
    with_entry("nfq_rs_ct_snprintf", ct, |c, _| {
        let mut s = String::with_capacity(256);
        let _ = c.write_line(&mut s, flags & NFQ_RS_CT_FMT_EXTENDED != 0, flags & NFQ_RS_CT_FMT_ID != 0);
        put_str(buf, len, s.as_bytes())
    })
}

// Entry setters (for create, get, update and delete requests).

fn tuple_from(name: &str, family: u8, src: *const c_void, dst: *const c_void) -> Result<(IpAddr, IpAddr), c_int> {
    if src.is_null() || dst.is_null() {
        return Err(invalid(&format!("{name}: src or dst is NULL")));
    }
    // SAFETY: src and dst are readable for 4 (AF_INET) or 16 (AF_INET6) bytes per the contract.
    unsafe {
        match family as c_int {
            libc::AF_INET => Ok((IpAddr::from(*(src as *const [u8; 4])), IpAddr::from(*(dst as *const [u8; 4])))),
            libc::AF_INET6 => Ok((IpAddr::from(*(src as *const [u8; 16])), IpAddr::from(*(dst as *const [u8; 16])))),
            _ => Err(invalid(&format!("{name}: family {family} is not AF_INET or AF_INET6"))),
        }
    }
}

fn set_tuple(name: &str, c: &mut ConnBuf, dir: c_int, t: Tuple) -> c_int {
    match dir {
        NFQ_RS_CT_DIR_ORIG => c.set_orig(t),
        NFQ_RS_CT_DIR_REPLY => c.set_reply(t),
        _ => return invalid(&format!("{name}: dir must be NFQ_RS_CT_DIR_ORIG or NFQ_RS_CT_DIR_REPLY")),
    };
    NFQ_RS_OK
}

/// Sets a tuple with ports (TCP, UDP, SCTP, ...): `src`/`dst` are 4 (AF_INET) or 16
/// (AF_INET6) bytes in network order, ports in host order.
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`; `src`/`dst` are readable for the
/// family's address size.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_tuple(
    ct: *mut nfq_rs_ct_entry,
    dir: c_int,
    family: u8,
    src: *const c_void,
    dst: *const c_void,
    l4proto: u8,
    sport: u16,
    dport: u16,
) -> c_int {
    let name = "nfq_rs_ct_entry_set_tuple";
    with_entry_mut(name, ct, |c| match tuple_from(name, family, src, dst) {
        Ok((s, d)) => set_tuple(name, c, dir, Tuple::ports(s, d, l4proto, sport, dport)),
        Err(code) => code,
    })
}

/// Sets an ICMP (AF_INET) or ICMPv6 (AF_INET6) tuple: type, code and echo id (host order).
///
/// # Safety
/// As for `nfq_rs_ct_entry_set_tuple`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_tuple_icmp(
    ct: *mut nfq_rs_ct_entry,
    dir: c_int,
    family: u8,
    src: *const c_void,
    dst: *const c_void,
    icmp_type: u8,
    code: u8,
    id: u16,
) -> c_int {
    let name = "nfq_rs_ct_entry_set_tuple_icmp";
    with_entry_mut(name, ct, |c| match tuple_from(name, family, src, dst) {
        Ok((s, d)) => set_tuple(name, c, dir, Tuple::icmp(s, d, id, icmp_type, code)),
        Err(code) => code,
    })
}

/// Sets the mark (for create).
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_mark(ct: *mut nfq_rs_ct_entry, value: u32) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_set_mark", ct, |c| {
        c.set_mark(value);
        NFQ_RS_OK
    })
}

/// Sets the timeout in seconds (required for create).
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_timeout(ct: *mut nfq_rs_ct_entry, value: u32) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_set_timeout", ct, |c| {
        c.set_timeout(value);
        NFQ_RS_OK
    })
}

/// Sets the status bits (for create).
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_status(ct: *mut nfq_rs_ct_entry, value: u32) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_set_status", ct, |c| {
        c.set_status(value);
        NFQ_RS_OK
    })
}

/// Sets the zone (for every request).
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_zone(ct: *mut nfq_rs_ct_entry, value: u16) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_set_zone", ct, |c| {
        c.set_zone(value);
        NFQ_RS_OK
    })
}

/// Sets the id (a delete then removes only the entry with this id).
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_id(ct: *mut nfq_rs_ct_entry, value: u32) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_set_id", ct, |c| {
        c.set_id(value);
        NFQ_RS_OK
    })
}

/// Sets the TCP state (`NFQ_RS_CT_TCP_*`, for creating a TCP entry).
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_tcp_state(ct: *mut nfq_rs_ct_entry, state: u8) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_set_tcp_state", ct, |c| {
        c.set_protoinfo(ProtoInfo::Tcp(TcpInfo { state: Some(state), ..Default::default() }));
        NFQ_RS_OK
    })
}

/// Sets the labels and the mask of the label bits meant (16 bytes each, for create).
///
/// # Safety
/// `ct` is NULL or a live entry; `labels`/`mask` are readable for 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_labels(
    ct: *mut nfq_rs_ct_entry,
    labels: *const u8,
    mask: *const u8,
) -> c_int {
    with_entry_mut("nfq_rs_ct_entry_set_labels", ct, |c| {
        if labels.is_null() || mask.is_null() {
            return invalid("nfq_rs_ct_entry_set_labels: labels or mask is NULL");
        }
        // SAFETY: both are readable for 16 bytes per the contract; [u8; 16] has alignment 1.
        let (l, m) = unsafe { (&*(labels as *const [u8; 16]), &*(mask as *const [u8; 16])) };
        c.set_labels(l, m);
        NFQ_RS_OK
    })
}

// ---------------------------------------------------------------------------------------------
// Tuples

/// Source address: AF_INET (4 bytes written) or AF_INET6 (16 bytes), 0 if absent.
///
/// # Safety
/// `t` is NULL or a valid tuple pointer; `out` is NULL or writable for 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tuple_src(t: *const nfq_rs_ct_tuple, out: *mut u8) -> c_int {
    with_tuple("nfq_rs_ct_tuple_src", t, |t| put_addr(out, t.src))
}

/// Destination address: AF_INET (4 bytes written) or AF_INET6 (16 bytes), 0 if absent.
///
/// # Safety
/// `t` is NULL or a valid tuple pointer; `out` is NULL or writable for 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tuple_dst(t: *const nfq_rs_ct_tuple, out: *mut u8) -> c_int {
    with_tuple("nfq_rs_ct_tuple_dst", t, |t| put_addr(out, t.dst))
}

/// Layer-4 protocol number: 1 if present.
///
/// # Safety
/// `t` is NULL or a valid tuple pointer; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tuple_l4proto(t: *const nfq_rs_ct_tuple, out: *mut u8) -> c_int {
    with_tuple("nfq_rs_ct_tuple_l4proto", t, |t| put(out, t.proto))
}

/// Ports in host order: 1 if both are present.
///
/// # Safety
/// `t` is NULL or a valid tuple pointer; `sport`/`dport` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tuple_ports(t: *const nfq_rs_ct_tuple, sport: *mut u16, dport: *mut u16) -> c_int {
    with_tuple("nfq_rs_ct_tuple_ports", t, |t| match (t.src_port, t.dst_port) {
        (Some(s), Some(d)) => {
            put(sport, Some(s));
            put(dport, Some(d))
        }
        _ => 0,
    })
}

/// ICMP/ICMPv6 type, code and echo id: 1 if the type is present (absent parts written as 0).
///
/// # Safety
/// `t` is NULL or a valid tuple pointer; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tuple_icmp(
    t: *const nfq_rs_ct_tuple,
    icmp_type: *mut u8,
    code: *mut u8,
    id: *mut u16,
) -> c_int {
    with_tuple("nfq_rs_ct_tuple_icmp", t, |t| match t.icmp_type {
        Some(ty) => {
            put(code, Some(t.icmp_code.unwrap_or(0)));
            put(id, Some(t.icmp_id.unwrap_or(0)));
            put(icmp_type, Some(ty))
        }
        None => 0,
    })
}

/// The tuple's own zone (`CTA_TUPLE_ZONE`): 1 if present.
///
/// # Safety
/// `t` is NULL or a valid tuple pointer; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tuple_zone(t: *const nfq_rs_ct_tuple, out: *mut u16) -> c_int {
    with_tuple("nfq_rs_ct_tuple_zone", t, |t| put(out, t.zone))
}

/// The tuple as `conntrack` prints it (`src=A dst=B sport=P dport=Q`, or the ICMP fields) into
/// `buf`: the text's full length.
///
/// # Safety
/// `t` is NULL or a valid tuple pointer; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_tuple_snprintf(t: *const nfq_rs_ct_tuple, buf: *mut c_char, len: usize) -> c_int {
    with_tuple("nfq_rs_ct_tuple_snprintf", t, |t| {
        let mut s = String::with_capacity(96);
        let _ = crate::conntrack::write_tuple(&mut s, t);
        put_str(buf, len, s.trim_start().as_bytes())
    })
}

/// The name `conntrack` uses for a layer-4 protocol ("tcp", "udp", "icmp", ...; "unknown").
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_ct_l4proto_name(proto: u8) -> *const c_char {
    static_cstr(crate::conntrack::l4proto_name(proto))
}

/// The name of a TCP state (`NFQ_RS_CT_TCP_*`): "ESTABLISHED", ...
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_ct_tcp_state_name(state: u8) -> *const c_char {
    static_cstr(crate::conntrack::tcp_state_name(state))
}

/// The state name of a `nfq_rs_packet_ct_info` value: "ESTABLISHED", "RELATED", "NEW" or
/// "UNKNOWN" (either direction).
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_ctinfo_name(ctinfo: u32) -> *const c_char {
    static_cstr(crate::conntrack::CtInfo::from_raw(ctinfo).state_name())
}

// ---------------------------------------------------------------------------------------------
// Expectations

/// A new, empty expectation (to decode into). Free with `nfq_rs_ct_exp_free`.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_ct_exp_new() -> *mut nfq_rs_ct_exp {
    boundary("nfq_rs_ct_exp_new", std::ptr::null_mut(), || exp_into_raw(ExpectBuf::default()))
}

/// Frees an expectation; NULL is fine.
///
/// # Safety
/// `exp` is NULL or from `nfq_rs_ct_exp_new`/`_clone`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_free(exp: *mut nfq_rs_ct_exp) {
    // SAFETY: per the contract.
    boundary("nfq_rs_ct_exp_free", (), || unsafe { exp_free(exp) })
}

/// An owned copy of an expectation. NULL on error.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_clone(exp: *const nfq_rs_ct_exp) -> *mut nfq_rs_ct_exp {
    boundary("nfq_rs_ct_exp_clone", std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        match unsafe { exp_ref(exp) } {
            Some(b) => exp_into_raw(b.e.clone()),
            None => {
                invalid("nfq_rs_ct_exp_clone: expectation is NULL or not an expectation");
                std::ptr::null_mut()
            }
        }
    })
}

/// Decodes `len` bytes of `CTA_EXPECT_*` attributes into `exp`: 0 or `NFQ_RS_E_PROTO`.
///
/// # Safety
/// `exp` is NULL or a live expectation; `data` is readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_decode(
    exp: *mut nfq_rs_ct_exp,
    family: u8,
    data: *const c_void,
    len: usize,
) -> c_int {
    boundary("nfq_rs_ct_exp_decode", NFQ_RS_E_INTERNAL, || {
        // SAFETY: per the contract.
        let Some(b) = (unsafe { exp_mut(exp) }) else {
            return invalid("nfq_rs_ct_exp_decode: expectation is NULL or not an expectation");
        };
        if data.is_null() && len != 0 {
            return invalid("nfq_rs_ct_exp_decode: data is NULL");
        }
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: data is readable for len bytes per the contract.
            unsafe { std::slice::from_raw_parts(data as *const u8, len) }
        };
        match b.e.decode(family, bytes) {
            Ok(()) => NFQ_RS_OK,
            Err(e) => fail(&crate::netlink::Error::parse(e, "nfq_rs_ct_exp_decode")),
        }
    })
}

/// A tuple of the expectation (`NFQ_RS_CT_EXP_*`), NULL if absent.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_tuple(exp: *const nfq_rs_ct_exp, which: c_int) -> *const nfq_rs_ct_tuple {
    boundary("nfq_rs_ct_exp_tuple", std::ptr::null(), || {
        // SAFETY: per the contract.
        match unsafe { exp_ref(exp) } {
            Some(b) => b.e.tuple_ref(which as u32).map_or(std::ptr::null(), tuple_raw),
            None => {
                invalid("nfq_rs_ct_exp_tuple: expectation is NULL or not an expectation");
                std::ptr::null()
            }
        }
    })
}

/// Seconds until the expectation expires: 1 if present.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_timeout(exp: *const nfq_rs_ct_exp, out: *mut u32) -> c_int {
    with_exp("nfq_rs_ct_exp_timeout", exp, |e, _| put(out, e.timeout()))
}

/// The expectation's id: 1 if present.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_id(exp: *const nfq_rs_ct_exp, out: *mut u32) -> c_int {
    with_exp("nfq_rs_ct_exp_id", exp, |e, _| put(out, e.id()))
}

/// Its zone: 1 if present.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_zone(exp: *const nfq_rs_ct_exp, out: *mut u16) -> c_int {
    with_exp("nfq_rs_ct_exp_zone", exp, |e, _| put(out, e.zone()))
}

/// Its flags (1 permanent, 2 inactive, 4 userspace): 1 if present.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_flags(exp: *const nfq_rs_ct_exp, out: *mut u32) -> c_int {
    with_exp("nfq_rs_ct_exp_flags", exp, |e, _| put(out, e.flags()))
}

/// The helper's expectation class: 1 if present.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_class(exp: *const nfq_rs_ct_exp, out: *mut u32) -> c_int {
    with_exp("nfq_rs_ct_exp_class", exp, |e, _| put(out, e.class()))
}

/// The expectation's address family, 0 if unknown.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_family(exp: *const nfq_rs_ct_exp) -> c_int {
    with_exp("nfq_rs_ct_exp_family", exp, |e, _| e.family() as c_int).max(0)
}

/// The helper name into `buf`: its full length, 0 if absent.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's; `buf` is NULL or has room for `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_helper_name(exp: *const nfq_rs_ct_exp, buf: *mut c_char, len: usize) -> c_int {
    with_exp("nfq_rs_ct_exp_helper_name", exp, |e, _| put_opt_str(buf, len, e.helper_name()))
}

/// The expectation as one line of text into `buf`: the line's full length.
///
/// # Safety
/// `exp` is NULL, a live expectation, or a callback's; `buf` is NULL or has room for `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_snprintf(exp: *const nfq_rs_ct_exp, buf: *mut c_char, len: usize) -> c_int {
    with_exp("nfq_rs_ct_exp_snprintf", exp, |e, _| put_str(buf, len, e.to_string().as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// The ctnetlink handle

/// Opens a ctnetlink socket in the network namespace at `netns_path` (e.g.
/// "/var/run/netns/NAME"; NULL: the caller's namespace) and stores the handle in `*out`.
/// Requests need CAP_NET_ADMIN there. Close with `nfq_rs_ct_close`.
///
/// # Safety
/// `netns_path` is NULL or a NUL-terminated string; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_open(netns_path: *const c_char, out: *mut *mut nfq_rs_ct) -> c_int {
    boundary("nfq_rs_ct_open", NFQ_RS_E_INTERNAL, || {
        if out.is_null() {
            return invalid("nfq_rs_ct_open: out is NULL");
        }
        let ns = match netns_of("nfq_rs_ct_open", netns_path) {
            Ok(ns) => ns,
            Err(c) => return c,
        };
        match Conntrack::open(&ns) {
            Ok(ct) => {
                // SAFETY: out is writable per the contract.
                unsafe { *out = ct_into_raw(ct) };
                NFQ_RS_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Closes the handle; NULL is fine.
///
/// # Safety
/// `ct` is NULL or a live handle not used afterwards (by any thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_close(ct: *mut nfq_rs_ct) {
    // SAFETY: per the contract.
    boundary("nfq_rs_ct_close", (), || unsafe { ct_free(ct) })
}

/// Copies the handle's last error message into `buf` (NUL-terminated, cut to `len`); returns
/// its full length. With `ct` NULL: the calling thread's last error.
///
/// # Safety
/// `ct` is NULL or a live handle; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_last_error(ct: *const nfq_rs_ct, buf: *mut c_char, len: usize) -> c_int {
    boundary("nfq_rs_ct_last_error", NFQ_RS_E_INTERNAL, || {
        // SAFETY: per the contract.
        let msg = match unsafe { ct_ref(ct) } {
            Some(b) => b.ct.last_error(),
            None => thread_error(),
        };
        put_str(buf, len, msg.as_bytes())
    })
}

/// Dumps the connection table of `family` (0: all families) and calls `cb` (type 0) for each
/// entry that passes the filter: `filter` is a mask of `NFQ_RS_CT_FILTER_MARK` (`mark &
/// mark_mask == value & mark_mask`, checked by the kernel), `_ZONE` and `_L4PROTO`. `cb` may be
/// NULL (to count). Returns the number of entries handed over, or a negative error code.
/// Calling into the same handle from `cb` fails with `NFQ_RS_E_BUSY` (use a second handle).
///
/// # Safety
/// `ct` is NULL or a live handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_dump(
    ct: *const nfq_rs_ct,
    family: u8,
    filter: u32,
    mark: u32,
    mark_mask: u32,
    zone: u16,
    l4proto: u8,
    cb: nfq_rs_ct_callback,
    user: *mut c_void,
) -> c_int {
    with_ct("nfq_rs_ct_dump", ct, |ct| {
        let f = dump_filter(filter, mark, mark_mask, zone, l4proto);
        let mut d = Deliver::new(cb, user);
        match ct.dump(family, &f, &mut |c| d.conn(0, c)) {
            Ok(n) => count(n),
            Err(e) => fail(&e),
        }
    })
}

/// Dumps the expectation table of `family` (0: all), calling `cb` (type 0, `exp` set) for each.
/// Returns the number handed over.
///
/// # Safety
/// `ct` is NULL or a live handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_dump_expect(
    ct: *const nfq_rs_ct,
    family: u8,
    cb: nfq_rs_ct_callback,
    user: *mut c_void,
) -> c_int {
    with_ct("nfq_rs_ct_dump_expect", ct, |ct| {
        let mut d = Deliver::new(cb, user);
        match ct.dump_expect(family, &mut |e| d.exp(0, e)) {
            Ok(n) => count(n),
            Err(e) => fail(&e),
        }
    })
}

/// The original tuple and zone of a key entry.
fn key_of(name: &str, key: *const nfq_rs_ct_entry) -> Result<(Tuple, Option<u16>, Option<u32>), c_int> {
    // SAFETY: the exports' contract: key is NULL, a live entry, or a callback's entry.
    let Some(k) = (unsafe { entry_ref(key) }) else {
        return Err(invalid(&format!("{name}: key is NULL or not a conntrack entry")));
    };
    let v = k.c.view();
    match v.orig() {
        Some(t) => Ok((*t, v.zone(), v.id())),
        None => Err(invalid(&format!("{name}: the key has no original tuple (nfq_rs_ct_entry_set_tuple)"))),
    }
}

/// Gets the connection whose original tuple (and zone) are those of `key` into `out` (which
/// may be `key` itself). `NFQ_RS_E_NOENT` if there is none.
///
/// # Safety
/// `ct` is NULL or a live handle; `key` is NULL, a live entry or a callback's entry; `out` is
/// NULL or a live entry from `nfq_rs_ct_entry_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_get(
    ct: *const nfq_rs_ct,
    key: *const nfq_rs_ct_entry,
    out: *mut nfq_rs_ct_entry,
) -> c_int {
    with_ct("nfq_rs_ct_get", ct, |ct| {
        let (t, zone, _) = match key_of("nfq_rs_ct_get", key) {
            Ok(k) => k,
            Err(c) => return c,
        };
        // SAFETY: per the contract; the key borrow above has ended.
        let Some(o) = (unsafe { entry_mut(out) }) else {
            return invalid("nfq_rs_ct_get: out is NULL or not a conntrack entry");
        };
        match ct.get(&t, zone) {
            Ok(c) => {
                o.c = c;
                NFQ_RS_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Creates the connection `entry` describes: original tuple and timeout required (the reply
/// tuple defaults to the original reversed), mark, status, zone, TCP state and labels
/// optional. `NFQ_RS_E_EXIST` if it exists.
///
/// # Safety
/// `ct` is NULL or a live handle; `entry` is NULL, a live entry or a callback's entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_create(ct: *const nfq_rs_ct, entry: *const nfq_rs_ct_entry) -> c_int {
    with_ct("nfq_rs_ct_create", ct, |ct| {
        // SAFETY: per the contract.
        match unsafe { entry_ref(entry) } {
            Some(b) => ct_done(ct, ct.create(&b.c.view())),
            None => invalid("nfq_rs_ct_create: entry is NULL or not a conntrack entry"),
        }
    })
}

/// Changes the connection whose original tuple (and zone) are those of `key`. `set` is a mask
/// of `NFQ_RS_CT_SET_*` saying which of the values apply: the mark (only the bits of
/// `mark_mask` change), the timeout, the full status (clearing CONFIRMED, EXPECTED,
/// SEEN_REPLY or ASSURED fails with EBUSY), the labels (16 bytes; only the bits of the 16-byte
/// `labels_mask` change).
///
/// # Safety
/// `ct` is NULL or a live handle; `key` is NULL, a live entry or a callback's entry;
/// `labels`/`labels_mask` are NULL or readable for 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_update(
    ct: *const nfq_rs_ct,
    key: *const nfq_rs_ct_entry,
    set: u32,
    mark: u32,
    mark_mask: u32,
    timeout: u32,
    status: u32,
    labels: *const u8,
    labels_mask: *const u8,
) -> c_int {
    with_ct("nfq_rs_ct_update", ct, |ct| {
        let all = NFQ_RS_CT_SET_MARK | NFQ_RS_CT_SET_TIMEOUT | NFQ_RS_CT_SET_STATUS | NFQ_RS_CT_SET_LABELS;
        if set & !all != 0 || set == 0 {
            return invalid(&format!("nfq_rs_ct_update: set mask {set:#x} must be a nonzero mask of NFQ_RS_CT_SET_*"));
        }
        let (t, zone, _) = match key_of("nfq_rs_ct_update", key) {
            Ok(k) => k,
            Err(c) => return c,
        };
        let lab = if set & NFQ_RS_CT_SET_LABELS != 0 {
            if labels.is_null() || labels_mask.is_null() {
                return invalid("nfq_rs_ct_update: NFQ_RS_CT_SET_LABELS needs labels and labels_mask");
            }
            // SAFETY: both are readable for 16 bytes per the contract; [u8; 16] has alignment 1.
            Some(unsafe { (&*(labels as *const [u8; 16]), &*(labels_mask as *const [u8; 16])) })
        } else {
            None
        };
        let u = Update {
            mark: (set & NFQ_RS_CT_SET_MARK != 0).then_some(mark),
            mark_mask: (set & NFQ_RS_CT_SET_MARK != 0 && mark_mask != u32::MAX).then_some(mark_mask),
            timeout: (set & NFQ_RS_CT_SET_TIMEOUT != 0).then_some(timeout),
            status: (set & NFQ_RS_CT_SET_STATUS != 0).then_some(status),
            labels: lab,
        };
        ct_done(ct, ct.update(&t, zone, &u))
    })
}

/// Deletes the connection whose original tuple (and zone) are those of `key`; when `key` has
/// an id (e.g. it came from a dump), only the entry with that id. `NFQ_RS_E_NOENT` if none.
///
/// # Safety
/// `ct` is NULL or a live handle; `key` is NULL, a live entry or a callback's entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_delete(ct: *const nfq_rs_ct, key: *const nfq_rs_ct_entry) -> c_int {
    with_ct("nfq_rs_ct_delete", ct, |ct| {
        // SAFETY: per the contract.
        match unsafe { entry_ref(key) } {
            Some(b) => ct_done(ct, ct.delete_entry(&b.c.view())),
            None => invalid("nfq_rs_ct_delete: key is NULL or not a conntrack entry"),
        }
    })
}

/// Deletes every connection of `family` (0: all families).
///
/// # Safety
/// `ct` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_flush(ct: *const nfq_rs_ct, family: u8) -> c_int {
    with_ct("nfq_rs_ct_flush", ct, |ct| ct_done(ct, ct.flush(family)))
}

/// Deletes every expectation of `family` (0: all families).
///
/// # Safety
/// `ct` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_flush_expect(ct: *const nfq_rs_ct, family: u8) -> c_int {
    with_ct("nfq_rs_ct_flush_expect", ct, |ct| ct_done(ct, ct.flush_expect(family)))
}

/// Table-wide numbers: entries now, and the limit (0 if the kernel does not say).
///
/// # Safety
/// `ct` is NULL or a live handle; `entries`/`max_entries` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_stats(ct: *const nfq_rs_ct, entries: *mut u32, max_entries: *mut u32) -> c_int {
    with_ct("nfq_rs_ct_stats", ct, |ct| match ct.stats() {
        Ok(s) => {
            put(entries, Some(s.entries));
            put(max_entries, Some(s.max_entries.unwrap_or(0)));
            NFQ_RS_OK
        }
        Err(e) => fail(&e),
    })
}

/// One per-CPU conntrack counter (`which`: `NFQ_RS_CT_STAT_*`) for each CPU: writes up to `n`
/// values to `out` (`NFQ_RS_CT_STAT_CPU` gives the CPU numbers, in the same order) and returns
/// the number of CPUs the kernel reported.
///
/// # Safety
/// `ct` is NULL or a live handle; `out` is NULL or writable for `n` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_stats_cpu(ct: *const nfq_rs_ct, which: c_int, out: *mut u32, n: usize) -> c_int {
    with_ct("nfq_rs_ct_stats_cpu", ct, |ct| {
        if !(NFQ_RS_CT_STAT_CPU..=NFQ_RS_CT_STAT_CHAIN_TOOLONG).contains(&which) {
            return invalid(&format!("nfq_rs_ct_stats_cpu: unknown counter {which}"));
        }
        let v = match ct.stats_cpu() {
            Ok(v) => v,
            Err(e) => return fail(&e),
        };
        for (i, s) in v.iter().enumerate().take(if out.is_null() { 0 } else { n }) {
            let x = match which {
                NFQ_RS_CT_STAT_CPU => s.cpu as u32,
                NFQ_RS_CT_STAT_FOUND => s.found,
                NFQ_RS_CT_STAT_INVALID => s.invalid,
                NFQ_RS_CT_STAT_INSERT => s.insert,
                NFQ_RS_CT_STAT_INSERT_FAILED => s.insert_failed,
                NFQ_RS_CT_STAT_DROP => s.drop,
                NFQ_RS_CT_STAT_EARLY_DROP => s.early_drop,
                NFQ_RS_CT_STAT_ERROR => s.error,
                NFQ_RS_CT_STAT_SEARCH_RESTART => s.search_restart,
                NFQ_RS_CT_STAT_CLASH_RESOLVE => s.clash_resolve,
                _ => s.chain_toolong,
            };
            // SAFETY: out is writable for n values per the contract; i < n.
            unsafe { *out.add(i) = x };
        }
        count(v.len())
    })
}

/// One per-CPU expectation counter (`which`: `NFQ_RS_CT_EXP_STAT_*`) for each CPU, as
/// `nfq_rs_ct_stats_cpu`.
///
/// # Safety
/// `ct` is NULL or a live handle; `out` is NULL or writable for `n` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_stats_cpu(ct: *const nfq_rs_ct, which: c_int, out: *mut u32, n: usize) -> c_int {
    with_ct("nfq_rs_ct_exp_stats_cpu", ct, |ct| {
        if !(NFQ_RS_CT_EXP_STAT_CPU..=NFQ_RS_CT_EXP_STAT_DELETE).contains(&which) {
            return invalid(&format!("nfq_rs_ct_exp_stats_cpu: unknown counter {which}"));
        }
        let v = match ct.exp_stats_cpu() {
            Ok(v) => v,
            Err(e) => return fail(&e),
        };
        for (i, s) in v.iter().enumerate().take(if out.is_null() { 0 } else { n }) {
            let x = match which {
                NFQ_RS_CT_EXP_STAT_CPU => s.cpu as u32,
                NFQ_RS_CT_EXP_STAT_NEW => s.new,
                NFQ_RS_CT_EXP_STAT_CREATE => s.create,
                _ => s.delete,
            };
            // SAFETY: out is writable for n values per the contract; i < n.
            unsafe { *out.add(i) = x };
        }
        count(v.len())
    })
}

// ---------------------------------------------------------------------------------------------
// Events

/// Subscribes to the conntrack events `groups` (a mask of `NFQ_RS_CT_EV_*`) of the network
/// namespace at `netns_path` (NULL: the caller's) and stores the handle in `*out`. Needs
/// CAP_NET_ADMIN there. Close with `nfq_rs_ct_events_close`.
///
/// # Safety
/// `netns_path` is NULL or a NUL-terminated string; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_open(
    netns_path: *const c_char,
    groups: u32,
    out: *mut *mut nfq_rs_ct_events,
) -> c_int {
    boundary("nfq_rs_ct_events_open", NFQ_RS_E_INTERNAL, || {
        if out.is_null() {
            return invalid("nfq_rs_ct_events_open: out is NULL");
        }
        let ns = match netns_of("nfq_rs_ct_events_open", netns_path) {
            Ok(ns) => ns,
            Err(c) => return c,
        };
        match Events::open(&ns, groups) {
            Ok(ev) => {
                // SAFETY: out is writable per the contract.
                unsafe { *out = events_into_raw(ev) };
                NFQ_RS_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Closes the handle; NULL is fine.
///
/// # Safety
/// `ev` is NULL or a live handle not used afterwards (by any thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_close(ev: *mut nfq_rs_ct_events) {
    // SAFETY: per the contract.
    boundary("nfq_rs_ct_events_close", (), || unsafe { events_free(ev) })
}

/// The socket descriptor (readable when events wait), for poll/epoll loops.
///
/// # Safety
/// `ev` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_fd(ev: *const nfq_rs_ct_events) -> c_int {
    with_events("nfq_rs_ct_events_fd", ev, |ev| ev.fd())
}

/// Sets the socket receive buffer (default 4 MiB; a burst larger than it loses events).
///
/// # Safety
/// `ev` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_set_rcvbuf(ev: *const nfq_rs_ct_events, bytes: usize) -> c_int {
    with_events("nfq_rs_ct_events_set_rcvbuf", ev, |ev| match ev.set_rcvbuf(bytes) {
        Ok(_) => NFQ_RS_OK,
        Err(e) => fail(&e),
    })
}

/// Sets which events are handed over (checked in the library on each event): `kinds` is a mask
/// of `NFQ_RS_CT_EV_*` (0: all subscribed), `filter` a mask of `NFQ_RS_CT_FILTER_*` saying
/// which of `family`, `l4proto`, `mark`/`mark_mask` and `zone` apply.
///
/// # Safety
/// `ev` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_set_filter(
    ev: *const nfq_rs_ct_events,
    kinds: u32,
    filter: u32,
    family: u8,
    l4proto: u8,
    mark: u32,
    mark_mask: u32,
    zone: u16,
) -> c_int {
    with_events("nfq_rs_ct_events_set_filter", ev, |ev| {
        ev.set_filter(EventFilter {
            kinds,
            family: (filter & NFQ_RS_CT_FILTER_FAMILY != 0).then_some(family),
            l4proto: (filter & NFQ_RS_CT_FILTER_L4PROTO != 0).then_some(l4proto),
            mark: (filter & NFQ_RS_CT_FILTER_MARK != 0).then_some((mark, mark_mask)),
            zone: (filter & NFQ_RS_CT_FILTER_ZONE != 0).then_some(zone),
            ..Default::default()
        });
        NFQ_RS_OK
    })
}

/// Receives events and calls `cb` (type: the event's `NFQ_RS_CT_EV_*` bit) for each that
/// passes the filter, until `nfq_rs_ct_events_stop`, `cb` returns nonzero, `max_events` were
/// handed over (0: no limit) or `timeout_ms` passed (negative: no limit). Returns the number
/// handed over. Overflows (lost events) are counted (`NFQ_RS_CT_EVSTAT_OVERFLOWS`) and do not
/// end the loop.
///
/// # Safety
/// `ev` is NULL or a live handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_run(
    ev: *const nfq_rs_ct_events,
    cb: nfq_rs_ct_callback,
    user: *mut c_void,
    max_events: u64,
    timeout_ms: c_int,
) -> c_int {
    with_events("nfq_rs_ct_events_run", ev, |ev| {
        let mut d = Deliver::new(cb, user);
        let max = (max_events > 0).then_some(max_events);
        let timeout = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
        let r = ev.run(max, timeout, &mut |e| match e {
            CtEvent::Conn(_, c) => d.conn(e.group(), c),
            CtEvent::Expect(_, x) => d.exp(e.group(), x),
        });
        match r {
            Ok(n) => count(n),
            Err(e) => fail(&e),
        }
    })
}

/// Asks a running `nfq_rs_ct_events_run` to return. Safe from any thread and from a signal
/// handler.
///
/// # Safety
/// `ev` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_stop(ev: *const nfq_rs_ct_events) {
    // No boundary: this must stay async-signal-safe (an atomic store and one write(2)).
    // SAFETY: ev is NULL or live per the contract.
    if let Some(b) = unsafe { events_ref(ev) } {
        b.ev.stop();
    }
}

/// Reads an event-handle counter (`NFQ_RS_CT_EVSTAT_*`) into `*out`.
///
/// # Safety
/// `ev` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_stat(ev: *const nfq_rs_ct_events, which: c_int, out: *mut u64) -> c_int {
    with_events("nfq_rs_ct_events_stat", ev, |ev| {
        let s = ev.stats();
        let v = match which {
            NFQ_RS_CT_EVSTAT_RECEIVED => s.received,
            NFQ_RS_CT_EVSTAT_DELIVERED => s.delivered,
            NFQ_RS_CT_EVSTAT_FILTERED => s.filtered,
            NFQ_RS_CT_EVSTAT_OVERFLOWS => s.overflows,
            NFQ_RS_CT_EVSTAT_PARSE_ERRORS => s.parse_errors,
            _ => return invalid(&format!("nfq_rs_ct_events_stat: unknown counter {which}")),
        };
        put(out, Some(v));
        NFQ_RS_OK
    })
}

/// Copies the event handle's last error message into `buf`; returns its full length.
///
/// # Safety
/// `ev` is NULL or a live handle; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_last_error(
    ev: *const nfq_rs_ct_events,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    boundary("nfq_rs_ct_events_last_error", NFQ_RS_E_INTERNAL, || {
        // SAFETY: per the contract.
        let msg = match unsafe { events_ref(ev) } {
            Some(b) => b.ev.last_error(),
            None => thread_error(),
        };
        put_str(buf, len, msg.as_bytes())
    })
}

// ---------------------------------------------------------------------------------------------
// Tables, kernel-side dump filters

fn addr_of(name: &str, family: u8, b: &[u8; 16]) -> Result<IpAddr, c_int> {
    match family as c_int {
        libc::AF_INET => Ok(IpAddr::from([b[0], b[1], b[2], b[3]])),
        libc::AF_INET6 => Ok(IpAddr::from(*b)),
        _ => Err(invalid(&format!("{name}: address family {family} is not AF_INET or AF_INET6"))),
    }
}

fn tuple_of_filter(name: &str, f: &nfq_rs_ct_tuple_filter) -> Result<Tuple, c_int> {
    let all = NFQ_RS_CT_TF_SRC
        | NFQ_RS_CT_TF_DST
        | NFQ_RS_CT_TF_ZONE
        | NFQ_RS_CT_TF_PROTO
        | NFQ_RS_CT_TF_SPORT
        | NFQ_RS_CT_TF_DPORT
        | NFQ_RS_CT_TF_ICMP_TYPE
        | NFQ_RS_CT_TF_ICMP_CODE
        | NFQ_RS_CT_TF_ICMP_ID;
    if f.flags & !all != 0 {
        return Err(invalid(&format!("{name}: unknown tuple filter flags {:#x} (use NFQ_RS_CT_TF_*)", f.flags & !all)));
    }
    let on = |b: u32| f.flags & b != 0;
    Ok(Tuple {
        src: if on(NFQ_RS_CT_TF_SRC) { Some(addr_of(name, f.family, &f.src)?) } else { None },
        dst: if on(NFQ_RS_CT_TF_DST) { Some(addr_of(name, f.family, &f.dst)?) } else { None },
        proto: on(NFQ_RS_CT_TF_PROTO).then_some(f.l4proto),
        src_port: on(NFQ_RS_CT_TF_SPORT).then_some(f.sport),
        dst_port: on(NFQ_RS_CT_TF_DPORT).then_some(f.dport),
        icmp_type: on(NFQ_RS_CT_TF_ICMP_TYPE).then_some(f.icmp_type),
        icmp_code: on(NFQ_RS_CT_TF_ICMP_CODE).then_some(f.icmp_code),
        icmp_id: on(NFQ_RS_CT_TF_ICMP_ID).then_some(f.icmp_id),
        zone: on(NFQ_RS_CT_TF_ZONE).then_some(f.zone),
    })
}

/// Dumps `table` (`NFQ_RS_CT_TABLE_*`) of `family` (0: all) and calls `cb` (type 0) for each
/// entry that passes the filter: `filter`/`mark`/`mark_mask`/`zone`/`l4proto` as in
/// `nfq_rs_ct_dump`, and the tuple filters `orig` and `reply` (NULL: none; the kernel's
/// `CTA_FILTER`, Linux 5.10 and later). Every part is sent to the kernel where it can filter
/// (not IPv6 addresses, which the kernel compares inverted, nor tuple zones, which it ignores)
/// and checked here too; `nfq_rs_ct_last_dump_report` says which parts the kernel applied.
/// Returns the number of entries handed over. A filter the kernel cannot express (ports
/// without a protocol, addresses of another family) fails with `NFQ_RS_E_INVAL`.
///
/// # Safety
/// `ct` is NULL or a live handle; `orig`/`reply` are NULL or readable; `cb` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_dump_table(
    ct: *const nfq_rs_ct,
    table: c_int,
    family: u8,
    filter: u32,
    mark: u32,
    mark_mask: u32,
    zone: u16,
    l4proto: u8,
    orig: *const nfq_rs_ct_tuple_filter,
    reply: *const nfq_rs_ct_tuple_filter,
    cb: nfq_rs_ct_callback,
    user: *mut c_void,
) -> c_int {
    let name = "nfq_rs_ct_dump_table";
    with_ct(name, ct, |ct| {
        let table = match table {
            NFQ_RS_CT_TABLE_MAIN => Table::Main,
            NFQ_RS_CT_TABLE_DYING => Table::Dying,
            NFQ_RS_CT_TABLE_UNCONFIRMED => Table::Unconfirmed,
            _ => return invalid(&format!("{name}: unknown table {table} (use NFQ_RS_CT_TABLE_*)")),
        };
        let mut f = dump_filter(filter, mark, mark_mask, zone, l4proto);
        for (p, slot) in [(orig, &mut f.orig), (reply, &mut f.reply)] {
            if !p.is_null() {
                // SAFETY: p is readable per the contract; the struct is plain data.
                let tf = unsafe { *p };
                match tuple_of_filter(name, &tf) {
                    Ok(t) => *slot = Some(t),
                    Err(c) => return c,
                }
            }
        }
        let mut d = Deliver::new(cb, user);
        match ct.dump_table(table, family, &f, &mut |c| d.conn(0, c)) {
            Ok(n) => count(n),
            Err(e) => fail(&e),
        }
    })
}

/// What the last dump received (`*received`), handed over (`*kept`), and which parts of its
/// filter the kernel applied (`*kernel`: `NFQ_RS_CT_FILTER_MARK`, `_ZONE`, `_TUPLE` bits; the
/// others were applied in the library).
///
/// # Safety
/// `ct` is NULL or a live handle; the out-pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_last_dump_report(
    ct: *const nfq_rs_ct,
    received: *mut u64,
    kept: *mut u64,
    kernel: *mut u32,
) -> c_int {
    with_ct("nfq_rs_ct_last_dump_report", ct, |ct| {
        let r = ct.last_dump_report();
        put(received, Some(r.received as u64));
        put(kept, Some(r.kept as u64));
        let bits = if r.kernel_mark { NFQ_RS_CT_FILTER_MARK } else { 0 }
            | if r.kernel_zone { NFQ_RS_CT_FILTER_ZONE } else { 0 }
            | if r.kernel_tuple { NFQ_RS_CT_FILTER_TUPLE } else { 0 };
        put(kernel, Some(bits));
        NFQ_RS_OK
    })
}

/// 1 if the kernel has the `CTA_FILTER` tuple filter (Linux 5.10 and later), 0 if not (the
/// library then filters), or a negative error code.
///
/// # Safety
/// `ct` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_kernel_has_tuple_filter(ct: *const nfq_rs_ct) -> c_int {
    with_ct("nfq_rs_ct_kernel_has_tuple_filter", ct, |ct| match ct.kernel_has_tuple_filter() {
        Ok(b) => b as c_int,
        Err(e) => fail(&e),
    })
}

// ---------------------------------------------------------------------------------------------
// The expectation table

fn with_exp_mut(name: &str, p: *mut nfq_rs_ct_exp, f: impl FnOnce(&mut ExpectBuf) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL or a live expectation used by this thread.
        match unsafe { exp_mut(p) } {
            Some(b) => f(&mut b.e),
            None => invalid(&format!(
                "{name}: expectation is NULL or not an expectation (callback expectations are read-only)"
            )),
        }
    })
}

fn name_arg(name: &str, s: *const c_char) -> Result<Vec<u8>, c_int> {
    if s.is_null() {
        return Err(invalid(&format!("{name}: name is NULL")));
    }
    // SAFETY: s is a NUL-terminated string per the contract.
    let b = unsafe { CStr::from_ptr(s) }.to_bytes();
    if b.is_empty() || b.len() > 31 {
        return Err(invalid(&format!("{name}: the name must be 1 to 31 bytes")));
    }
    Ok(b.to_vec())
}

/// Sets the helper (e.g. "ftp") a connection to create gets; the master of an expectation
/// created from userspace needs one.
///
/// # Safety
/// `ct` is NULL or a live entry from `nfq_rs_ct_entry_new`; `name` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_entry_set_helper(ct: *mut nfq_rs_ct_entry, name: *const c_char) -> c_int {
    let f = "nfq_rs_ct_entry_set_helper";
    with_entry_mut(f, ct, |c| match name_arg(f, name) {
        Ok(n) => {
            c.set_helper(&n);
            NFQ_RS_OK
        }
        Err(code) => code,
    })
}

/// Sets a tuple of an expectation to create or look up: `which` is `NFQ_RS_CT_EXP_MASTER`
/// (the master connection's original tuple), `_TUPLE` (the expected tuple), `_MASK` (which
/// parts must match: all-ones bytes for exact, zero for wildcards) or `_NAT`. Addresses are 4
/// (AF_INET) or 16 (AF_INET6) bytes in network order, ports in host order.
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`; `src`/`dst` are readable
/// for the family's address size.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_tuple(
    exp: *mut nfq_rs_ct_exp,
    which: c_int,
    family: u8,
    src: *const c_void,
    dst: *const c_void,
    l4proto: u8,
    sport: u16,
    dport: u16,
) -> c_int {
    let name = "nfq_rs_ct_exp_set_tuple";
    with_exp_mut(name, exp, |e| {
        let (s, d) = match tuple_from(name, family, src, dst) {
            Ok(x) => x,
            Err(c) => return c,
        };
        let t = Tuple::ports(s, d, l4proto, sport, dport);
        match which {
            NFQ_RS_CT_EXP_MASTER => e.set_master(t),
            NFQ_RS_CT_EXP_TUPLE => e.set_tuple(t),
            NFQ_RS_CT_EXP_MASK => e.set_mask(t),
            NFQ_RS_CT_EXP_NAT => e.set_nat_tuple(t),
            _ => return invalid(&format!("{name}: which must be one of NFQ_RS_CT_EXP_*")),
        };
        NFQ_RS_OK
    })
}

/// Sets the timeout in seconds (required for create; a helper's policy may override it).
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_timeout(exp: *mut nfq_rs_ct_exp, value: u32) -> c_int {
    with_exp_mut("nfq_rs_ct_exp_set_timeout", exp, |e| {
        e.set_timeout(value);
        NFQ_RS_OK
    })
}

/// Sets the zone.
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_zone(exp: *mut nfq_rs_ct_exp, value: u16) -> c_int {
    with_exp_mut("nfq_rs_ct_exp_set_zone", exp, |e| {
        e.set_zone(value);
        NFQ_RS_OK
    })
}

/// Sets the flags (`PERMANENT` 1, `INACTIVE` 2).
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_flags(exp: *mut nfq_rs_ct_exp, value: u32) -> c_int {
    with_exp_mut("nfq_rs_ct_exp_set_flags", exp, |e| {
        e.set_flags(value);
        NFQ_RS_OK
    })
}

/// Sets the helper's expectation class.
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_class(exp: *mut nfq_rs_ct_exp, value: u32) -> c_int {
    with_exp_mut("nfq_rs_ct_exp_set_class", exp, |e| {
        e.set_class(value);
        NFQ_RS_OK
    })
}

/// Sets the id (a get or delete then matches only the expectation with it).
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_id(exp: *mut nfq_rs_ct_exp, value: u32) -> c_int {
    with_exp_mut("nfq_rs_ct_exp_set_id", exp, |e| {
        e.set_id(value);
        NFQ_RS_OK
    })
}

/// Sets the NAT direction (0 original, 1 reply) of the NAT tuple.
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`/`_clone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_nat_dir(exp: *mut nfq_rs_ct_exp, value: u32) -> c_int {
    with_exp_mut("nfq_rs_ct_exp_set_nat_dir", exp, |e| {
        e.set_nat_dir(value);
        NFQ_RS_OK
    })
}

/// Sets the helper name ("ftp", ...).
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`; `name` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_helper(exp: *mut nfq_rs_ct_exp, name: *const c_char) -> c_int {
    let f = "nfq_rs_ct_exp_set_helper";
    with_exp_mut(f, exp, |e| match name_arg(f, name) {
        Ok(n) => {
            e.set_helper(&n);
            NFQ_RS_OK
        }
        Err(code) => code,
    })
}

/// Sets the name of the function that sets up the expected connection ("nat-follow-master").
///
/// # Safety
/// `exp` is NULL or a live expectation from `nfq_rs_ct_exp_new`; `name` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_exp_set_function(exp: *mut nfq_rs_ct_exp, name: *const c_char) -> c_int {
    let f = "nfq_rs_ct_exp_set_function";
    with_exp_mut(f, exp, |e| match name_arg(f, name) {
        Ok(n) => {
            e.set_function(&n);
            NFQ_RS_OK
        }
        Err(code) => code,
    })
}

/// The expected tuple, zone and id of a key expectation.
fn exp_key_of(name: &str, key: *const nfq_rs_ct_exp) -> Result<(Tuple, Option<u16>, Option<u32>), c_int> {
    // SAFETY: the exports' contract: key is NULL, a live expectation, or a callback's.
    let Some(k) = (unsafe { exp_ref(key) }) else {
        return Err(invalid(&format!("{name}: key is NULL or not an expectation")));
    };
    let v = k.e.view();
    match v.tuple() {
        Some(t) => Ok((*t, v.zone(), v.id())),
        None => Err(invalid(&format!("{name}: the key has no expected tuple (nfq_rs_ct_exp_set_tuple)"))),
    }
}

/// Gets the expectation whose expected tuple (zone, and id if set) are those of `key` into
/// `out` (which may be `key`). `NFQ_RS_E_NOENT` if there is none.
///
/// # Safety
/// `ct` is NULL or a live handle; `key` is NULL, a live expectation or a callback's; `out` is
/// NULL or a live expectation from `nfq_rs_ct_exp_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_get_expect(
    ct: *const nfq_rs_ct,
    key: *const nfq_rs_ct_exp,
    out: *mut nfq_rs_ct_exp,
) -> c_int {
    let name = "nfq_rs_ct_get_expect";
    with_ct(name, ct, |ct| {
        let (t, zone, id) = match exp_key_of(name, key) {
            Ok(k) => k,
            Err(c) => return c,
        };
        // SAFETY: per the contract; the key borrow above has ended.
        let Some(o) = (unsafe { exp_mut(out) }) else {
            return invalid(&format!("{name}: out is NULL or not an expectation"));
        };
        match ct.get_expect(&t, zone, id) {
            Ok(e) => {
                o.e = e;
                NFQ_RS_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Creates the expectation `exp` describes: master tuple (of an existing connection with a
/// helper), expected tuple, mask and timeout required; zone, helper, flags, class, NAT and
/// function optional. `NFQ_RS_E_EXIST` if it exists, `NFQ_RS_E_NOENT` if the master is not
/// in the table, `NFQ_RS_E_NOTSUP` if the master has no helper.
///
/// # Safety
/// `ct` is NULL or a live handle; `exp` is NULL, a live expectation or a callback's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_create_expect(ct: *const nfq_rs_ct, exp: *const nfq_rs_ct_exp) -> c_int {
    with_ct("nfq_rs_ct_create_expect", ct, |ct| {
        // SAFETY: per the contract.
        match unsafe { exp_ref(exp) } {
            Some(b) => ct_done(ct, ct.create_expect(&b.e.view())),
            None => invalid("nfq_rs_ct_create_expect: exp is NULL or not an expectation"),
        }
    })
}

/// Changes the timeout of the expectation with the expected tuple (and zone) of `key`.
///
/// # Safety
/// `ct` is NULL or a live handle; `key` is NULL, a live expectation or a callback's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_update_expect_timeout(
    ct: *const nfq_rs_ct,
    key: *const nfq_rs_ct_exp,
    timeout: u32,
) -> c_int {
    let name = "nfq_rs_ct_update_expect_timeout";
    with_ct(name, ct, |ct| match exp_key_of(name, key) {
        Ok((t, zone, _)) => ct_done(ct, ct.update_expect_timeout(&t, zone, timeout)),
        Err(c) => c,
    })
}

/// Deletes the expectation with the expected tuple (zone, and id if set) of `key`.
/// `NFQ_RS_E_NOENT` if there is none.
///
/// # Safety
/// `ct` is NULL or a live handle; `key` is NULL, a live expectation or a callback's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_delete_expect(ct: *const nfq_rs_ct, key: *const nfq_rs_ct_exp) -> c_int {
    let name = "nfq_rs_ct_delete_expect";
    with_ct(name, ct, |ct| match exp_key_of(name, key) {
        Ok((t, zone, id)) => ct_done(ct, ct.delete_expect(&t, zone, id)),
        Err(c) => c,
    })
}

/// Deletes the expectation with id `id` (of `family`, 0: any). `NFQ_RS_E_NOENT` if none.
///
/// # Safety
/// `ct` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_delete_expect_id(ct: *const nfq_rs_ct, family: u8, id: u32) -> c_int {
    with_ct("nfq_rs_ct_delete_expect_id", ct, |ct| ct_done(ct, ct.delete_expect_id(family, id)))
}

/// Deletes every expectation of the helper `name` ("ftp", ...).
///
/// # Safety
/// `ct` is NULL or a live handle; `name` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_delete_expect_helper(
    ct: *const nfq_rs_ct,
    family: u8,
    name: *const c_char,
) -> c_int {
    let f = "nfq_rs_ct_delete_expect_helper";
    with_ct(f, ct, |ct| match name_arg(f, name) {
        Ok(n) => ct_done(ct, ct.delete_expect_helper(family, &n)),
        Err(c) => c,
    })
}

// ---------------------------------------------------------------------------------------------
// Event filters in the kernel, overflow

fn event_filter_of(name: &str, f: *const nfq_rs_ct_event_filter) -> Result<EventFilter, c_int> {
    if f.is_null() {
        return Err(invalid(&format!("{name}: filter is NULL")));
    }
    // SAFETY: f is readable per the contract; plain data.
    let f = unsafe { *f };
    let all = NFQ_RS_CT_FILTER_MARK
        | NFQ_RS_CT_FILTER_ZONE
        | NFQ_RS_CT_FILTER_L4PROTO
        | NFQ_RS_CT_FILTER_FAMILY
        | NFQ_RS_CT_FILTER_STATUS
        | NFQ_RS_CT_FILTER_SRC
        | NFQ_RS_CT_FILTER_DST
        | NFQ_RS_CT_FILTER_SPORT
        | NFQ_RS_CT_FILTER_DPORT;
    if f.fields & !all != 0 {
        return Err(invalid(&format!("{name}: unknown fields {:#x} (use NFQ_RS_CT_FILTER_*)", f.fields & !all)));
    }
    let on = |b: u32| f.fields & b != 0;
    let net = |b: u32, a: &[u8; 16], len: u8| -> Result<Option<(IpAddr, u8)>, c_int> {
        if on(b) { Ok(Some((addr_of(name, f.addr_family, a)?, len))) } else { Ok(None) }
    };
    Ok(EventFilter {
        kinds: f.kinds,
        family: on(NFQ_RS_CT_FILTER_FAMILY).then_some(f.family),
        l4proto: on(NFQ_RS_CT_FILTER_L4PROTO).then_some(f.l4proto),
        mark: on(NFQ_RS_CT_FILTER_MARK).then_some((f.mark, f.mark_mask)),
        zone: on(NFQ_RS_CT_FILTER_ZONE).then_some(f.zone),
        status: on(NFQ_RS_CT_FILTER_STATUS).then_some((f.status, f.status_mask)),
        src: net(NFQ_RS_CT_FILTER_SRC, &f.src, f.src_prefix)?,
        dst: net(NFQ_RS_CT_FILTER_DST, &f.dst, f.dst_prefix)?,
        src_port: on(NFQ_RS_CT_FILTER_SPORT).then_some(f.sport),
        dst_port: on(NFQ_RS_CT_FILTER_DPORT).then_some(f.dport),
        negate: f.negate,
    })
}

/// Sets the library-side event filter from a full description (see `nfq_rs_ct_event_filter`).
///
/// # Safety
/// `ev` is NULL or a live handle; `filter` is NULL or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_set_filter_ex(
    ev: *const nfq_rs_ct_events,
    filter: *const nfq_rs_ct_event_filter,
) -> c_int {
    let name = "nfq_rs_ct_events_set_filter_ex";
    with_events(name, ev, |ev| {
        let f = match event_filter_of(name, filter) {
            Ok(f) => f,
            Err(c) => return c,
        };
        if let Err(m) = f.check() {
            return invalid(&format!("{name}: {m}"));
        }
        ev.set_filter(f);
        NFQ_RS_OK
    })
}

/// Compiles `filter` to a classic BPF program and attaches it to the event socket: the
/// kernel then drops the events it does not keep before they are queued (NULL: detach).
/// Returns the program's length in instructions, or `NFQ_RS_E_INVAL` (with the reason in the
/// last error) for a description the kernel cannot run.
///
/// # Safety
/// `ev` is NULL or a live handle; `filter` is NULL or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_set_kernel_filter(
    ev: *const nfq_rs_ct_events,
    filter: *const nfq_rs_ct_event_filter,
) -> c_int {
    let name = "nfq_rs_ct_events_set_kernel_filter";
    with_events(name, ev, |ev| {
        if filter.is_null() {
            return match ev.clear_kernel_filter() {
                Ok(()) => NFQ_RS_OK,
                Err(e) => fail(&e),
            };
        }
        let f = match event_filter_of(name, filter) {
            Ok(f) => f,
            Err(c) => return c,
        };
        match ev.set_kernel_filter(&f) {
            Ok(n) => count(n),
            Err(e) => fail(&e),
        }
    })
}

/// Overflows (lost events) since the last call, into `*out`; resets the count. Nonzero means
/// the caller's view of the table may be stale: `nfq_rs_ct_events_resync`.
///
/// # Safety
/// `ev` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_take_overflows(ev: *const nfq_rs_ct_events, out: *mut u64) -> c_int {
    with_events("nfq_rs_ct_events_take_overflows", ev, |ev| {
        put(out, Some(ev.take_overflows()));
        NFQ_RS_OK
    })
}

/// With `on` nonzero, `nfq_rs_ct_events_run` returns right after an overflow so the caller
/// can resync; otherwise (the default) overflows are counted and receiving goes on.
///
/// # Safety
/// `ev` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_set_stop_on_overflow(ev: *const nfq_rs_ct_events, on: c_int) -> c_int {
    with_events("nfq_rs_ct_events_set_stop_on_overflow", ev, |ev| {
        ev.set_stop_on_overflow(on != 0);
        NFQ_RS_OK
    })
}

/// Resyncs after an overflow: dumps the connection table through `ct` (a request handle on
/// the same namespace) and calls `cb` (type `NFQ_RS_CT_EV_NEW`) for each connection that
/// passes this event handle's filters. Returns the number handed over.
///
/// # Safety
/// `ev`/`ct` are NULL or live handles; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_ct_events_resync(
    ev: *const nfq_rs_ct_events,
    ct: *const nfq_rs_ct,
    family: u8,
    cb: nfq_rs_ct_callback,
    user: *mut c_void,
) -> c_int {
    let name = "nfq_rs_ct_events_resync";
    with_events(name, ev, |ev| {
        // SAFETY: per the contract.
        let Some(c) = (unsafe { ct_ref(ct) }) else {
            return invalid(&format!("{name}: conntrack handle is NULL or not a conntrack handle"));
        };
        let mut d = Deliver::new(cb, user);
        let r = ev.resync(&c.ct, family, &mut |e| match e {
            CtEvent::Conn(_, c) => d.conn(e.group(), c),
            CtEvent::Expect(_, x) => d.exp(e.group(), x),
        });
        match r {
            Ok(n) => count(n),
            Err(e) => fail(&e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::{groups, status};

    #[test]
    fn c_constants_match_the_core() {
        assert_eq!(NFQ_RS_CT_EV_NEW, groups::NEW);
        assert_eq!(NFQ_RS_CT_EV_EXP_DESTROY, groups::EXP_DESTROY);
        assert_eq!(NFQ_RS_CT_EV_CONNTRACK, groups::CONNTRACK);
        assert_eq!(NFQ_RS_CT_EV_EXPECT, groups::EXPECT);
        assert_eq!(NFQ_RS_CT_EV_ALL, groups::ALL);
        assert_eq!(NFQ_RS_CT_STATUS_ASSURED, status::ASSURED);
        assert_eq!(NFQ_RS_CT_STATUS_HW_OFFLOAD, status::HW_OFFLOAD);
        assert_eq!(NFQ_RS_CT_TCP_SYN_SENT2, crate::conntrack::tcp_state::SYN_SENT2);
        use crate::conntrack::{filter_flags as ff, neg};
        assert_eq!(
            [NFQ_RS_CT_TF_SRC, NFQ_RS_CT_TF_DST, NFQ_RS_CT_TF_ZONE, NFQ_RS_CT_TF_PROTO, NFQ_RS_CT_TF_SPORT],
            [ff::IP_SRC, ff::IP_DST, ff::TUPLE_ZONE, ff::PROTO_NUM, ff::PROTO_SRC_PORT]
        );
        assert_eq!(
            [NFQ_RS_CT_TF_DPORT, NFQ_RS_CT_TF_ICMP_TYPE, NFQ_RS_CT_TF_ICMP_CODE, NFQ_RS_CT_TF_ICMP_ID],
            [ff::PROTO_DST_PORT, ff::PROTO_ICMP_TYPE, ff::PROTO_ICMP_CODE, ff::PROTO_ICMP_ID]
        );
        assert_eq!(
            [NFQ_RS_CT_NEG_L4PROTO, NFQ_RS_CT_NEG_MARK, NFQ_RS_CT_NEG_ZONE, NFQ_RS_CT_NEG_STATUS],
            [neg::L4PROTO, neg::MARK, neg::ZONE, neg::STATUS]
        );
        assert_eq!(
            [NFQ_RS_CT_NEG_SRC, NFQ_RS_CT_NEG_DST, NFQ_RS_CT_NEG_SPORT, NFQ_RS_CT_NEG_DPORT],
            [neg::SRC, neg::DST, neg::SRC_PORT, neg::DST_PORT]
        );
    }

    #[test]
    fn every_state_and_protocol_name_has_a_c_string() {
        for n in 0..=255u8 {
            for name in [
                crate::conntrack::tcp_state_name(n),
                crate::conntrack::sctp_state_name(n),
                crate::conntrack::dccp_state_name(n),
                crate::conntrack::l4proto_name(n),
            ] {
                // SAFETY: static_cstr returns a pointer to a NUL-terminated static string.
                let c = unsafe { CStr::from_ptr(static_cstr(name)) };
                assert_eq!(c.to_str().unwrap(), name);
            }
        }
        for v in 0..8 {
            let name = crate::conntrack::CtInfo::from_raw(v).state_name();
            // SAFETY: as above.
            assert_eq!(unsafe { CStr::from_ptr(static_cstr(name)) }.to_str().unwrap(), name);
        }
    }
}
