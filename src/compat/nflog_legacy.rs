//! libnetfilter_log's handle API (`nflog_open`, `nflog_bind_group`, `nflog_set_*`,
//! `nflog_handle_packet`, `nflog_get_*`, `nflog_snprintf_xml`) as thin exports over the
//! nfnetlink core and `crate::nflog`: the socket, the request/ACK wait, the attribute iterator
//! and the config encoder are shared with everything else. What is specific here is
//! libnetfilter_log 1.0.x's calling convention: return values and errno, byte orders, and the
//! memory that programs read directly (`struct nflog_data`, whose only member is the
//! `struct nfattr *` table indexed by `type - 1`, and the libnfnetlink `struct nfnl_handle`
//! behind `nflog_nfnlh`).
//!
//! How `nflog_handle_packet` walks a datagram (libnfnetlink's rules, which programs see in the
//! return value): every message in turn; the walk stops with -1 at a message whose length is
//! below 16 or beyond the data, a message shorter than header + nfgenmsg, a message that is not
//! of the log subsystem or is of a type above `NFULNL_MSG_CONFIG` (so the `NLMSG_DONE` that
//! ends every multi-message datagram gives -1 after all its log messages were delivered), a
//! group without a handle or callback, or a callback that returned < 0. A config-type message
//! is skipped. Otherwise 0.

use std::ffi::{c_char, c_int, c_void};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::legacy::{NfnlHandle, adopt_nfnl, nfattr, open_socket_and_nfnl, release_foreign_nfnl};
use super::{boundary, set_errno};
use crate::netlink::{
    Attrs, Event, Msg, NFGENMSG_LEN, NLMSG_HDRLEN, Socket, align4, attr_header_at, nfnl_msg_type, transact,
};
use crate::nflog::{ConfigOp, NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG, NFULNL_MSG_PACKET, attr, cfg, encode_config};

/// The attribute types libnetfilter_log 1.0.x was compiled with (`NFULA_MAX` = `NFULA_CT_INFO`):
/// `struct nflog_data` has one slot per type 1..=19; `NFULA_VLAN` and `NFULA_L2HDR` are skipped.
pub(super) const LEGACY_NFULA_MAX: usize = 19;

/// How long a config call waits for the kernel's ACK (upstream blocks forever).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Receive buffer for config calls: room for any log datagram that arrives meanwhile.
const CTL_BUF: usize = 256 * 1024;

/// `CTA_ID` inside the `NFULA_CT` nest.
const CTA_ID: u16 = 12;

/// The data symbol `nflog_errno` (upstream sets it only when registering its packet callback
/// with libnfnetlink fails, which cannot happen here; exported for programs that read it).
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static mut nflog_errno: c_int = 0;

/// The callback type of `nflog_callback_register`.
#[allow(non_camel_case_types)]
pub type nflog_callback = unsafe extern "C" fn(
    gh: *mut nflog_g_handle,
    nfmsg: *mut c_void,
    nfad: *mut nflog_data,
    data: *mut c_void,
) -> c_int;

/// `struct nflog_handle` (opaque to programs).
#[allow(non_camel_case_types)]
pub struct nflog_handle {
    nfnlh: *mut NfnlHandle,
    /// The nfnl handle and its socket are ours (nflog_open) rather than the caller's.
    own: bool,
    sock: ManuallyDrop<Socket>,
    seq: AtomicU32,
    groups: Mutex<Vec<*mut nflog_g_handle>>,
    /// Bumped on every change of `groups`: `nflog_handle_packet` keeps the last group it found
    /// while this stays the same, instead of a locked list walk per message.
    groups_gen: AtomicU32,
    ctl: Mutex<Vec<u8>>,
}

/// `struct nflog_g_handle` (opaque to programs).
#[allow(non_camel_case_types)]
pub struct nflog_g_handle {
    h: *mut nflog_handle,
    id: u16,
    cb: Option<nflog_callback>,
    data: *mut c_void,
}

/// `struct nflog_data`: programs read `nfa[type - 1]` (a `struct nfattr *` into the message).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct nflog_data {
    pub(super) nfa: *mut *mut nfattr,
}

// ---------------------------------------------------------------------------------------
// Handles

