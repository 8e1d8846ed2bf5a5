//! libnetfilter_log's libmnl-based helpers (`nflog_nlmsg_*`, `nflog_attr_put_cfg_*`): they
//! build config messages in a caller's buffer, parse a received log message into an attribute
//! table, and print that table as XML. Attributes are appended the way libmnl's `mnl_attr_put`
//! does (at the aligned end of the message, `nlmsg_len` grows by the aligned size); the padding
//! bytes are zeroed.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use super::nflog_legacy::{LEGACY_NFULA_MAX, nflog_data, snprintf_xml};
use super::nlmsg::{nlmsg_len, put_attr};
use super::{boundary, set_errno};
use crate::netlink::{Attrs, NFGENMSG_LEN, NLA_HDRLEN, NLM_F_REQUEST, NLMSG_HDRLEN, nfnl_msg_type};
use crate::nflog::{NFNL_SUBSYS_ULOG, attr, cfg};

/// Highest attribute type `nflog_nlmsg_parse` stores: libnetfilter_log's `NFULA_MAX` (19).
const PARSE_MAX: u16 = LEGACY_NFULA_MAX as u16;

/// `MNL_CB_OK`.
const MNL_CB_OK: c_int = 1;
/// `MNL_CB_ERROR`.
const MNL_CB_ERROR: c_int = -1;

/// `NFLOG_OUTPUT_XML`, the only output type of `nflog_nlmsg_snprintf`.
const NFLOG_OUTPUT_XML: c_int = 0;

fn with_nlh(nlh: *mut c_void, f: impl FnOnce(*mut u8)) -> c_int {
    boundary(-1, || {
        if nlh.is_null() {
            set_errno(libc::EINVAL);
            return -1;
        }
        f(nlh as *mut u8);
        0
    })
}

/// Starts an NFLOG message of `type` (`NFULNL_MSG_*`) for group `gnum` at `buf`: header with
/// `NLM_F_REQUEST`, seq 0, and an nfgenmsg {family, version 0, group big-endian}: 20 bytes.
/// `buf` needs room for the whole message that will be built in it.
///
/// # Safety
/// `buf` is NULL or writable for the message that will be built in it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_nlmsg_put_header(buf: *mut c_char, ty: u8, family: u8, gnum: u16) -> *mut c_void {
    boundary(ptr::null_mut(), || {
        if buf.is_null() {
            set_errno(libc::EINVAL);
            return ptr::null_mut();
        }
        let mut hdr = [0u8; NLMSG_HDRLEN + NFGENMSG_LEN];
        hdr[0..4].copy_from_slice(&((NLMSG_HDRLEN + NFGENMSG_LEN) as u32).to_ne_bytes());
        hdr[4..6].copy_from_slice(&nfnl_msg_type(NFNL_SUBSYS_ULOG, ty).to_ne_bytes());
        hdr[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        hdr[16] = family;
        hdr[18..20].copy_from_slice(&gnum.to_be_bytes());
        // SAFETY: buf is writable for at least the header per the contract.
        unsafe { ptr::copy_nonoverlapping(hdr.as_ptr(), buf as *mut u8, hdr.len()) };
        buf as *mut c_void
    })
}

/// Adds `NFULA_CFG_MODE` {copy range big-endian, copy mode, pad} (6 bytes). Returns 0.
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_attr_put_cfg_mode(nlh: *mut c_void, mode: u8, range: u32) -> c_int {
    let r = range.to_be_bytes();
    // SAFETY: per the contract.
    with_nlh(nlh, |n| unsafe { put_attr(n, cfg::MODE, &[r[0], r[1], r[2], r[3], mode, 0]) })
}

/// Adds `NFULA_CFG_CMD` {command} (1 byte). Returns 0.
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_attr_put_cfg_cmd(nlh: *mut c_void, cmd: u8) -> c_int {
    // SAFETY: per the contract.
    with_nlh(nlh, |n| unsafe { put_attr(n, cfg::CMD, &[cmd]) })
}

/// What libnetfilter_log requires of an attribute's payload, as libmnl validates it.
enum Rule {
    /// Exactly this many bytes (libmnl refuses shorter and longer ones: ERANGE).
    Exact(usize),
    /// A NUL-terminated string: not empty (ERANGE), last byte NUL (EINVAL).
    NulString,
    /// Anything.
    Any,
}

fn rule(kind: u16) -> Rule {
    match kind {
        attr::HWTYPE | attr::HWLEN => Rule::Exact(2),
        attr::MARK
        | attr::IFINDEX_INDEV
        | attr::IFINDEX_OUTDEV
        | attr::IFINDEX_PHYSINDEV
        | attr::IFINDEX_PHYSOUTDEV
        | attr::UID
        | attr::SEQ
        | attr::SEQ_GLOBAL
        | attr::GID
        | attr::CT_INFO => Rule::Exact(4),
        attr::PACKET_HDR => Rule::Exact(4),
        attr::TIMESTAMP => Rule::Exact(16),
        attr::HWADDR => Rule::Exact(12),
        attr::PREFIX => Rule::NulString,
        _ => Rule::Any,
    }
}

