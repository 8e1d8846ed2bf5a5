//! libnetfilter_queue's libmnl-based helpers (`nfq_nlmsg_*`): they build config and verdict
//! messages in a caller's buffer and parse a received packet message into an attribute table.
//! Attribute encoding follows libmnl (`mnl_attr_put`): each attribute goes at the aligned end
//! of the message and `nlmsg_len` grows by its aligned size. Unlike libmnl 1.0.4 the padding
//! bytes are zeroed.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use super::{boundary, set_errno};
use crate::netlink::{Attrs, NFGENMSG_LEN, NLA_HDRLEN, NLM_F_REQUEST, NLMSG_HDRLEN, align4, nfnl_msg_type};
use crate::queue::{NFNL_SUBSYS_QUEUE, attr, cfg};

/// Highest attribute type `nfq_nlmsg_parse` stores: libnetfilter_queue's `NFQA_MAX` (18).
/// Programs size their table from their own (older or newer) kernel header, so writing a
/// higher index could overflow it.
const PARSE_MAX: u16 = 18;

/// `MNL_CB_OK`.
const MNL_CB_OK: c_int = 1;
/// `MNL_CB_ERROR`.
const MNL_CB_ERROR: c_int = -1;

pub(super) fn nlmsg_len(nlh: *const u8) -> usize {
    // SAFETY: callers pass a live nlmsghdr (at least 16 bytes).
    u32::from_ne_bytes(unsafe { *(nlh as *const [u8; 4]) }) as usize
}

/// Appends an attribute at the aligned end of the message, like `mnl_attr_put`.
///
/// # Safety
/// `nlh` points at a message in a buffer with room for the attribute.
pub(super) unsafe fn put_attr(nlh: *mut u8, kind: u16, data: &[u8]) {
    let off = align4(nlmsg_len(nlh));
    let alen = NLA_HDRLEN + data.len();
    // SAFETY: the caller guarantees room for align4(alen) bytes at off.
    unsafe {
        let a = nlh.add(off);
        ptr::copy_nonoverlapping((alen as u16).to_ne_bytes().as_ptr(), a, 2);
        ptr::copy_nonoverlapping(kind.to_ne_bytes().as_ptr(), a.add(2), 2);
        ptr::copy_nonoverlapping(data.as_ptr(), a.add(NLA_HDRLEN), data.len());
        ptr::write_bytes(a.add(alen), 0, align4(alen) - alen);
        let new_len = (off + align4(alen)) as u32;
        ptr::copy_nonoverlapping(new_len.to_ne_bytes().as_ptr(), nlh, 4);
    }
}

fn with_nlh(nlh: *mut c_void, f: impl FnOnce(*mut u8)) {
    boundary((), || {
        if nlh.is_null() {
            set_errno(libc::EINVAL);
            return;
        }
        f(nlh as *mut u8)
    })
}

/// Starts an NFQUEUE message of `type` (`NFQNL_MSG_*`) for `queue_num` at `buf`: header with
/// `NLM_F_REQUEST | flags`, seq 0, and a zeroed nfgenmsg. `buf` needs room for the whole
/// message (libmnl's `MNL_SOCKET_BUFFER_SIZE`).
///
/// # Safety
/// `buf` is NULL or writable for the message that will be built in it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_put2(buf: *mut c_char, ty: c_int, queue_num: u32, flags: u16) -> *mut c_void {
    boundary(ptr::null_mut(), || {
        if buf.is_null() {
            set_errno(libc::EINVAL);
            return ptr::null_mut();
        }
        let mut hdr = [0u8; NLMSG_HDRLEN + NFGENMSG_LEN];
        hdr[0..4].copy_from_slice(&((NLMSG_HDRLEN + NFGENMSG_LEN) as u32).to_ne_bytes());
        hdr[4..6].copy_from_slice(&nfnl_msg_type(NFNL_SUBSYS_QUEUE, ty as u8).to_ne_bytes());
        hdr[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        hdr[16] = libc::AF_UNSPEC as u8;
        hdr[18..20].copy_from_slice(&(queue_num as u16).to_be_bytes());
        // SAFETY: buf is writable for at least the header per the contract.
        unsafe { ptr::copy_nonoverlapping(hdr.as_ptr(), buf as *mut u8, hdr.len()) };
        buf as *mut c_void
    })
}

/// `nfq_nlmsg_put2(buf, type, queue_num, 0)`.
///
/// # Safety
/// As for `nfq_nlmsg_put2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_put(buf: *mut c_char, ty: c_int, queue_num: u32) -> *mut c_void {
    // SAFETY: same contract.
    unsafe { nfq_nlmsg_put2(buf, ty, queue_num, 0) }
}

