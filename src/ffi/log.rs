//! The `nfq_rs_log_*` exports: the NFLOG subsystem (iptables/nft `NFLOG` target) in the
//! native C API. Same conventions as the queue API (`api.rs`): opaque handles with a magic,
//! each body inside `boundary`, negative `NFQ_RS_E_*` codes with the details in the last-error
//! message (per handle and per thread), NULL accepted by free/close. A logged packet is a view
//! into the receive buffer, valid during the callback; optional attributes return 1 when
//! present and 0 when absent.

use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

use super::handles::*;
pub use super::log_record::nfq_rs_log_packet_info;
use super::*;
use crate::netlink::{Error, ErrorKind};
use crate::nflog::{Config, LogPacket, MAX_COPY_RANGE, MAX_NLBUFSIZ, copy, flags, min_nlbufsiz};

/// NFLOG group flag: number the group's messages (`nfq_rs_log_packet_seq`).
pub const NFQ_RS_LOG_F_SEQ: u16 = 1;
/// NFLOG group flag: number messages across all groups of the namespace
/// (`nfq_rs_log_packet_seq_global`).
pub const NFQ_RS_LOG_F_SEQ_GLOBAL: u16 = 2;
/// NFLOG group flag: attach the connection (needs CONFIG_NETFILTER_NETLINK_GLUE_CT).
pub const NFQ_RS_LOG_F_CONNTRACK: u16 = 4;

/// Largest NFLOG copy range (`NFULNL_COPY_RANGE_MAX`).
pub const NFQ_RS_LOG_MAX_COPY_RANGE: u32 = 65531;
/// Largest NFLOG group buffer (`nlbufsiz`) the kernel accepts.
pub const NFQ_RS_LOG_MAX_NLBUFSIZ: u32 = 131072;

/// Log counter: log messages received and handed to the callback.
pub const NFQ_RS_LOG_STAT_PACKETS_RECEIVED: c_int = 0;
/// Log counter: datagrams received (each carries one or more log messages).
pub const NFQ_RS_LOG_STAT_DATAGRAMS: c_int = 1;
/// Log counter: receive-buffer overflows (ENOBUFS): log messages were lost.
pub const NFQ_RS_LOG_STAT_ENOBUFS: c_int = 2;
/// Log counter: datagrams cut short (the messages after the cut were lost).
pub const NFQ_RS_LOG_STAT_TRUNCATED: c_int = 3;
/// Log counter: malformed messages from the kernel (skipped).
pub const NFQ_RS_LOG_STAT_PARSE_ERRORS: c_int = 4;
/// Log counter: callbacks that returned non-zero.
pub const NFQ_RS_LOG_STAT_CALLBACK_ERRORS: c_int = 5;

/// Kernel value of a group (`/proc/net/netfilter/nfnetlink_log`): port id of the owning socket.
pub const NFQ_RS_LOG_KSTAT_PORTID: c_int = 0;
/// Kernel value of a group: messages gathered and not yet sent.
pub const NFQ_RS_LOG_KSTAT_QLEN: c_int = 1;
/// Kernel value of a group: copy mode.
pub const NFQ_RS_LOG_KSTAT_COPY_MODE: c_int = 2;
/// Kernel value of a group: copy range.
pub const NFQ_RS_LOG_KSTAT_COPY_RANGE: c_int = 3;
/// Kernel value of a group: flush timeout in hundredths of a second.
pub const NFQ_RS_LOG_KSTAT_FLUSH_TIMEOUT: c_int = 4;

/// The copy mode as the kernel's byte, or an invalid-argument code.
fn log_copy_mode(name: &str, mode: c_int) -> Result<u8, c_int> {
    match mode {
        0 => Ok(copy::NONE),
        1 => Ok(copy::META),
        2 => Ok(copy::PACKET),
        _ => Err(invalid(&format!("{name}: mode {mode} is not NFQ_RS_COPY_NONE/META/PACKET"))),
    }
}

fn check_range(name: &str, range: u32) -> Result<(), c_int> {
    if range > MAX_COPY_RANGE {
        return Err(invalid(&format!(
            "{name}: copy range {range} exceeds the kernel's maximum of {MAX_COPY_RANGE} (NFULNL_COPY_RANGE_MAX); \
             use 0 for whole packets"
        )));
    }
    Ok(())
}

fn check_nlbufsiz(name: &str, bytes: u32) -> Result<(), c_int> {
    let min = min_nlbufsiz();
    if !(min..=MAX_NLBUFSIZ).contains(&bytes) {
        return Err(invalid(&format!(
            "{name}: buffer size {bytes} is outside {min}..{MAX_NLBUFSIZ} (the kernel would ignore it silently)"
        )));
    }
    Ok(())
}

fn check_flags(name: &str, f: u16) -> Result<(), c_int> {
    let known = flags::SEQ | flags::SEQ_GLOBAL | flags::CONNTRACK;
    if f & !known != 0 {
        return Err(invalid(&format!(
            "{name}: unknown flag bits {:#x} (known: NFQ_RS_LOG_F_SEQ, _SEQ_GLOBAL, _CONNTRACK)",
            f & !known
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Config

/// A new NFLOG config binding group `group` at open, with defaults: copy mode packet (whole
/// packets), kernel defaults for buffer size, timeout and threshold, no flags, batches of 16
/// datagrams, a 4 MiB receive buffer. NULL only if out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_log_config_new(group: u16) -> *mut nfq_rs_log_config {
    boundary("nfq_rs_log_config_new", std::ptr::null_mut(), || log_config_into_raw(Config::new(group)))
}

/// A new NFLOG config that binds no group at open (bind later with `nfq_rs_log_bind`), with
/// the same defaults as `nfq_rs_log_config_new`. NULL only if out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn nfq_rs_log_config_new_unbound() -> *mut nfq_rs_log_config {
    boundary("nfq_rs_log_config_new_unbound", std::ptr::null_mut(), || log_config_into_raw(Config::unbound()))
}

/// Frees an NFLOG config (NULL is fine).
///
/// # Safety
/// `cfg` is NULL or from `nfq_rs_log_config_new*`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_free(cfg: *mut nfq_rs_log_config) {
    // SAFETY: per the contract.
    boundary("nfq_rs_log_config_free", (), || unsafe { log_config_free(cfg) })
}

fn with_log_cfg(name: &str, cfg: *mut nfq_rs_log_config, f: impl FnOnce(&mut Config) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: cfg is NULL or a live log config used by one thread.
        match unsafe { log_config_mut(cfg) } {
            Some(c) => f(&mut c.cfg),
            None => invalid(&format!("{name}: the config is NULL or not a live nfq_rs_log_config")),
        }
    })
}

