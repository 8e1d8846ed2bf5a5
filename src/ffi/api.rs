//! The `nfq_rs_*` exports. Each one: pointer checks, a call into the safe core, the result
//! mapped to a return value. Failure values: negative `NFQ_RS_E_*` codes for `int` returns,
//! NULL for pointers; the details go to the last-error message (per handle and per thread).

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::handles::*;
use super::*;
use crate::queue::{Config, CopyMode, Decision, Verdict, VerdictOpts};

/// Verdict: drop the packet.
pub const NFQ_RS_DROP: u32 = 0;
/// Verdict: accept the packet (continue with the next hook).
pub const NFQ_RS_ACCEPT: u32 = 1;
/// Verdict code of a queue verdict; use `NFQ_RS_QUEUE(n)`.
pub const NFQ_RS_QUEUE_CODE: u32 = 3;
/// Verdict: run the same hook again.
pub const NFQ_RS_REPEAT: u32 = 4;
/// Verdict: accept, skipping the remaining hooks.
pub const NFQ_RS_STOP: u32 = 5;
/// Flag for a queue verdict: accept if nobody listens on the target queue.
pub const NFQ_RS_QUEUE_BYPASS: u32 = 0x8000;
/// Callback answer: keep the packet queued; give its verdict later with `nfq_rs_verdict*`.
pub const NFQ_RS_LATER: i32 = 0x100;
/// Callback answer: the callback failed; give the packet the fallback verdict (set with
/// `nfq_rs_config_set_fallback_verdict`, drop by default) and count a callback error.
pub const NFQ_RS_FAILED: i32 = -1;

/// Copy mode: nothing (the kernel then drops every packet of the queue).
pub const NFQ_RS_COPY_NONE: c_int = 0;
/// Copy mode: metadata only.
pub const NFQ_RS_COPY_META: c_int = 1;
/// Copy mode: metadata and packet bytes.
pub const NFQ_RS_COPY_PACKET: c_int = 2;

/// Queue flag: accept packets instead of dropping them when the queue is full.
pub const NFQ_RS_F_FAIL_OPEN: u32 = 1;
/// Queue flag: attach conntrack info (needs CONFIG_NETFILTER_NETLINK_GLUE_CT).
pub const NFQ_RS_F_CONNTRACK: u32 = 2;
/// Queue flag: deliver GSO packets unsegmented.
pub const NFQ_RS_F_GSO: u32 = 4;
/// Queue flag: attach the socket owner's uid and gid.
pub const NFQ_RS_F_UID_GID: u32 = 8;
/// Queue flag: attach the security context.
pub const NFQ_RS_F_SECCTX: u32 = 16;

/// `NFQA_SKB_INFO` bit: checksum not ready (offloaded).
pub const NFQ_RS_SKB_CSUM_NOT_READY: u32 = 1;
/// `NFQA_SKB_INFO` bit: a GSO packet.
pub const NFQ_RS_SKB_GSO: u32 = 2;
/// `NFQA_SKB_INFO` bit: checksum not verified.
pub const NFQ_RS_SKB_CSUM_NOT_VERIFIED: u32 = 4;

/// `nfq_rs_verdict_ex` option: set the packet mark.
pub const NFQ_RS_SET_MARK: u32 = 1;
/// `nfq_rs_verdict_ex` option: set the connection mark.
pub const NFQ_RS_SET_CONNMARK: u32 = 2;
/// `nfq_rs_verdict_ex` option: set the packet priority.
pub const NFQ_RS_SET_PRIORITY: u32 = 4;

/// Library counter: packets received.
pub const NFQ_RS_STAT_PACKETS_RECEIVED: c_int = 0;
/// Library counter: packets given a verdict (by the callback or `nfq_rs_verdict*`).
pub const NFQ_RS_STAT_VERDICTS_SENT: c_int = 1;
/// Library counter: verdicts rejected by the kernel or not sent.
pub const NFQ_RS_STAT_VERDICT_ERRORS: c_int = 2;
/// Library counter: receive-buffer overflows (ENOBUFS).
pub const NFQ_RS_STAT_ENOBUFS: c_int = 3;
/// Library counter: datagrams cut short.
pub const NFQ_RS_STAT_TRUNCATED: c_int = 4;
/// Library counter: messages from non-kernel senders, ignored. Stays 0: the queue's socket is
/// connected to the kernel, which refuses other senders (ECONNREFUSED at their end).
pub const NFQ_RS_STAT_FOREIGN_IGNORED: c_int = 5;
/// Library counter: malformed messages.
pub const NFQ_RS_STAT_PARSE_ERRORS: c_int = 6;
/// Library counter: callbacks that returned an invalid answer.
pub const NFQ_RS_STAT_CALLBACK_ERRORS: c_int = 7;
/// Library counter: packets kept for a later verdict.
pub const NFQ_RS_STAT_DEFERRED: c_int = 8;
/// Library counter: packets given the fallback verdict.
pub const NFQ_RS_STAT_FALLBACK_VERDICTS: c_int = 9;
/// Library counter: verdict messages sent (fewer than verdicts when runs were coalesced).
pub const NFQ_RS_STAT_VERDICT_MESSAGES: c_int = 10;

/// Kernel counter: packets waiting for a verdict.
pub const NFQ_RS_KSTAT_QUEUE_TOTAL: c_int = 0;
/// Kernel counter: packets dropped because the queue was full.
pub const NFQ_RS_KSTAT_DROPPED: c_int = 1;
/// Kernel counter: packets dropped because the socket buffer was full.
pub const NFQ_RS_KSTAT_USER_DROPPED: c_int = 2;
/// Kernel counter: last packet id.
pub const NFQ_RS_KSTAT_ID_SEQUENCE: c_int = 3;
/// Kernel value: port id of the owning socket.
pub const NFQ_RS_KSTAT_PORTID: c_int = 4;
/// Kernel value: copy mode.
pub const NFQ_RS_KSTAT_COPY_MODE: c_int = 5;
/// Kernel value: copy range.
pub const NFQ_RS_KSTAT_COPY_RANGE: c_int = 6;

static VERSION_C: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version, e.g. "0.1.0".
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_version() -> *const c_char {
    VERSION_C.as_ptr() as *const c_char
}

/// A static description of an error code.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_strerror(code: c_int) -> *const c_char {
    strerror(code).as_ptr() as *const c_char
}

/// Copies the last error message into `buf` (NUL-terminated, cut to `len`) and returns its
/// full length. With `q` NULL: the calling thread's last error (e.g. of a failed
/// `nfq_rs_open`); otherwise the handle's.
///
/// # Safety
/// `q` is NULL or a live handle; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_last_error(q: *const nfq_rs_queue, buf: *mut c_char, len: usize) -> c_int {
    boundary("nfq_rs_last_error", NFQ_RS_E_INTERNAL, || {
        // SAFETY: q is NULL or live per the contract.
        let msg = match unsafe { queue_ref(q) } {
            Some(h) => h.q.last_error(),
            None => thread_error(),
        };
        if !buf.is_null() && len > 0 {
            let n = msg.len().min(len - 1);
            // SAFETY: buf has room for len bytes; n + 1 <= len.
            unsafe {
                std::ptr::copy_nonoverlapping(msg.as_ptr(), buf as *mut u8, n);
                *buf.add(n) = 0;
            }
        }
        msg.len().min(c_int::MAX as usize) as c_int
    })
}

