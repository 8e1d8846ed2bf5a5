//! libnetfilter_queue's packet buffer (`pktb_*`, header `pktbuff.h`) over
//! [`crate::packet::PktBuf`].
//!
//! `struct pkt_buff` keeps upstream's layout and size (48 bytes on LP64) because
//! `pktb_setup_raw` callers allocate `pktb_head_size()` bytes themselves, and `pktb_alloc`
//! puts the header and the packet in one `calloc` block so that `pktb_free` is `free`. Each
//! call turns the struct into a `PktBuf` view over its buffer (pointers become offsets),
//! runs the safe core and writes back what changed.
//!
//! To know where the buffer starts after `pktb_push`/`pktb_pull` moved `data`, we keep that
//! distance in 4 bytes of what is tail padding upstream (`head`). With it no operation reads
//! or writes outside the buffer, even where upstream's bookkeeping would (see
//! docs/compat-differences.md).

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::mem::size_of;
use std::ptr::{self, addr_of, addr_of_mut};

use super::{boundary, set_errno};
use crate::packet::{Meta, PktBuf, PktError, Replacement, pktbuf::family_layout};

/// `struct pkt_buff`: upstream's fields in upstream's order, then our bookkeeping in the
/// padding.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct pkt_buff {
    pub(super) mac_header: *mut u8,
    pub(super) network_header: *mut u8,
    pub(super) transport_header: *mut u8,
    pub(super) data: *mut u8,
    pub(super) len: u32,
    pub(super) data_len: u32,
    pub(super) mangled: bool,
    _pad: [u8; 3],
    /// `data` minus the start of the buffer: 0, moved by push/pull; [`HEAD_UNKNOWN`] once it
    /// left the `i32` range (every buffer access then fails).
    head: i32,
}

/// `head` value meaning "the buffer start is no longer known".
const HEAD_UNKNOWN: i32 = i32::MIN;

// Upstream is 48 bytes on LP64 (4 pointers, 2 u32, a bool, padding).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<pkt_buff>() == 48);

/// A copy of the header of `p` and the start of its buffer (`None` if unknown).
///
/// # Safety
/// `p` is a live packet buffer.
unsafe fn load(p: *const pkt_buff) -> (pkt_buff, Option<*mut u8>) {
    // SAFETY: p is live; pkt_buff is plain old data.
    let h = unsafe { ptr::read(p) };
    let base = if h.head == HEAD_UNKNOWN || (h.data.is_null() && h.data_len > 0) {
        None
    } else {
        Some(h.data.wrapping_offset(-(h.head as isize)))
    };
    (h, base)
}

fn offset_of(base: *mut u8, q: *mut u8) -> Option<i64> {
    (!q.is_null()).then(|| (q as usize).wrapping_sub(base as usize) as isize as i64)
}

fn meta_of(h: &pkt_buff, base: *mut u8) -> Meta {
    Meta {
        data: i64::from(h.head),
        len: h.len,
        data_len: h.data_len,
        mac: offset_of(base, h.mac_header),
        network: offset_of(base, h.network_header),
        transport: offset_of(base, h.transport_header),
        mangled: h.mangled,
    }
}

/// Runs `f` on a read-only view of the packet buffer `p`; `None` if `p` is NULL or its buffer
/// start is unknown.
///
/// # Safety
/// `p` is NULL or a live packet buffer whose `data_len` bytes from the buffer start are
/// readable (the pktb contract).
pub(super) unsafe fn with_view<R>(p: *const pkt_buff, f: impl FnOnce(&PktBuf<&[u8]>) -> R) -> Option<R> {
    if p.is_null() {
        return None;
    }
    // SAFETY: p is live per the contract.
    let (h, base) = unsafe { load(p) };
    let base = base?;
    let storage: &[u8] = if h.data_len == 0 {
        &[]
    } else {
        // SAFETY: the buffer has data_len readable bytes from base (pktb_alloc allocated them;
        // pktb_setup_raw callers guarantee len + extra bytes).
        unsafe { std::slice::from_raw_parts(base, h.data_len as usize) }
    };
    Some(f(&PktBuf::with_meta(storage, meta_of(&h, base))))
}

