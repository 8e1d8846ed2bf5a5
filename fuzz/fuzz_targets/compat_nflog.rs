//! libnetfilter_log's entry points over received bytes: `nflog_handle_packet` on a handle from
//! `nflog_open` (framing and dispatch: no group can be bound without the kernel), and per
//! message `nflog_nlmsg_parse` + `nflog_nlmsg_snprintf` (libmnl style) and the
//! `struct nflog_data` table a legacy callback gets (built the way `nflog_handle_packet` builds
//! it) read through every `nflog_get_*` getter and `nflog_snprintf_xml`.
#![no_main]

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nfq_rs::netlink::Messages;

extern crate nfq_rs;

#[repr(C)]
struct NflogData {
    nfa: *mut *mut c_void,
}

#[repr(C)]
#[allow(non_camel_case_types)]
struct libc_timeval {
    tv_sec: i64,
    tv_usec: i64,
}

unsafe extern "C" {
    fn nflog_open() -> *mut c_void;
    fn nflog_handle_packet(h: *mut c_void, buf: *mut c_char, len: c_int) -> c_int;
    fn nflog_nlmsg_parse(nlh: *const c_void, attr: *mut *const c_void) -> c_int;
    fn nflog_nlmsg_snprintf(
        buf: *mut c_char,
        bufsiz: usize,
        nlh: *const c_void,
        attr: *mut *const c_void,
        ty: c_int,
        flags: u32,
    ) -> c_int;
    fn nflog_get_msg_packet_hdr(nfad: *mut NflogData) -> *mut c_void;
    fn nflog_get_hwtype(nfad: *mut NflogData) -> u16;
    fn nflog_get_msg_packet_hwhdrlen(nfad: *mut NflogData) -> u16;
    fn nflog_get_msg_packet_hwhdr(nfad: *mut NflogData) -> *mut c_char;
    fn nflog_get_nfmark(nfad: *mut NflogData) -> u32;
    fn nflog_get_timestamp(nfad: *mut NflogData, tv: *mut libc_timeval) -> c_int;
    fn nflog_get_indev(nfad: *mut NflogData) -> u32;
    fn nflog_get_physindev(nfad: *mut NflogData) -> u32;
    fn nflog_get_outdev(nfad: *mut NflogData) -> u32;
    fn nflog_get_physoutdev(nfad: *mut NflogData) -> u32;
    fn nflog_get_packet_hw(nfad: *mut NflogData) -> *mut c_void;
    fn nflog_get_payload(nfad: *mut NflogData, data: *mut *mut c_char) -> c_int;
    fn nflog_get_prefix(nfad: *mut NflogData) -> *mut c_char;
    fn nflog_get_uid(nfad: *mut NflogData, v: *mut u32) -> c_int;
    fn nflog_get_gid(nfad: *mut NflogData, v: *mut u32) -> c_int;
    fn nflog_get_seq(nfad: *mut NflogData, v: *mut u32) -> c_int;
    fn nflog_get_seq_global(nfad: *mut NflogData, v: *mut u32) -> c_int;
    fn nflog_get_ctid(nfad: *mut NflogData, v: *mut u32) -> c_int;
    fn nflog_snprintf_xml(buf: *mut c_char, rem: usize, tb: *mut NflogData, flags: c_int) -> c_int;
}

struct Handle(*mut c_void);
// SAFETY: the handle is only used by the fuzzing thread.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

fn handle() -> *mut c_void {
    static H: OnceLock<Handle> = OnceLock::new();
    // SAFETY: nflog_open has no preconditions; the handle lives for the whole run.
    H.get_or_init(|| Handle(unsafe { nflog_open() })).0
}

/// Reads every byte of `len` bytes at `p` (so ASan sees any out-of-bounds pointer).
fn touch(p: *const u8, len: usize) -> u32 {
    // SAFETY: the getters promise `len` readable bytes at `p`.
    unsafe { std::slice::from_raw_parts(p, len) }.iter().map(|&b| b as u32).sum()
}

/// Every NFLOG_XML_* flag but NFLOG_XML_TIME.
const XML_NO_TIME: u32 = 0xbf;