// ---------------------------------------------------------------------------------------
// Config

/// A new config for queue `queue_num` with defaults: copy mode packet (whole packet), batch
/// of 16, 4 MiB receive buffer, fallback verdict drop. NULL only if out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_config_new(queue_num: u16) -> *mut nfq_rs_config {
    boundary("nfq_rs_config_new", std::ptr::null_mut(), || {
        config_into_raw(ConfigBox { magic: MAGIC_CONFIG, cfg: Config::new(queue_num) })
    })
}

/// A new config that binds no queue at open (bind later with `nfq_rs_bind`), with the same
/// defaults as `nfq_rs_config_new`. NULL only if out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_config_new_unbound() -> *mut nfq_rs_config {
    boundary("nfq_rs_config_new_unbound", std::ptr::null_mut(), || {
        config_into_raw(ConfigBox { magic: MAGIC_CONFIG, cfg: Config::unbound() })
    })
}

/// Frees a config (NULL is fine).
///
/// # Safety
/// `cfg` is NULL or from `nfq_rs_config_new`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_free(cfg: *mut nfq_rs_config) {
    // SAFETY: per the contract.
    boundary("nfq_rs_config_free", (), || unsafe { config_free(cfg) })
}

fn with_cfg(name: &str, cfg: *mut nfq_rs_config, f: impl FnOnce(&mut Config) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: cfg is NULL or a live config used by one thread.
        match unsafe { config_mut(cfg) } {
            Some(c) => f(&mut c.cfg),
            None => invalid(&format!("{name}: the config is NULL or not a live nfq_rs_config")),
        }
    })
}

/// Also bind queue `num` on the same socket.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_add_queue(cfg: *mut nfq_rs_config, num: u16) -> c_int {
    with_cfg("nfq_rs_config_add_queue", cfg, |c| {
        c.add_queue(num);
        NFQ_RS_OK
    })
}

fn copy_mode(mode: c_int) -> Option<CopyMode> {
    match mode {
        NFQ_RS_COPY_NONE => Some(CopyMode::None),
        NFQ_RS_COPY_META => Some(CopyMode::Meta),
        NFQ_RS_COPY_PACKET => Some(CopyMode::Packet),
        _ => None,
    }
}

/// Copy mode (`NFQ_RS_COPY_*`) and range in bytes (0 or > 65531 means 65531).
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_copy_mode(cfg: *mut nfq_rs_config, mode: c_int, range: u32) -> c_int {
    with_cfg("nfq_rs_config_set_copy_mode", cfg, |c| match copy_mode(mode) {
        Some(m) => {
            c.copy_mode(m, range);
            NFQ_RS_OK
        }
        None => invalid(&format!("nfq_rs_config_set_copy_mode: mode {mode} is not NFQ_RS_COPY_NONE/META/PACKET")),
    })
}

/// Kernel queue length limit (kernel default 1024).
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_max_len(cfg: *mut nfq_rs_config, max_len: u32) -> c_int {
    with_cfg("nfq_rs_config_set_max_len", cfg, |c| {
        c.max_len(max_len);
        NFQ_RS_OK
    })
}

/// Queue flags (`NFQ_RS_F_*`): the bits in `mask` take their values from `flags`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_flags(cfg: *mut nfq_rs_config, mask: u32, flags: u32) -> c_int {
    with_cfg("nfq_rs_config_set_flags", cfg, |c| {
        c.flags(mask, flags);
        NFQ_RS_OK
    })
}

/// Socket receive buffer in bytes (0 keeps the system default).
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_rcvbuf(cfg: *mut nfq_rs_config, bytes: usize) -> c_int {
    with_cfg("nfq_rs_config_set_rcvbuf", cfg, |c| {
        c.rcvbuf(if bytes == 0 { None } else { Some(bytes) });
        NFQ_RS_OK
    })
}

/// `NETLINK_NO_ENOBUFS` on (nonzero) or off.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_no_enobufs(cfg: *mut nfq_rs_config, on: c_int) -> c_int {
    with_cfg("nfq_rs_config_set_no_enobufs", cfg, |c| {
        c.no_enobufs(on != 0);
        NFQ_RS_OK
    })
}

/// Datagrams received per system call (1..1024).
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_batch(cfg: *mut nfq_rs_config, n: u32) -> c_int {
    with_cfg("nfq_rs_config_set_batch", cfg, |c| {
        if n == 0 || n > 1024 {
            return invalid(&format!("nfq_rs_config_set_batch: {n} is outside 1..1024"));
        }
        c.batch(n as usize);
        NFQ_RS_OK
    })
}

/// Verdict given to packets the callback cannot handle (malformed message, invalid answer).
/// Default `NFQ_RS_DROP`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_fallback_verdict(cfg: *mut nfq_rs_config, verdict: u32) -> c_int {
    with_cfg("nfq_rs_config_set_fallback_verdict", cfg, |c| match Verdict::from_raw(verdict) {
        Some(v) => {
            c.fallback_verdict(v);
            NFQ_RS_OK
        }
        None => invalid(&format!("nfq_rs_config_set_fallback_verdict: {verdict:#x} is not a verdict")),
    })
}

/// Send runs of packets with consecutive ids that get the same plain verdict as one batch
/// verdict (nonzero, the default) or one message per packet (0). Coalescing turns itself off
/// once a callback returns `NFQ_RS_LATER`, since a batch verdict would release that packet too.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_coalesce(cfg: *mut nfq_rs_config, on: c_int) -> c_int {
    with_cfg("nfq_rs_config_set_coalesce", cfg, |c| {
        c.coalesce_verdicts(on != 0);
        NFQ_RS_OK
    })
}

/// Open the socket inside the network namespace at `path` (e.g. "/var/run/netns/NAME"); the
/// calling thread does not move. NULL means the current namespace.
///
/// # Safety
/// `cfg` is NULL or a live config; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_netns_path(cfg: *mut nfq_rs_config, path: *const c_char) -> c_int {
    with_cfg("nfq_rs_config_set_netns_path", cfg, |c| {
        // SAFETY: path is NULL or a NUL-terminated string per the contract.
        match unsafe { netns_of_path("nfq_rs_config_set_netns_path", path) } {
            Ok(ns) => {
                c.netns(ns);
                NFQ_RS_OK
            }
            Err(code) => code,
        }
    })
}

/// Open the socket inside the network namespace of descriptor `fd` (kept open by the caller
/// until `nfq_rs_open` returns); -1 means the current namespace.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_netns_fd(cfg: *mut nfq_rs_config, fd: c_int) -> c_int {
    with_cfg("nfq_rs_config_set_netns_fd", cfg, |c| match netns_of_fd("nfq_rs_config_set_netns_fd", fd) {
        Ok(ns) => {
            c.netns(ns);
            NFQ_RS_OK
        }
        Err(code) => code,
    })
}

/// Makes `nfq_rs_open` use a duplicate of the caller's netlink socket `fd` (an
/// `AF_NETLINK`/`NETLINK_NETFILTER` socket, bound or not; the caller keeps and closes `fd`)
/// instead of opening a new one, for a socket made in another network namespace and passed
/// in. The duplicate is connected to the kernel, like the library's own sockets. Set the
/// namespace as well (`nfq_rs_config_set_netns_fd`) for the kernel counters of that
/// namespace. -1 returns to opening a new socket.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_config_set_socket_fd(cfg: *mut nfq_rs_config, fd: c_int) -> c_int {
    with_cfg("nfq_rs_config_set_socket_fd", cfg, |c| {
        if fd < -1 {
            return invalid(&format!("nfq_rs_config_set_socket_fd: {fd} is not a descriptor"));
        }
        c.socket_fd(if fd == -1 { None } else { Some(fd) });
        NFQ_RS_OK
    })
}