fn new_handle(nfnlh: *mut NfnlHandle, own: bool, sock: ManuallyDrop<Socket>) -> *mut nflog_handle {
    Box::into_raw(Box::new(nflog_handle {
        nfnlh,
        own,
        sock,
        seq: AtomicU32::new(1),
        groups: Mutex::new(Vec::new()),
        groups_gen: AtomicU32::new(0),
        ctl: Mutex::new(Vec::new()),
    }))
}

/// Opens a netlink socket and returns a handle; NULL with errno on failure. Sends nothing.
#[unsafe(no_mangle)]
pub extern "C" fn nflog_open() -> *mut nflog_handle {
    boundary(ptr::null_mut(), || match open_socket_and_nfnl() {
        Ok((sock, nfnlh)) => new_handle(nfnlh, true, ManuallyDrop::new(sock)),
        Err(errno) => {
            set_errno(errno);
            ptr::null_mut()
        }
    })
}

/// Adopts a handle made by libnfnetlink's `nfnl_open()` (only its `fd` and `subsys` table are
/// used). NULL with errno EBUSY if the log subsystem is already open on it.
///
/// # Safety
/// `nfnlh` is NULL or a live `struct nfnl_handle`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_open_nfnl(nfnlh: *mut c_void) -> *mut nflog_handle {
    boundary(ptr::null_mut(), || {
        let nfnlh = nfnlh as *mut NfnlHandle;
        // SAFETY: nfnlh is NULL or a live nfnl_handle per the contract.
        match unsafe { adopt_nfnl(nfnlh, NFNL_SUBSYS_ULOG) } {
            Ok(sock) => new_handle(nfnlh, false, sock),
            Err(errno) => {
                set_errno(errno);
                ptr::null_mut()
            }
        }
    })
}

/// Closes the socket (the kernel then unbinds its groups) and frees the handle and its group
/// handles. For a handle from `nflog_open_nfnl`, the nfnl handle is released with
/// libnfnetlink's `nfnl_close` when the process has it. Returns 0, or -1 if closing the socket
/// failed (the handle is freed all the same, as upstream does).
///
/// # Safety
/// `h` is NULL or a live handle, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_close(h: *mut nflog_handle) -> c_int {
    boundary(-1, || {
        if h.is_null() {
            set_errno(libc::EINVAL);
            return -1;
        }
        // SAFETY: h came from Box::into_raw in new_handle and is not used afterwards.
        let mut hb = unsafe { Box::from_raw(h) };
        let ret = if hb.own {
            // SAFETY: the socket is ours; dropping it closes the descriptor once.
            unsafe { ManuallyDrop::drop(&mut hb.sock) };
            // SAFETY: nfnlh came from calloc in new_nfnl_handle.
            unsafe { libc::free(hb.nfnlh as *mut c_void) };
            0
        } else {
            // SAFETY: nfnlh is the caller's live nfnl_handle.
            unsafe { (*hb.nfnlh).subsys[NFNL_SUBSYS_ULOG as usize] = std::mem::zeroed() };
            release_foreign_nfnl(hb.nfnlh)
        };
        for gh in hb.groups.lock().map(|g| g.clone()).unwrap_or_default() {
            // SAFETY: every entry came from Box::into_raw in nflog_bind_group.
            drop(unsafe { Box::from_raw(gh) });
        }
        ret
    })
}

/// The `struct nfnl_handle *` of the handle (fd at offset 0, local address at offset 4).
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_nfnlh(h: *mut nflog_handle) -> *mut c_void {
    // SAFETY: h is NULL or live per the contract.
    boundary(ptr::null_mut(), || unsafe { h.as_ref() }.map_or(ptr::null_mut(), |h| h.nfnlh as *mut c_void))
}

/// The socket descriptor, to `recv()` from and hand to `nflog_handle_packet`.
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_fd(h: *mut nflog_handle) -> c_int {
    with_h(h, |h| h.sock.fd())
}

// ---------------------------------------------------------------------------------------
// Config requests