/// Also bind group `group` at open (every group gets the config's settings).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_add_group(cfg: *mut nfq_rs_log_config, group: u16) -> c_int {
    with_log_cfg("nfq_rs_log_config_add_group", cfg, |c| {
        c.add_group(group);
        NFQ_RS_OK
    })
}

/// Copy mode (`NFQ_RS_COPY_NONE`: the kernel logs nothing to the group, `_META`: metadata only,
/// `_PACKET`: metadata and packet bytes) and range (0: whole packets; at most 65531, larger is
/// `NFQ_RS_E_INVAL` since the kernel would cut it silently).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_copy_mode(
    cfg: *mut nfq_rs_log_config,
    mode: c_int,
    range: u32,
) -> c_int {
    const NAME: &str = "nfq_rs_log_config_set_copy_mode";
    with_log_cfg(NAME, cfg, |c| {
        let m = match log_copy_mode(NAME, mode) {
            Ok(m) => m,
            Err(code) => return code,
        };
        if let Err(code) = check_range(NAME, range) {
            return code;
        }
        c.copy_mode(m, range);
        NFQ_RS_OK
    })
}

/// Group buffer in bytes: how much the kernel gathers into one datagram (one page up to
/// 131072; the kernel default is one page).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_nlbufsiz(cfg: *mut nfq_rs_log_config, bytes: u32) -> c_int {
    const NAME: &str = "nfq_rs_log_config_set_nlbufsiz";
    with_log_cfg(NAME, cfg, |c| match check_nlbufsiz(NAME, bytes) {
        Ok(()) => {
            c.nlbufsiz(bytes);
            NFQ_RS_OK
        }
        Err(code) => code,
    })
}

/// Flush timeout in hundredths of a second (kernel default 100): a gathered message waits at
/// most this long before the kernel sends it.
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_timeout(cfg: *mut nfq_rs_log_config, centiseconds: u32) -> c_int {
    with_log_cfg("nfq_rs_log_config_set_timeout", cfg, |c| {
        c.timeout_cs(centiseconds);
        NFQ_RS_OK
    })
}

/// Messages gathered before the kernel sends a datagram (kernel default 100; a rule's lower
/// `--nflog-threshold` wins).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_threshold(cfg: *mut nfq_rs_log_config, n: u32) -> c_int {
    with_log_cfg("nfq_rs_log_config_set_threshold", cfg, |c| {
        c.threshold(n);
        NFQ_RS_OK
    })
}

/// Group flags (`NFQ_RS_LOG_F_SEQ`, `_SEQ_GLOBAL`, `_CONNTRACK`), all at once (not a mask).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_flags(cfg: *mut nfq_rs_log_config, flags: u16) -> c_int {
    const NAME: &str = "nfq_rs_log_config_set_flags";
    with_log_cfg(NAME, cfg, |c| match check_flags(NAME, flags) {
        Ok(()) => {
            c.flags(flags);
            NFQ_RS_OK
        }
        Err(code) => code,
    })
}

/// Socket receive buffer in bytes (0 keeps the system default).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_rcvbuf(cfg: *mut nfq_rs_log_config, bytes: usize) -> c_int {
    with_log_cfg("nfq_rs_log_config_set_rcvbuf", cfg, |c| {
        c.rcvbuf(if bytes == 0 { None } else { Some(bytes) });
        NFQ_RS_OK
    })
}

/// `NETLINK_NO_ENOBUFS` on (nonzero) or off: overflows are then no longer reported (the kernel
/// still counts its drops, see `nfq_rs_log_kernel_drops`).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_no_enobufs(cfg: *mut nfq_rs_log_config, on: c_int) -> c_int {
    with_log_cfg("nfq_rs_log_config_set_no_enobufs", cfg, |c| {
        c.no_enobufs(on != 0);
        NFQ_RS_OK
    })
}

/// Datagrams received per system call (1..1024).
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_batch(cfg: *mut nfq_rs_log_config, n: u32) -> c_int {
    with_log_cfg("nfq_rs_log_config_set_batch", cfg, |c| {
        if n == 0 || n > 1024 {
            return invalid(&format!("nfq_rs_log_config_set_batch: {n} is outside 1..1024"));
        }
        c.batch(n as usize);
        NFQ_RS_OK
    })
}

/// Open the socket inside the network namespace at `path` (e.g. "/var/run/netns/NAME"); the
/// calling thread does not move. NULL means the current namespace.
///
/// # Safety
/// `cfg` is NULL or a live log config; `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_netns_path(cfg: *mut nfq_rs_log_config, path: *const c_char) -> c_int {
    with_log_cfg("nfq_rs_log_config_set_netns_path", cfg, |c| {
        // SAFETY: path is NULL or a NUL-terminated string per the contract.
        match unsafe { netns_of_path("nfq_rs_log_config_set_netns_path", path) } {
            Ok(ns) => {
                c.netns(ns);
                NFQ_RS_OK
            }
            Err(code) => code,
        }
    })
}

/// Open the socket inside the network namespace of descriptor `fd` (kept open by the caller
/// until `nfq_rs_log_open` returns); -1 means the current namespace.
///
/// # Safety
/// `cfg` is NULL or a live log config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_config_set_netns_fd(cfg: *mut nfq_rs_log_config, fd: c_int) -> c_int {
    with_log_cfg("nfq_rs_log_config_set_netns_fd", cfg, |c| match netns_of_fd("nfq_rs_log_config_set_netns_fd", fd) {
        Ok(ns) => {
            c.netns(ns);
            NFQ_RS_OK
        }
        Err(code) => code,
    })
}

// ---------------------------------------------------------------------------------------
// Log handle