// ---------------------------------------------------------------------------------------
// Queue handle

/// Opens a socket, binds and configures the config's queues. On success stores the handle
/// in `*out` and returns 0; otherwise a negative code, with the reason in
/// `nfq_rs_last_error(NULL, ...)`. Needs CAP_NET_ADMIN.
///
/// # Safety
/// `cfg` is NULL or a live config; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_open(cfg: *const nfq_rs_config, out: *mut *mut nfq_rs_queue) -> c_int {
    boundary("nfq_rs_open", NFQ_RS_E_INTERNAL, || {
        if out.is_null() {
            return invalid("nfq_rs_open: out is NULL");
        }
        // SAFETY: out is writable per the contract.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: cfg is NULL or live.
        let Some(c) = (unsafe { config_ref(cfg) }) else {
            return invalid("nfq_rs_open: config is NULL");
        };
        match crate::queue::Queue::open(&c.cfg) {
            Ok(q) => {
                let h = QueueBox::new(Arc::new(q), UserCb { cb: None, batch: None, user: std::ptr::null_mut() });
                // SAFETY: out is writable.
                unsafe { *out = queue_into_raw(h) };
                NFQ_RS_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Closes the socket; the kernel unbinds its queues and drops packets still waiting for a
/// verdict. NULL is fine. No other thread may use the handle any more.
///
/// # Safety
/// `q` is NULL or a live handle not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_close(q: *mut nfq_rs_queue) {
    // SAFETY: per the contract.
    boundary("nfq_rs_close", (), || unsafe { queue_free(q) })
}

/// Runs an export on a live handle. A failure is recorded as the handle's last error too
/// (not only the thread's), whatever produced it.
fn with_q(name: &str, q: *const nfq_rs_queue, f: impl FnOnce(&QueueBox) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: q is NULL or a live handle.
        match unsafe { queue_ref(q) } {
            Some(h) => {
                let rc = f(h);
                if rc < 0 {
                    let msg = thread_error();
                    if h.q.last_error() != msg {
                        let _ = h
                            .q
                            .record_error(crate::netlink::Error::new(crate::netlink::ErrorKind::InvalidArgument, msg));
                    }
                }
                rc
            }
            None => invalid(&format!("{name}: the queue handle is NULL or not a live nfq_rs_queue")),
        }
    })
}

fn done(h: &QueueBox, r: crate::netlink::Result<()>) -> c_int {
    match r {
        Ok(()) => NFQ_RS_OK,
        Err(e) => fail(&h.q.record_error(e)),
    }
}

/// The socket descriptor, for poll/epoll/select loops.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_fd(q: *const nfq_rs_queue) -> c_int {
    with_q("nfq_rs_fd", q, |h| h.q.fd())
}

/// Sets the packet callback and its user pointer (before receiving starts).
///
/// # Safety
/// `q` is NULL or a live handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_set_callback(q: *mut nfq_rs_queue, cb: nfq_rs_callback, user: *mut c_void) -> c_int {
    with_q("nfq_rs_set_callback", q, |h| {
        if let Ok(mut slot) = h.cb.lock() {
            *slot = UserCb { cb, batch: None, user };
        }
        NFQ_RS_OK
    })
}

/// Sets a callback that gets all the packets of one receive batch (up to the configured
/// batch of datagrams) in one call, instead of the per-packet callback (it replaces one set
/// with `nfq_rs_set_callback`, and that call replaces it). For callers that pay per call more
/// than per packet, such as an interpreter through an FFI: with `info` they read the common
/// fields of every packet without a call each. The packet handles work with every
/// `nfq_rs_packet_*` function until the callback returns; the verdicts (from `answers`, with
/// the marks and payloads set on the handles) go out together after it returns.
///
/// # Safety
/// `q` is NULL or a live handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_set_batch_callback(
    q: *mut nfq_rs_queue,
    cb: nfq_rs_batch_callback,
    user: *mut c_void,
) -> c_int {
    with_q("nfq_rs_set_batch_callback", q, |h| {
        if let Ok(mut slot) = h.cb.lock() {
            *slot = UserCb { cb: None, batch: cb, user };
        }
        NFQ_RS_OK
    })
}

/// The size of `nfq_rs_packet_info` that this library fills (a caller built against another
/// version of the header can check it).
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_packet_info_size() -> usize {
    std::mem::size_of::<nfq_rs_packet_info>()
}

/// Binds another queue number on this socket (copy mode none until set).
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_bind(q: *mut nfq_rs_queue, num: u16) -> c_int {
    with_q("nfq_rs_bind", q, |h| done(h, h.q.bind(num)))
}

/// Unbinds a queue number.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_unbind(q: *mut nfq_rs_queue, num: u16) -> c_int {
    with_q("nfq_rs_unbind", q, |h| done(h, h.q.unbind(num)))
}

/// Sets the copy mode of a bound queue.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_set_copy_mode(q: *mut nfq_rs_queue, num: u16, mode: c_int, range: u32) -> c_int {
    with_q("nfq_rs_set_copy_mode", q, |h| match copy_mode(mode) {
        Some(m) => done(h, h.q.set_copy_mode(num, m, range)),
        None => invalid(&format!("nfq_rs_set_copy_mode: mode {mode} is not NFQ_RS_COPY_NONE/META/PACKET")),
    })
}

/// Sets the kernel queue length limit of a bound queue.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_set_max_len(q: *mut nfq_rs_queue, num: u16, max_len: u32) -> c_int {
    with_q("nfq_rs_set_max_len", q, |h| done(h, h.q.set_max_len(num, max_len)))
}

/// Sets flags of a bound queue: bits in `mask` take their values from `flags`.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_set_flags(q: *mut nfq_rs_queue, num: u16, mask: u32, flags: u32) -> c_int {
    with_q("nfq_rs_set_flags", q, |h| done(h, h.q.set_flags(num, mask, flags)))
}

/// Sets the socket receive buffer; returns the size the kernel reports (it doubles it).
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_set_rcvbuf(q: *mut nfq_rs_queue, bytes: usize) -> c_int {
    with_q("nfq_rs_set_rcvbuf", q, |h| match h.q.set_rcvbuf(bytes) {
        Ok(n) => n.min(c_int::MAX as usize) as c_int,
        Err(e) => fail(&e),
    })
}

/// Turns `NETLINK_NO_ENOBUFS` on or off.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_set_no_enobufs(q: *mut nfq_rs_queue, on: c_int) -> c_int {
    with_q("nfq_rs_set_no_enobufs", q, |h| done(h, h.q.set_no_enobufs(on != 0)))
}

fn decide(ctx: &crate::queue::PacketCtx<'_>, answer: i32) -> Decision {
    if answer == NFQ_RS_LATER {
        return Decision::Later;
    }
    if answer == NFQ_RS_FAILED {
        return Decision::Verdict(ctx.handle().callback_failed(ctx.queue(), ctx.id()));
    }
    match Verdict::from_raw(answer as u32) {
        Some(v) if answer >= 0 || answer as u32 & 0xff == NFQ_RS_QUEUE_CODE => Decision::Verdict(v),
        _ => Decision::Verdict(ctx.handle().invalid_answer(ctx.queue(), ctx.id(), answer as i64)),
    }
}

