//! The one module that turns opaque C handles into Rust objects and back. Handles are
//! `Box`es given to C by `*_new`/`*_open` and taken back by `*_free`/`*_close`; the packet
//! handle is a pointer to a stack object that lives only during the callback.

use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use crate::queue::{Config, PacketCtx, Pool, Queue};

/// Opaque: settings for `nfq_rs_open`.
pub struct nfq_rs_config {
    _private: [u8; 0],
}

/// Opaque: an open netlink socket with its bound queues.
pub struct nfq_rs_queue {
    _private: [u8; 0],
}

/// Opaque: a queued packet, valid only during the callback that received it.
pub struct nfq_rs_packet {
    _private: [u8; 0],
}

/// Callback for each packet: returns a verdict (`NFQ_RS_ACCEPT`, `NFQ_RS_DROP`,
/// `NFQ_RS_REPEAT`, `NFQ_RS_STOP`, `NFQ_RS_QUEUE(n)`), or `NFQ_RS_LATER` to keep the packet and
/// give its verdict later with `nfq_rs_verdict*` (from any thread).
pub type nfq_rs_callback = Option<unsafe extern "C" fn(pkt: *mut nfq_rs_packet, user: *mut c_void) -> i32>;

/// The fields of a packet that most programs read, in one record (see
/// `nfq_rs_set_batch_callback`). Its layout is part of the ABI: fields are only ever
/// appended, and `nfq_rs_packet_info_size()` gives the size this library fills.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct nfq_rs_packet_info {
    /// Packet id.
    pub id: u32,
    /// `NFQ_RS_INFO_*` bits: which of the optional fields below the kernel sent (an absent
    /// field is 0).
    pub present: u32,
    /// Packet mark (`NFQ_RS_INFO_MARK`).
    pub mark: u32,
    /// Input interface index (`NFQ_RS_INFO_INDEV`).
    pub indev: u32,
    /// Output interface index (`NFQ_RS_INFO_OUTDEV`).
    pub outdev: u32,
    /// Physical input interface index (`NFQ_RS_INFO_PHYSINDEV`).
    pub physindev: u32,
    /// Physical output interface index (`NFQ_RS_INFO_PHYSOUTDEV`).
    pub physoutdev: u32,
    /// Length of the packet in the kernel (as `nfq_rs_packet_orig_len`).
    pub orig_len: u32,
    /// `NFQA_CAP_LEN` (`NFQ_RS_INFO_CAP_LEN`).
    pub cap_len: u32,
    /// Bytes at `payload` (0 without `NFQ_RS_INFO_PAYLOAD`).
    pub payload_len: u32,
    /// `NFQA_SKB_INFO` bits (`NFQ_RS_INFO_SKB_INFO`).
    pub skb_info: u32,
    /// Packet priority (`NFQ_RS_INFO_PRIORITY`).
    pub priority: u32,
    /// Owner uid of the local socket (`NFQ_RS_INFO_UID`).
    pub uid: u32,
    /// Owner gid of the local socket (`NFQ_RS_INFO_GID`).
    pub gid: u32,
    /// net_cls class id (`NFQ_RS_INFO_CGROUP_CLASSID`).
    pub cgroup_classid: u32,
    /// Conntrack info, `enum ip_conntrack_info` (`NFQ_RS_INFO_CT_INFO`).
    pub ct_info: u32,
    /// Queue number.
    pub queue: u16,
    /// Link-layer protocol in host order.
    pub hw_protocol: u16,
    /// Address family of the hook.
    pub family: u8,
    /// Netfilter hook.
    pub hook: u8,
    /// Announced length of the hardware address, at most 8 (`NFQ_RS_INFO_HWADDR`).
    pub hwaddr_len: u8,
    /// 1 if the payload is shorter than the packet.
    pub truncated: u8,
    /// The 8 hardware-address bytes as the kernel sent them (`NFQ_RS_INFO_HWADDR`).
    pub hwaddr: [u8; 8],
    /// Timestamp, seconds (`NFQ_RS_INFO_TIMESTAMP`).
    pub ts_sec: u64,
    /// Timestamp, microseconds (`NFQ_RS_INFO_TIMESTAMP`).
    pub ts_usec: u64,
    /// The packet from its network header, valid until the callback returns
    /// (`NFQ_RS_INFO_PAYLOAD`; NULL without it).
    pub payload: *const u8,
}

