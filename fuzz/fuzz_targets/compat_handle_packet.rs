//! The libnetfilter_queue entry point that takes a received buffer: `nfq_handle_packet` on a
//! handle from `nfq_open` (which opens a netlink socket and sends nothing, so it works without
//! privileges). No queue can be bound without the kernel, so this covers the framing and
//! dispatch checks that run before the queue lookup; `compat_nlmsg` covers the attribute
//! table and the getters a callback uses.
#![no_main]

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

// Nothing here names a Rust item of the crate: an explicit `extern crate` links it anyway,
// which brings in the C exports declared below.
extern crate nfq_rs;

// The compat layer is private to the crate; its exports are linked from the rlib.
unsafe extern "C" {
    fn nfq_open() -> *mut c_void;
    fn nfq_handle_packet(h: *mut c_void, buf: *mut c_char, len: c_int) -> c_int;
}

struct Handle(*mut c_void);
// SAFETY: the handle is only used by the fuzzing thread.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

fn handle() -> *mut c_void {
    static H: OnceLock<Handle> = OnceLock::new();
    // SAFETY: nfq_open has no preconditions; the handle lives for the whole run.
    H.get_or_init(|| Handle(unsafe { nfq_open() })).0
}

fuzz_target!(|data: &[u8]| {
    let h = handle();
    assert!(!h.is_null(), "nfq_open failed");
    let mut buf = data.to_vec();
    let len = buf.len().min(c_int::MAX as usize) as c_int;
    // SAFETY: buf is readable for len bytes; h is a live handle.
    let r = unsafe { nfq_handle_packet(h, buf.as_mut_ptr() as *mut c_char, len) };
    assert!(r == 0 || r == -1);
    // Every shorter length of the same buffer (a truncated receive).
    for cut in [0usize, 1, 15, 16, 17, 19, 20, 23, 24] {
        if cut < buf.len() {
            // SAFETY: as above, with a shorter length.
            let r = unsafe { nfq_handle_packet(h, buf.as_mut_ptr() as *mut c_char, cut as c_int) };
            assert!(r == 0 || r == -1);
        }
    }
});