/// `nfq_rs_packet_info` present bit: `mark`.
pub const NFQ_RS_INFO_MARK: u32 = 1;
/// `nfq_rs_packet_info` present bit: `indev`.
pub const NFQ_RS_INFO_INDEV: u32 = 2;
/// `nfq_rs_packet_info` present bit: `outdev`.
pub const NFQ_RS_INFO_OUTDEV: u32 = 4;
/// `nfq_rs_packet_info` present bit: `physindev`.
pub const NFQ_RS_INFO_PHYSINDEV: u32 = 8;
/// `nfq_rs_packet_info` present bit: `physoutdev`.
pub const NFQ_RS_INFO_PHYSOUTDEV: u32 = 16;
/// `nfq_rs_packet_info` present bit: `hwaddr` and `hwaddr_len`.
pub const NFQ_RS_INFO_HWADDR: u32 = 32;
/// `nfq_rs_packet_info` present bit: `ts_sec` and `ts_usec`.
pub const NFQ_RS_INFO_TIMESTAMP: u32 = 64;
/// `nfq_rs_packet_info` present bit: `payload` and `payload_len`.
pub const NFQ_RS_INFO_PAYLOAD: u32 = 128;
/// `nfq_rs_packet_info` present bit: `cap_len`.
pub const NFQ_RS_INFO_CAP_LEN: u32 = 256;
/// `nfq_rs_packet_info` present bit: `skb_info`.
pub const NFQ_RS_INFO_SKB_INFO: u32 = 512;
/// `nfq_rs_packet_info` present bit: `priority`.
pub const NFQ_RS_INFO_PRIORITY: u32 = 1024;
/// `nfq_rs_packet_info` present bit: `uid`.
pub const NFQ_RS_INFO_UID: u32 = 2048;
/// `nfq_rs_packet_info` present bit: `gid`.
pub const NFQ_RS_INFO_GID: u32 = 4096;
/// `nfq_rs_packet_info` present bit: `cgroup_classid`.
pub const NFQ_RS_INFO_CGROUP_CLASSID: u32 = 8192;
/// `nfq_rs_packet_info` present bit: `ct_info`.
pub const NFQ_RS_INFO_CT_INFO: u32 = 16384;

/// The record of one packet for a batch callback.
fn packet_info(p: &crate::queue::Packet<'_>) -> nfq_rs_packet_info {
    let mut present = 0;
    let mut opt = |v: Option<u32>, bit: u32| match v {
        Some(v) => {
            present |= bit;
            v
        }
        None => 0,
    };
    let mark = opt(p.mark(), NFQ_RS_INFO_MARK);
    let indev = opt(p.indev(), NFQ_RS_INFO_INDEV);
    let outdev = opt(p.outdev(), NFQ_RS_INFO_OUTDEV);
    let physindev = opt(p.physindev(), NFQ_RS_INFO_PHYSINDEV);
    let physoutdev = opt(p.physoutdev(), NFQ_RS_INFO_PHYSOUTDEV);
    let cap_len = opt(p.cap_len(), NFQ_RS_INFO_CAP_LEN);
    let skb_info = opt(p.skb_info(), NFQ_RS_INFO_SKB_INFO);
    let priority = opt(p.priority(), NFQ_RS_INFO_PRIORITY);
    let uid = opt(p.uid(), NFQ_RS_INFO_UID);
    let gid = opt(p.gid(), NFQ_RS_INFO_GID);
    let cgroup_classid = opt(p.cgroup_classid(), NFQ_RS_INFO_CGROUP_CLASSID);
    let ct_info = opt(p.ct_info(), NFQ_RS_INFO_CT_INFO);
    let mut info = nfq_rs_packet_info {
        id: p.id(),
        mark,
        indev,
        outdev,
        physindev,
        physoutdev,
        orig_len: p.orig_len().min(u32::MAX as usize) as u32,
        cap_len,
        skb_info,
        priority,
        uid,
        gid,
        cgroup_classid,
        ct_info,
        queue: p.queue(),
        hw_protocol: p.hw_protocol(),
        family: p.family(),
        hook: p.hook(),
        truncated: p.is_truncated() as u8,
        payload: std::ptr::null(),
        ..Default::default()
    };
    if let Some(raw) = p.raw_hwaddr() {
        present |= NFQ_RS_INFO_HWADDR;
        info.hwaddr_len = p.hw_addr().map_or(0, |a| a.len() as u8);
        let bytes = raw.get(4..).unwrap_or(&[]);
        let k = bytes.len().min(8);
        info.hwaddr[..k].copy_from_slice(&bytes[..k]);
    }
    if let Some((sec, usec)) = p.timestamp() {
        present |= NFQ_RS_INFO_TIMESTAMP;
        (info.ts_sec, info.ts_usec) = (sec, usec);
    }
    if let Some(b) = p.payload() {
        present |= NFQ_RS_INFO_PAYLOAD;
        info.payload = b.as_ptr();
        info.payload_len = b.len().min(u32::MAX as usize) as u32;
    }
    info.present = present;
    info
}

/// Per-dispatch buffers of the batch callback (the handles, records and answers of a batch).
#[derive(Default)]
struct BatchBufs {
    pkts: Vec<*mut nfq_rs_packet>,
    info: Vec<nfq_rs_packet_info>,
    answers: Vec<i32>,
}

fn dispatch_with(h: &QueueBox, timeout: Option<Duration>, run: bool) -> c_int {
    let ucb = match h.cb.lock() {
        Ok(c) => *c,
        Err(_) => return invalid("callback slot poisoned"),
    };
    if let Some(bcb) = ucb.batch {
        let mut bufs = BatchBufs::default();
        let mut f = |ctxs: &mut [crate::queue::PacketCtx<'_>], out: &mut [Decision]| {
            let BatchBufs { pkts, info, answers } = &mut bufs;
            pkts.clear();
            info.clear();
            answers.clear();
            // One allocation each for the first batch of a dispatch, not one per doubling.
            pkts.reserve(ctxs.len());
            info.reserve(ctxs.len());
            for ctx in ctxs.iter_mut() {
                info.push(packet_info(ctx.packet()));
                pkts.push(packet_raw(ctx));
            }
            answers.resize(ctxs.len(), NFQ_RS_FAILED);
            // SAFETY: bcb is the user's function; every handle in pkts points at an element of
            // ctxs, and info at the packets' bytes, all alive for the whole call; the three
            // arrays hold ctxs.len() elements.
            unsafe { bcb(pkts.as_ptr(), info.as_ptr(), ctxs.len(), answers.as_mut_ptr(), ucb.user) };
            for ((ctx, a), d) in ctxs.iter().zip(answers.iter()).zip(out.iter_mut()) {
                *d = decide(ctx, *a);
            }
        };
        let r = if run {
            h.q.run_batch(&mut f).map(|n| n.min(c_int::MAX as u64) as usize)
        } else {
            h.q.dispatch_batch(timeout, &mut f)
        };
        return dispatch_result(r, run);
    }
    let Some(cb) = ucb.cb else {
        return fail(&h.q.record_error(crate::netlink::Error::new(
            crate::netlink::ErrorKind::InvalidArgument,
            "no callback set: call nfq_rs_set_callback or nfq_rs_set_batch_callback first",
        )));
    };
    let mut f = |ctx: &mut crate::queue::PacketCtx<'_>| {
        // SAFETY: cb is the user's function; the packet handle points at ctx, which lives
        // for the whole call.
        let answer = unsafe { cb(packet_raw(ctx), ucb.user) };
        decide(ctx, answer)
    };
    let r =
        if run { h.q.run(&mut f).map(|n| n.min(c_int::MAX as u64) as usize) } else { h.q.dispatch(timeout, &mut f) };
    dispatch_result(r, run)
}