/// Opens a socket (in the config's namespace), binds and configures the config's groups, and
/// registers `cb` with `user` (`cb` may be NULL: set it later with `nfq_rs_log_set_callback`).
/// On success stores the handle in `*out` and returns 0; otherwise a negative code, with the
/// reason in `nfq_rs_log_last_error(NULL, ...)` (e.g. `NFQ_RS_E_PERM` for a group bound by
/// another socket, `NFQ_RS_E_NOTSUP` for the conntrack flag on a kernel without it). Needs
/// CAP_NET_ADMIN.
///
/// # Safety
/// `cfg` is NULL or a live log config; `cb` is NULL or a valid function; `out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_open(
    cfg: *const nfq_rs_log_config,
    cb: nfq_rs_log_callback,
    user: *mut c_void,
    out: *mut *mut nfq_rs_log,
) -> c_int {
    boundary("nfq_rs_log_open", NFQ_RS_E_INTERNAL, || {
        if out.is_null() {
            return invalid("nfq_rs_log_open: out is NULL");
        }
        // SAFETY: out is writable per the contract.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: cfg is NULL or live.
        let Some(c) = (unsafe { log_config_ref(cfg) }) else {
            return invalid("nfq_rs_log_open: the config is NULL or not a live nfq_rs_log_config");
        };
        match crate::nflog::Log::open(&c.cfg) {
            Ok(log) => {
                // SAFETY: out is writable.
                unsafe { *out = log_into_raw(log, LogUserCb { cb, user }) };
                NFQ_RS_OK
            }
            Err(e) => fail(&e),
        }
    })
}

/// Closes the socket; the kernel unbinds its groups. NULL is fine. No other thread may use the
/// handle any more.
///
/// # Safety
/// `log` is NULL or a live log handle not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_close(log: *mut nfq_rs_log) {
    // SAFETY: per the contract.
    boundary("nfq_rs_log_close", (), || unsafe { log_free(log) })
}

/// Runs an export on a live log handle. A failure is recorded as the handle's last error too.
fn with_log(name: &str, log: *const nfq_rs_log, f: impl FnOnce(&LogBox) -> c_int) -> c_int {
    boundary(name, NFQ_RS_E_INTERNAL, || {
        // SAFETY: the exports' contract: log is NULL or a live log handle.
        match unsafe { log_ref(log) } {
            Some(h) => {
                let rc = f(h);
                if rc < 0 {
                    let msg = thread_error();
                    if h.log.last_error() != msg {
                        let _ = h.log.record_error(Error::new(ErrorKind::InvalidArgument, msg));
                    }
                }
                rc
            }
            None => invalid(&format!("{name}: the log handle is NULL or not a live nfq_rs_log")),
        }
    })
}

fn done(r: crate::netlink::Result<()>) -> c_int {
    match r {
        Ok(()) => NFQ_RS_OK,
        Err(e) => fail(&e),
    }
}

/// Copies the last error message into `buf` (NUL-terminated, cut to `len`) and returns its
/// full length. With `log` NULL: the calling thread's last error (e.g. of a failed
/// `nfq_rs_log_open`); otherwise the handle's.
///
/// # Safety
/// `log` is NULL or a live log handle; `buf` is NULL or has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_last_error(log: *const nfq_rs_log, buf: *mut c_char, len: usize) -> c_int {
    boundary("nfq_rs_log_last_error", NFQ_RS_E_INTERNAL, || {
        // SAFETY: log is NULL or live per the contract.
        let msg = match unsafe { log_ref(log) } {
            Some(h) => h.log.last_error(),
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

/// The socket descriptor, for poll/epoll/select loops (then `nfq_rs_log_dispatch(log, 0)`).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_fd(log: *const nfq_rs_log) -> c_int {
    with_log("nfq_rs_log_fd", log, |h| h.log.fd())
}

/// Sets the callback and its user pointer (replacing the one given to `nfq_rs_log_open`).
///
/// # Safety
/// `log` is NULL or a live log handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_callback(
    log: *mut nfq_rs_log,
    cb: nfq_rs_log_callback,
    user: *mut c_void,
) -> c_int {
    with_log("nfq_rs_log_set_callback", log, |h| {
        if let Ok(mut slot) = h.cb.lock() {
            *slot = LogUserCb { cb, user };
        }
        NFQ_RS_OK
    })
}

/// Binds group `group` on this socket (with the kernel's defaults until set: copy mode packet,
/// whole packets, one-page buffer, timeout 100 cs, threshold 100, no flags).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_bind(log: *mut nfq_rs_log, group: u16) -> c_int {
    with_log("nfq_rs_log_bind", log, |h| done(h.log.bind(group)))
}

/// Unbinds group `group` (the kernel first sends what it has gathered for it).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_unbind(log: *mut nfq_rs_log, group: u16) -> c_int {
    with_log("nfq_rs_log_unbind", log, |h| done(h.log.unbind(group)))
}

/// Makes nfnetlink_log the kernel's log backend for address family `family` (AF_INET,
/// AF_INET6, ...; `NFULNL_CFG_CMD_PF_BIND`). Only the kernel's own log calls need this (e.g.
/// conntrack's invalid-packet logging); NFLOG rules do not.
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_bind_pf(log: *mut nfq_rs_log, family: u8) -> c_int {
    with_log("nfq_rs_log_bind_pf", log, |h| done(h.log.bind_pf(family)))
}

/// Undoes `nfq_rs_log_bind_pf` (for every user of the namespace).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_unbind_pf(log: *mut nfq_rs_log, family: u8) -> c_int {
    with_log("nfq_rs_log_unbind_pf", log, |h| done(h.log.unbind_pf(family)))
}

/// Sets the copy mode (`NFQ_RS_COPY_*`) and range (0: whole packets, at most 65531) of a
/// bound group.
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_copy_mode(log: *mut nfq_rs_log, group: u16, mode: c_int, range: u32) -> c_int {
    with_log("nfq_rs_log_set_copy_mode", log, |h| match log_copy_mode("nfq_rs_log_set_copy_mode", mode) {
        Ok(m) => done(h.log.set_copy_mode(group, m, range)),
        Err(code) => code,
    })
}

/// Sets the buffer size of a bound group (one page up to 131072 bytes).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_nlbufsiz(log: *mut nfq_rs_log, group: u16, bytes: u32) -> c_int {
    with_log("nfq_rs_log_set_nlbufsiz", log, |h| done(h.log.set_nlbufsiz(group, bytes)))
}

/// Sets the flush timeout of a bound group, in hundredths of a second.
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_timeout(log: *mut nfq_rs_log, group: u16, centiseconds: u32) -> c_int {
    with_log("nfq_rs_log_set_timeout", log, |h| done(h.log.set_timeout(group, centiseconds)))
}

/// Sets the threshold of a bound group (messages per datagram before a flush).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_threshold(log: *mut nfq_rs_log, group: u16, n: u32) -> c_int {
    with_log("nfq_rs_log_set_threshold", log, |h| done(h.log.set_threshold(group, n)))
}

/// Sets the flags of a bound group (`NFQ_RS_LOG_F_*`, all at once, not a mask).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_flags(log: *mut nfq_rs_log, group: u16, flags: u16) -> c_int {
    with_log("nfq_rs_log_set_flags", log, |h| done(h.log.set_flags(group, flags)))
}

