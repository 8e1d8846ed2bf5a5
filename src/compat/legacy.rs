//! libnetfilter_queue's original API (`nfq_open`, `nfq_create_queue`, `nfq_handle_packet`,
//! `nfq_set_verdict*`, `nfq_get_*`, ...) as thin exports over the nfnetlink core: the socket,
//! the request/ACK loop, the attribute iterator and the verdict encoder all come from
//! `crate::netlink` and `crate::queue`. What is specific here is the upstream calling
//! convention: return values, errno and `nfq_errno`, byte orders, and the memory layouts that
//! programs read directly (`struct nfq_data`, the `struct nfnl_handle` behind `nfq_nfnlh`).

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::io::IoSlice;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::Mutex;
use std::time::Duration;

use super::{boundary, set_errno};
use crate::netlink::{Event, Msg, NETLINK_NETFILTER, Socket, align4, nfnl_msg_type, transact};
use crate::queue::ConfigOp;
use crate::queue::{MAX_PAYLOAD, NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET, VerdictOpts, attr, cfg};
use crate::queue::{PLAIN_VERDICT_MAX, encode_config, encode_plain_verdict, encode_verdict, encode_verdict_batch};

/// The attribute types libnetfilter_queue 1.0.5 was compiled with (`NFQA_MAX` = `NFQA_SECCTX`):
/// `struct nfq_data` has one slot per type 1..=18, and programs index it with `type - 1`.
const LEGACY_NFQA_MAX: usize = 18;

/// How long a config call waits for the kernel's ACK (upstream blocks forever).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Receive buffer for config calls: room for any packet message that arrives meanwhile.
const CTL_BUF: usize = 128 * 1024;

/// The data symbol `nfq_errno` (set by `nfq_open_nfnl` and `nfq_create_queue` failures).
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static mut nfq_errno: c_int = 0;

fn set_nfq_errno(v: c_int) {
    // SAFETY: a plain store to a C global; upstream has the same unsynchronised global.
    unsafe { ptr::addr_of_mut!(nfq_errno).write(v) };
}

/// `struct nfattr` / `struct nlattr` header.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct nfattr {
    pub(super) nfa_len: u16,
    pub(super) nfa_type: u16,
}

/// The layout of libnfnetlink's `struct nfnl_handle` (464 bytes on LP64). `nfq_nfnlh()` returns
/// one of these, so libnfnetlink's `nfnl_fd`, `nfnl_rcvbufsiz` and `nfnl_portid` (ours or the
/// real ones) work on it; `nfq_open_nfnl()` accepts one made by the real `nfnl_open()`.
#[repr(C)]
pub(super) struct NfnlHandle {
    pub(super) fd: c_int,
    pub(super) local: libc::sockaddr_nl,
    peer: libc::sockaddr_nl,
    subscriptions: u32,
    seq: u32,
    dump: u32,
    rcv_buffer_size: u32,
    flags: u32,
    last_nlhdr: *mut c_void,
    pub(super) subsys: [NfnlSubsys; 17],
}

/// libnfnetlink's `struct nfnl_subsys_handle` (24 bytes).
#[repr(C)]
pub(super) struct NfnlSubsys {
    pub(super) nfnlh: *mut c_void,
    subscriptions: u32,
    pub(super) subsys_id: u8,
    cb_count: u8,
    cb: *mut c_void,
}

const _: () = assert!(std::mem::size_of::<NfnlHandle>() == 464);
const _: () = assert!(std::mem::offset_of!(NfnlHandle, local) == 4);
const _: () = assert!(std::mem::offset_of!(NfnlHandle, subsys) == 56);

/// The callback type of `nfq_create_queue`.
#[allow(non_camel_case_types)]
pub type nfq_callback =
    unsafe extern "C" fn(qh: *mut nfq_q_handle, nfmsg: *mut c_void, nfad: *mut nfq_data, data: *mut c_void) -> c_int;

/// `struct nfq_handle` (opaque to programs).
#[allow(non_camel_case_types)]
pub struct nfq_handle {
    nfnlh: *mut NfnlHandle,
    /// The nfnl handle and its socket are ours (nfq_open) rather than the caller's (nfq_open_nfnl).
    own: bool,
    sock: ManuallyDrop<Socket>,
    seq: std::sync::atomic::AtomicU32,
    queues: Mutex<Vec<*mut nfq_q_handle>>,
    ctl: Mutex<Vec<u8>>,
}

/// `struct nfq_q_handle` (opaque to programs).
#[allow(non_camel_case_types)]
pub struct nfq_q_handle {
    h: *mut nfq_handle,
    id: u16,
    cb: Option<nfq_callback>,
    data: *mut c_void,
}

/// `struct nfq_data`: programs read `data[type - 1]` (a `struct nfattr *` into the message).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct nfq_data {
    data: *mut *mut nfattr,
}

// ---------------------------------------------------------------------------------------
// Handles

/// Allocates a zeroed `struct nfnl_handle` with `malloc`'s allocator (programs may hand it to
/// `free` through libnfnetlink).
pub(super) fn new_nfnl_handle(sock: &Socket) -> *mut NfnlHandle {
    // SAFETY: calloc returns zeroed memory or NULL; all-zero is a valid NfnlHandle.
    let p = unsafe { libc::calloc(1, std::mem::size_of::<NfnlHandle>()) } as *mut NfnlHandle;
    // SAFETY: p is NULL or a fresh, zeroed, exclusively owned allocation.
    if let Some(h) = unsafe { p.as_mut() } {
        h.fd = sock.fd();
        h.local.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        h.local.nl_pid = sock.portid();
        h.peer.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        h.rcv_buffer_size = 8192;
    }
    p
}