fn dispatch_result(r: crate::netlink::Result<usize>, run: bool) -> c_int {
    match r {
        Ok(n) if run => {
            let _ = n;
            NFQ_RS_OK
        }
        Ok(n) => n.min(c_int::MAX as usize) as c_int,
        Err(e) => fail(&e),
    }
}

/// Waits up to `timeout_ms` (-1: until a packet or `nfq_rs_stop`; 0: no wait), then receives
/// one batch, calls the callback for each packet and sends the verdicts. Returns the number
/// of packets handled (0 on timeout or wake-up) or a negative code.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_dispatch(q: *mut nfq_rs_queue, timeout_ms: c_int) -> c_int {
    with_q("nfq_rs_dispatch", q, |h| {
        let t = if timeout_ms < 0 { None } else { Some(Duration::from_millis(timeout_ms as u64)) };
        dispatch_with(h, t, false)
    })
}

/// Receives and handles packets until `nfq_rs_stop`. Returns 0 when stopped, or a negative
/// code on a fatal error (overflows are counted, not fatal).
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_run(q: *mut nfq_rs_queue) -> c_int {
    with_q("nfq_rs_run", q, |h| dispatch_with(h, None, true))
}

/// Makes `nfq_rs_run` return and wakes a blocked `nfq_rs_dispatch` (a dispatch that would
/// block sees the request first and returns 0). Safe from any thread and from a signal handler.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_stop(q: *mut nfq_rs_queue) {
    // No boundary here: this must stay async-signal-safe (an atomic store, a poll(2) and at
    // most one sendto(2)), and none of them can panic.
    // SAFETY: q is NULL or live per the contract.
    if let Some(h) = unsafe { queue_ref(q) } {
        h.q.stop();
    }
}

// ---------------------------------------------------------------------------------------
// Verdicts (any thread)

fn verdict_of(name: &str, v: u32) -> Result<Verdict, c_int> {
    Verdict::from_raw(v).ok_or_else(|| {
        invalid(&format!(
            "{name}: {v:#x} is not a verdict (NFQ_RS_DROP, NFQ_RS_ACCEPT, NFQ_RS_REPEAT, NFQ_RS_STOP, NFQ_RS_QUEUE(n))"
        ))
    })
}

/// Sends a verdict for packet `id` of queue `queue_num`. Safe from any thread. Kernel-side
/// rejections (unknown id) arrive later: see `NFQ_RS_STAT_VERDICT_ERRORS` and the last error.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_verdict(q: *const nfq_rs_queue, queue_num: u16, id: u32, verdict: u32) -> c_int {
    with_q("nfq_rs_verdict", q, |h| match verdict_of("nfq_rs_verdict", verdict) {
        Ok(v) => done(h, h.q.verdict(queue_num, id, v, &VerdictOpts::default())),
        Err(c) => c,
    })
}

/// Like `nfq_rs_verdict`, also setting the packet mark.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_verdict_mark(
    q: *const nfq_rs_queue,
    queue_num: u16,
    id: u32,
    verdict: u32,
    mark: u32,
) -> c_int {
    with_q("nfq_rs_verdict_mark", q, |h| match verdict_of("nfq_rs_verdict_mark", verdict) {
        Ok(v) => done(h, h.q.verdict(queue_num, id, v, &VerdictOpts { mark: Some(mark), ..Default::default() })),
        Err(c) => c,
    })
}

/// The full verdict: `set` is a mask of `NFQ_RS_SET_MARK`, `NFQ_RS_SET_CONNMARK`,
/// `NFQ_RS_SET_PRIORITY` saying which of `mark`, `connmark`, `priority` apply; a non-NULL
/// `payload` of `len` bytes (at most 65531) replaces the packet from its network header.
///
/// # Safety
/// `q` is NULL or a live handle; `payload` is NULL or readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_verdict_ex(
    q: *const nfq_rs_queue,
    queue_num: u16,
    id: u32,
    verdict: u32,
    set: u32,
    mark: u32,
    connmark: u32,
    priority: u32,
    payload: *const c_void,
    len: usize,
) -> c_int {
    with_q("nfq_rs_verdict_ex", q, |h| {
        let v = match verdict_of("nfq_rs_verdict_ex", verdict) {
            Ok(v) => v,
            Err(c) => return c,
        };
        if set & !(NFQ_RS_SET_MARK | NFQ_RS_SET_CONNMARK | NFQ_RS_SET_PRIORITY) != 0 {
            return invalid(&format!("nfq_rs_verdict_ex: unknown bits in set mask {set:#x}"));
        }
        let payload = if payload.is_null() {
            if len != 0 {
                return invalid("nfq_rs_verdict_ex: payload is NULL but len is not 0");
            }
            None
        } else if len > crate::queue::MAX_PAYLOAD {
            // Checked before a slice is made: a huge len must not even describe memory.
            return invalid(&format!(
                "nfq_rs_verdict_ex: replacement payload of {len} bytes exceeds the maximum of {}",
                crate::queue::MAX_PAYLOAD
            ));
        } else {
            // SAFETY: payload is readable for len bytes per the contract.
            Some(unsafe { std::slice::from_raw_parts(payload as *const u8, len) })
        };
        let opts = VerdictOpts {
            mark: (set & NFQ_RS_SET_MARK != 0).then_some(mark),
            connmark: (set & NFQ_RS_SET_CONNMARK != 0).then_some(connmark),
            priority: (set & NFQ_RS_SET_PRIORITY != 0).then_some(priority),
            payload,
            labels: None,
        };
        done(h, h.q.verdict(queue_num, id, v, &opts))
    })
}

/// Sends a verdict that also sets the connection's labels: the bits set in the 16-byte
/// `mask` take their value from the 16-byte `labels` (in host order: on little-endian hosts label
/// bit n is bit n%8 of byte n/8). Like the
/// connection mark, this needs conntrack glue in the kernel (which ignores it otherwise), and
/// the connection needs label storage (a connlabel rule in its namespace).
///
/// # Safety
/// `q` is NULL or a live handle; `labels` and `mask` are NULL or readable for 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_verdict_ct_labels(
    q: *const nfq_rs_queue,
    queue_num: u16,
    id: u32,
    verdict: u32,
    labels: *const u8,
    mask: *const u8,
) -> c_int {
    with_q("nfq_rs_verdict_ct_labels", q, |h| {
        let v = match verdict_of("nfq_rs_verdict_ct_labels", verdict) {
            Ok(v) => v,
            Err(c) => return c,
        };
        if labels.is_null() || mask.is_null() {
            return invalid("nfq_rs_verdict_ct_labels: labels or mask is NULL");
        }
        // SAFETY: both are readable for 16 bytes per the contract; [u8; 16] has alignment 1.
        let (l, m) = unsafe { (&*(labels as *const [u8; 16]), &*(mask as *const [u8; 16])) };
        done(h, h.q.verdict(queue_num, id, v, &VerdictOpts { labels: Some((l, m)), ..Default::default() }))
    })
}