/// A callback for a whole receive batch: `pkts[i]` and `info[i]` (for i < n) describe one
/// packet each, and `answers[i]`, which starts as `NFQ_RS_FAILED`, takes its answer (a
/// verdict, `NFQ_RS_LATER` or `NFQ_RS_FAILED`), as a per-packet callback returns it.
pub type nfq_rs_batch_callback = Option<
    unsafe extern "C" fn(
        pkts: *const *mut nfq_rs_packet,
        info: *const nfq_rs_packet_info,
        n: usize,
        answers: *mut i32,
        user: *mut c_void,
    ),
>;

/// First field of every handle box: says what the memory is, so a handle of another kind
/// (or one already freed, while its memory is untouched) is refused instead of misused.
pub(crate) const MAGIC_CONFIG: u64 = 0x6e66_7172_6366_6731; // "nfqrcfg1"
pub(crate) const MAGIC_QUEUE: u64 = 0x6e66_7172_7175_6531; // "nfqrque1"
pub(crate) const MAGIC_POOL: u64 = 0x6e66_7172_706f_6f31; // "nfqrpoo1"
const MAGIC_FREED: u64 = 0x6e66_7172_6672_6565; // "nfqrfree"

/// Reads the magic at the start of a handle box.
///
/// # Safety
/// `p` is non-NULL and points at readable memory of at least 8 bytes, aligned for u64.
unsafe fn magic_of(p: *const c_void) -> u64 {
    // SAFETY: per the contract.
    unsafe { std::ptr::read_volatile(p as *const u64) }
}

/// Whether `p` is non-NULL, aligned, and carries `magic`.
///
/// # Safety
/// `p` is NULL or a pointer the caller got from this library (any kind of handle).
unsafe fn is<T>(p: *const T, magic: u64) -> bool {
    // SAFETY: non-NULL and aligned pointers from this library point at a box of at least 8 bytes.
    !p.is_null() && (p as usize) % 8 == 0 && unsafe { magic_of(p as *const c_void) } == magic
}

/// What a config handle holds.
#[repr(C)]
pub(crate) struct ConfigBox {
    pub magic: u64,
    pub cfg: Config,
}

#[derive(Clone, Copy)]
pub(crate) struct UserCb {
    pub cb: nfq_rs_callback,
    /// Set instead of `cb` by `nfq_rs_set_batch_callback`.
    pub batch: nfq_rs_batch_callback,
    pub user: *mut c_void,
}

// SAFETY: the user pointer is only handed back to the user's own callback; the C API
// documents on which threads the callback runs (the receiving thread; for a pool, every
// queue's thread at once).
unsafe impl Send for UserCb {}
// SAFETY: as above; the pointer itself is never dereferenced by the library.
unsafe impl Sync for UserCb {}

/// What a queue handle holds.
#[repr(C)]
pub(crate) struct QueueBox {
    pub magic: u64,
    pub q: Arc<Queue>,
    pub cb: Mutex<UserCb>,
}

impl QueueBox {
    pub fn new(q: Arc<Queue>, cb: UserCb) -> QueueBox {
        QueueBox { magic: MAGIC_QUEUE, q, cb: Mutex::new(cb) }
    }
}

impl Drop for QueueBox {
    fn drop(&mut self) {
        self.magic = MAGIC_FREED;
    }
}

/// Opaque: a pool of receiving threads, one per queue number of a range.
pub struct nfq_rs_pool {
    _private: [u8; 0],
}

/// What a pool handle holds: the pool, and a queue handle per queue for the C API (boxed so
/// their addresses stay fixed while the pool lives).
#[repr(C)]
pub(crate) struct PoolBox {
    pub magic: u64,
    pub pool: Option<Pool>,
    // Boxed so each handle keeps its address whatever happens to the Vec.
    #[allow(clippy::vec_box)]
    pub handles: Vec<Box<QueueBox>>,
}

impl Drop for PoolBox {
    fn drop(&mut self) {
        self.magic = MAGIC_FREED;
    }
}

impl Drop for ConfigBox {
    fn drop(&mut self) {
        self.magic = MAGIC_FREED;
    }
}

pub(crate) fn pool_into_raw(p: PoolBox) -> *mut nfq_rs_pool {
    Box::into_raw(Box::new(p)) as *mut nfq_rs_pool
}

/// # Safety
/// `p` is NULL or came from `pool_into_raw` and was not freed.
pub(crate) unsafe fn pool_ref<'a>(p: *const nfq_rs_pool) -> Option<&'a PoolBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_POOL) { (p as *const PoolBox).as_ref() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `pool_into_raw`; no other thread uses it any more.
pub(crate) unsafe fn pool_free(p: *mut nfq_rs_pool) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_POOL) } {
        // SAFETY: per the contract, p is a Box<PoolBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut PoolBox) });
    }
}