/// Sets the socket receive buffer; returns the size the kernel reports (it doubles it).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_rcvbuf(log: *mut nfq_rs_log, bytes: usize) -> c_int {
    with_log("nfq_rs_log_set_rcvbuf", log, |h| match h.log.set_rcvbuf(bytes) {
        Ok(n) => n.min(c_int::MAX as usize) as c_int,
        Err(e) => fail(&e),
    })
}

/// Turns `NETLINK_NO_ENOBUFS` on or off.
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_no_enobufs(log: *mut nfq_rs_log, on: c_int) -> c_int {
    with_log("nfq_rs_log_set_no_enobufs", log, |h| done(h.log.set_no_enobufs(on != 0)))
}

fn log_dispatch_with(h: &LogBox, timeout: Option<Duration>, run: bool) -> c_int {
    let batch = match h.batch.lock() {
        Ok(mut b) => b.cb.map(|f| (f, b.user, std::mem::take(&mut b.recs))),
        Err(_) => return invalid("batch callback slot poisoned"),
    };
    if let Some((f, user, recs)) = batch {
        return log_dispatch_batch(h, timeout, run, f, user, recs);
    }
    let ucb = match h.cb.lock() {
        Ok(c) => *c,
        Err(_) => return invalid("callback slot poisoned"),
    };
    let Some(cb) = ucb.cb else {
        return fail(&h.log.record_error(Error::new(
            ErrorKind::InvalidArgument,
            "no callback set: pass one to nfq_rs_log_open, or call nfq_rs_log_set_callback or \
             nfq_rs_log_set_batch_callback",
        )));
    };
    let log = &h.log;
    let mut f = |p: &LogPacket<'_>| {
        // SAFETY: cb is the user's function; the packet handle points at p, which lives for
        // the whole call. No lock is held here.
        let answer = unsafe { cb(log_packet_raw(p), ucb.user) };
        if answer != 0 {
            log.callback_failed(p.group());
        }
    };
    let r = if run { log.run(&mut f).map(|_| 0) } else { log.dispatch(timeout, &mut f) };
    match r {
        Ok(n) => n.min(c_int::MAX as usize) as c_int,
        Err(e) => fail(&e),
    }
}

/// The batch form: every message of a receive batch becomes a record, and the user's function
/// gets them all in one call at the end of the batch.
fn log_dispatch_batch(
    h: &LogBox,
    timeout: Option<Duration>,
    run: bool,
    f: unsafe extern "C" fn(*const nfq_rs_log_packet_info, usize, *mut c_void),
    user: *mut c_void,
    recs: Vec<nfq_rs_log_packet_info>,
) -> c_int {
    let mut recs = recs;
    let mut end = |r: &[nfq_rs_log_packet_info]| {
        // SAFETY: f is the user's function; the records and the receive buffer they point into
        // stay alive and unchanged for the whole call. No lock is held here.
        unsafe { f(r.as_ptr(), r.len(), user) };
    };
    let log = &h.log;
    let r = if run {
        log.run_records(&mut recs, &mut end).map(|_| 0)
    } else {
        log.dispatch_records(timeout, &mut recs, &mut end)
    };
    recs.clear();
    if let Ok(mut b) = h.batch.lock() {
        b.recs = recs;
    }
    match r {
        Ok(n) => n.min(c_int::MAX as usize) as c_int,
        Err(e) => fail(&e),
    }
}

/// Calls `cb` once per receive batch with the records of all its log messages (up to the
/// config's batch of datagrams, each holding many messages), instead of the per-packet callback:
/// one call per batch, and the fields already read (`nfq_rs_log_packet_get_info`'s record).
/// The records and the bytes they point at are valid until `cb` returns. NULL goes back to the
/// per-packet callback.
///
/// # Safety
/// `log` is NULL or a live log handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_set_batch_callback(
    log: *mut nfq_rs_log,
    cb: nfq_rs_log_batch_callback,
    user: *mut c_void,
) -> c_int {
    with_log("nfq_rs_log_set_batch_callback", log, |h| {
        if let Ok(mut b) = h.batch.lock() {
            b.cb = cb;
            b.user = user;
        }
        NFQ_RS_OK
    })
}

/// Waits up to `timeout_ms` (-1: until a message or `nfq_rs_log_stop`; 0: no wait), then
/// receives one batch of datagrams and calls the callback for every log message in them.
/// Returns the number of messages handled (0 on timeout or wake-up) or a negative code
/// (`NFQ_RS_E_NOBUFS`: the receive buffer overflowed and messages were lost; the handle stays
/// usable).
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_dispatch(log: *mut nfq_rs_log, timeout_ms: c_int) -> c_int {
    with_log("nfq_rs_log_dispatch", log, |h| {
        let t = if timeout_ms < 0 { None } else { Some(Duration::from_millis(timeout_ms as u64)) };
        log_dispatch_with(h, t, false)
    })
}

/// Receives and handles log messages until `nfq_rs_log_stop`. Returns 0 when stopped, or a
/// negative code on a fatal error (overflows are counted in `NFQ_RS_LOG_STAT_ENOBUFS`, not
/// fatal). A stop requested before the call makes it return at once.
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_run(log: *mut nfq_rs_log) -> c_int {
    with_log("nfq_rs_log_run", log, |h| log_dispatch_with(h, None, true))
}

/// Makes `nfq_rs_log_run` return (after the messages of the batch being handled) and wakes a
/// blocked `nfq_rs_log_dispatch`. Safe from any thread and from a signal handler.
///
/// # Safety
/// `log` is NULL or a live log handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_stop(log: *mut nfq_rs_log) {
    // No boundary here: this must stay async-signal-safe (an atomic store, a poll(2) and at
    // most one sendto(2)), and none of them can panic.
    // SAFETY: log is NULL or live per the contract.
    if let Some(h) = unsafe { log_ref(log) } {
        h.log.stop();
    }
}

// ---------------------------------------------------------------------------------------
// Counters