impl nflog_handle {
    /// Sends a config request and waits for its ACK; log messages arriving meanwhile go to
    /// their group's callback. 0, or -1 with errno.
    fn config(&self, family: u8, group: u16, op: ConfigOp) -> c_int {
        let seq = loop {
            let s = self.seq.fetch_add(1, Ordering::Relaxed);
            if s != 0 {
                break s;
            }
        };
        let mut req = Vec::with_capacity(64);
        encode_config(&mut req, seq, family, group, op, true);
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
                if m.msg_type() == nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET) {
                    let _ = self.deliver(&m, &mut None);
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

    fn find_group(&self, id: u16) -> Option<*mut nflog_g_handle> {
        let list = self.groups.lock().ok()?;
        // SAFETY: every entry is a live group handle owned by this handle.
        list.iter().copied().find(|&g| unsafe { (*g).id } == id)
    }

    /// [`find_group`](Self::find_group) through `cache`, the last group found (id, generation
    /// of the list, handle): valid while no group was bound or unbound since, which a callback
    /// may do.
    #[inline]
    fn find_group_cached(
        &self,
        id: u16,
        cache: &mut Option<(u16, u32, *mut nflog_g_handle)>,
    ) -> Option<*mut nflog_g_handle> {
        let gen_now = self.groups_gen.load(Ordering::Acquire);
        match *cache {
            Some((cid, cgen, gh)) if cid == id && cgen == gen_now => Some(gh),
            _ => {
                let gh = self.find_group(id)?;
                *cache = Some((id, gen_now, gh));
                Some(gh)
            }
        }
    }

    /// Handles one message as libnfnetlink does (see the module comment): < 0 stops the walk.
    #[inline]
    fn deliver(&self, m: &Msg<'_>, cache: &mut Option<(u16, u32, *mut nflog_g_handle)>) -> c_int {
        let ty = m.msg_type();
        if (ty >> 8) as u8 != NFNL_SUBSYS_ULOG || m.len() < NLMSG_HDRLEN + NFGENMSG_LEN {
            return -1;
        }
        match (ty & 0xff) as u8 {
            NFULNL_MSG_PACKET => {}
            NFULNL_MSG_CONFIG => return 0,
            _ => return -1,
        }
        let payload = m.payload();
        let group = u16::from_be_bytes([payload[2], payload[3]]);
        let Some(gh) = self.find_group_cached(group, cache) else { return -1 };
        // SAFETY: gh is live (it is in the list, or was when the generation was read, and
        // only this thread's callbacks change the list).
        let (cb, data) = unsafe { ((*gh).cb, (*gh).data) };
        let Some(cb) = cb else { return -1 };
        let mut table = legacy_table(&payload[NFGENMSG_LEN..]);
        let mut nfad = nflog_data { nfa: table.as_mut_ptr() };
        // SAFETY: the user's callback; the pointers point into the caller's buffer and our
        // stack, valid for the duration of the call. No lock is held.
        let r = unsafe { cb(gh, payload.as_ptr() as *mut c_void, &mut nfad, data) };
        if r < 0 { -1 } else { 0 }
    }
}

/// The `struct nfattr *` table of a message's attributes, libnfnetlink's way: slot `type - 1`
/// for types 1..=19 (the nested flag masked off, the last one of a type wins), other types and
/// everything after a malformed attribute header skipped.
#[inline(always)]
fn legacy_table(attrs: &[u8]) -> [*mut nfattr; LEGACY_NFULA_MAX] {
    let mut table = [ptr::null_mut(); LEGACY_NFULA_MAX];
    let end = attrs.len();
    let mut pos = 0usize;
    while let Some((len, raw_type)) = attr_header_at(attrs, pos) {
        let t = (raw_type & 0x7fff) as usize;
        if len < 4 || len > end - pos {
            break;
        }
        if t.wrapping_sub(1) < LEGACY_NFULA_MAX {
            table[t - 1] = attrs[pos..].as_ptr() as *mut nfattr;
        }
        pos += align4(len);
    }
    table
}

fn with_h(h: *mut nflog_handle, f: impl FnOnce(&nflog_handle) -> c_int) -> c_int {
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

fn with_gh(gh: *mut nflog_g_handle, f: impl FnOnce(&nflog_g_handle, &nflog_handle) -> c_int) -> c_int {
    boundary(-1, || {
        // SAFETY: the exports' contract: gh is NULL or a live group handle whose h is live.
        match unsafe { gh.as_ref() }.and_then(|g| unsafe { g.h.as_ref() }.map(|h| (g, h))) {
            Some((g, h)) => f(g, h),
            None => {
                set_errno(libc::EINVAL);
                -1
            }
        }
    })
}

/// Obsolete since Linux 3.8 (the kernel ignores it) but still needs CAP_NET_ADMIN: 0 or -1.
/// Like upstream, only the low 8 bits of `pf` are sent.
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_bind_pf(h: *mut nflog_handle, pf: u16) -> c_int {
    with_h(h, |h| h.config(pf as u8, 0, ConfigOp::Cmd(cfg::CMD_PF_BIND)))
}

/// Obsolete since Linux 3.8; see `nflog_bind_pf`.
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_unbind_pf(h: *mut nflog_handle, pf: u16) -> c_int {
    with_h(h, |h| h.config(pf as u8, 0, ConfigOp::Cmd(cfg::CMD_PF_UNBIND)))
}

/// Binds group `num`. NULL with errno EBUSY if this handle has it already, or with the
/// kernel's errno (EPERM: another socket has it, or no CAP_NET_ADMIN).
///
/// # Safety
/// `h` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_bind_group(h: *mut nflog_handle, num: u16) -> *mut nflog_g_handle {
    boundary(ptr::null_mut(), || {
        // SAFETY: h is NULL or live per the contract.
        let Some(hr) = (unsafe { h.as_ref() }) else {
            set_errno(libc::EINVAL);
            return ptr::null_mut();
        };
        if hr.find_group(num).is_some() {
            set_errno(libc::EBUSY);
            return ptr::null_mut();
        }
        if hr.config(0, num, ConfigOp::Cmd(cfg::CMD_BIND)) < 0 {
            return ptr::null_mut();
        }
        let gh = Box::into_raw(Box::new(nflog_g_handle { h, id: num, cb: None, data: ptr::null_mut() }));
        if let Ok(mut l) = hr.groups.lock() {
            l.insert(0, gh);
            hr.groups_gen.fetch_add(1, Ordering::Release);
        }
        gh
    })
}

/// Unbinds the group and frees its handle: 0, or -1 with errno (the handle is kept).
///
/// # Safety
/// `gh` is NULL or a live group handle, not used after success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_unbind_group(gh: *mut nflog_g_handle) -> c_int {
    with_gh(gh, |g, h| {
        let r = h.config(0, g.id, ConfigOp::Cmd(cfg::CMD_UNBIND));
        if r == 0 {
            if let Ok(mut l) = h.groups.lock() {
                l.retain(|&p| p != gh);
                h.groups_gen.fetch_add(1, Ordering::Release);
            }
            // SAFETY: gh came from Box::into_raw in nflog_bind_group and is now unlinked.
            drop(unsafe { Box::from_raw(gh) });
        }
        r
    })
}