/// A mangle's replacement bytes from a C pointer, without aliasing the buffer slice.
enum Rep {
    None,
    Outside(*const u8, usize),
    Inside(usize),
    Copied(Vec<u8>),
}

/// The body of every mangling export: runs `f` on the view with the replacement, inside the
/// panic boundary; 1 if it mangled, 0 otherwise (NULL or out-of-bounds arguments included).
///
/// # Safety
/// As for `with_view_mut`.
pub(super) unsafe fn mangle_export(
    p: *mut pkt_buff,
    rep: *const c_char,
    rlen: c_uint,
    f: impl FnOnce(&mut PktBuf<&mut [u8]>, Replacement<'_>) -> bool,
) -> c_int {
    // SAFETY: per the contract.
    boundary(0, || unsafe { with_view_mut(p, rep, rlen, f) }.unwrap_or(false) as c_int)
}

/// Runs `f` on a writable view of `p` and writes the changed positions back. `rep`/`rlen`
/// is the replacement of a mangle (classified against the buffer: bytes inside it are read
/// from the view after the tail moved, as upstream's memmove-then-memcpy). Returns `None` if
/// `p` is NULL, the buffer start is unknown, or `rep` is NULL with a nonzero `rlen`.
///
/// # Safety
/// `p` is NULL or a live packet buffer whose buffer is writable; `rep` is NULL or points at
/// `rlen` readable bytes.
pub(super) unsafe fn with_view_mut<R>(
    p: *mut pkt_buff,
    rep: *const c_char,
    rlen: c_uint,
    f: impl FnOnce(&mut PktBuf<&mut [u8]>, Replacement<'_>) -> R,
) -> Option<R> {
    if p.is_null() {
        return None;
    }
    // SAFETY: p is live per the contract.
    let (h, base) = unsafe { load(p) };
    let base = base?;
    let cap = h.data_len as usize;
    let rlen = rlen as usize;
    let rep = if rlen == 0 {
        Rep::None
    } else if rep.is_null() {
        return None;
    } else {
        let (r, b) = (rep as usize, base as usize);
        if r >= b && r.checked_add(rlen).is_some_and(|e| e <= b + cap) {
            Rep::Inside(r - b)
        } else if r.checked_add(rlen).is_some_and(|e| e <= b) || r >= b + cap {
            Rep::Outside(rep.cast(), rlen)
        } else {
            // Partly inside: take a copy now (upstream would read the moved bytes; this mix is
            // undefined behaviour for its memcpy anyway).
            // SAFETY: rep points at rlen readable bytes per the contract; no &mut exists yet.
            Rep::Copied(unsafe { std::slice::from_raw_parts(rep.cast::<u8>(), rlen) }.to_vec())
        }
    };
    let meta = meta_of(&h, base);
    let (r, new) = {
        let storage: &mut [u8] = if cap == 0 {
            &mut []
        } else {
            // SAFETY: the buffer has data_len writable bytes from base (pktb contract); no other
            // reference to it exists while this one lives (the header was copied out, and an
            // outside replacement does not overlap it).
            unsafe { std::slice::from_raw_parts_mut(base, cap) }
        };
        let replacement = match &rep {
            Rep::None => Replacement::Bytes(&[]),
            // SAFETY: rep points at rlen readable bytes outside the buffer.
            Rep::Outside(q, n) => Replacement::Bytes(unsafe { std::slice::from_raw_parts(*q, *n) }),
            Rep::Inside(off) => Replacement::Within { offset: *off, len: rlen },
            Rep::Copied(v) => Replacement::Bytes(v),
        };
        let mut pb = PktBuf::with_meta(storage, meta);
        let r = f(&mut pb, replacement);
        (r, pb.meta())
    };
    // SAFETY: p is live; the view is gone, so writing the header fields aliases nothing.
    unsafe {
        if new.len != meta.len {
            ptr::write(addr_of_mut!((*p).len), new.len);
        }
        if new.mangled != meta.mangled {
            ptr::write(addr_of_mut!((*p).mangled), new.mangled);
        }
        if new.transport != meta.transport {
            let t = new.transport.map_or(ptr::null_mut(), |off| base.wrapping_offset(off as isize));
            ptr::write(addr_of_mut!((*p).transport_header), t);
        }
    }
    Some(r)
}

/// The pointer at offset `off` of the buffer of `p` (for results computed on a view).
///
/// # Safety
/// `p` is a live packet buffer whose buffer start is known.
pub(super) unsafe fn ptr_at(p: *const pkt_buff, off: i64) -> *mut u8 {
    // SAFETY: per the contract.
    let (_, base) = unsafe { load(p) };
    base.map_or(ptr::null_mut(), |b| b.wrapping_offset(off as isize))
}

/// Reads one field of a live `pkt_buff`, or `default` for NULL.
fn field<T: Copy>(p: *const pkt_buff, default: T, get: impl FnOnce(*const pkt_buff) -> T) -> T {
    boundary(default, || if p.is_null() { default } else { get(p) })
}

/// Fills the header of a new packet buffer whose buffer is `data` (`len` bytes of packet then
/// `extra` of room); errno EPROTONOSUPPORT and false for a refused AF_BRIDGE frame.
///
/// # Safety
/// `p` is writable for `size_of::<pkt_buff>()` bytes; `data` is valid for `len + extra` bytes
/// (or NULL when that is 0).
unsafe fn init(p: *mut pkt_buff, family: c_int, data: *mut u8, len: u32, data_len: u32) -> bool {
    let storage: &[u8] = if data_len == 0 {
        &[]
    } else {
        // SAFETY: data is valid for data_len bytes per the contract.
        unsafe { std::slice::from_raw_parts(data, data_len as usize) }
    };
    let (mac, network) = match family_layout(family, storage) {
        Ok(l) => l,
        Err(PktError::ProtoNotSupported) | Err(PktError::BadLength) => {
            set_errno(libc::EPROTONOSUPPORT);
            return false;
        }
    };
    let at = |off: Option<i64>| off.map_or(ptr::null_mut(), |o| data.wrapping_add(o as usize));
    let h = pkt_buff {
        mac_header: at(mac),
        network_header: at(network),
        transport_header: ptr::null_mut(),
        data,
        len,
        data_len,
        mangled: false,
        _pad: [0; 3],
        head: 0,
    };
    // SAFETY: p is writable for the whole struct per the contract.
    unsafe { ptr::write(p, h) };
    true
}

/// Sizes of a new buffer: (`len`, `len + extra`) as upstream's 32-bit fields, or errno EINVAL
/// when they do not fit (upstream would silently truncate them).
fn sizes(len: usize, extra: usize) -> Option<(u32, u32)> {
    let total = len.checked_add(extra).and_then(|t| u32::try_from(t).ok());
    match total {
        Some(t) => Some((len as u32, t)),
        None => {
            set_errno(libc::EINVAL);
            None
        }
    }
}

/// Allocates a packet buffer holding a copy of `len` bytes of `data` and `extra` zeroed bytes
/// of room, in one `calloc` block (release it with `pktb_free`). AF_INET/AF_INET6: the network
/// header is the start; AF_BRIDGE: the MAC header is the start and the network header follows
/// it if the EtherType, read in host byte order as upstream does, is IPv4 or IPv6 (otherwise
/// NULL, errno EPROTONOSUPPORT); other families: no network header. NULL with errno ENOMEM
/// when out of memory. **Differs from upstream:** NULL with EINVAL if `data` is NULL with
/// `len > 0` (upstream crashes) or the size does not fit 32 bits (upstream truncates it), and
/// EPROTONOSUPPORT for an AF_BRIDGE buffer shorter than 14 bytes (upstream reads past it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_alloc(family: c_int, data: *mut c_void, len: usize, extra: usize) -> *mut pkt_buff {
    boundary(ptr::null_mut(), || {
        if data.is_null() && len > 0 {
            set_errno(libc::EINVAL);
            return ptr::null_mut();
        }
        let Some((len32, data_len)) = sizes(len, extra) else {
            return ptr::null_mut();
        };
        let head = size_of::<pkt_buff>();
        // SAFETY: calloc has no preconditions; the size cannot overflow (data_len < 2^32).
        let block = unsafe { libc::calloc(1, head + data_len as usize) } as *mut u8;
        if block.is_null() {
            set_errno(libc::ENOMEM);
            return ptr::null_mut();
        }
        // SAFETY: block has head + data_len bytes; data has len readable bytes (not NULL when
        // len > 0) and cannot overlap the fresh block.
        unsafe {
            let pkt = block.add(head);
            if len > 0 {
                ptr::copy_nonoverlapping(data as *const u8, pkt, len);
            }
            let p = block as *mut pkt_buff;
            if !init(p, family, pkt, len32, data_len) {
                libc::free(block.cast());
                return ptr::null_mut();
            }
            p
        }
    })
}

/// Makes a packet buffer in caller memory: `mem` (at least `pktb_head_size()` bytes, zeroed
/// here) becomes the header and `data` is used in place, with `extra` writable bytes after its
/// `len` bytes. Same family rules as `pktb_alloc`. Returns `mem`, or NULL (errno
/// EPROTONOSUPPORT for a refused AF_BRIDGE frame, EINVAL for a NULL `mem`, or a NULL `data`
/// with a nonzero size). Do not pass the result to `pktb_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_setup_raw(
    mem: *mut c_void,
    family: c_int,
    data: *mut c_void,
    len: usize,
    extra: usize,
) -> *mut pkt_buff {
    boundary(ptr::null_mut(), || {
        if mem.is_null() {
            set_errno(libc::EINVAL);
            return ptr::null_mut();
        }
        let Some((len32, data_len)) = sizes(len, extra) else {
            return ptr::null_mut();
        };
        if data.is_null() && data_len > 0 {
            set_errno(libc::EINVAL);
            return ptr::null_mut();
        }
        let p = mem as *mut pkt_buff;
        // SAFETY: mem has pktb_head_size() writable bytes per the contract; data has len +
        // extra bytes.
        unsafe {
            ptr::write_bytes(mem as *mut u8, 0, size_of::<pkt_buff>());
            if init(p, family, data as *mut u8, len32, data_len) { p } else { ptr::null_mut() }
        }
    })
}