fn new_handle(nfnlh: *mut NfnlHandle, own: bool, sock: ManuallyDrop<Socket>) -> *mut nfq_handle {
    Box::into_raw(Box::new(nfq_handle {
        nfnlh,
        own,
        sock,
        seq: std::sync::atomic::AtomicU32::new(1),
        queues: Mutex::new(Vec::new()),
        ctl: Mutex::new(Vec::new()),
    }))
}

/// A new netfilter netlink socket with its libnfnetlink-layout handle (the `nfq_open` and
/// `nflog_open` part they share); the errno to set on failure.
pub(super) fn open_socket_and_nfnl() -> Result<(Socket, *mut NfnlHandle), c_int> {
    let sock = Socket::open(NETLINK_NETFILTER).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let nfnlh = new_nfnl_handle(&sock);
    if nfnlh.is_null() {
        return Err(libc::ENOMEM);
    }
    Ok((sock, nfnlh))
}

/// Claims subsystem `subsys` of a handle made by libnfnetlink's `nfnl_open()` and borrows its
/// socket (the `nfq_open_nfnl` and `nflog_open_nfnl` part they share): EINVAL for NULL, EBUSY
/// if that subsystem is already open on it.
///
/// # Safety
/// `nfnlh` is NULL or a live `struct nfnl_handle`.
pub(super) unsafe fn adopt_nfnl(nfnlh: *mut NfnlHandle, subsys: u8) -> Result<ManuallyDrop<Socket>, c_int> {
    // SAFETY: nfnlh is NULL or a live nfnl_handle per the contract.
    let n = unsafe { nfnlh.as_mut() }.ok_or(libc::EINVAL)?;
    let ss = &mut n.subsys[subsys as usize];
    if !ss.nfnlh.is_null() {
        return Err(libc::EBUSY);
    }
    let sock = Socket::borrow_raw(n.fd).map_err(|e| e.raw_os_error().unwrap_or(libc::EBADF))?;
    ss.nfnlh = nfnlh as *mut c_void;
    ss.subsys_id = subsys;
    Ok(sock)
}

/// Opens a netlink socket and returns a handle; NULL with errno on failure. Sends nothing.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_open() -> *mut nfq_handle {
    boundary(ptr::null_mut(), || match open_socket_and_nfnl() {
        Ok((sock, nfnlh)) => new_handle(nfnlh, true, ManuallyDrop::new(sock)),
        Err(errno) => {
            set_errno(errno);
            ptr::null_mut()
        }
    })
}

/// Adopts a handle made by libnfnetlink's `nfnl_open()` (only its `fd` and `subsys` table are
/// used). NULL with errno EBUSY if the queue subsystem is already open on it.
///
/// # Safety
/// `nfnlh` is NULL or a live `struct nfnl_handle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_open_nfnl(nfnlh: *mut c_void) -> *mut nfq_handle {
    boundary(ptr::null_mut(), || {
        let nfnlh = nfnlh as *mut NfnlHandle;
        // SAFETY: nfnlh is NULL or a live nfnl_handle per the contract.
        match unsafe { adopt_nfnl(nfnlh, NFNL_SUBSYS_QUEUE) } {
            Ok(sock) => new_handle(nfnlh, false, sock),
            Err(errno) => {
                set_errno(errno);
                ptr::null_mut()
            }
        }
    })
}

/// Closes the handle: its socket (the kernel then unbinds its queues) and its queue handles.
/// For a handle from `nfq_open_nfnl`, the nfnl handle is released with libnfnetlink's
/// `nfnl_close` when the process has it. Returns 0, or -1 (nothing freed) if that failed.
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_close(h: *mut nfq_handle) -> c_int {
    boundary(-1, || {
        if h.is_null() {
            set_errno(libc::EINVAL);
            return -1;
        }
        // SAFETY: h is a live handle per the contract.
        let hr = unsafe { &mut *h };
        if hr.own {
            // SAFETY: the socket is ours; dropping it closes the descriptor once.
            unsafe { ManuallyDrop::drop(&mut hr.sock) };
            // SAFETY: nfnlh came from calloc in new_nfnl_handle.
            unsafe { libc::free(hr.nfnlh as *mut c_void) };
        } else {
            // SAFETY: nfnlh is the caller's live nfnl_handle.
            unsafe { (*hr.nfnlh).subsys[NFNL_SUBSYS_QUEUE as usize] = std::mem::zeroed() };
            if release_foreign_nfnl(hr.nfnlh) != 0 {
                return -1;
            }
        }
        // SAFETY: h came from Box::into_raw in new_handle; queue handles from create_queue.
        let hb = unsafe { Box::from_raw(h) };
        for qh in hb.queues.lock().map(|q| q.clone()).unwrap_or_default() {
            // SAFETY: every entry came from Box::into_raw in nfq_create_queue.
            drop(unsafe { Box::from_raw(qh) });
        }
        0
    })
}