/// Copy mode (`NFULNL_COPY_NONE/META/PACKET`) and range: 0 or -1 with errno.
///
/// # Safety
/// `gh` is NULL or a live group handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_set_mode(gh: *mut nflog_g_handle, mode: u8, range: u32) -> c_int {
    with_gh(gh, |g, h| h.config(0, g.id, ConfigOp::Mode { mode, range }))
}

/// Flush timeout in hundredths of a second: 0 or -1 with errno.
///
/// # Safety
/// `gh` is NULL or a live group handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_set_timeout(gh: *mut nflog_g_handle, timeout: u32) -> c_int {
    with_gh(gh, |g, h| h.config(0, g.id, ConfigOp::Timeout(timeout)))
}

/// Messages per datagram before the kernel flushes: 0 or -1 with errno.
///
/// # Safety
/// `gh` is NULL or a live group handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_set_qthresh(gh: *mut nflog_g_handle, qthresh: u32) -> c_int {
    with_gh(gh, |g, h| h.config(0, g.id, ConfigOp::QThresh(qthresh)))
}

/// The group's kernel buffer size: 0 or -1 with errno. On success the socket's receive buffer
/// is set to ten times that, as upstream does.
///
/// # Safety
/// `gh` is NULL or a live group handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_set_nlbufsiz(gh: *mut nflog_g_handle, nlbufsiz: u32) -> c_int {
    with_gh(gh, |g, h| {
        let r = h.config(0, g.id, ConfigOp::NlBufSiz(nlbufsiz));
        if r >= 0 {
            let _ = h.sock.set_rcvbuf(nlbufsiz.wrapping_mul(10) as usize);
        }
        r
    })
}

/// Group flags (`NFULNL_CFG_F_*`), all of them: 0 or -1 with errno (EOPNOTSUPP for
/// `NFULNL_CFG_F_CONNTRACK` on kernels without conntrack glue).
///
/// # Safety
/// `gh` is NULL or a live group handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_set_flags(gh: *mut nflog_g_handle, flags: u16) -> c_int {
    with_gh(gh, |g, h| h.config(0, g.id, ConfigOp::Flags(flags)))
}