/// Reads a library counter (`NFQ_RS_LOG_STAT_*`) into `*out`.
///
/// # Safety
/// `log` is NULL or a live log handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_stat(log: *const nfq_rs_log, which: c_int, out: *mut u64) -> c_int {
    with_log("nfq_rs_log_stat", log, |h| {
        if out.is_null() {
            return invalid("nfq_rs_log_stat: out is NULL");
        }
        let s = h.log.stats();
        let v = match which {
            NFQ_RS_LOG_STAT_PACKETS_RECEIVED => s.packets_received,
            NFQ_RS_LOG_STAT_DATAGRAMS => s.datagrams,
            NFQ_RS_LOG_STAT_ENOBUFS => s.enobufs,
            NFQ_RS_LOG_STAT_TRUNCATED => s.truncated,
            NFQ_RS_LOG_STAT_PARSE_ERRORS => s.parse_errors,
            NFQ_RS_LOG_STAT_CALLBACK_ERRORS => s.callback_errors,
            _ => return invalid(&format!("nfq_rs_log_stat: unknown counter {which}")),
        };
        // SAFETY: out is writable.
        unsafe { *out = v };
        NFQ_RS_OK
    })
}

/// The kernel's count of datagrams it could not deliver to this socket because its receive
/// buffer was full (`Drops` in /proc/net/netlink of the socket's namespace) into `*out`.
/// `NFQ_RS_E_NOTSUP` if that file could not be read.
///
/// # Safety
/// `log` is NULL or a live log handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_kernel_drops(log: *const nfq_rs_log, out: *mut u64) -> c_int {
    with_log("nfq_rs_log_kernel_drops", log, |h| {
        if out.is_null() {
            return invalid("nfq_rs_log_kernel_drops: out is NULL");
        }
        match h.log.kernel_drops() {
            Some(v) => {
                // SAFETY: out is writable.
                unsafe { *out = v };
                NFQ_RS_OK
            }
            None => {
                set_thread_error(
                    "nfq_rs_log_kernel_drops: the socket is not listed in /proc/net/netlink (or the file was not \
                     readable when the handle opened)",
                );
                NFQ_RS_E_NOTSUP
            }
        }
    })
}

/// Reads the kernel's value `which` (`NFQ_RS_LOG_KSTAT_*`) for group `group` from
/// /proc/net/netfilter/nfnetlink_log of the socket's namespace. `NFQ_RS_E_NODEV` if the group
/// is not listed there (not bound by anyone).
///
/// # Safety
/// `log` is NULL or a live log handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_kernel_stat(
    log: *const nfq_rs_log,
    group: u16,
    which: c_int,
    out: *mut u64,
) -> c_int {
    with_log("nfq_rs_log_kernel_stat", log, |h| {
        if out.is_null() {
            return invalid("nfq_rs_log_kernel_stat: out is NULL");
        }
        let Some(s) = h.log.kernel_stats(group) else {
            set_thread_error(&format!(
                "nfq_rs_log_kernel_stat: group {group} is not listed in /proc/net/netfilter/nfnetlink_log"
            ));
            return NFQ_RS_E_NODEV;
        };
        let v = match which {
            NFQ_RS_LOG_KSTAT_PORTID => s.portid,
            NFQ_RS_LOG_KSTAT_QLEN => s.qlen,
            NFQ_RS_LOG_KSTAT_COPY_MODE => s.copy_mode,
            NFQ_RS_LOG_KSTAT_COPY_RANGE => s.copy_range,
            NFQ_RS_LOG_KSTAT_FLUSH_TIMEOUT => s.flush_timeout,
            _ => return invalid(&format!("nfq_rs_log_kernel_stat: unknown value {which}")),
        };
        // SAFETY: out is writable.
        unsafe { *out = v as u64 };
        NFQ_RS_OK
    })
}

// ---------------------------------------------------------------------------------------
// Packet accessors (inside the callback only). Plain values return 0 for a NULL packet; those
// returning presence return 1 (present), 0 (absent) or NFQ_RS_E_INVAL (NULL packet).

fn lpkt<T: Copy>(name: &str, p: *const nfq_rs_log_packet, fail_v: T, f: impl FnOnce(&LogPacket<'_>) -> T) -> T {
    boundary(name, fail_v, || {
        // SAFETY: the exports' contract: p is NULL or the live packet of a running callback.
        match unsafe { log_packet_ref(p) } {
            Some(pk) => f(pk),
            None => {
                set_thread_error(&format!("{name}: packet is NULL"));
                fail_v
            }
        }
    })
}

/// Stores `v` in `*out` unless `out` is NULL.
///
/// # Safety
/// `out` is NULL or writable for a `T`.
unsafe fn put<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: per the contract.
        unsafe { out.write(v) };
    }
}

fn lopt<T: Copy>(
    name: &str,
    p: *const nfq_rs_log_packet,
    out: *mut T,
    f: impl FnOnce(&LogPacket<'_>) -> Option<T>,
) -> c_int {
    lpkt(name, p, NFQ_RS_E_INVAL, |pk| match f(pk) {
        Some(v) => {
            // SAFETY: out is NULL or writable per the export's contract.
            unsafe { put(out, v) };
            1
        }
        None => 0,
    })
}

fn lbytes(
    name: &str,
    p: *const nfq_rs_log_packet,
    data: *mut *const u8,
    len: *mut usize,
    f: impl for<'b> FnOnce(&LogPacket<'b>) -> Option<&'b [u8]>,
) -> c_int {
    lpkt(name, p, NFQ_RS_E_INVAL, |pk| match f(pk) {
        Some(b) => {
            // SAFETY: data is NULL or writable per the export's contract.
            unsafe { put(data, b.as_ptr()) };
            // SAFETY: len is NULL or writable per the export's contract.
            unsafe { put(len, b.len()) };
            1
        }
        None => 0,
    })
}

/// Address family of the hook (AF_INET 2, AF_INET6 10, AF_BRIDGE 7, ...).
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_family(pkt: *const nfq_rs_log_packet) -> u8 {
    lpkt("nfq_rs_log_packet_family", pkt, 0, |p| p.family())
}

/// The NFLOG group the packet was logged to.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_group(pkt: *const nfq_rs_log_packet) -> u16 {
    lpkt("nfq_rs_log_packet_group", pkt, 0, |p| p.group())
}

/// Link-layer protocol in host order (0x0800 IPv4, 0x86dd IPv6).
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_hw_protocol(pkt: *const nfq_rs_log_packet) -> u16 {
    lpkt("nfq_rs_log_packet_hw_protocol", pkt, 0, |p| p.hw_protocol())
}

/// Netfilter hook (0 PREROUTING, 1 INPUT, 2 FORWARD, 3 OUTPUT, 4 POSTROUTING).
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_hook(pkt: *const nfq_rs_log_packet) -> u8 {
    lpkt("nfq_rs_log_packet_hook", pkt, 0, |p| p.hook())
}