/// Releases an nfnl handle made by the real libnfnetlink with its own `nfnl_close`; if no
/// libnfnetlink is in the process, closes the descriptor and frees the memory as it would.
pub(super) fn release_foreign_nfnl(n: *mut NfnlHandle) -> c_int {
    if let Some(close) = real_nfnl_close() {
        // SAFETY: n is the live handle libnfnetlink made; close is libnfnetlink's nfnl_close.
        return unsafe { close(n as *mut c_void) };
    }
    // SAFETY: n is live; its fd is the caller's socket, which nfnl_close would close.
    let r = unsafe { libc::close((*n).fd) };
    if r < 0 {
        return -1;
    }
    // SAFETY: libnfnetlink allocates the handle with malloc.
    unsafe { libc::free(n as *mut c_void) };
    0
}

type NfnlCloseFn = unsafe extern "C" fn(*mut c_void) -> c_int;

/// libnfnetlink's `nfnl_close`, wherever it was loaded: first the loaded `libnfnetlink.so.0`
/// itself (found even when it sits only in the local scope of a `dlopen`ed plugin, which
/// `RTLD_DEFAULT` does not search), then the global scope (a program linked with a static
/// libnfnetlink and `-rdynamic`). None if the process has neither.
fn real_nfnl_close() -> Option<NfnlCloseFn> {
    // SAFETY: RTLD_NOLOAD never loads anything: it returns the already-loaded library or NULL.
    let lib = unsafe { libc::dlopen(c"libnfnetlink.so.0".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    let mut f = ptr::null_mut();
    if !lib.is_null() {
        // SAFETY: lib is a live handle; the name is NUL-terminated.
        f = unsafe { libc::dlsym(lib, c"nfnl_close".as_ptr()) };
        // SAFETY: drops the reference RTLD_NOLOAD took; the library stays loaded (its loader
        // holds another), so f stays valid.
        unsafe { libc::dlclose(lib) };
    }
    if f.is_null() {
        // SAFETY: dlsym with a NUL-terminated name; the result is checked for NULL.
        f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"nfnl_close".as_ptr()) };
    }
    // SAFETY: a non-NULL nfnl_close from libnfnetlink has this signature.
    (!f.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, NfnlCloseFn>(f) })
}

/// The `struct nfnl_handle *` of the handle (fd at offset 0, local address at offset 4).
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_nfnlh(h: *mut nfq_handle) -> *mut c_void {
    // SAFETY: h is NULL or live per the contract.
    boundary(ptr::null_mut(), || unsafe { h.as_ref() }.map_or(ptr::null_mut(), |h| h.nfnlh as *mut c_void))
}

/// The socket descriptor.
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_fd(h: *mut nfq_handle) -> c_int {
    // SAFETY: h is NULL or live per the contract.
    boundary(-1, || match unsafe { h.as_ref() } {
        Some(h) => h.sock.fd(),
        None => {
            set_errno(libc::EINVAL);
            -1
        }
    })
}

// ---------------------------------------------------------------------------------------
// Config requests

impl nfq_handle {
    /// Sends a config request and waits for its ACK; packet messages arriving meanwhile go to
    /// their queue's callback. 0, or -1 with errno.
    fn config(&self, queue: u16, op: ConfigOp) -> c_int {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed).max(1);
        let mut req = Vec::with_capacity(64);
        encode_config(&mut req, seq, queue, op);
        // A config call from inside a callback of this handle finds the buffer in use by the
        // outer call: give it its own.
        let mut own = Vec::new();
        let mut guard = self.ctl.try_lock();
        let buf = match guard.as_mut() {
            Ok(g) => &mut **g,
            Err(_) => &mut own,
        };
        let r = transact(&self.sock, &req, seq, buf, CTL_BUF, ACK_TIMEOUT, &mut |ev| {
            if let Event::Other(m, _) = ev {
                if m.msg_type() == nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET) {
                    let _ = self.deliver(&m);
                }
            }
        });
        match r {
            Ok(()) => 0,
            Err((errno, _)) => {
                set_errno(errno);
                -1
            }
        }
    }

    fn find_queue(&self, id: u16) -> Option<*mut nfq_q_handle> {
        let list = self.queues.lock().ok()?;
        // SAFETY: every entry is a live queue handle owned by this handle.
        list.iter().copied().find(|&q| unsafe { (*q).id } == id)
    }

    /// Hands one packet message to its queue's callback, as libnfnetlink does: -1 when the
    /// message is not a packet, has no queue handle or callback, or the callback returned < 0.
    fn deliver(&self, m: &Msg<'_>) -> c_int {
        let payload = m.payload();
        if payload.len() < 4 {
            return -1;
        }
        if m.msg_type() != nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET) {
            return -1;
        }
        let res_id = u16::from_be_bytes([payload[2], payload[3]]);
        let Some(qh) = self.find_queue(res_id) else { return -1 };
        // SAFETY: qh is live (it is in the list).
        let (cb, data) = unsafe { ((*qh).cb, (*qh).data) };
        let Some(cb) = cb else { return -1 };
        let mut table: [*mut nfattr; LEGACY_NFQA_MAX] = [ptr::null_mut(); LEGACY_NFQA_MAX];
        for a in crate::netlink::Attrs::new(&payload[4..]) {
            let Ok(a) = a else { break };
            let t = a.kind() as usize;
            if (1..=LEGACY_NFQA_MAX).contains(&t) {
                // The attribute header sits 4 bytes before its data, inside the message.
                table[t - 1] = a.data().as_ptr().wrapping_sub(4) as *mut nfattr;
            }
        }
        let mut nfad = nfq_data { data: table.as_mut_ptr() };
        // SAFETY: the user's callback; pointers point into the caller's buffer and our stack,
        // valid for the duration of the call.
        let r = unsafe { cb(qh, payload.as_ptr() as *mut c_void, &mut nfad, data) };
        if r < 0 { -1 } else { 0 }
    }
}