/// Sets the group's callback and its `data` argument: 0 (-1/EINVAL for a NULL handle).
///
/// # Safety
/// `gh` is NULL or a live group handle; `cb` is NULL or a valid function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_callback_register(
    gh: *mut nflog_g_handle,
    cb: Option<nflog_callback>,
    data: *mut c_void,
) -> c_int {
    boundary(-1, || {
        // SAFETY: gh is NULL or live per the contract; only this thread touches it here.
        match unsafe { gh.as_mut() } {
            Some(g) => {
                g.cb = cb;
                g.data = data;
                0
            }
            None => {
                set_errno(libc::EINVAL);
                -1
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Receiving

/// Handles the netlink messages in `buf` (as received from `nflog_fd`), calling each group's
/// callback; see the module comment for when it stops with -1. A datagram with several log
/// messages ends with `NLMSG_DONE`, so it gives -1 after all of them were delivered, as
/// upstream. A `len` from 0 to 15 gives 0, a negative one -1. errno is not set.
///
/// # Safety
/// `h` is NULL or a live handle; `buf` is readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_handle_packet(h: *mut nflog_handle, buf: *mut c_char, len: c_int) -> c_int {
    with_h(h, |h| {
        if len < 0 {
            return -1;
        }
        if len < NLMSG_HDRLEN as c_int {
            return 0;
        }
        if buf.is_null() {
            set_errno(libc::EINVAL);
            return -1;
        }
        // SAFETY: buf is readable for len bytes per the contract.
        let bytes = unsafe { std::slice::from_raw_parts(buf as *const u8, len as usize) };
        let mut rest = bytes;
        let mut cache = None;
        while rest.len() >= NLMSG_HDRLEN {
            let Ok((m, next)) = Msg::split(rest) else { return -1 };
            if h.deliver(&m, &mut cache) < 0 {
                return -1;
            }
            rest = next;
        }
        0
    })
}

// ---------------------------------------------------------------------------------------
// Getters on struct nflog_data

/// The payload of attribute `ty` if present and at least `min` bytes long.
///
/// # Safety
/// `nfad` is NULL or a live `struct nflog_data` whose slots are NULL or point at attributes
/// inside a live message.
pub(super) unsafe fn attr_data<'a>(nfad: *const nflog_data, ty: u16, min: usize) -> Option<&'a [u8]> {
    // SAFETY: per the contract.
    let d = unsafe { nfad.as_ref() }?;
    if d.nfa.is_null() || ty == 0 || ty as usize > LEGACY_NFULA_MAX {
        return None;
    }
    // SAFETY: nfa has LEGACY_NFULA_MAX slots; ty is in 1..=19.
    let a = unsafe { *d.nfa.add(ty as usize - 1) };
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

fn be16(d: &[u8]) -> u16 {
    u16::from_be_bytes([d[0], d[1]])
}

fn ptr_of(nfad: *mut nflog_data, ty: u16, min: usize) -> *mut c_void {
    boundary(ptr::null_mut(), || {
        // SAFETY: the getters' contract.
        unsafe { attr_data(nfad, ty, min) }.map_or(ptr::null_mut(), |d| d.as_ptr() as *mut c_void)
    })
}

/// Pointer to `struct nfulnl_msg_packet_hdr` in the message (big-endian `hw_protocol`), or NULL.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_msg_packet_hdr(nfad: *mut nflog_data) -> *mut c_void {
    ptr_of(nfad, attr::PACKET_HDR, 4)
}

/// Pointer to `struct nfulnl_msg_packet_hw` in the message (big-endian length), or NULL.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_packet_hw(nfad: *mut nflog_data) -> *mut c_void {
    ptr_of(nfad, attr::HWADDR, 12)
}

/// Pointer to the link-layer header in the message, or NULL.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_msg_packet_hwhdr(nfad: *mut nflog_data) -> *mut c_char {
    ptr_of(nfad, attr::HWHEADER, 0) as *mut c_char
}

/// The log prefix (NUL-terminated by the kernel) in the message, or NULL.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_prefix(nfad: *mut nflog_data) -> *mut c_char {
    ptr_of(nfad, attr::PREFIX, 0) as *mut c_char
}

macro_rules! u32_getter {
    ($(#[$doc:meta])* $name:ident, $ty:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `nfad` is NULL or the `struct nflog_data` of a running callback.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(nfad: *mut nflog_data) -> u32 {
            // SAFETY: per the contract.
            boundary(0, || unsafe { attr_data(nfad, $ty, 4) }.map_or(0, be32))
        }
    };
}

u32_getter!(
    /// Packet mark in host order; 0 if absent.
    nflog_get_nfmark, attr::MARK);
u32_getter!(
    /// Input interface index; 0 if absent.
    nflog_get_indev, attr::IFINDEX_INDEV);
u32_getter!(
    /// Output interface index; 0 if absent.
    nflog_get_outdev, attr::IFINDEX_OUTDEV);
u32_getter!(
    /// Physical input interface index; 0 if absent.
    nflog_get_physindev, attr::IFINDEX_PHYSINDEV);
u32_getter!(
    /// Physical output interface index; 0 if absent.
    nflog_get_physoutdev, attr::IFINDEX_PHYSOUTDEV);

/// Hardware type of the input device (`ARPHRD_*`) in host order; 0 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_hwtype(nfad: *mut nflog_data) -> u16 {
    // SAFETY: per the contract.
    boundary(0, || unsafe { attr_data(nfad, attr::HWTYPE, 2) }.map_or(0, be16))
}