/// Gives `verdict` to every queued packet of `queue_num` with id up to `max_id`, including
/// packets kept for later.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_verdict_batch(
    q: *const nfq_rs_queue,
    queue_num: u16,
    max_id: u32,
    verdict: u32,
) -> c_int {
    with_q("nfq_rs_verdict_batch", q, |h| match verdict_of("nfq_rs_verdict_batch", verdict) {
        Ok(v) => done(h, h.q.verdict_batch(queue_num, max_id, v, None)),
        Err(c) => c,
    })
}

/// Like `nfq_rs_verdict_batch`, also setting the mark of each packet.
///
/// # Safety
/// `q` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_verdict_batch_mark(
    q: *const nfq_rs_queue,
    queue_num: u16,
    max_id: u32,
    verdict: u32,
    mark: u32,
) -> c_int {
    with_q("nfq_rs_verdict_batch_mark", q, |h| match verdict_of("nfq_rs_verdict_batch_mark", verdict) {
        Ok(v) => done(h, h.q.verdict_batch(queue_num, max_id, v, Some(mark))),
        Err(c) => c,
    })
}

// ---------------------------------------------------------------------------------------
// Counters

/// Reads a library counter (`NFQ_RS_STAT_*`) into `*out`.
///
/// # Safety
/// `q` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_stat(q: *const nfq_rs_queue, which: c_int, out: *mut u64) -> c_int {
    with_q("nfq_rs_stat", q, |h| {
        if out.is_null() {
            return invalid("nfq_rs_stat: out is NULL");
        }
        let s = h.q.stats();
        let v = match which {
            NFQ_RS_STAT_PACKETS_RECEIVED => s.packets_received,
            NFQ_RS_STAT_VERDICTS_SENT => s.verdicts_sent,
            NFQ_RS_STAT_VERDICT_ERRORS => s.verdict_errors,
            NFQ_RS_STAT_ENOBUFS => s.enobufs,
            NFQ_RS_STAT_TRUNCATED => s.truncated,
            NFQ_RS_STAT_FOREIGN_IGNORED => s.foreign_ignored,
            NFQ_RS_STAT_PARSE_ERRORS => s.parse_errors,
            NFQ_RS_STAT_CALLBACK_ERRORS => s.callback_errors,
            NFQ_RS_STAT_DEFERRED => s.deferred,
            NFQ_RS_STAT_FALLBACK_VERDICTS => s.fallback_verdicts,
            NFQ_RS_STAT_VERDICT_MESSAGES => s.verdict_messages,
            _ => return invalid(&format!("nfq_rs_stat: unknown counter {which}")),
        };
        // SAFETY: out is writable.
        unsafe { *out = v };
        NFQ_RS_OK
    })
}

/// Reads the kernel's counter `which` (`NFQ_RS_KSTAT_*`) for queue `queue_num` from
/// /proc/net/netfilter/nfnetlink_queue of the socket's namespace. `NFQ_RS_E_NODEV` if the
/// queue is not listed there.
///
/// # Safety
/// `q` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_kernel_stat(
    q: *const nfq_rs_queue,
    queue_num: u16,
    which: c_int,
    out: *mut u64,
) -> c_int {
    with_q("nfq_rs_kernel_stat", q, |h| {
        if out.is_null() {
            return invalid("nfq_rs_kernel_stat: out is NULL");
        }
        let Some(s) = h.q.kernel_stats(queue_num) else {
            super::set_thread_error(&format!(
                "nfq_rs_kernel_stat: queue {queue_num} is not listed in /proc/net/netfilter/nfnetlink_queue"
            ));
            return NFQ_RS_E_NODEV;
        };
        let v = match which {
            NFQ_RS_KSTAT_QUEUE_TOTAL => s.queue_total,
            NFQ_RS_KSTAT_DROPPED => s.dropped,
            NFQ_RS_KSTAT_USER_DROPPED => s.user_dropped,
            NFQ_RS_KSTAT_ID_SEQUENCE => s.id_sequence,
            NFQ_RS_KSTAT_PORTID => s.portid,
            NFQ_RS_KSTAT_COPY_MODE => s.copy_mode,
            NFQ_RS_KSTAT_COPY_RANGE => s.copy_range,
            _ => return invalid(&format!("nfq_rs_kernel_stat: unknown counter {which}")),
        };
        // SAFETY: out is writable.
        unsafe { *out = v as u64 };
        NFQ_RS_OK
    })
}

// ---------------------------------------------------------------------------------------
// Packet accessors (inside the callback only). Those returning a plain value return 0 for a
// NULL packet (0 is never a packet id); those returning presence return NFQ_RS_E_INVAL.

fn pkt_get<T: Copy>(
    name: &str,
    p: *const nfq_rs_packet,
    fail_v: T,
    f: impl FnOnce(&crate::queue::PacketCtx<'_>) -> T,
) -> T {
    boundary(name, fail_v, || {
        // SAFETY: the exports' contract: p is NULL or the live packet of a running callback.
        match unsafe { packet_ref(p) } {
            Some(c) => f(c),
            None => {
                set_thread_error(&format!("{name}: packet is NULL"));
                fail_v
            }
        }
    })
}

/// Stores an optional u32 attribute: 1 if present (and `*out` set when `out` is not NULL),
/// 0 if absent, `NFQ_RS_E_INVAL` for a NULL packet.
fn opt_u32(
    name: &str,
    p: *const nfq_rs_packet,
    out: *mut u32,
    f: impl FnOnce(&crate::queue::Packet<'_>) -> Option<u32>,
) -> c_int {
    pkt_get(name, p, NFQ_RS_E_INVAL, |c| match f(c.packet()) {
        Some(v) => {
            if !out.is_null() {
                // SAFETY: out is writable per the contract.
                unsafe { *out = v };
            }
            1
        }
        None => 0,
    })
}

/// Stores an optional byte attribute: 1 and pointer/length if present, 0 if absent.
fn opt_bytes(
    name: &str,
    p: *const nfq_rs_packet,
    data: *mut *const u8,
    len: *mut usize,
    f: impl for<'b> FnOnce(&crate::queue::Packet<'b>) -> Option<&'b [u8]>,
) -> c_int {
    pkt_get(name, p, NFQ_RS_E_INVAL, |c| match f(c.packet()) {
        Some(b) => {
            // SAFETY: data and len are NULL or writable per the contract.
            unsafe {
                if !data.is_null() {
                    *data = b.as_ptr();
                }
                if !len.is_null() {
                    *len = b.len();
                }
            }
            1
        }
        None => 0,
    })
}

/// Packet id (for deferred verdicts).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_id(pkt: *const nfq_rs_packet) -> u32 {
    pkt_get("nfq_rs_packet_id", pkt, 0, |c| c.id())
}

/// Queue number the packet came from.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_queue(pkt: *const nfq_rs_packet) -> u16 {
    pkt_get("nfq_rs_packet_queue", pkt, 0, |c| c.queue())
}

/// Address family of the hook (AF_INET, AF_INET6, AF_BRIDGE).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_family(pkt: *const nfq_rs_packet) -> u8 {
    pkt_get("nfq_rs_packet_family", pkt, 0, |c| c.family())
}