/// Adds `NFQA_CFG_CMD` {cmd, pf}.
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_cfg_put_cmd(nlh: *mut c_void, pf: u16, cmd: u8) {
    let p = pf.to_be_bytes();
    // SAFETY: per the contract.
    with_nlh(nlh, |n| unsafe { put_attr(n, cfg::CMD, &[cmd, 0, p[0], p[1]]) })
}

/// Adds `NFQA_CFG_PARAMS` {copy range, copy mode} (5 bytes).
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_cfg_put_params(nlh: *mut c_void, mode: u8, range: c_int) {
    let r = (range as u32).to_be_bytes();
    // SAFETY: per the contract.
    with_nlh(nlh, |n| unsafe { put_attr(n, cfg::PARAMS, &[r[0], r[1], r[2], r[3], mode]) })
}

/// Adds `NFQA_CFG_QUEUE_MAXLEN`.
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_cfg_put_qmaxlen(nlh: *mut c_void, qmaxlen: u32) {
    // SAFETY: per the contract.
    with_nlh(nlh, |n| unsafe { put_attr(n, cfg::QUEUE_MAXLEN, &qmaxlen.to_be_bytes()) })
}

/// Adds `NFQA_VERDICT_HDR` {verdict, id}.
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_verdict_put(nlh: *mut c_void, id: c_int, verdict: c_int) {
    let mut d = [0u8; 8];
    d[..4].copy_from_slice(&(verdict as u32).to_be_bytes());
    d[4..].copy_from_slice(&(id as u32).to_be_bytes());
    // SAFETY: per the contract.
    with_nlh(nlh, |n| unsafe { put_attr(n, attr::VERDICT_HDR, &d) })
}

/// Adds `NFQA_MARK` (host-order argument).
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_verdict_put_mark(nlh: *mut c_void, mark: u32) {
    // SAFETY: per the contract.
    with_nlh(nlh, |n| unsafe { put_attr(n, attr::MARK, &mark.to_be_bytes()) })
}

/// Adds `NFQA_PAYLOAD` with `pktlen` bytes from `pkt`.
///
/// # Safety
/// `nlh` is NULL or a message in a buffer with room for the attribute; `pkt` is readable for
/// `pktlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_verdict_put_pkt(nlh: *mut c_void, pkt: *const c_void, pktlen: u32) {
    with_nlh(nlh, |n| {
        if pktlen as usize > crate::queue::MAX_PAYLOAD || (pkt.is_null() && pktlen != 0) {
            // The attribute length field cannot hold it: leave the message unchanged.
            set_errno(libc::EINVAL);
            return;
        }
        let data: &[u8] = if pktlen == 0 {
            &[]
        } else {
            // SAFETY: pkt is readable for pktlen bytes per the contract.
            unsafe { std::slice::from_raw_parts(pkt as *const u8, pktlen as usize) }
        };
        // SAFETY: per the contract.
        unsafe { put_attr(n, attr::PAYLOAD, data) }
    })
}

/// The payload size upstream requires, per attribute type. libmnl's `mnl_attr_validate2`
/// rejects both shorter and longer payloads (ERANGE), so every size here is exact.
fn required_size(kind: u16) -> Option<usize> {
    match kind {
        attr::MARK
        | attr::IFINDEX_INDEV
        | attr::IFINDEX_OUTDEV
        | attr::IFINDEX_PHYSINDEV
        | attr::IFINDEX_PHYSOUTDEV
        | attr::CAP_LEN
        | attr::SKB_INFO
        | attr::UID
        | attr::GID
        | attr::CT_INFO => Some(4),
        attr::TIMESTAMP => Some(16),
        attr::HWADDR => Some(12),
        attr::PACKET_HDR => Some(7),
        _ => None,
    }
}

/// Fills `attr[type]` (plain index) with a pointer to each attribute of type 0..=18 in a
/// packet message; types above 18 are skipped. `attr` is not cleared first. Returns
/// `MNL_CB_OK` (1), or `MNL_CB_ERROR` (-1) with errno ERANGE when a fixed-size attribute has
/// another size (earlier entries stay filled). Attributes after a malformed header are
/// ignored.
///
/// # Safety
/// `nlh` is NULL or a message readable for its `nlmsg_len`; `attr` has room for 19 pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nlmsg_parse(nlh: *const c_void, attr: *mut *const c_void) -> c_int {
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
                continue;
            }
            if let Some(size) = required_size(kind) {
                if a.data().len() != size {
                    set_errno(libc::ERANGE);
                    return MNL_CB_ERROR;
                }
            }
            // SAFETY: attr has PARSE_MAX + 1 slots; kind <= PARSE_MAX.
            unsafe { *attr.add(kind as usize) = a.data().as_ptr().wrapping_sub(NLA_HDRLEN) as *const c_void };
        }
        MNL_CB_OK
    })
}