/// Length of the link-layer header in host order; 0 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_msg_packet_hwhdrlen(nfad: *mut nflog_data) -> u16 {
    // SAFETY: per the contract.
    boundary(0, || unsafe { attr_data(nfad, attr::HWLEN, 2) }.map_or(0, be16))
}

/// `struct timeval`-compatible timestamp: 0 and `*tv` set, or -1 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback; `tv` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_timestamp(nfad: *mut nflog_data, tv: *mut libc::timeval) -> c_int {
    boundary(-1, || {
        // SAFETY: per the contract.
        let Some(d) = (unsafe { attr_data(nfad, attr::TIMESTAMP, 16) }) else { return -1 };
        if tv.is_null() {
            set_errno(libc::EINVAL);
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

/// 0 and `*out` = the attribute as a host-order u32, or -1 if absent.
fn u32_out(nfad: *mut nflog_data, ty: u16, out: *mut u32) -> c_int {
    boundary(-1, || {
        // SAFETY: the exports' contract.
        let Some(d) = (unsafe { attr_data(nfad, ty, 4) }) else { return -1 };
        if out.is_null() {
            set_errno(libc::EINVAL);
            return -1;
        }
        // SAFETY: out is writable per the contract.
        unsafe { *out = be32(d) };
        0
    })
}

/// Socket owner uid: 0 and `*uid` set, or -1 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback; `uid` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_uid(nfad: *mut nflog_data, uid: *mut u32) -> c_int {
    u32_out(nfad, attr::UID, uid)
}

/// Socket owner gid: 0 and `*gid` set, or -1 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback; `gid` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_gid(nfad: *mut nflog_data, gid: *mut u32) -> c_int {
    u32_out(nfad, attr::GID, gid)
}

/// The group's sequence number (flag `NFULNL_CFG_F_SEQ`): 0 and `*seq` set, or -1 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback; `seq` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_seq(nfad: *mut nflog_data, seq: *mut u32) -> c_int {
    u32_out(nfad, attr::SEQ, seq)
}

/// The namespace-wide sequence number (flag `NFULNL_CFG_F_SEQ_GLOBAL`): 0 and `*seq` set, or
/// -1 if absent.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback; `seq` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_seq_global(nfad: *mut nflog_data, seq: *mut u32) -> c_int {
    u32_out(nfad, attr::SEQ_GLOBAL, seq)
}

/// The conntrack id (`CTA_ID`, exactly 4 bytes) from the first `CTA_ID` in the `NFULA_CT` nest.
/// A first `CTA_ID` of another size gives `None` and errno ERANGE (libmnl's validation).
fn ctid_of(nfad: *const nflog_data) -> Option<u32> {
    // SAFETY: the exports' contract.
    let ct = unsafe { attr_data(nfad, attr::CT, 0) }?;
    let a = Attrs::new(ct).map_while(Result::ok).find(|a| a.kind() == CTA_ID)?;
    if a.data().len() != 4 {
        set_errno(libc::ERANGE);
        return None;
    }
    Some(be32(a.data()))
}