/// Link-layer protocol in host order (0x0800 IPv4, 0x86dd IPv6).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_hw_protocol(pkt: *const nfq_rs_packet) -> u16 {
    pkt_get("nfq_rs_packet_hw_protocol", pkt, 0, |c| c.hw_protocol())
}

/// Netfilter hook (0 PREROUTING, 1 INPUT, 2 FORWARD, 3 OUTPUT, 4 POSTROUTING).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_hook(pkt: *const nfq_rs_packet) -> u8 {
    pkt_get("nfq_rs_packet_hook", pkt, 0, |c| c.hook())
}

/// The packet bytes from the network header, and their count in `*len`; NULL when the copy
/// mode sent none. Valid until the callback returns.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_payload(pkt: *const nfq_rs_packet, len: *mut usize) -> *const u8 {
    pkt_get("nfq_rs_packet_payload", pkt, std::ptr::null(), |c| {
        let p = c.payload();
        if !len.is_null() {
            // SAFETY: len is writable per the contract.
            unsafe { *len = p.map_or(0, |p| p.len()) };
        }
        p.map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// Original packet length (larger than the payload when it was cut to the copy range).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_orig_len(pkt: *const nfq_rs_packet) -> usize {
    pkt_get("nfq_rs_packet_orig_len", pkt, 0, |c| c.orig_len())
}

/// 1 if the payload is shorter than the packet, else 0.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_is_truncated(pkt: *const nfq_rs_packet) -> c_int {
    pkt_get("nfq_rs_packet_is_truncated", pkt, 0, |c| c.is_truncated() as c_int)
}

/// `NFQA_CAP_LEN`: 1 and the original length if the kernel cut the packet, else 0.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_cap_len(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_cap_len", pkt, out, |p| p.cap_len())
}

/// Packet mark: 1 if present (the kernel sends it when nonzero), 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_mark(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_mark", pkt, out, |p| p.mark())
}

/// Input interface index: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_indev(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_indev", pkt, out, |p| p.indev())
}

/// Output interface index: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_outdev(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_outdev", pkt, out, |p| p.outdev())
}

/// Physical input interface (bridge port): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_physindev(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_physindev", pkt, out, |p| p.physindev())
}

/// Physical output interface (bridge port): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_physoutdev(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_physoutdev", pkt, out, |p| p.physoutdev())
}

/// Socket owner uid (flag `NFQ_RS_F_UID_GID`, local sockets): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_uid(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_uid", pkt, out, |p| p.uid())
}

/// Socket owner gid: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_gid(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_gid", pkt, out, |p| p.gid())
}

/// `NFQA_SKB_INFO` bits (`NFQ_RS_SKB_*`): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_skb_info(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_skb_info", pkt, out, |p| p.skb_info())
}

/// Packet priority: 1 if present (sent when nonzero), 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_priority(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_priority", pkt, out, |p| p.priority())
}

/// Net class cgroup id: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_cgroup_classid(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_cgroup_classid", pkt, out, |p| p.cgroup_classid())
}

/// Conntrack info (`enum ip_conntrack_info`): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_ct_info(pkt: *const nfq_rs_packet, out: *mut u32) -> c_int {
    opt_u32("nfq_rs_packet_ct_info", pkt, out, |p| p.ct_info())
}

/// Receive timestamp (input and forward hooks, when the kernel stamped it): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `sec`/`usec` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_timestamp(pkt: *const nfq_rs_packet, sec: *mut u64, usec: *mut u64) -> c_int {
    pkt_get("nfq_rs_packet_timestamp", pkt, NFQ_RS_E_INVAL, |c| match c.timestamp() {
        Some((s, u)) => {
            // SAFETY: sec and usec are NULL or writable per the contract.
            unsafe {
                if !sec.is_null() {
                    *sec = s;
                }
                if !usec.is_null() {
                    *usec = u;
                }
            }
            1
        }
        None => 0,
    })
}

/// VLAN tag (bridge family): 1 and protocol/TCI if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `proto`/`tci` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_vlan(pkt: *const nfq_rs_packet, proto: *mut u16, tci: *mut u16) -> c_int {
    pkt_get("nfq_rs_packet_vlan", pkt, NFQ_RS_E_INVAL, |c| match c.vlan() {
        Some(v) => {
            // SAFETY: proto and tci are NULL or writable per the contract.
            unsafe {
                if !proto.is_null() {
                    *proto = v.proto;
                }
                if !tci.is_null() {
                    *tci = v.tci;
                }
            }
            1
        }
        None => 0,
    })
}

/// Link-layer source address (input hooks): 1 with pointer and length (at most 8), else 0.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `addr`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_hwaddr(
    pkt: *const nfq_rs_packet,
    addr: *mut *const u8,
    len: *mut usize,
) -> c_int {
    opt_bytes("nfq_rs_packet_hwaddr", pkt, addr, len, |p| p.hw_addr())
}

/// Security context string (flag `NFQ_RS_F_SECCTX`; not NUL-terminated): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `ctx`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_secctx(
    pkt: *const nfq_rs_packet,
    ctx: *mut *const u8,
    len: *mut usize,
) -> c_int {
    opt_bytes("nfq_rs_packet_secctx", pkt, ctx, len, |p| p.secctx())
}

/// Raw `NFQA_CT` nest (CTA_* attributes): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_ct(pkt: *const nfq_rs_packet, data: *mut *const u8, len: *mut usize) -> c_int {
    opt_bytes("nfq_rs_packet_ct", pkt, data, len, |p| p.ct())
}

/// Raw `NFQA_EXP` nest: 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_exp(pkt: *const nfq_rs_packet, data: *mut *const u8, len: *mut usize) -> c_int {
    opt_bytes("nfq_rs_packet_exp", pkt, data, len, |p| p.exp())
}

/// Link-layer header (bridge family): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_l2hdr(
    pkt: *const nfq_rs_packet,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    opt_bytes("nfq_rs_packet_l2hdr", pkt, data, len, |p| p.l2hdr())
}

fn pkt_set(name: &str, p: *mut nfq_rs_packet, f: impl FnOnce(&mut crate::queue::PacketCtx<'_>) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: p is NULL or the live packet of a running callback.
        match unsafe { packet_mut(p) } {
            Some(c) => f(c),
            None => invalid(&format!("{name}: packet is NULL")),
        }
    })
}

/// Sets the packet mark given with the callback's verdict.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_set_mark(pkt: *mut nfq_rs_packet, mark: u32) -> c_int {
    pkt_set("nfq_rs_packet_set_mark", pkt, |c| {
        c.set_mark(mark);
        NFQ_RS_OK
    })
}

/// Sets the connection mark given with the callback's verdict (needs conntrack glue in the
/// kernel, which ignores it otherwise).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_set_connmark(pkt: *mut nfq_rs_packet, mark: u32) -> c_int {
    pkt_set("nfq_rs_packet_set_connmark", pkt, |c| {
        c.set_connmark(mark);
        NFQ_RS_OK
    })
}

/// Sets the connection labels given with the callback's verdict: the bits set in the 16-byte
/// `mask` take their value from the 16-byte `labels` (needs conntrack glue in the kernel, like
/// the connection mark).
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `labels` and `mask` are NULL or
/// readable for 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_set_ct_labels(
    pkt: *mut nfq_rs_packet,
    labels: *const u8,
    mask: *const u8,
) -> c_int {
    pkt_set("nfq_rs_packet_set_ct_labels", pkt, |c| {
        if labels.is_null() || mask.is_null() {
            return invalid("nfq_rs_packet_set_ct_labels: labels or mask is NULL");
        }
        // SAFETY: both are readable for 16 bytes per the contract; [u8; 16] has alignment 1.
        let (l, m) = unsafe { (&*(labels as *const [u8; 16]), &*(mask as *const [u8; 16])) };
        c.set_labels(l, m);
        NFQ_RS_OK
    })
}

