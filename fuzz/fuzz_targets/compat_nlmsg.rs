//! libnetfilter_queue's parsers over a received message: `nfq_nlmsg_parse` (libmnl style,
//! exact attribute sizes), and the `struct nfq_data` table a legacy callback gets (built the
//! way `nfq_handle_packet` builds it) read through every `nfq_get_*` getter and
//! `nfq_snprintf_xml`.
#![no_main]

use std::ffi::{c_char, c_int, c_void};

use libfuzzer_sys::fuzz_target;
use nfq_rs::netlink::Messages;

#[repr(C)]
struct NfqData {
    data: *mut *mut c_void,
}

unsafe extern "C" {
    fn nfq_nlmsg_parse(nlh: *const c_void, attr: *mut *const c_void) -> c_int;
    fn nfq_get_msg_packet_hdr(nfad: *mut NfqData) -> *mut c_void;
    fn nfq_get_nfmark(nfad: *mut NfqData) -> u32;
    fn nfq_get_indev(nfad: *mut NfqData) -> u32;
    fn nfq_get_outdev(nfad: *mut NfqData) -> u32;
    fn nfq_get_physindev(nfad: *mut NfqData) -> u32;
    fn nfq_get_physoutdev(nfad: *mut NfqData) -> u32;
    fn nfq_get_skbinfo(nfad: *mut NfqData) -> u32;
    fn nfq_get_timestamp(nfad: *mut NfqData, tv: *mut libc_timeval) -> c_int;
    fn nfq_get_uid(nfad: *mut NfqData, uid: *mut u32) -> c_int;
    fn nfq_get_gid(nfad: *mut NfqData, gid: *mut u32) -> c_int;
    fn nfq_get_secctx(nfad: *mut NfqData, secdata: *mut *mut u8) -> c_int;
    fn nfq_get_payload(nfad: *mut NfqData, data: *mut *mut u8) -> c_int;
    fn nfq_get_packet_hw(nfad: *mut NfqData) -> *mut c_void;
    fn nfq_get_outdev_name(nlif: *mut c_void, nfad: *mut NfqData, name: *mut c_char) -> c_int;
    fn nfq_snprintf_xml(buf: *mut c_char, rem: usize, tb: *mut NfqData, flags: c_int) -> c_int;
}

#[repr(C)]
#[allow(non_camel_case_types)]
struct libc_timeval {
    tv_sec: i64,
    tv_usec: i64,
}

/// Reads every byte of `len` bytes at `p` (so ASan sees any out-of-bounds pointer).
fn touch(p: *const u8, len: usize) -> u32 {
    // SAFETY: the getters promise `len` readable bytes at `p`.
    unsafe { std::slice::from_raw_parts(p, len) }.iter().map(|&b| b as u32).sum()
}

fuzz_target!(|data: &[u8]| {
    // Messages are read in place from a 4-byte aligned copy, as from a receive buffer.
    let mut words = vec![0u32; data.len().div_ceil(4)];
    // SAFETY: words has at least data.len() bytes.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), words.as_mut_ptr() as *mut u8, data.len()) };
    // SAFETY: the first data.len() bytes of words are initialised.
    let buf = unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, data.len()) };
    for m in Messages::new(buf).take(64) {
        let Ok(m) = m else { break };
        let mut table = [std::ptr::null::<c_void>(); 19];
        // SAFETY: the message is readable for its nlmsg_len; the table has 19 slots.
        let r = unsafe { nfq_nlmsg_parse(m.bytes().as_ptr() as *const c_void, table.as_mut_ptr()) };
        assert!(r == 1 || r == -1);
        for a in table.iter().filter(|a| !a.is_null()) {
            // Each entry is an attribute header inside the message, with its length inside too.
            let at = *a as usize - m.bytes().as_ptr() as usize;
            let alen = u16::from_ne_bytes([m.bytes()[at], m.bytes()[at + 1]]) as usize;
            assert!(at + alen <= m.len());
        }
        // The legacy table: slot type-1 for types 1..=18, as nfq_handle_packet fills it.
        let Ok((_, attrs)) = m.nfgen() else { continue };
        let mut slots = [std::ptr::null_mut::<c_void>(); 18];
        for a in attrs {
            let Ok(a) = a else { break };
            let t = a.kind() as usize;
            if (1..=18).contains(&t) {
                slots[t - 1] = a.data().as_ptr().wrapping_sub(4) as *mut c_void;
            }
        }
        let mut nfad = NfqData { data: slots.as_mut_ptr() };
        let d = &mut nfad as *mut NfqData;
        // SAFETY: d is a live table whose slots point at attributes inside the message.
        unsafe {
            let ph = nfq_get_msg_packet_hdr(d);
            if !ph.is_null() {
                touch(ph as *const u8, 7);
            }
            let hw = nfq_get_packet_hw(d);
            if !hw.is_null() {
                touch(hw as *const u8, 12);
            }
            let _ = nfq_get_nfmark(d) ^ nfq_get_indev(d) ^ nfq_get_outdev(d) ^ nfq_get_physindev(d);
            let _ = nfq_get_physoutdev(d) ^ nfq_get_skbinfo(d);
            let mut tv = libc_timeval { tv_sec: 0, tv_usec: 0 };
            let _ = nfq_get_timestamp(d, &mut tv);
            let (mut uid, mut gid) = (0u32, 0u32);
            let _ = nfq_get_uid(d, &mut uid) + nfq_get_gid(d, &mut gid);
            let mut p: *mut u8 = std::ptr::null_mut();
            let n = nfq_get_payload(d, &mut p);
            if n >= 0 {
                touch(p, n as usize);
            } else {
                assert!(p.is_null());
            }
            let n = nfq_get_secctx(d, &mut p);
            if n >= 0 {
                touch(p, n as usize);
            }
            let mut name = [0 as c_char; 16];
            let _ = nfq_get_outdev_name(std::ptr::null_mut(), d, name.as_mut_ptr());
            let mut xml = [0 as c_char; 64];
            let full = nfq_snprintf_xml(xml.as_mut_ptr(), xml.len(), d, 0xdf);
            assert!(full >= 0);
            assert_eq!(nfq_snprintf_xml(std::ptr::null_mut(), 0, d, 0xdf), full);
        }
    }
});