/// The rule's log prefix: 1 with `*prefix` pointing at the NUL-terminated string (in the
/// receive buffer) and `*len` its length without the NUL; 0 if the rule has none;
/// `NFQ_RS_E_PROTO` if the kernel's attribute lacks its NUL (malformed).
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `prefix`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_prefix(
    pkt: *const nfq_rs_log_packet,
    prefix: *mut *const c_char,
    len: *mut usize,
) -> c_int {
    lpkt("nfq_rs_log_packet_prefix", pkt, NFQ_RS_E_INVAL, |p| match (p.raw_prefix(), p.prefix_bytes()) {
        (Some(raw), Some(s)) if s.len() < raw.len() => {
            // SAFETY: prefix is NULL or writable per the export's contract.
            unsafe { put(prefix, s.as_ptr() as *const c_char) };
            // SAFETY: len is NULL or writable per the export's contract.
            unsafe { put(len, s.len()) };
            1
        }
        (Some(_), _) => {
            set_thread_error("nfq_rs_log_packet_prefix: the NFULA_PREFIX attribute has no terminating NUL");
            NFQ_RS_E_PROTO
        }
        _ => 0,
    })
}

/// The logged bytes of the packet from its network header (copy mode packet): 1 with pointer
/// and length (valid until the callback returns), 0 if the copy mode sent none.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_payload(
    pkt: *const nfq_rs_log_packet,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    lbytes("nfq_rs_log_packet_payload", pkt, data, len, |p| p.payload())
}

/// Packet mark: 1 if present (the kernel sends it when nonzero), 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_mark(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_mark", pkt, out, |p| p.mark())
}

/// Arrival time (PREROUTING, INPUT and FORWARD only): 1 with seconds and microseconds, else 0.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `sec`/`usec` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_timestamp(
    pkt: *const nfq_rs_log_packet,
    sec: *mut u64,
    usec: *mut u64,
) -> c_int {
    lpkt("nfq_rs_log_packet_timestamp", pkt, NFQ_RS_E_INVAL, |p| match p.timestamp() {
        Some((s, u)) => {
            // SAFETY: sec is NULL or writable per the export's contract.
            unsafe { put(sec, s) };
            // SAFETY: usec is NULL or writable per the export's contract.
            unsafe { put(usec, u) };
            1
        }
        None => 0,
    })
}

/// Input interface index: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_indev(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_indev", pkt, out, |p| p.indev())
}

/// Output interface index: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_outdev(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_outdev", pkt, out, |p| p.outdev())
}

/// Physical input interface (bridge port): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_physindev(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_physindev", pkt, out, |p| p.physindev())
}

/// Physical output interface (bridge port): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_physoutdev(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_physoutdev", pkt, out, |p| p.physoutdev())
}

/// Link-layer source address (input hooks): 1 with pointer and length (at most 8), else 0.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `addr`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_hwaddr(
    pkt: *const nfq_rs_log_packet,
    addr: *mut *const u8,
    len: *mut usize,
) -> c_int {
    lbytes("nfq_rs_log_packet_hwaddr", pkt, addr, len, |p| p.hwaddr())
}

/// Hardware type of the input device (ARPHRD_*, e.g. 1 Ethernet, 772 loopback): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_hwtype(pkt: *const nfq_rs_log_packet, out: *mut u16) -> c_int {
    lopt("nfq_rs_log_packet_hwtype", pkt, out, |p| p.hwtype())
}

/// Length of the input device's link-layer header: 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_hwlen(pkt: *const nfq_rs_log_packet, out: *mut u16) -> c_int {
    lopt("nfq_rs_log_packet_hwlen", pkt, out, |p| p.hwlen())
}

/// The link-layer header as received (input hooks): 1 with pointer and length, else 0.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_hwheader(
    pkt: *const nfq_rs_log_packet,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    lbytes("nfq_rs_log_packet_hwheader", pkt, data, len, |p| p.hwheader())
}

/// User id owning the packet's local socket: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_uid(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_uid", pkt, out, |p| p.uid())
}

/// Group id owning the packet's local socket: 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_gid(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_gid", pkt, out, |p| p.gid())
}

/// The group's sequence number (flag `NFQ_RS_LOG_F_SEQ`): 1 if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_seq(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_seq", pkt, out, |p| p.seq())
}

/// The namespace-wide sequence number (flag `NFQ_RS_LOG_F_SEQ_GLOBAL`): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_seq_global(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_seq_global", pkt, out, |p| p.seq_global())
}

/// Raw `NFULA_CT` nest (CTA_* attributes, flag `NFQ_RS_LOG_F_CONNTRACK`): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_ct(
    pkt: *const nfq_rs_log_packet,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    lbytes("nfq_rs_log_packet_ct", pkt, data, len, |p| p.ct_raw())
}

/// Decodes the packet's connection (`NFULA_CT`) into the conntrack entry `out` (from
/// `nfq_rs_ct_entry_new`), reusing its memory; read it with the `nfq_rs_ct_*` accessors.
/// Returns 1 if the packet had one, 0 if not, or a negative code (malformed: `NFQ_RS_E_PROTO`).
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or a live entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_ct_entry(pkt: *const nfq_rs_log_packet, out: *mut nfq_rs_ct_entry) -> c_int {
    lpkt("nfq_rs_log_packet_ct_entry", pkt, NFQ_RS_E_INVAL, |p| {
        // SAFETY: per the contract; the magic check refuses other kinds of handles.
        let Some(o) = (unsafe { entry_mut(out) }) else {
            return invalid("nfq_rs_log_packet_ct_entry: out is NULL or not a conntrack entry");
        };
        match p.ct_raw() {
            None => 0,
            Some(bytes) => match o.c.decode(p.family(), bytes) {
                Ok(()) => 1,
                Err(e) => fail(&Error::parse(e, "nfq_rs_log_packet_ct_entry: malformed NFULA_CT")),
            },
        }
    })
}

/// Conntrack info (`enum ip_conntrack_info`, flag `NFQ_RS_LOG_F_CONNTRACK`): 1 if present.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_ct_info(pkt: *const nfq_rs_log_packet, out: *mut u32) -> c_int {
    lopt("nfq_rs_log_packet_ct_info", pkt, out, |p| p.ct_info())
}

/// VLAN tag (bridge and netdev families): 1 with protocol and TCI if present, 0 if absent.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `proto`/`tci` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_vlan(
    pkt: *const nfq_rs_log_packet,
    proto: *mut u16,
    tci: *mut u16,
) -> c_int {
    lpkt("nfq_rs_log_packet_vlan", pkt, NFQ_RS_E_INVAL, |p| match p.vlan() {
        Some(v) => {
            // SAFETY: proto is NULL or writable per the export's contract.
            unsafe { put(proto, v.proto) };
            // SAFETY: tci is NULL or writable per the export's contract.
            unsafe { put(tci, v.tci) };
            1
        }
        None => 0,
    })
}