fn with_h(h: *mut nfq_handle, f: impl FnOnce(&nfq_handle) -> c_int) -> c_int {
    boundary(-1, || {
        // SAFETY: the exports' contract: h is NULL or live.
        match unsafe { h.as_ref() } {
            Some(h) => f(h),
            None => {
                set_errno(libc::EINVAL);
                -1
            }
        }
    })
}

fn with_qh(qh: *mut nfq_q_handle, f: impl FnOnce(&nfq_q_handle, &nfq_handle) -> c_int) -> c_int {
    boundary(-1, || {
        // SAFETY: the exports' contract: qh is NULL or a live queue handle whose h is live.
        match unsafe { qh.as_ref() }.and_then(|q| unsafe { q.h.as_ref() }.map(|h| (q, h))) {
            Some((q, h)) => f(q, h),
            None => {
                set_errno(libc::EINVAL);
                -1
            }
        }
    })
}

/// Obsolete since Linux 3.8 (the kernel ignores it) but still needs CAP_NET_ADMIN: 0 or -1.
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_bind_pf(h: *mut nfq_handle, pf: u16) -> c_int {
    with_h(h, |h| h.config(0, ConfigOp::Cmd { cmd: cfg::CMD_PF_BIND, pf }))
}

/// Obsolete since Linux 3.8; see `nfq_bind_pf`.
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_unbind_pf(h: *mut nfq_handle, pf: u16) -> c_int {
    with_h(h, |h| h.config(0, ConfigOp::Cmd { cmd: cfg::CMD_PF_UNBIND, pf }))
}

/// Binds queue `num` and registers `cb`. NULL if this handle already has `num` (errno
/// untouched), or on a kernel error (errno set, `nfq_errno` = -1).
///
/// # Safety
/// `h` is NULL or a live handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_create_queue(
    h: *mut nfq_handle,
    num: u16,
    cb: Option<nfq_callback>,
    data: *mut c_void,
) -> *mut nfq_q_handle {
    boundary(ptr::null_mut(), || {
        // SAFETY: h is NULL or live per the contract.
        let Some(hr) = (unsafe { h.as_ref() }) else {
            set_errno(libc::EINVAL);
            return ptr::null_mut();
        };
        if hr.find_queue(num).is_some() {
            return ptr::null_mut();
        }
        let ret = hr.config(num, ConfigOp::Cmd { cmd: cfg::CMD_BIND, pf: 0 });
        if ret < 0 {
            set_nfq_errno(ret);
            return ptr::null_mut();
        }
        let qh = Box::into_raw(Box::new(nfq_q_handle { h, id: num, cb, data }));
        if let Ok(mut l) = hr.queues.lock() {
            l.insert(0, qh);
        }
        qh
    })
}

/// Unbinds the queue and frees its handle: 0, or -1 with errno (the handle is kept).
///
/// # Safety
/// `qh` is NULL or a live queue handle, not used after success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_destroy_queue(qh: *mut nfq_q_handle) -> c_int {
    with_qh(qh, |q, h| {
        let r = h.config(q.id, ConfigOp::Cmd { cmd: cfg::CMD_UNBIND, pf: 0 });
        if r == 0 {
            if let Ok(mut l) = h.queues.lock() {
                l.retain(|&p| p != qh);
            }
            // SAFETY: qh came from Box::into_raw in nfq_create_queue and is now unlinked.
            drop(unsafe { Box::from_raw(qh) });
        }
        r
    })
}

/// Copy mode (`NFQNL_COPY_NONE/META/PACKET`) and range: 0 or -1 with errno.
///
/// # Safety
/// `qh` is NULL or a live queue handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_mode(qh: *mut nfq_q_handle, mode: u8, range: c_uint) -> c_int {
    with_qh(qh, |q, h| h.config(q.id, ConfigOp::Params { mode, range }))
}

/// Kernel queue length limit: 0 or -1 with errno.
///
/// # Safety
/// `qh` is NULL or a live queue handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_queue_maxlen(qh: *mut nfq_q_handle, queuelen: u32) -> c_int {
    with_qh(qh, |q, h| h.config(q.id, ConfigOp::MaxLen(queuelen)))
}

/// Queue flags (`NFQA_CFG_F_*`) under `mask`: 0 or -1 with errno (EOPNOTSUPP for
/// `NFQA_CFG_F_CONNTRACK` on kernels without conntrack glue).
///
/// # Safety
/// `qh` is NULL or a live queue handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_queue_flags(qh: *mut nfq_q_handle, mask: u32, flags: u32) -> c_int {
    with_qh(qh, |q, h| h.config(q.id, ConfigOp::Flags { mask, flags }))
}

// ---------------------------------------------------------------------------------------
// Receiving