/// Sets the packet priority given with the callback's verdict.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_set_priority(pkt: *mut nfq_rs_packet, prio: u32) -> c_int {
    pkt_set("nfq_rs_packet_set_priority", pkt, |c| {
        c.set_priority(prio);
        NFQ_RS_OK
    })
}

/// Replaces the packet (from its network header) with `len` bytes at `data` (copied now, at
/// most 65531) when the callback's verdict is sent. Fix the checksums yourself.
///
/// # Safety
/// `pkt` is NULL or the packet of a running callback; `data` is readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_packet_set_payload(pkt: *mut nfq_rs_packet, data: *const c_void, len: usize) -> c_int {
    pkt_set("nfq_rs_packet_set_payload", pkt, |c| {
        if data.is_null() {
            return invalid("nfq_rs_packet_set_payload: data is NULL");
        }
        if len > crate::queue::MAX_PAYLOAD {
            // Checked before a slice is made: a huge len must not even describe memory.
            let e = crate::netlink::Error::new(
                crate::netlink::ErrorKind::InvalidArgument,
                format!(
                    "nfq_rs_packet_set_payload: replacement payload of {len} bytes exceeds the maximum of {}",
                    crate::queue::MAX_PAYLOAD
                ),
            );
            return fail(&c.handle().record_error(e));
        }
        // SAFETY: data is readable for len bytes per the contract.
        let d = unsafe { std::slice::from_raw_parts(data as *const u8, len) };
        match c.set_payload(d) {
            Ok(()) => NFQ_RS_OK,
            Err(e) => fail(&c.handle().record_error(e)),
        }
    })
}

// ---------------------------------------------------------------------------------------
// Pool: one receiving thread per queue of a `--queue-balance A:B` range

/// Opens one socket per queue number in `first..=last` with `cfg`'s settings (its queue
/// number is ignored) and starts one receiving thread per queue, each calling `cb` with
/// `user`, so `cb` runs on several threads at once. With `pin_cpus` nonzero, thread `i` is
/// pinned to CPU `i` (modulo the CPU count). Every queue is bound before any thread starts:
/// on an error nothing keeps running. The pool runs until `nfq_rs_pool_stop` or
/// `nfq_rs_pool_free`.
///
/// # Safety
/// `cfg` is NULL or a live config; `cb` is NULL or a valid function, callable from several
/// threads at once; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_pool_start(
    cfg: *const nfq_rs_config,
    first: u16,
    last: u16,
    cb: nfq_rs_callback,
    user: *mut c_void,
    pin_cpus: c_int,
    out: *mut *mut nfq_rs_pool,
) -> c_int {
    boundary("nfq_rs_pool_start", NFQ_RS_E_INTERNAL, || {
        if out.is_null() {
            return invalid("nfq_rs_pool_start: out is NULL");
        }
        // SAFETY: out is writable per the contract.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: cfg is NULL or live.
        let Some(c) = (unsafe { config_ref(cfg) }) else {
            return invalid("nfq_rs_pool_start: config is NULL");
        };
        let Some(f) = cb else {
            return invalid("nfq_rs_pool_start: callback is NULL");
        };
        let ucb = UserCb { cb, batch: None, user };
        let call: Arc<crate::queue::PoolCallback> = Arc::new(move |ctx: &mut crate::queue::PacketCtx<'_>| {
            let _ = &ucb;
            // SAFETY: the user's function, callable from several threads per the contract;
            // the packet handle points at ctx for the whole call.
            let answer = unsafe { f(packet_raw(ctx), ucb.user) };
            decide(ctx, answer)
        });
        match crate::queue::Pool::start(&c.cfg, first, last, pin_cpus != 0, call) {
            Ok(pool) => {
                let handles = pool.queues().iter().map(|q| Box::new(QueueBox::new(Arc::clone(q), ucb))).collect();
                // SAFETY: out is writable.
                unsafe { *out = pool_into_raw(PoolBox { magic: MAGIC_POOL, pool: Some(pool), handles }) };
                NFQ_RS_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Asks every thread of the pool to return. Safe from any thread and from a signal handler.
///
/// # Safety
/// `pool` is NULL or a live pool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_pool_stop(pool: *const nfq_rs_pool) {
    // No boundary: this must stay async-signal-safe (per queue: an atomic store, a poll(2)
    // and at most one sendto(2)).
    // SAFETY: pool is NULL or live per the contract.
    if let Some(p) = unsafe { pool_ref(pool) } {
        for h in &p.handles {
            h.q.stop();
        }
    }
}

/// Stops the pool and waits for its threads: 0, or the first error a thread ended with.
/// The handles stay readable (counters) until `nfq_rs_pool_free`.
///
/// # Safety
/// `pool` is NULL or a live pool, not used by another thread during the call (except
/// `nfq_rs_pool_stop` and verdicts).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_pool_join(pool: *mut nfq_rs_pool) -> c_int {
    boundary("nfq_rs_pool_join", NFQ_RS_E_INTERNAL, || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { pool_mut(pool) }) else {
            return invalid("nfq_rs_pool_join: pool is NULL");
        };
        match p.pool.take().map(|pl| pl.join()) {
            Some(Err(e)) => fail(&e),
            _ => NFQ_RS_OK,
        }
    })
}

/// Number of queues (threads) in the pool.
///
/// # Safety
/// `pool` is NULL or a live pool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_pool_size(pool: *const nfq_rs_pool) -> c_int {
    // SAFETY: per the contract.
    boundary("nfq_rs_pool_size", NFQ_RS_E_INTERNAL, || match unsafe { pool_ref(pool) } {
        Some(p) => p.handles.len() as c_int,
        None => invalid("nfq_rs_pool_size: pool is NULL"),
    })
}

/// The handle of the pool's `index`-th queue (queue number `first + index`), for verdicts,
/// counters and last errors; owned by the pool (never pass it to `nfq_rs_close`). NULL if
/// out of range.
///
/// # Safety
/// `pool` is NULL or a live pool; the result is valid until `nfq_rs_pool_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_pool_queue(pool: *const nfq_rs_pool, index: u32) -> *const nfq_rs_queue {
    boundary("nfq_rs_pool_queue", std::ptr::null(), || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { pool_ref(pool) }) else {
            set_thread_error("nfq_rs_pool_queue: pool is NULL");
            return std::ptr::null();
        };
        match p.handles.get(index as usize) {
            Some(h) => &**h as *const QueueBox as *const nfq_rs_queue,
            None => {
                set_thread_error(&format!("nfq_rs_pool_queue: index {index} is out of range"));
                std::ptr::null()
            }
        }
    })
}

/// Stops the pool, waits for its threads, closes its sockets and frees it. NULL is fine.
///
/// # Safety
/// `pool` is NULL or a live pool, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_pool_free(pool: *mut nfq_rs_pool) {
    // SAFETY: per the contract.
    boundary("nfq_rs_pool_free", (), || unsafe { pool_free(pool) })
}