/// The whole layer-2 header (bridge and netdev families): 1 with pointer and length, else 0.
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `data`/`len` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_l2hdr(
    pkt: *const nfq_rs_log_packet,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    lbytes("nfq_rs_log_packet_l2hdr", pkt, data, len, |p| p.l2hdr())
}

/// `nfq_rs_log_packet_info.present` bit: `mark` is set. (The bits are `1 << NFULA_*` of the
/// attribute each field comes from.)
pub const NFQ_RS_LOG_INFO_MARK: u32 = 1 << 2;
/// `present` bit: `indev`.
pub const NFQ_RS_LOG_INFO_INDEV: u32 = 1 << 4;
/// `present` bit: `outdev`.
pub const NFQ_RS_LOG_INFO_OUTDEV: u32 = 1 << 5;
/// `present` bit: `physindev`.
pub const NFQ_RS_LOG_INFO_PHYSINDEV: u32 = 1 << 6;
/// `present` bit: `physoutdev`.
pub const NFQ_RS_LOG_INFO_PHYSOUTDEV: u32 = 1 << 7;
/// `present` bit: `payload`.
pub const NFQ_RS_LOG_INFO_PAYLOAD: u32 = 1 << 9;
/// `present` bit: `prefix` (a rule without a prefix sends an empty one).
pub const NFQ_RS_LOG_INFO_PREFIX: u32 = 1 << 10;
/// `present` bit: `uid`.
pub const NFQ_RS_LOG_INFO_UID: u32 = 1 << 11;
/// `present` bit: `seq`.
pub const NFQ_RS_LOG_INFO_SEQ: u32 = 1 << 12;
/// `present` bit: `seq_global`.
pub const NFQ_RS_LOG_INFO_SEQ_GLOBAL: u32 = 1 << 13;
/// `present` bit: `gid`.
pub const NFQ_RS_LOG_INFO_GID: u32 = 1 << 14;
/// `present` bit: `timestamp_sec` and `timestamp_usec`.
pub const NFQ_RS_LOG_INFO_TIMESTAMP: u32 = 1 << 3;

// The record's present bits are exactly the NFQ_RS_LOG_INFO_* bits.
const _: () = assert!(
    super::log_record::INFO_BITS
        == NFQ_RS_LOG_INFO_MARK
            | NFQ_RS_LOG_INFO_INDEV
            | NFQ_RS_LOG_INFO_OUTDEV
            | NFQ_RS_LOG_INFO_PHYSINDEV
            | NFQ_RS_LOG_INFO_PHYSOUTDEV
            | NFQ_RS_LOG_INFO_PAYLOAD
            | NFQ_RS_LOG_INFO_PREFIX
            | NFQ_RS_LOG_INFO_UID
            | NFQ_RS_LOG_INFO_SEQ
            | NFQ_RS_LOG_INFO_SEQ_GLOBAL
            | NFQ_RS_LOG_INFO_GID
            | NFQ_RS_LOG_INFO_TIMESTAMP
);

/// Callback for a whole receive batch of log messages (`nfq_rs_log_set_batch_callback`): `n`
/// records, in the order the kernel sent the messages.
pub type nfq_rs_log_batch_callback =
    Option<unsafe extern "C" fn(infos: *const nfq_rs_log_packet_info, n: usize, user: *mut c_void)>;