/// Size of `struct pkt_buff`, the memory `pktb_setup_raw` needs for its header.
#[unsafe(no_mangle)]
pub extern "C" fn pktb_head_size() -> usize {
    size_of::<pkt_buff>()
}

/// Releases a buffer from `pktb_alloc` (`free`; NULL is fine).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_free(pktb: *mut pkt_buff) {
    // SAFETY: pktb is NULL or came from pktb_alloc, which allocated it with calloc.
    unsafe { libc::free(pktb.cast()) }
}

/// Start of the packet (NULL for a NULL buffer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_data(pktb: *mut pkt_buff) -> *mut u8 {
    // SAFETY: pktb is non-NULL here and live per the contract.
    field(pktb, ptr::null_mut(), |p| unsafe { ptr::read(addr_of!((*p).data)) })
}

/// Packet length (0 for a NULL buffer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_len(pktb: *mut pkt_buff) -> u32 {
    // SAFETY: as pktb_data.
    field(pktb, 0, |p| unsafe { ptr::read(addr_of!((*p).len)) })
}

/// Moves the start and `head` by `delta` bytes and the length by `-delta` (32-bit wrapping),
/// as upstream's push (`delta < 0`) and pull.
fn shift(pktb: *mut pkt_buff, delta: i64) {
    boundary((), || {
        if pktb.is_null() {
            return;
        }
        // SAFETY: pktb is live per the contract; we only touch its own fields.
        unsafe {
            let h = &mut *pktb;
            h.data = h.data.wrapping_offset(delta as isize);
            h.len = (i64::from(h.len) - delta) as u32;
            h.head = match i32::try_from(i64::from(h.head) + delta) {
                Ok(v) if h.head != HEAD_UNKNOWN && v != HEAD_UNKNOWN => v,
                _ => HEAD_UNKNOWN,
            };
        }
    })
}