/// Handles the netlink messages in `buf` (as received from `nfq_fd`), calling each queue's
/// callback. 0 when all were handled; -1 (and the rest skipped) on a truncated message, a
/// message that is not a packet (every ACK or error), a queue without a handle, or a callback
/// that returned < 0.
///
/// # Safety
/// `h` is NULL or a live handle; `buf` is readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_handle_packet(h: *mut nfq_handle, buf: *mut c_char, len: c_int) -> c_int {
    with_h(h, |h| {
        if buf.is_null() || len < 0 {
            return -1;
        }
        // SAFETY: buf is readable for len bytes per the contract.
        let bytes = unsafe { std::slice::from_raw_parts(buf as *const u8, len as usize) };
        let mut rest = bytes;
        while rest.len() >= crate::netlink::NLMSG_HDRLEN {
            let Ok((m, next)) = Msg::split(rest) else { return -1 };
            if h.deliver(&m) < 0 {
                return -1;
            }
            rest = next;
        }
        0
    })
}

// ---------------------------------------------------------------------------------------
// Verdicts

thread_local! {
    static VBUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(64));
}

/// Sends one verdict (or batch verdict) message; returns the bytes sent or -1 with errno.
fn send_verdict(
    qh: *mut nfq_q_handle,
    id: u32,
    verdict: u32,
    mark: Option<u32>,
    len: u32,
    buf: *const u8,
    batch: bool,
) -> c_int {
    with_qh(qh, |q, h| {
        let payload = if len == 0 {
            None
        } else if buf.is_null() || len as usize > MAX_PAYLOAD {
            set_errno(libc::EINVAL);
            return -1;
        } else {
            // SAFETY: buf is readable for len bytes per the exports' contract.
            Some(unsafe { std::slice::from_raw_parts(buf, len as usize) })
        };
        if payload.is_none() || batch {
            // The common case, on the stack: no per-thread buffer to look up.
            let mut out = [0u8; PLAIN_VERDICT_MAX];
            let n = encode_plain_verdict(&mut out, batch, q.id, id, verdict, mark);
            return match h.sock.send(&out[..n]) {
                Ok(n) => n.min(c_int::MAX as usize) as c_int,
                Err(e) => {
                    set_errno(e.raw_os_error().unwrap_or(libc::EIO));
                    -1
                }
            };
        }
        VBUF.with(|v| {
            let mut v = v.borrow_mut();
            v.clear();
            if batch {
                encode_verdict_batch(&mut v, 0, q.id, id, verdict, mark);
            } else {
                let opts = VerdictOpts { mark, payload, ..Default::default() };
                encode_verdict(&mut v, 0, q.id, id, verdict, &opts, true);
            }
            let pad = [0u8; 3];
            let r = match payload {
                Some(p) if !batch => {
                    let padlen = align4(p.len()) - p.len();
                    h.sock.send_iov(&[IoSlice::new(&v), IoSlice::new(p), IoSlice::new(&pad[..padlen])])
                }
                _ => h.sock.send(&v),
            };
            match r {
                Ok(n) => n.min(c_int::MAX as usize) as c_int,
                Err(e) => {
                    set_errno(e.raw_os_error().unwrap_or(libc::EIO));
                    -1
                }
            }
        })
    })
}

/// Verdict for packet `id`, optionally replacing the packet with `data_len` bytes at `buf`.
/// Returns the bytes sent (kernel-side errors arrive later on the socket).
///
/// # Safety
/// `qh` is NULL or a live queue handle; `buf` is readable for `data_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_verdict(
    qh: *mut nfq_q_handle,
    id: u32,
    verdict: u32,
    data_len: u32,
    buf: *const u8,
) -> c_int {
    send_verdict(qh, id, verdict, None, data_len, buf, false)
}

/// Like `nfq_set_verdict`, also setting the mark (host byte order).
///
/// # Safety
/// As for `nfq_set_verdict`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_verdict2(
    qh: *mut nfq_q_handle,
    id: u32,
    verdict: u32,
    mark: u32,
    data_len: u32,
    buf: *const u8,
) -> c_int {
    send_verdict(qh, id, verdict, Some(mark), data_len, buf, false)
}

/// Deprecated upstream: the mark must already be in network byte order.
///
/// # Safety
/// As for `nfq_set_verdict`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_verdict_mark(
    qh: *mut nfq_q_handle,
    id: u32,
    verdict: u32,
    mark: u32,
    data_len: u32,
    buf: *const u8,
) -> c_int {
    send_verdict(qh, id, verdict, Some(u32::from_be(mark)), data_len, buf, false)
}

/// Verdict for every queued packet with id up to `id`.
///
/// # Safety
/// `qh` is NULL or a live queue handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_verdict_batch(qh: *mut nfq_q_handle, id: u32, verdict: u32) -> c_int {
    send_verdict(qh, id, verdict, None, 0, ptr::null(), true)
}

/// Like `nfq_set_verdict_batch`, also setting the mark (host byte order).
///
/// # Safety
/// `qh` is NULL or a live queue handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_set_verdict_batch2(qh: *mut nfq_q_handle, id: u32, verdict: u32, mark: u32) -> c_int {
    send_verdict(qh, id, verdict, Some(mark), 0, ptr::null(), true)
}

// ---------------------------------------------------------------------------------------
// Getters on struct nfq_data