/// # Safety
/// `p` is NULL or came from `pool_into_raw`; no other reference to it is alive.
pub(crate) unsafe fn pool_mut<'a>(p: *mut nfq_rs_pool) -> Option<&'a mut PoolBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_POOL) { (p as *mut PoolBox).as_mut() } else { None } }
}

pub(crate) fn config_into_raw(c: ConfigBox) -> *mut nfq_rs_config {
    Box::into_raw(Box::new(c)) as *mut nfq_rs_config
}

/// # Safety
/// `p` is NULL or came from `config_into_raw` and was not freed.
pub(crate) unsafe fn config_ref<'a>(p: *const nfq_rs_config) -> Option<&'a ConfigBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_CONFIG) { (p as *const ConfigBox).as_ref() } else { None } }
}

/// # Safety
/// As for `config_ref`, and no other reference to it is alive.
pub(crate) unsafe fn config_mut<'a>(p: *mut nfq_rs_config) -> Option<&'a mut ConfigBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_CONFIG) { (p as *mut ConfigBox).as_mut() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `config_into_raw` and was not freed; it is not used afterwards.
pub(crate) unsafe fn config_free(p: *mut nfq_rs_config) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_CONFIG) } {
        // SAFETY: per the contract, p is a Box<ConfigBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut ConfigBox) });
    }
}

pub(crate) fn queue_into_raw(q: QueueBox) -> *mut nfq_rs_queue {
    Box::into_raw(Box::new(q)) as *mut nfq_rs_queue
}

/// # Safety
/// `p` is NULL or came from `queue_into_raw` and was not closed.
pub(crate) unsafe fn queue_ref<'a>(p: *const nfq_rs_queue) -> Option<&'a QueueBox> {
    // SAFETY: per the contract; QueueBox is Sync, so shared references from many threads are
    // fine; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_QUEUE) { (p as *const QueueBox).as_ref() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `queue_into_raw`; no other thread uses it any more.
pub(crate) unsafe fn queue_free(p: *mut nfq_rs_queue) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_QUEUE) } {
        // SAFETY: per the contract, p is a Box<QueueBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut QueueBox) });
    }
}

pub(crate) fn packet_raw(ctx: &mut PacketCtx<'_>) -> *mut nfq_rs_packet {
    ctx as *mut PacketCtx<'_> as *mut nfq_rs_packet
}