/// Moves the packet start back by `len` bytes and grows the length (no checks, as upstream).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_push(pktb: *mut pkt_buff, len: c_uint) {
    shift(pktb, -i64::from(len))
}

/// Moves the packet start forward by `len` bytes and shrinks the length (no checks).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_pull(pktb: *mut pkt_buff, len: c_uint) {
    shift(pktb, i64::from(len))
}

/// Grows the length by `len` (no checks).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_put(pktb: *mut pkt_buff, len: c_uint) {
    boundary((), || {
        if !pktb.is_null() {
            // SAFETY: pktb is live per the contract.
            unsafe { (*pktb).len = (*pktb).len.wrapping_add(len) };
        }
    })
}

/// Sets the length (no checks).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_trim(pktb: *mut pkt_buff, len: c_uint) {
    boundary((), || {
        if !pktb.is_null() {
            // SAFETY: pktb is live per the contract.
            unsafe { (*pktb).len = len };
        }
    })
}

/// Room left after the packet: `data_len - len` (32-bit wrapping, as upstream).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_tailroom(pktb: *mut pkt_buff) -> c_uint {
    // SAFETY: as pktb_data.
    field(pktb, 0, |p| unsafe { (*p).data_len.wrapping_sub((*p).len) })
}

/// MAC header (AF_BRIDGE only; NULL otherwise or for a NULL buffer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_mac_header(pktb: *mut pkt_buff) -> *mut u8 {
    // SAFETY: as pktb_data.
    field(pktb, ptr::null_mut(), |p| unsafe { ptr::read(addr_of!((*p).mac_header)) })
}