/// The payload of attribute `ty` if present and at least `min` bytes long.
///
/// # Safety
/// `nfad` is NULL or a live `struct nfq_data` whose slots are NULL or point at attributes
/// inside a live message.
unsafe fn attr_data<'a>(nfad: *const nfq_data, ty: u16, min: usize) -> Option<&'a [u8]> {
    // SAFETY: per the contract.
    let d = unsafe { nfad.as_ref() }?;
    if d.data.is_null() || ty == 0 || ty as usize > LEGACY_NFQA_MAX {
        return None;
    }
    // SAFETY: data has LEGACY_NFQA_MAX slots; ty is in 1..=18.
    let a = unsafe { *d.data.add(ty as usize - 1) };
    if a.is_null() {
        return None;
    }
    // SAFETY: a points at an attribute header inside the message.
    let len = unsafe { (*a).nfa_len } as usize;
    if len < 4 + min {
        return None;
    }
    // SAFETY: the attribute's nfa_len bytes lie inside the message (checked when the table was
    // built, or promised by the program that filled the table).
    Some(unsafe { std::slice::from_raw_parts((a as *const u8).add(4), len - 4) })
}

fn be32(d: &[u8]) -> u32 {
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Pointer to `struct nfqnl_msg_packet_hdr` in the message (big-endian fields), or NULL.
///
/// # Safety
/// `nfad` is NULL or the `struct nfq_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_get_msg_packet_hdr(nfad: *mut nfq_data) -> *mut c_void {
    // SAFETY: per the contract.
    boundary(ptr::null_mut(), || {
        unsafe { attr_data(nfad, attr::PACKET_HDR, 7) }.map_or(ptr::null_mut(), |d| d.as_ptr() as *mut c_void)
    })
}

macro_rules! u32_getter {
    ($(#[$doc:meta])* $name:ident, $ty:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `nfad` is NULL or the `struct nfq_data` of a running callback.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(nfad: *mut nfq_data) -> u32 {
            // SAFETY: per the contract.
            boundary(0, || unsafe { attr_data(nfad, $ty, 4) }.map_or(0, be32))
        }
    };
}

u32_getter!(
    /// Packet mark in host order; 0 if absent.
    nfq_get_nfmark, attr::MARK);
u32_getter!(
    /// Input interface index; 0 if absent.
    nfq_get_indev, attr::IFINDEX_INDEV);
u32_getter!(
    /// Output interface index; 0 if absent.
    nfq_get_outdev, attr::IFINDEX_OUTDEV);
u32_getter!(
    /// Physical input interface index; 0 if absent.
    nfq_get_physindev, attr::IFINDEX_PHYSINDEV);
u32_getter!(
    /// Physical output interface index; 0 if absent.
    nfq_get_physoutdev, attr::IFINDEX_PHYSOUTDEV);
u32_getter!(
    /// `NFQA_SKB_INFO` bits in host order; 0 if absent.
    nfq_get_skbinfo, attr::SKB_INFO);

/// `struct timeval`-compatible receive timestamp: 0 and `*tv` set, or -1 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nfq_data` of a running callback; `tv` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_get_timestamp(nfad: *mut nfq_data, tv: *mut libc::timeval) -> c_int {
    boundary(-1, || {
        // SAFETY: per the contract.
        let Some(d) = (unsafe { attr_data(nfad, attr::TIMESTAMP, 16) }) else { return -1 };
        if tv.is_null() {
            return -1;
        }
        let sec = u64::from_be_bytes(d[0..8].try_into().unwrap_or_default());
        let usec = u64::from_be_bytes(d[8..16].try_into().unwrap_or_default());
        // SAFETY: tv is writable per the contract.
        unsafe {
            (*tv).tv_sec = sec as libc::time_t;
            (*tv).tv_usec = usec as libc::suseconds_t;
        }
        0
    })
}

fn id_getter(nfad: *mut nfq_data, ty: u16, out: *mut u32) -> c_int {
    boundary(0, || {
        // SAFETY: the exports' contract.
        match unsafe { attr_data(nfad, ty, 4) } {
            Some(d) if !out.is_null() => {
                // SAFETY: out is writable per the contract.
                unsafe { *out = be32(d) };
                1
            }
            _ => 0,
        }
    })
}

/// Socket owner uid: 1 and `*uid` set, or 0 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nfq_data` of a running callback; `uid` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_get_uid(nfad: *mut nfq_data, uid: *mut u32) -> c_int {
    id_getter(nfad, attr::UID, uid)
}

/// Socket owner gid: 1 and `*gid` set, or 0 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nfq_data` of a running callback; `gid` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_get_gid(nfad: *mut nfq_data, gid: *mut u32) -> c_int {
    id_getter(nfad, attr::GID, gid)
}

fn ptr_getter(nfad: *mut nfq_data, ty: u16, out: *mut *mut u8, absent: c_int, write_null: bool) -> c_int {
    boundary(-1, || {
        if out.is_null() {
            return -1;
        }
        // SAFETY: the exports' contract.
        match unsafe { attr_data(nfad, ty, 0) } {
            Some(d) => {
                // SAFETY: out is writable.
                unsafe { *out = d.as_ptr() as *mut u8 };
                d.len().min(c_int::MAX as usize) as c_int
            }
            None => {
                if write_null {
                    // SAFETY: out is writable.
                    unsafe { *out = ptr::null_mut() };
                }
                absent
            }
        }
    })
}