/// Fills `*info` with the common fields of the message in one call (cheaper than one call per
/// field). `size` is `sizeof(nfq_rs_log_packet_info)` as the caller knows it: at most that many
/// bytes are written. Returns the number of bytes written, or `NFQ_RS_E_INVAL` (NULL packet or
/// `info`).
///
/// # Safety
/// `pkt` is NULL or the packet of a running log callback; `info` is NULL or writable for
/// `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nfq_rs_log_packet_get_info(
    pkt: *const nfq_rs_log_packet,
    info: *mut nfq_rs_log_packet_info,
    size: usize,
) -> c_int {
    lpkt("nfq_rs_log_packet_get_info", pkt, NFQ_RS_E_INVAL, |p| {
        if info.is_null() {
            set_thread_error("nfq_rs_log_packet_get_info: info is NULL");
            return NFQ_RS_E_INVAL;
        }
        let rec = nfq_rs_log_packet_info::of(p);
        let n = size.min(std::mem::size_of::<nfq_rs_log_packet_info>());
        // SAFETY: rec is a live record of at least n bytes; info is writable for size >= n
        // bytes per the contract; they do not overlap (rec is on our stack).
        unsafe { std::ptr::copy_nonoverlapping(&rec as *const _ as *const u8, info as *mut u8, n) };
        n as c_int
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn c_constants_match_the_nflog_core() {
        assert_eq!(NFQ_RS_LOG_F_SEQ, flags::SEQ);
        assert_eq!(NFQ_RS_LOG_F_SEQ_GLOBAL, flags::SEQ_GLOBAL);
        assert_eq!(NFQ_RS_LOG_F_CONNTRACK, flags::CONNTRACK);
        assert_eq!(NFQ_RS_LOG_MAX_COPY_RANGE, MAX_COPY_RANGE);
        assert_eq!(NFQ_RS_LOG_MAX_NLBUFSIZ, MAX_NLBUFSIZ);
        assert_eq!(log_copy_mode("t", 0), Ok(copy::NONE));
        assert_eq!(log_copy_mode("t", 1), Ok(copy::META));
        assert_eq!(log_copy_mode("t", 2), Ok(copy::PACKET));
        assert!(log_copy_mode("t", 3).is_err());
    }

    #[test]
    fn packet_accessors_read_a_parsed_message() {
        // NFULNL_MSG_PACKET: group 7, OUTPUT, prefix "ab", mark 5, payload 4 bytes.
        let mut m = vec![0u8; 16];
        m.extend_from_slice(&[2, 0, 0, 7]);
        m.extend_from_slice(&[8, 0, 1, 0, 0x08, 0x00, 3, 0]);
        m.extend_from_slice(&[7, 0, 10, 0, b'a', b'b', 0, 0]);
        m.extend_from_slice(&[8, 0, 2, 0, 0, 0, 0, 5]);
        m.extend_from_slice(&[8, 0, 9, 0, 1, 2, 3, 4]);
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&0x0400u16.to_ne_bytes());
        let msg = crate::netlink::Messages::new(&m).next().unwrap().unwrap();
        let p = LogPacket::parse(&msg).unwrap();
        let raw = log_packet_raw(&p);
        // SAFETY: raw points at p, alive for the whole block; out pointers are locals.
        unsafe {
            assert_eq!(nfq_rs_log_packet_group(raw), 7);
            assert_eq!(nfq_rs_log_packet_hook(raw), 3);
            assert_eq!(nfq_rs_log_packet_hw_protocol(raw), 0x0800);
            let (mut s, mut n) = (std::ptr::null(), 0usize);
            assert_eq!(nfq_rs_log_packet_prefix(raw, &mut s, &mut n), 1);
            assert_eq!(CStr::from_ptr(s).to_bytes(), b"ab");
            assert_eq!(n, 2);
            let mut v = 0u32;
            assert_eq!(nfq_rs_log_packet_mark(raw, &mut v), 1);
            assert_eq!(v, 5);
            assert_eq!(nfq_rs_log_packet_uid(raw, &mut v), 0);
            let (mut d, mut dl) = (std::ptr::null(), 0usize);
            assert_eq!(nfq_rs_log_packet_payload(raw, &mut d, &mut dl), 1);
            assert_eq!(std::slice::from_raw_parts(d, dl), &[1, 2, 3, 4]);
            assert_eq!(nfq_rs_log_packet_timestamp(raw, std::ptr::null_mut(), std::ptr::null_mut()), 0);
            // The one-call record says the same.
            let mut info = std::mem::MaybeUninit::<nfq_rs_log_packet_info>::zeroed();
            let full = std::mem::size_of::<nfq_rs_log_packet_info>();
            assert_eq!(nfq_rs_log_packet_get_info(raw, info.as_mut_ptr(), full), full as c_int);
            let i = info.assume_init();
            assert_eq!(i.present, NFQ_RS_LOG_INFO_MARK | NFQ_RS_LOG_INFO_PREFIX | NFQ_RS_LOG_INFO_PAYLOAD);
            assert_eq!((i.group, i.hook, i.hw_protocol, i.family, i.mark, i.uid), (7, 3, 0x0800, 2, 5, 0));
            assert_eq!((CStr::from_ptr(i.prefix).to_bytes(), i.prefix_len), (&b"ab"[..], 2));
            assert_eq!(std::slice::from_raw_parts(i.payload, i.payload_len), &[1, 2, 3, 4]);
            // An older, shorter record gets only its own bytes.
            let mut short = [0xeeu8; 8];
            assert_eq!(nfq_rs_log_packet_get_info(raw, short.as_mut_ptr() as *mut nfq_rs_log_packet_info, 8), 8);
            assert_eq!(u32::from_ne_bytes(short[4..8].try_into().unwrap()), 5, "mark, the second field");
            assert_eq!(nfq_rs_log_packet_get_info(raw, std::ptr::null_mut(), full), NFQ_RS_E_INVAL);
            assert_eq!(nfq_rs_log_packet_get_info(std::ptr::null(), info.as_mut_ptr(), full), NFQ_RS_E_INVAL);
        }
    }

    #[test]
    fn a_prefix_without_its_nul_is_refused() {
        let mut m = vec![0u8; 16];
        m.extend_from_slice(&[2, 0, 0, 7]);
        m.extend_from_slice(&[8, 0, 1, 0, 0x08, 0x00, 3, 0]);
        m.extend_from_slice(&[6, 0, 10, 0, b'a', b'b', 0, 0]);
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&0x0400u16.to_ne_bytes());
        let msg = crate::netlink::Messages::new(&m).next().unwrap().unwrap();
        let p = LogPacket::parse(&msg).unwrap();
        let mut s = std::ptr::null();
        // SAFETY: the packet pointer points at p; s is a local.
        let rc = unsafe { nfq_rs_log_packet_prefix(log_packet_raw(&p), &mut s, std::ptr::null_mut()) };
        assert_eq!(rc, NFQ_RS_E_PROTO);
        assert!(s.is_null());
    }

    /// An attribute: length, type, data, padding to 4.
    fn nla(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(data);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    #[test]
    fn the_conntrack_nest_decodes_into_a_ct_entry() {
        // NFULA_CT { CTA_TUPLE_ORIG { CTA_TUPLE_IP { V4_SRC, V4_DST }, CTA_TUPLE_PROTO { NUM 17 } },
        //            CTA_MARK 0x2a }, NFULA_CT_INFO 2 (new), as the kernel nests them.
        let ip = [nla(1, &[127, 0, 0, 1]), nla(2, &[127, 0, 0, 2])].concat();
        let tuple = [nla(1 | 0x8000, &ip), nla(2 | 0x8000, &nla(1, &[17]))].concat();
        let ct = [nla(1 | 0x8000, &tuple), nla(8, &0x2au32.to_be_bytes())].concat();
        let mut m = vec![0u8; 16];
        m.extend_from_slice(&[2, 0, 0, 7]);
        m.extend(nla(1, &[0x08, 0x00, 3, 0]));
        m.extend(nla(18 | 0x8000, &ct));
        m.extend(nla(19, &2u32.to_be_bytes()));
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&0x0400u16.to_ne_bytes());
        let msg = crate::netlink::Messages::new(&m).next().unwrap().unwrap();
        let p = LogPacket::parse(&msg).unwrap();
        let raw = log_packet_raw(&p);
        let entry = nfq_rs_ct_entry_new();
        // SAFETY: raw points at p and entry is live for the whole block; outs are locals.
        unsafe {
            let (mut d, mut n) = (std::ptr::null(), 0usize);
            assert_eq!(nfq_rs_log_packet_ct(raw, &mut d, &mut n), 1);
            assert_eq!(n, ct.len());
            assert_eq!(nfq_rs_log_packet_ct_entry(raw, entry), 1);
            assert_eq!(nfq_rs_ct_family(entry), 2);
            let (mut mark, mut proto, mut info) = (0u32, 0u8, 0u32);
            assert_eq!(nfq_rs_ct_mark(entry, &mut mark), 1);
            assert_eq!(mark, 0x2a);
            assert_eq!(nfq_rs_ct_l4proto(entry, &mut proto), 1);
            assert_eq!(proto, 17);
            assert_eq!(nfq_rs_log_packet_ct_info(raw, &mut info), 1);
            assert_eq!(info, 2);
            assert!(nfq_rs_log_packet_ct_entry(raw, std::ptr::null_mut()) < 0);
            nfq_rs_ct_entry_free(entry);
        }
    }
}