/// Network header (NULL for an unsupported family or a NULL buffer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_network_header(pktb: *mut pkt_buff) -> *mut u8 {
    // SAFETY: as pktb_data.
    field(pktb, ptr::null_mut(), |p| unsafe { ptr::read(addr_of!((*p).network_header)) })
}

/// Transport header (NULL until `nfq_ip_set_transport_header`/`nfq_ip6_set_transport_header`
/// set it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_transport_header(pktb: *mut pkt_buff) -> *mut u8 {
    // SAFETY: as pktb_data.
    field(pktb, ptr::null_mut(), |p| unsafe { ptr::read(addr_of!((*p).transport_header)) })
}

/// Whether a mangle succeeded on this buffer (false for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_mangled(pktb: *const pkt_buff) -> bool {
    // SAFETY: as pktb_data.
    field(pktb, false, |p| unsafe { ptr::read(addr_of!((*p).mangled)) })
}

/// Replaces `match_len` bytes at network header + `dataoff` + `match_offset` with `rep_len`
/// bytes of `rep_buffer`, moving the rest of the packet; no checksum is updated. Returns 1, or
/// 0 if it would not fit. **Differs from upstream** (the memory-safety fix): growth beyond
/// `pktb_tailroom()` always fails (upstream "enlarges" the packet and writes past its buffer
/// when the growth is at most twice the room), and so do a region outside the packet, a
/// missing network header, a NULL `rep_buffer` with `rep_len > 0`, or growth past the real end
/// of the buffer after `pktb_pull` (upstream crashes or corrupts memory there).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pktb_mangle(
    pktb: *mut pkt_buff,
    dataoff: c_int,
    match_offset: c_uint,
    match_len: c_uint,
    rep_buffer: *const c_char,
    rep_len: c_uint,
) -> c_int {
    // SAFETY: pktb and rep_buffer follow the export's contract.
    unsafe { mangle_export(pktb, rep_buffer, rep_len, |pb, rep| pb.mangle(dataoff, match_offset, match_len, rep)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_upstream() {
        assert_eq!(std::mem::offset_of!(pkt_buff, mac_header), 0);
        assert_eq!(std::mem::offset_of!(pkt_buff, network_header), 8);
        assert_eq!(std::mem::offset_of!(pkt_buff, transport_header), 16);
        assert_eq!(std::mem::offset_of!(pkt_buff, data), 24);
        assert_eq!(std::mem::offset_of!(pkt_buff, len), 32);
        assert_eq!(std::mem::offset_of!(pkt_buff, data_len), 36);
        assert_eq!(std::mem::offset_of!(pkt_buff, mangled), 40);
        assert_eq!(pktb_head_size(), 48);
    }

    #[test]
    fn null_buffers_give_failure_values() {
        // SAFETY: NULL is accepted by every export.
        unsafe {
            assert!(pktb_data(ptr::null_mut()).is_null());
            assert_eq!(pktb_len(ptr::null_mut()), 0);
            assert_eq!(pktb_tailroom(ptr::null_mut()), 0);
            assert!(!pktb_mangled(ptr::null()));
            pktb_push(ptr::null_mut(), 1);
            pktb_pull(ptr::null_mut(), 1);
            pktb_put(ptr::null_mut(), 1);
            pktb_trim(ptr::null_mut(), 1);
            pktb_free(ptr::null_mut());
            assert_eq!(pktb_mangle(ptr::null_mut(), 0, 0, 0, ptr::null(), 0), 0);
            assert!(pktb_alloc(2, ptr::null_mut(), 5, 0).is_null());
            assert!(pktb_setup_raw(ptr::null_mut(), 2, ptr::null_mut(), 0, 0).is_null());
        }
    }

    #[test]
    fn push_pull_track_the_buffer_start() {
        let mut data = *b"0123456789";
        // SAFETY: data outlives the buffer; pktb_free releases it.
        unsafe {
            let p = pktb_alloc(2, data.as_mut_ptr().cast(), 10, 2);
            assert!(!p.is_null());
            pktb_pull(p, 3);
            assert_eq!((*p).head, 3);
            assert_eq!(pktb_tailroom(p), 5);
            // upstream's room says 5, the buffer has 2 after the tail: growth by 3 fails
            assert_eq!(pktb_mangle(p, 0, 10, 0, b"abc".as_ptr().cast(), 3), 0);
            assert_eq!(pktb_mangle(p, 0, 10, 0, b"ab".as_ptr().cast(), 2), 1);
            assert_eq!(std::slice::from_raw_parts(pktb_network_header(p), 12), b"0123456789ab");
            pktb_push(p, 3);
            assert_eq!((*p).head, 0);
            pktb_push(p, u32::MAX);
            pktb_push(p, u32::MAX);
            assert_eq!((*p).head, HEAD_UNKNOWN);
            assert_eq!(pktb_mangle(p, 0, 0, 0, ptr::null(), 0), 0);
            pktb_pull(p, u32::MAX);
            pktb_pull(p, u32::MAX);
            assert_eq!((*p).head, HEAD_UNKNOWN);
            pktb_free(p);
        }
    }

    #[test]
    fn replacement_inside_the_buffer_is_read_after_the_move() {
        let mut data = *b"0123456789";
        // SAFETY: as above.
        unsafe {
            let p = pktb_alloc(2, data.as_mut_ptr().cast(), 10, 4);
            let src = pktb_data(p).add(6);
            assert_eq!(pktb_mangle(p, 0, 2, 2, src.cast(), 4), 1);
            assert_eq!(std::slice::from_raw_parts(pktb_data(p), pktb_len(p) as usize), b"014567456789");
            pktb_free(p);
        }
    }
}