/// # Safety
/// `p` is NULL or the packet handle passed to a callback that is still running.
pub(crate) unsafe fn packet_mut<'a>(p: *mut nfq_rs_packet) -> Option<&'a mut PacketCtx<'a>> {
    // SAFETY: per the contract, p points at the live PacketCtx on the dispatch stack.
    unsafe { (p as *mut PacketCtx<'a>).as_mut() }
}

/// # Safety
/// As for `packet_mut`.
pub(crate) unsafe fn packet_ref<'a>(p: *const nfq_rs_packet) -> Option<&'a PacketCtx<'a>> {
    // SAFETY: per the contract.
    unsafe { (p as *const PacketCtx<'a>).as_ref() }
}

// ---------------------------------------------------------------------------------------------
// Conntrack handles (src/ffi/ct.rs)

use crate::conntrack::{ConnBuf, Conntrack, Events, ExpectBuf, Tuple};

/// Opaque: a ctnetlink socket for requests on the conntrack table of one network namespace.
pub struct nfq_rs_ct {
    _private: [u8; 0],
}

/// Opaque: a subscription to conntrack events of one network namespace.
pub struct nfq_rs_ct_events {
    _private: [u8; 0],
}

/// Opaque: a conntrack entry (decoded, or being described for a request). Used by one thread
/// at a time.
pub struct nfq_rs_ct_entry {
    _private: [u8; 0],
}

/// Opaque: an expectation.
pub struct nfq_rs_ct_exp {
    _private: [u8; 0],
}

/// Opaque: one tuple (direction) of an entry or an expectation; valid while that entry lives
/// and is not decoded into or changed again.
pub struct nfq_rs_ct_tuple {
    _private: [u8; 0],
}

/// Callback for dumps and events. `event` is 0 for a dump entry, else the `NFQ_RS_CT_EV_*` bit
/// of the event; exactly one of `ct` and `exp` is non-NULL, valid only during the call (keep a
/// copy with `nfq_rs_ct_entry_clone` / `nfq_rs_ct_exp_clone`). Return 0 to go on, nonzero to
/// stop.
pub type nfq_rs_ct_callback = Option<
    unsafe extern "C" fn(event: u32, ct: *const nfq_rs_ct_entry, exp: *const nfq_rs_ct_exp, user: *mut c_void) -> i32,
>;

pub(crate) const MAGIC_CT: u64 = 0x6e66_7172_6374_6831; // "nfqrcth1"
pub(crate) const MAGIC_CT_EVENTS: u64 = 0x6e66_7172_6374_6531; // "nfqrcte1"
pub(crate) const MAGIC_CT_ENTRY: u64 = 0x6e66_7172_6374_6e31; // "nfqrctn1"
pub(crate) const MAGIC_CT_EXP: u64 = 0x6e66_7172_6374_7831; // "nfqrctx1"

/// What a ctnetlink handle holds.
#[repr(C)]
pub(crate) struct CtBox {
    pub magic: u64,
    pub ct: Conntrack,
}

/// What an event handle holds.
#[repr(C)]
pub(crate) struct CtEventsBox {
    pub magic: u64,
    pub ev: Events,
}

/// What an entry handle holds (also made on the stack for callbacks).
#[repr(C)]
pub(crate) struct CtEntryBox {
    pub magic: u64,
    pub c: ConnBuf,
}

/// What an expectation handle holds (also made on the stack for callbacks).
#[repr(C)]
pub(crate) struct CtExpBox {
    pub magic: u64,
    pub e: ExpectBuf,
}

impl CtEntryBox {
    pub fn new(c: ConnBuf) -> CtEntryBox {
        CtEntryBox { magic: MAGIC_CT_ENTRY, c }
    }
}

impl CtExpBox {
    pub fn new(e: ExpectBuf) -> CtExpBox {
        CtExpBox { magic: MAGIC_CT_EXP, e }
    }
}

macro_rules! freed_on_drop {
    ($($t:ty),*) => {$(
        impl Drop for $t {
            fn drop(&mut self) {
                self.magic = MAGIC_FREED;
            }
        }
    )*};
}
freed_on_drop!(CtBox, CtEventsBox, CtEntryBox, CtExpBox);

pub(crate) fn ct_into_raw(ct: Conntrack) -> *mut nfq_rs_ct {
    Box::into_raw(Box::new(CtBox { magic: MAGIC_CT, ct })) as *mut nfq_rs_ct
}

/// # Safety
/// `p` is NULL or came from `ct_into_raw` and was not closed.
pub(crate) unsafe fn ct_ref<'a>(p: *const nfq_rs_ct) -> Option<&'a CtBox> {
    // SAFETY: per the contract; CtBox is Sync; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_CT) { (p as *const CtBox).as_ref() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `ct_into_raw`; no other thread uses it any more.
pub(crate) unsafe fn ct_free(p: *mut nfq_rs_ct) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_CT) } {
        // SAFETY: per the contract, p is a Box<CtBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut CtBox) });
    }
}

pub(crate) fn events_into_raw(ev: Events) -> *mut nfq_rs_ct_events {
    Box::into_raw(Box::new(CtEventsBox { magic: MAGIC_CT_EVENTS, ev })) as *mut nfq_rs_ct_events
}

/// # Safety
/// `p` is NULL or came from `events_into_raw` and was not closed.
pub(crate) unsafe fn events_ref<'a>(p: *const nfq_rs_ct_events) -> Option<&'a CtEventsBox> {
    // SAFETY: per the contract; CtEventsBox is Sync; the magic check refuses other kinds.
    unsafe { if is(p, MAGIC_CT_EVENTS) { (p as *const CtEventsBox).as_ref() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `events_into_raw`; no other thread uses it any more.
pub(crate) unsafe fn events_free(p: *mut nfq_rs_ct_events) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_CT_EVENTS) } {
        // SAFETY: per the contract, p is a Box<CtEventsBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut CtEventsBox) });
    }
}

pub(crate) fn entry_into_raw(c: ConnBuf) -> *mut nfq_rs_ct_entry {
    Box::into_raw(Box::new(CtEntryBox::new(c))) as *mut nfq_rs_ct_entry
}

/// A pointer to an entry box that lives on the caller's stack (for a callback).
pub(crate) fn entry_stack_ptr(b: &CtEntryBox) -> *const nfq_rs_ct_entry {
    b as *const CtEntryBox as *const nfq_rs_ct_entry
}