/// Security context: its length and `*secdata` pointing into the message, or -1 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nfq_data` of a running callback; `secdata` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_get_secctx(nfad: *mut nfq_data, secdata: *mut *mut u8) -> c_int {
    ptr_getter(nfad, attr::SECCTX, secdata, -1, false)
}

/// The packet from its network header: its length and `*data` pointing into the message;
/// -1 and `*data` = NULL if the copy mode sent no payload.
///
/// # Safety
/// `nfad` is NULL or the `struct nfq_data` of a running callback; `data` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_get_payload(nfad: *mut nfq_data, data: *mut *mut u8) -> c_int {
    ptr_getter(nfad, attr::PAYLOAD, data, -1, true)
}

/// Pointer to `struct nfqnl_msg_packet_hw` in the message (big-endian length), or NULL.
///
/// # Safety
/// `nfad` is NULL or the `struct nfq_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_get_packet_hw(nfad: *mut nfq_data) -> *mut c_void {
    // SAFETY: per the contract.
    boundary(ptr::null_mut(), || {
        unsafe { attr_data(nfad, attr::HWADDR, 12) }.map_or(ptr::null_mut(), |d| d.as_ptr() as *mut c_void)
    })
}

/// Interface name of an index, as libnfnetlink's `nlif_index2name` reports it: "*" for 0,
/// the name (in the calling thread's network namespace) if it exists, else -1 and ENOENT.
fn ifname(ifindex: u32, name: *mut c_char) -> c_int {
    if name.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    if ifindex == 0 {
        // SAFETY: name has room for IFNAMSIZ bytes per the upstream contract.
        unsafe { ptr::copy_nonoverlapping(c"*".as_ptr(), name, 2) };
        return 1;
    }
    // SAFETY: name has room for IFNAMSIZ bytes.
    if unsafe { libc::if_indextoname(ifindex, name) }.is_null() {
        set_errno(libc::ENOENT);
        return -1;
    }
    1
}

macro_rules! name_getter {
    ($(#[$doc:meta])* $name:ident, $ty:expr) => {
        $(#[$doc])*
        /// The `nlif_handle` is not needed and may be NULL: names come from the kernel directly.
        ///
        /// # Safety
        /// `nfad` is NULL or the `struct nfq_data` of a running callback; `name` has room for
        /// `IFNAMSIZ` bytes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(_nlif: *mut c_void, nfad: *mut nfq_data, name: *mut c_char) -> c_int {
            boundary(-1, || {
                // SAFETY: per the contract.
                let idx = unsafe { attr_data(nfad, $ty, 4) }.map_or(0, be32);
                ifname(idx, name)
            })
        }
    };
}

name_getter!(
    /// Name of the input interface.
    nfq_get_indev_name, attr::IFINDEX_INDEV);
name_getter!(
    /// Name of the output interface.
    nfq_get_outdev_name, attr::IFINDEX_OUTDEV);
name_getter!(
    /// Name of the physical input interface.
    nfq_get_physindev_name, attr::IFINDEX_PHYSINDEV);
name_getter!(
    /// Name of the physical output interface.
    nfq_get_physoutdev_name, attr::IFINDEX_PHYSOUTDEV);

const NFQ_XML_HW: c_int = 1;
const NFQ_XML_MARK: c_int = 1 << 1;
const NFQ_XML_DEV: c_int = 1 << 2;
const NFQ_XML_PHYSDEV: c_int = 1 << 3;
const NFQ_XML_PAYLOAD: c_int = 1 << 4;
const NFQ_XML_TIME: c_int = 1 << 5;
const NFQ_XML_UID: c_int = 1 << 6;
const NFQ_XML_GID: c_int = 1 << 7;

/// The packet as XML, with snprintf semantics: returns the full length, writes at most
/// `rem - 1` bytes and a NUL. `NFQ_XML_TIME` prints the current local time (as upstream does),
/// not the packet's timestamp. -1 if the local time is not available.
///
/// # Safety
/// `buf` is NULL (with `rem` 0) or writable for `rem` bytes; `tb` as for the getters.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_snprintf_xml(buf: *mut c_char, rem: usize, tb: *mut nfq_data, flags: c_int) -> c_int {
    use std::fmt::Write;
    boundary(-1, || {
        let mut s = String::with_capacity(256);
        s.push_str("<pkt>");
        if flags & NFQ_XML_TIME != 0 {
            // SAFETY: time/localtime_r with valid pointers; tm is plain old data.
            let mut tm: libc::tm = unsafe { std::mem::zeroed() };
            let t = unsafe { libc::time(ptr::null_mut()) };
            if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
                return -1;
            }
            let _ = write!(
                s,
                "<when><hour>{}</hour><min>{:02}</min><sec>{:02}</sec><wday>{}</wday><day>{}</day><month>{}</month><year>{}</year></when>",
                tm.tm_hour,
                tm.tm_min,
                tm.tm_sec,
                tm.tm_wday + 1,
                tm.tm_mday,
                tm.tm_mon + 1,
                1900 + tm.tm_year
            );
        }
        // SAFETY: tb as for the getters (the exports' contract).
        let get = |ty, min| unsafe { attr_data(tb, ty, min) };
        if let Some(ph) = get(attr::PACKET_HDR, 7) {
            let _ = write!(s, "<hook>{}</hook><id>{}</id>", ph[6], be32(ph));
            let proto = u16::from_be_bytes([ph[4], ph[5]]);
            if flags & NFQ_XML_HW != 0 {
                match get(attr::HWADDR, 12) {
                    Some(hw) => {
                        let n = (u16::from_be_bytes([hw[0], hw[1]]) as usize).min(8);
                        let _ = write!(s, "<hw><proto>{proto:04x}</proto><src>");
                        for b in &hw[4..4 + n] {
                            let _ = write!(s, "{b:02x}");
                        }
                        s.push_str("</src></hw>");
                    }
                    None => {
                        let _ = write!(s, "<hw><proto>{proto:04x}</proto></hw>");
                    }
                }
            }
        }
        let val = |ty| get(ty, 4).map_or(0, be32);
        let mark = val(attr::MARK);
        if mark != 0 && flags & NFQ_XML_MARK != 0 {
            let _ = write!(s, "<mark>{mark}</mark>");
        }
        for (ty, tag, flag) in [
            (attr::IFINDEX_INDEV, "indev", NFQ_XML_DEV),
            (attr::IFINDEX_OUTDEV, "outdev", NFQ_XML_DEV),
            (attr::IFINDEX_PHYSINDEV, "physindev", NFQ_XML_PHYSDEV),
            (attr::IFINDEX_PHYSOUTDEV, "physoutdev", NFQ_XML_PHYSDEV),
        ] {
            let v = val(ty);
            if v != 0 && flags & flag != 0 {
                let _ = write!(s, "<{tag}>{v}</{tag}>");
            }
        }
        if let Some(uid) = get(attr::UID, 4).filter(|_| flags & NFQ_XML_UID != 0) {
            let _ = write!(s, "<uid>{}</uid>", be32(uid));
        }
        if let Some(gid) = get(attr::GID, 4).filter(|_| flags & NFQ_XML_GID != 0) {
            let _ = write!(s, "<gid>{}</gid>", be32(gid));
        }
        if let Some(p) = get(attr::PAYLOAD, 0).filter(|_| flags & NFQ_XML_PAYLOAD != 0) {
            s.push_str("<payload>");
            for b in p {
                let _ = write!(s, "{b:02x}");
            }
            s.push_str("</payload>");
        }
        s.push_str("</pkt>");
        if !buf.is_null() && rem > 0 {
            let n = s.len().min(rem - 1);
            // SAFETY: buf is writable for rem bytes and n + 1 <= rem.
            unsafe {
                ptr::copy_nonoverlapping(s.as_ptr(), buf as *mut u8, n);
                *buf.add(n) = 0;
            }
        }
        s.len().min(c_int::MAX as usize) as c_int
    })
}