/// Fills `attr[type]` (plain index) with a pointer to each attribute of type 0..=19 of a log
/// message; `attr` is not cleared first. Types above 19 (`NFULA_VLAN`, `NFULA_L2HDR`, ...) are
/// skipped and leave errno EOPNOTSUPP, as libmnl's type check does. Returns `MNL_CB_OK` (1), or
/// `MNL_CB_ERROR` (-1) with errno ERANGE (wrong size of a fixed-size attribute, empty prefix)
/// or EINVAL (prefix without its NUL); earlier entries stay filled. The walk ends silently at
/// a malformed attribute header.
///
/// # Safety
/// `nlh` is NULL or a message readable for its `nlmsg_len`; `attr` has room for 20 pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_nlmsg_parse(nlh: *const c_void, attr: *mut *const c_void) -> c_int {
    boundary(MNL_CB_ERROR, || {
        if nlh.is_null() || attr.is_null() {
            set_errno(libc::EINVAL);
            return MNL_CB_ERROR;
        }
        let len = nlmsg_len(nlh as *const u8);
        if len < NLMSG_HDRLEN + NFGENMSG_LEN {
            return MNL_CB_OK;
        }
        // SAFETY: the message is readable for nlmsg_len bytes per the contract.
        let msg = unsafe { std::slice::from_raw_parts(nlh as *const u8, len) };
        for a in Attrs::new(&msg[NLMSG_HDRLEN + NFGENMSG_LEN..]) {
            let Ok(a) = a else { break };
            let kind = a.kind();
            if kind > PARSE_MAX {
                set_errno(libc::EOPNOTSUPP);
                continue;
            }
            let d = a.data();
            let bad = match rule(kind) {
                Rule::Exact(n) if d.len() != n => Some(libc::ERANGE),
                Rule::NulString if d.is_empty() => Some(libc::ERANGE),
                Rule::NulString if d[d.len() - 1] != 0 => Some(libc::EINVAL),
                _ => None,
            };
            if let Some(e) = bad {
                set_errno(e);
                return MNL_CB_ERROR;
            }
            // SAFETY: attr has PARSE_MAX + 1 slots; kind <= PARSE_MAX.
            unsafe { *attr.add(kind as usize) = d.as_ptr().wrapping_sub(NLA_HDRLEN) as *const c_void };
        }
        MNL_CB_OK
    })
}

/// Prints a table filled by `nflog_nlmsg_parse` as `nflog_snprintf_xml` would (type
/// `NFLOG_OUTPUT_XML`, `NFLOG_XML_*` flags). -1 with errno EOPNOTSUPP for another type.
///
/// # Safety
/// `buf` is NULL (with `bufsiz` 0) or writable for `bufsiz` bytes; `attr` is NULL or a table of
/// 20 entries, each NULL or pointing at an attribute inside a live message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_nlmsg_snprintf(
    buf: *mut c_char,
    bufsiz: usize,
    _nlh: *const c_void,
    attr: *mut *mut c_void,
    ty: c_int,
    flags: u32,
) -> c_int {
    boundary(-1, || {
        if ty != NFLOG_OUTPUT_XML {
            set_errno(libc::EOPNOTSUPP);
            return -1;
        }
        if attr.is_null() || (buf.is_null() && bufsiz > 0) {
            set_errno(libc::EINVAL);
            return -1;
        }
        // The legacy table is indexed by type - 1: it starts at attr[1].
        let nfad = nflog_data { nfa: attr.wrapping_add(1) as *mut *mut super::legacy::nfattr };
        snprintf_xml(buf, bufsiz, &nfad, flags)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(attrs: &[(u16, &[u8])]) -> Vec<u32> {
        let mut b = vec![0u8; 20];
        b[4..6].copy_from_slice(&0x400u16.to_ne_bytes());
        for (t, d) in attrs {
            b.extend_from_slice(&((4 + d.len()) as u16).to_ne_bytes());
            b.extend_from_slice(&t.to_ne_bytes());
            b.extend_from_slice(d);
            while b.len() % 4 != 0 {
                b.push(0);
            }
        }
        let n = b.len() as u32;
        b[0..4].copy_from_slice(&n.to_ne_bytes());
        // 4-byte aligned storage, as a receive buffer.
        b.chunks(4).map(|c| u32::from_ne_bytes(c.try_into().unwrap())).collect()
    }

    fn parse(m: &[u32]) -> (c_int, i32, [*const c_void; 20]) {
        let mut t = [ptr::null::<c_void>(); 20];
        set_errno(0);
        // SAFETY: m is a whole message; t has 20 slots.
        let r = unsafe { nflog_nlmsg_parse(m.as_ptr() as *const c_void, t.as_mut_ptr()) };
        // SAFETY: reading the calling thread's errno.
        (r, unsafe { *libc::__errno_location() }, t)
    }

    #[test]
    fn parse_stores_by_plain_index_and_skips_types_above_19_with_eopnotsupp() {
        let m = msg(&[(attr::PACKET_HDR, &[8, 0, 3, 0]), (attr::VLAN, &[]), (attr::PREFIX, b"x\0")]);
        let (r, e, t) = parse(&m);
        assert_eq!((r, e), (MNL_CB_OK, libc::EOPNOTSUPP));
        assert_eq!(t[1] as usize - m.as_ptr() as usize, 20);
        assert_eq!(t[10] as usize - m.as_ptr() as usize, 32);
        assert_eq!(t.iter().filter(|p| !p.is_null()).count(), 2);
    }

    #[test]
    fn parse_refuses_wrong_sizes_and_a_prefix_without_nul() {
        for (a, want) in [
            ((attr::MARK, &[0u8, 0, 1][..]), libc::ERANGE),
            ((attr::HWTYPE, &[0, 1, 0, 0][..]), libc::ERANGE),
            ((attr::PREFIX, &[][..]), libc::ERANGE),
            ((attr::PREFIX, &b"abc"[..]), libc::EINVAL),
        ] {
            let m = msg(&[(attr::PACKET_HDR, &[8, 0, 3, 0]), a]);
            let (r, e, t) = parse(&m);
            assert_eq!((r, e), (MNL_CB_ERROR, want), "{a:?}");
            assert!(!t[1].is_null(), "earlier entries stay filled");
        }
    }
}