/// The conntrack id of the packet (flag `NFULNL_CFG_F_CONNTRACK`): 0 and `*id` set, or -1 if
/// there is no conntrack or no 4-byte `CTA_ID` in it.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback; `id` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_ctid(nfad: *mut nflog_data, id: *mut u32) -> c_int {
    boundary(-1, || {
        let Some(v) = ctid_of(nfad) else { return -1 };
        if id.is_null() {
            set_errno(libc::EINVAL);
            return -1;
        }
        // SAFETY: id is writable per the contract.
        unsafe { *id = v };
        0
    })
}

/// The logged packet from its network header: its length and `*data` pointing into the
/// message; -1 and `*data` = NULL if the copy mode sent no payload.
///
/// # Safety
/// `nfad` is NULL or the `struct nflog_data` of a running callback; `data` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_get_payload(nfad: *mut nflog_data, data: *mut *mut c_char) -> c_int {
    boundary(-1, || {
        if data.is_null() {
            set_errno(libc::EINVAL);
            return -1;
        }
        // SAFETY: per the contract.
        let (p, n) = match unsafe { attr_data(nfad, attr::PAYLOAD, 0) } {
            Some(d) => (d.as_ptr() as *mut c_char, d.len() as c_int),
            None => (ptr::null_mut(), -1),
        };
        // SAFETY: data is writable per the contract.
        unsafe { *data = p };
        n
    })
}

// ---------------------------------------------------------------------------------------
// XML

const NFLOG_XML_PREFIX: u32 = 1;
const NFLOG_XML_HW: u32 = 1 << 1;
const NFLOG_XML_MARK: u32 = 1 << 2;
const NFLOG_XML_DEV: u32 = 1 << 3;
const NFLOG_XML_PHYSDEV: u32 = 1 << 4;
const NFLOG_XML_PAYLOAD: u32 = 1 << 5;
const NFLOG_XML_TIME: u32 = 1 << 6;
const NFLOG_XML_CTID: u32 = 1 << 7;