// ---------------------------------------------------------------------------------------
// The libnfnetlink calls programs make on nfq_nfnlh(h), for programs built against our compat
// .pc without libnfnetlink. They read only `fd` (offset 0) and `local.nl_pid` (offset 8), as
// libnfnetlink's own do, so they behave the same on handles from the real libnfnetlink, and
// interposing them (LD_PRELOAD=libnfq_rs.so) cannot disturb other users of libnfnetlink in the
// process. The drop-in libnetfilter_queue.so.1 does not export them: it NEEDs the real
// libnfnetlink.so.0, which serves them (and the rest of libnfnetlink) exactly.

/// The socket descriptor of an nfnl handle.
///
/// # Safety
/// `h` is NULL or a live `struct nfnl_handle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfnl_fd(h: *mut c_void) -> c_int {
    // SAFETY: per the contract, h starts with the int fd.
    boundary(-1, || unsafe { (h as *const c_int).as_ref() }.copied().unwrap_or(-1))
}

/// The netlink port id of an nfnl handle.
///
/// # Safety
/// `h` is NULL or a live `struct nfnl_handle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfnl_portid(h: *const c_void) -> c_uint {
    // SAFETY: per the contract, h has the libnfnetlink layout.
    boundary(0, || unsafe { (h as *const NfnlHandle).as_ref() }.map_or(0, |h| h.local.nl_pid))
}

/// Sets the socket receive buffer (`SO_RCVBUFFORCE`, else `SO_RCVBUF`) and returns what the
/// kernel reports (twice the request).
///
/// # Safety
/// `h` is NULL or a live `struct nfnl_handle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfnl_rcvbufsiz(h: *const c_void, size: c_uint) -> c_uint {
    boundary(0, || {
        // SAFETY: per the contract, h starts with the int fd.
        let Some(&fd) = (unsafe { (h as *const c_int).as_ref() }) else { return 0 };
        match Socket::borrow_raw(fd) {
            Ok(s) => s.set_rcvbuf(size as usize).map_or(0, |n| n as c_uint),
            Err(_) => 0,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfnl_handle_layout_matches_libnfnetlink() {
        assert_eq!(std::mem::size_of::<NfnlHandle>(), 464);
        assert_eq!(std::mem::offset_of!(NfnlHandle, local), 4);
        assert_eq!(std::mem::offset_of!(NfnlHandle, peer), 16);
        assert_eq!(std::mem::offset_of!(NfnlHandle, subscriptions), 28);
        assert_eq!(std::mem::offset_of!(NfnlHandle, rcv_buffer_size), 40);
        assert_eq!(std::mem::offset_of!(NfnlHandle, last_nlhdr), 48);
        assert_eq!(std::mem::size_of::<NfnlSubsys>(), 24);
    }
}