fuzz_target!(|data: &[u8]| {
    // Messages are read in place from a 4-byte aligned copy, as from a receive buffer.
    let mut words = vec![0u32; data.len().div_ceil(4)];
    // SAFETY: words has at least data.len() bytes.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), words.as_mut_ptr() as *mut u8, data.len()) };
    let len = data.len().min(c_int::MAX as usize) as c_int;
    let h = handle();
    assert!(!h.is_null(), "nflog_open failed");
    for cut in [len, 0, 1, 15, 16, 19, 20, 23, 24, -1] {
        if cut <= len {
            // SAFETY: words is readable for len >= cut bytes; h is a live handle.
            let r = unsafe { nflog_handle_packet(h, words.as_mut_ptr() as *mut c_char, cut) };
            assert!(r == 0 || r == -1);
        }
    }
    // SAFETY: the first data.len() bytes of words are initialised.
    let buf = unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, data.len()) };
    let flags = data.first().map_or(XML_NO_TIME, |&b| b as u32 & XML_NO_TIME);
    for m in Messages::new(buf).take(64) {
        let Ok(m) = m else { break };
        let mut table = [std::ptr::null::<c_void>(); 20];
        // SAFETY: the message is readable for its nlmsg_len; the table has 20 slots.
        let r = unsafe { nflog_nlmsg_parse(m.bytes().as_ptr() as *const c_void, table.as_mut_ptr()) };
        assert!(r == 1 || r == -1);
        for a in table.iter().filter(|a| !a.is_null()) {
            // Each entry is an attribute header inside the message, with its length inside too.
            let at = *a as usize - m.bytes().as_ptr() as usize;
            let alen = u16::from_ne_bytes([m.bytes()[at], m.bytes()[at + 1]]) as usize;
            assert!(at + alen <= m.len());
        }
        let mut xml = [0 as c_char; 96];
        // SAFETY: the table's entries point into the message; xml is writable.
        unsafe {
            let nlh = m.bytes().as_ptr() as *const c_void;
            let full = nflog_nlmsg_snprintf(xml.as_mut_ptr(), xml.len(), nlh, table.as_mut_ptr(), 0, flags);
            assert!(full >= 0);
            assert_eq!(nflog_nlmsg_snprintf(std::ptr::null_mut(), 0, nlh, table.as_mut_ptr(), 0, flags), full);
            assert_eq!(nflog_nlmsg_snprintf(xml.as_mut_ptr(), xml.len(), nlh, table.as_mut_ptr(), 1, flags), -1);
        }
        // The legacy table: slot type-1 for types 1..=19 (only the nested bit masked), as
        // nflog_handle_packet fills it.
        let Ok((_, attrs)) = m.nfgen() else { continue };
        let mut slots = [std::ptr::null_mut::<c_void>(); 19];
        for a in attrs {
            let Ok(a) = a else { break };
            let t = (a.raw_type() & 0x7fff) as usize;
            if (1..=19).contains(&t) {
                slots[t - 1] = a.data().as_ptr().wrapping_sub(4) as *mut c_void;
            }
        }
        let mut nfad = NflogData { nfa: slots.as_mut_ptr() };
        let d = &mut nfad as *mut NflogData;
        // SAFETY: d is a live table whose slots point at attributes inside the message.
        unsafe {
            for (p, n) in [(nflog_get_msg_packet_hdr(d) as *const u8, 4), (nflog_get_packet_hw(d) as *const u8, 12)] {
                if !p.is_null() {
                    touch(p, n);
                }
            }
            let _ = nflog_get_nfmark(d) ^ nflog_get_indev(d) ^ nflog_get_outdev(d) ^ nflog_get_physindev(d);
            let _ = nflog_get_physoutdev(d) ^ nflog_get_hwtype(d) as u32 ^ nflog_get_msg_packet_hwhdrlen(d) as u32;
            let mut tv = libc_timeval { tv_sec: 0, tv_usec: 0 };
            let _ = nflog_get_timestamp(d, &mut tv);
            let mut v = 0u32;
            for f in [nflog_get_uid, nflog_get_gid, nflog_get_seq, nflog_get_seq_global, nflog_get_ctid] {
                let r = f(d, &mut v);
                assert!(r == 0 || r == -1);
            }
            let mut p: *mut c_char = std::ptr::null_mut();
            let n = nflog_get_payload(d, &mut p);
            if n >= 0 {
                touch(p as *const u8, n as usize);
            } else {
                assert!(p.is_null());
            }
            // Zero-length attributes are possible: nothing to read behind these two.
            let _ = (nflog_get_prefix(d), nflog_get_msg_packet_hwhdr(d));
            let full = nflog_snprintf_xml(xml.as_mut_ptr(), xml.len(), d, flags as c_int);
            assert!(full >= 0);
            assert_eq!(nflog_snprintf_xml(std::ptr::null_mut(), 0, d, flags as c_int), full);
        }
    }
});