/// # Safety
/// `p` is NULL, came from `entry_into_raw` and was not freed, or is the entry of a running
/// callback.
pub(crate) unsafe fn entry_ref<'a>(p: *const nfq_rs_ct_entry) -> Option<&'a CtEntryBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_CT_ENTRY) { (p as *const CtEntryBox).as_ref() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `entry_into_raw` and was not freed; no other reference to it is
/// alive (an entry is used by one thread at a time).
pub(crate) unsafe fn entry_mut<'a>(p: *mut nfq_rs_ct_entry) -> Option<&'a mut CtEntryBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_CT_ENTRY) { (p as *mut CtEntryBox).as_mut() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `entry_into_raw` and was not freed; it is not used afterwards.
pub(crate) unsafe fn entry_free(p: *mut nfq_rs_ct_entry) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_CT_ENTRY) } {
        // SAFETY: per the contract, p is a Box<CtEntryBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut CtEntryBox) });
    }
}

pub(crate) fn exp_into_raw(e: ExpectBuf) -> *mut nfq_rs_ct_exp {
    Box::into_raw(Box::new(CtExpBox::new(e))) as *mut nfq_rs_ct_exp
}

/// A pointer to an expectation box that lives on the caller's stack (for a callback).
pub(crate) fn exp_stack_ptr(b: &CtExpBox) -> *const nfq_rs_ct_exp {
    b as *const CtExpBox as *const nfq_rs_ct_exp
}

/// # Safety
/// As for `entry_ref`, for expectations.
pub(crate) unsafe fn exp_ref<'a>(p: *const nfq_rs_ct_exp) -> Option<&'a CtExpBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_CT_EXP) { (p as *const CtExpBox).as_ref() } else { None } }
}

/// # Safety
/// As for `entry_mut`, for expectations.
pub(crate) unsafe fn exp_mut<'a>(p: *mut nfq_rs_ct_exp) -> Option<&'a mut CtExpBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_CT_EXP) { (p as *mut CtExpBox).as_mut() } else { None } }
}

/// # Safety
/// As for `entry_free`, for expectations.
pub(crate) unsafe fn exp_free(p: *mut nfq_rs_ct_exp) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_CT_EXP) } {
        // SAFETY: per the contract, p is a Box<CtExpBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut CtExpBox) });
    }
}

pub(crate) fn tuple_raw(t: &Tuple) -> *const nfq_rs_ct_tuple {
    t as *const Tuple as *const nfq_rs_ct_tuple
}

/// # Safety
/// `p` is NULL or came from `tuple_raw` on a tuple that is still alive and unchanged.
pub(crate) unsafe fn tuple_ref<'a>(p: *const nfq_rs_ct_tuple) -> Option<&'a Tuple> {
    // SAFETY: per the contract.
    unsafe { (p as *const Tuple).as_ref() }
}

// ---------------------------------------------------------------------------------------------
// NFLOG handles (src/ffi/log.rs)

use crate::nflog::{Config as LogConfig, Log, LogPacket};

/// Opaque: settings for `nfq_rs_log_open`.
pub struct nfq_rs_log_config {
    _private: [u8; 0],
}

/// Opaque: an open netlink socket with its bound NFLOG groups.
pub struct nfq_rs_log {
    _private: [u8; 0],
}

/// Opaque: one logged packet, valid only during the callback that received it.
pub struct nfq_rs_log_packet {
    _private: [u8; 0],
}

/// Callback for each logged packet. Return 0. Any other value reports a failure of the
/// callback: it is counted (`NFQ_RS_LOG_STAT_CALLBACK_ERRORS`) and becomes the handle's last
/// error, and the loop goes on (log messages need no answer). To end `nfq_rs_log_run`, call
/// `nfq_rs_log_stop` (from the callback too).
pub type nfq_rs_log_callback = Option<unsafe extern "C" fn(pkt: *const nfq_rs_log_packet, user: *mut c_void) -> i32>;

pub(crate) const MAGIC_LOG_CONFIG: u64 = 0x6e66_7172_6c63_6631; // "nfqrlcf1"
pub(crate) const MAGIC_LOG: u64 = 0x6e66_7172_6c6f_6731; // "nfqrlog1"

/// What a log config handle holds.
#[repr(C)]
pub(crate) struct LogConfigBox {
    pub magic: u64,
    pub cfg: LogConfig,
}

