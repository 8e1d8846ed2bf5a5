//! The native C API (`nfq_rs_*`, header `include/nfq_rs.h`). The only place with
//! `extern "C"` for it. Every export checks its pointers, calls the safe core and maps the
//! result; its body runs inside `boundary`, so a panic never crosses into C.

#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{CString, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::netlink::{Error, ErrorKind};

mod api;
mod ct;
mod handles;
mod log;
mod log_record;
#[doc(hidden)]
pub use log_record::{decode_log_record, log_record_of};

pub use api::*;
pub use ct::*;
pub use log::*;

/// Success.
pub const NFQ_RS_OK: i32 = 0;
/// Invalid argument (NULL pointer, out-of-range value, wrong state).
pub const NFQ_RS_E_INVAL: i32 = -1;
/// Permission denied: CAP_NET_ADMIN missing, or the queue is bound by another process.
pub const NFQ_RS_E_PERM: i32 = -2;
/// Busy: queue already bound on this handle, or the handle is receiving on another thread.
pub const NFQ_RS_E_BUSY: i32 = -3;
/// Not supported by this kernel (e.g. the conntrack flag without NETFILTER_NETLINK_GLUE_CT).
pub const NFQ_RS_E_NOTSUP: i32 = -4;
/// Not found (unknown packet id).
pub const NFQ_RS_E_NOENT: i32 = -5;
/// The queue is not bound.
pub const NFQ_RS_E_NODEV: i32 = -6;
/// The socket receive buffer overflowed; the kernel dropped messages.
pub const NFQ_RS_E_NOBUFS: i32 = -7;
/// Malformed message from the kernel.
pub const NFQ_RS_E_PROTO: i32 = -8;
/// The kernel did not answer in time.
pub const NFQ_RS_E_TIMEOUT: i32 = -9;
/// Other operating-system error (see the last-error message for errno).
pub const NFQ_RS_E_SYS: i32 = -10;
/// Out of memory.
pub const NFQ_RS_E_NOMEM: i32 = -11;
/// Internal error (a bug: a caught panic).
pub const NFQ_RS_E_INTERNAL: i32 = -12;
/// Exists already (e.g. a conntrack entry being created).
pub const NFQ_RS_E_EXIST: i32 = -13;

/// The stable code of an error kind.
pub(crate) fn code_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument => NFQ_RS_E_INVAL,
        ErrorKind::PermissionDenied => NFQ_RS_E_PERM,
        ErrorKind::Busy => NFQ_RS_E_BUSY,
        ErrorKind::NotSupported => NFQ_RS_E_NOTSUP,
        ErrorKind::NotFound => NFQ_RS_E_NOENT,
        ErrorKind::NoQueue => NFQ_RS_E_NODEV,
        ErrorKind::NoBuffers => NFQ_RS_E_NOBUFS,
        ErrorKind::Protocol => NFQ_RS_E_PROTO,
        ErrorKind::Timeout => NFQ_RS_E_TIMEOUT,
        ErrorKind::System => NFQ_RS_E_SYS,
        ErrorKind::NoMemory => NFQ_RS_E_NOMEM,
        ErrorKind::Exists => NFQ_RS_E_EXIST,
        _ => NFQ_RS_E_INTERNAL,
    }
}

pub(crate) fn strerror(code: i32) -> &'static str {
    match code {
        NFQ_RS_OK => "success\0",
        NFQ_RS_E_INVAL => "invalid argument\0",
        NFQ_RS_E_PERM => "permission denied: CAP_NET_ADMIN missing, or the queue is bound by another process\0",
        NFQ_RS_E_BUSY => "busy: queue already bound on this handle, or the handle is in use by another thread\0",
        NFQ_RS_E_NOTSUP => "operation not supported by this kernel\0",
        NFQ_RS_E_NOENT => "not found: unknown packet id, or no such connection\0",
        NFQ_RS_E_NODEV => "the queue is not bound\0",
        NFQ_RS_E_NOBUFS => "socket receive buffer overflowed; the kernel dropped messages\0",
        NFQ_RS_E_PROTO => "malformed message from the kernel\0",
        NFQ_RS_E_TIMEOUT => "the kernel did not answer in time\0",
        NFQ_RS_E_SYS => "system error\0",
        NFQ_RS_E_NOMEM => "out of memory\0",
        NFQ_RS_E_INTERNAL => "internal error in nfq-rs (please report)\0",
        NFQ_RS_E_EXIST => "exists already\0",
        _ => "unknown error code\0",
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Stores `msg` as the calling thread's last error.
pub(crate) fn set_thread_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
}

pub(crate) fn thread_error() -> String {
    LAST_ERROR.with(|l| l.borrow().to_string_lossy().into_owned())
}

/// Records `e` for the calling thread and returns its code.
pub(crate) fn fail(e: &Error) -> i32 {
    set_thread_error(e.message());
    code_of(e.kind())
}

/// Records an invalid-argument error and returns its code.
pub(crate) fn invalid(msg: &str) -> i32 {
    set_thread_error(msg);
    NFQ_RS_E_INVAL
}

/// Runs an export's body; a panic becomes `on_panic` and an internal-error message.
pub(crate) fn boundary<T>(name: &str, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            set_thread_error(&format!("internal error: panic inside {name} (a bug in nfq-rs; please report)"));
            on_panic
        }
    }
}

/// The namespace a `*_set_netns_path` export names: NULL is the current one; an empty or
/// non-UTF-8 path is refused (the error code to return).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
pub(crate) unsafe fn netns_of_path(name: &str, path: *const std::ffi::c_char) -> Result<crate::netlink::Netns, c_int> {
    use crate::netlink::Netns;
    if path.is_null() {
        return Ok(Netns::Current);
    }
    // SAFETY: path is a NUL-terminated string per the contract.
    match unsafe { std::ffi::CStr::from_ptr(path) }.to_str() {
        Ok(s) if !s.is_empty() => Ok(Netns::Path(std::path::PathBuf::from(s))),
        _ => Err(invalid(&format!("{name}: path is empty or not UTF-8"))),
    }
}

/// The namespace a `*_set_netns_fd` export names: -1 is the current one; below -1 is refused.
pub(crate) fn netns_of_fd(name: &str, fd: c_int) -> Result<crate::netlink::Netns, c_int> {
    use crate::netlink::Netns;
    match fd {
        -1 => Ok(Netns::Current),
        fd if fd < -1 => Err(invalid(&format!("{name}: {fd} is not a descriptor"))),
        fd => Ok(Netns::Fd(fd)),
    }
}

#[cfg(test)]
mod tests {
    use super::api::*;
    use crate::queue::flags;

    #[test]
    fn c_flag_constants_match_the_kernel_uapi() {
        assert_eq!(NFQ_RS_F_FAIL_OPEN, flags::FAIL_OPEN);
        assert_eq!(NFQ_RS_F_CONNTRACK, flags::CONNTRACK);
        assert_eq!(NFQ_RS_F_GSO, flags::GSO);
        assert_eq!(NFQ_RS_F_UID_GID, flags::UID_GID);
        assert_eq!(NFQ_RS_F_SECCTX, flags::SECCTX);
    }
}