/// The log message as XML, with snprintf semantics: returns the full length, writes at most
/// `rem - 1` bytes and a NUL. `NFLOG_XML_TIME` prints the current local time (as upstream
/// does), not the packet's timestamp. -1 if the local time is not available.
pub(super) fn snprintf_xml(buf: *mut c_char, rem: usize, tb: *const nflog_data, flags: u32) -> c_int {
    let mut s: Vec<u8> = Vec::with_capacity(256);
    s.extend_from_slice(b"<log>");
    if flags & NFLOG_XML_TIME != 0 {
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
    if let Some(p) = get(attr::PREFIX, 0).filter(|_| flags & NFLOG_XML_PREFIX != 0) {
        // Up to the NUL, never past the attribute.
        s.extend_from_slice(b"<prefix>");
        s.extend_from_slice(&p[..memchr::memchr(0, p).unwrap_or(p.len())]);
        s.extend_from_slice(b"</prefix>");
    }
    if let Some(ph) = get(attr::PACKET_HDR, 4) {
        let _ = write!(s, "<hook>{}</hook>", ph[2]);
        if flags & NFLOG_XML_HW != 0 {
            let proto = be16(ph);
            match get(attr::HWADDR, 12) {
                Some(hw) => {
                    let n = (be16(hw) as usize).min(8);
                    let _ = write!(s, "<hw><proto>{proto:04x}</proto><src>");
                    for b in &hw[4..4 + n] {
                        let _ = write!(s, "{b:02x}");
                    }
                    s.extend_from_slice(b"</src></hw>");
                }
                None => {
                    let _ = write!(s, "<hw><proto>{proto:04x}</proto></hw>");
                }
            }
        }
    }
    let val = |ty| get(ty, 4).map_or(0, be32);
    for (ty, tag, flag) in [
        (attr::MARK, "mark", NFLOG_XML_MARK),
        (attr::IFINDEX_INDEV, "indev", NFLOG_XML_DEV),
        (attr::IFINDEX_OUTDEV, "outdev", NFLOG_XML_DEV),
        (attr::IFINDEX_PHYSINDEV, "physindev", NFLOG_XML_PHYSDEV),
        (attr::IFINDEX_PHYSOUTDEV, "physoutdev", NFLOG_XML_PHYSDEV),
    ] {
        let v = val(ty);
        if v != 0 && flags & flag != 0 {
            let _ = write!(s, "<{tag}>{v}</{tag}>");
        }
    }
    if flags & NFLOG_XML_CTID != 0 {
        if let Some(id) = ctid_of(tb) {
            let _ = write!(s, "<ctid>{id}</ctid>");
        }
    }
    if let Some(p) = get(attr::PAYLOAD, 0).filter(|_| flags & NFLOG_XML_PAYLOAD != 0) {
        s.extend_from_slice(b"<payload>");
        for b in p {
            let _ = write!(s, "{b:02x}");
        }
        s.extend_from_slice(b"</payload>");
    }
    s.extend_from_slice(b"</log>");
    if !buf.is_null() && rem > 0 {
        let n = s.len().min(rem - 1);
        // SAFETY: buf is writable for rem bytes (the exports' contract) and n + 1 <= rem.
        unsafe {
            ptr::copy_nonoverlapping(s.as_ptr(), buf as *mut u8, n);
            *buf.add(n) = 0;
        }
    }
    s.len().min(c_int::MAX as usize) as c_int
}

/// The log message as XML (`NFLOG_XML_*` flags), with snprintf semantics: returns the full
/// length and writes at most `rem - 1` bytes and a NUL. -1 if the local time is not available
/// (`NFLOG_XML_TIME`), or `buf` is NULL with `rem` > 0.
///
/// # Safety
/// `buf` is NULL (with `rem` 0) or writable for `rem` bytes; `tb` as for the getters.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nflog_snprintf_xml(buf: *mut c_char, rem: usize, tb: *mut nflog_data, flags: c_int) -> c_int {
    boundary(-1, || {
        if buf.is_null() && rem > 0 {
            set_errno(libc::EINVAL);
            return -1;
        }
        snprintf_xml(buf, rem, tb, flags as u32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr_bytes(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn legacy_table_keeps_types_1_to_19_masks_only_the_nested_bit_and_last_wins() {
        let mut b = attr_bytes(attr::MARK, &[0, 0, 0, 1]);
        b.extend(attr_bytes(attr::MARK, &[0, 0, 0, 2]));
        b.extend(attr_bytes(attr::CT | 0x8000, &[]));
        b.extend(attr_bytes(attr::PREFIX | 0x4000, b"x\0"));
        b.extend(attr_bytes(attr::VLAN, &[]));
        let t = legacy_table(&b);
        let mark = t[attr::MARK as usize - 1];
        assert_eq!(mark as usize - b.as_ptr() as usize, 8);
        assert!(!t[attr::CT as usize - 1].is_null());
        assert!(t[attr::PREFIX as usize - 1].is_null(), "0x4000 is not masked by libnfnetlink");
        assert_eq!(t.iter().filter(|p| !p.is_null()).count(), 2);
    }

    #[test]
    fn xml_prints_in_upstream_order_and_truncates_like_snprintf() {
        let mut b = attr_bytes(attr::PACKET_HDR, &[0x08, 0x00, 3, 0]);
        b.extend(attr_bytes(attr::PREFIX, b"pfx\0"));
        b.extend(attr_bytes(attr::MARK, &[0, 0, 0, 9]));
        b.extend(attr_bytes(attr::IFINDEX_OUTDEV, &[0, 0, 0, 1]));
        b.extend(attr_bytes(attr::PAYLOAD, &[0xab, 0x01]));
        let mut t = legacy_table(&b);
        let d = nflog_data { nfa: t.as_mut_ptr() };
        let want = "<log><prefix>pfx</prefix><hook>3</hook><hw><proto>0800</proto></hw><mark>9</mark>\
                    <outdev>1</outdev><payload>ab01</payload></log>";
        let mut out = [0x55u8; 200];
        let n = snprintf_xml(out.as_mut_ptr() as *mut c_char, out.len(), &d, !NFLOG_XML_TIME);
        assert_eq!(n as usize, want.len());
        assert_eq!(&out[..want.len()], want.as_bytes());
        assert_eq!(out[want.len()], 0);
        let n = snprintf_xml(out.as_mut_ptr() as *mut c_char, 8, &d, 0);
        assert_eq!(n, "<log><hook>3</hook></log>".len() as c_int);
        assert_eq!(&out[..8], b"<log><h\0");
    }
}
