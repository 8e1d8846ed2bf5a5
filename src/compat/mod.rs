//! libnetfilter_queue-compatible exports (`nfq_*`, `nfq_nlmsg_*`, `pktb_*`, `nfq_ip*_*`,
//! `nfq_tcp_*`, `nfq_udp_*`, `nfq_errno`, and the few libnfnetlink calls programs make on
//! `nfq_nfnlh()`) and libnetfilter_log-compatible exports (`nflog_*`, `nflog_errno`), as thin
//! shims over the same core as the native API. Signatures and behaviour follow
//! libnetfilter_queue 1.0.5 (plus the symbols added in its git tree since) and
//! libnetfilter_log 1.0.2; where we deliberately differ, docs/compat-differences.md says so
//! and why.

use std::panic::{AssertUnwindSafe, catch_unwind};

mod legacy;
mod nflog_legacy;
mod nflog_nlmsg;
mod nlmsg;
mod pktbuff;
mod proto;

/// Sets the C `errno` of the calling thread.
pub(crate) fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// Runs an export's body; a panic (a bug in nfq-rs) becomes the export's failure value with
/// errno EFAULT, instead of unwinding into C.
pub(crate) fn boundary<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            set_errno(libc::EFAULT);
            on_panic
        }
    }
}