/// The user's log callback and its pointer.
#[derive(Clone, Copy)]
pub(crate) struct LogUserCb {
    pub cb: nfq_rs_log_callback,
    pub user: *mut c_void,
}

// SAFETY: the user pointer is only handed back to the user's own callback, on the thread that
// receives (documented in the header); the library never dereferences it.
unsafe impl Send for LogUserCb {}
// SAFETY: as above.
unsafe impl Sync for LogUserCb {}

/// The user's batch callback, its pointer, and the records of the batch being gathered
/// (kept between batches so that their memory is reused).
pub(crate) struct LogBatch {
    pub cb: super::log::nfq_rs_log_batch_callback,
    pub user: *mut c_void,
    pub recs: Vec<super::log::nfq_rs_log_packet_info>,
}

// SAFETY: the user pointer is only handed back to the user's own callback, and the records'
// pointers into the receive buffer are only read while the receiving thread owns it.
unsafe impl Send for LogBatch {}

/// What a log handle holds.
#[repr(C)]
pub(crate) struct LogBox {
    pub magic: u64,
    pub log: Log,
    pub cb: Mutex<LogUserCb>,
    pub batch: Mutex<LogBatch>,
}

freed_on_drop!(LogConfigBox, LogBox);

// A log handle is used from several threads at once (nfq_rs_log_stop, counters), so what it
// holds must be Send and Sync.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<LogBox>();
};

pub(crate) fn log_config_into_raw(cfg: LogConfig) -> *mut nfq_rs_log_config {
    Box::into_raw(Box::new(LogConfigBox { magic: MAGIC_LOG_CONFIG, cfg })) as *mut nfq_rs_log_config
}

/// # Safety
/// `p` is NULL or came from `log_config_into_raw` and was not freed.
pub(crate) unsafe fn log_config_ref<'a>(p: *const nfq_rs_log_config) -> Option<&'a LogConfigBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_LOG_CONFIG) { (p as *const LogConfigBox).as_ref() } else { None } }
}

/// # Safety
/// As for `log_config_ref`, and no other reference to it is alive.
pub(crate) unsafe fn log_config_mut<'a>(p: *mut nfq_rs_log_config) -> Option<&'a mut LogConfigBox> {
    // SAFETY: per the contract; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_LOG_CONFIG) { (p as *mut LogConfigBox).as_mut() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `log_config_into_raw` and was not freed; it is not used afterwards.
pub(crate) unsafe fn log_config_free(p: *mut nfq_rs_log_config) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_LOG_CONFIG) } {
        // SAFETY: per the contract, p is a Box<LogConfigBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut LogConfigBox) });
    }
}

pub(crate) fn log_into_raw(log: Log, cb: LogUserCb) -> *mut nfq_rs_log {
    let batch = Mutex::new(LogBatch { cb: None, user: std::ptr::null_mut(), recs: Vec::new() });
    Box::into_raw(Box::new(LogBox { magic: MAGIC_LOG, log, cb: Mutex::new(cb), batch })) as *mut nfq_rs_log
}

/// # Safety
/// `p` is NULL or came from `log_into_raw` and was not closed.
pub(crate) unsafe fn log_ref<'a>(p: *const nfq_rs_log) -> Option<&'a LogBox> {
    // SAFETY: per the contract; LogBox is Sync, so shared references from many threads are
    // fine; the magic check refuses other kinds of handles.
    unsafe { if is(p, MAGIC_LOG) { (p as *const LogBox).as_ref() } else { None } }
}

/// # Safety
/// `p` is NULL or came from `log_into_raw`; no other thread uses it any more.
pub(crate) unsafe fn log_free(p: *mut nfq_rs_log) {
    // SAFETY: per the contract.
    if unsafe { is(p, MAGIC_LOG) } {
        // SAFETY: per the contract, p is a Box<LogBox> we gave out.
        drop(unsafe { Box::from_raw(p as *mut LogBox) });
    }
}

pub(crate) fn log_packet_raw(p: &LogPacket<'_>) -> *const nfq_rs_log_packet {
    p as *const LogPacket<'_> as *const nfq_rs_log_packet
}

/// # Safety
/// `p` is NULL or the packet handle passed to a log callback that is still running.
pub(crate) unsafe fn log_packet_ref<'a>(p: *const nfq_rs_log_packet) -> Option<&'a LogPacket<'a>> {
    // SAFETY: per the contract, p points at the live LogPacket on the dispatch stack.
    unsafe { (p as *const LogPacket<'a>).as_ref() }
}
