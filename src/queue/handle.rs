//! The queue handle: one netlink socket with one or more bound queue numbers, the config
//! requests (each waits for its ACK, keeping packets that arrive meanwhile), the receive and
//! dispatch loop (many datagrams per syscall, the verdicts of a batch in one `sendmsg`),
//! verdicts from any thread, counters, and stop from another thread or a signal handler.
//!
//! Threads: one thread receives (dispatch/run); config calls come from that thread (its
//! callbacks included) or while nobody receives; verdict calls and `stop` are safe from any
//! thread. No lock is held while a callback runs, so callbacks may call back into the handle.

use std::cell::RefCell;
use std::fs::File;
use std::io::IoSlice;
use std::ops::Deref;
use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

use super::msgs::{ConfigOp, VerdictOpts, encode_config, encode_verdict, encode_verdict_batch};
use super::packet::Packet;
use super::{MAX_COPY_RANGE, MAX_PAYLOAD, NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET, Verdict, cfg, flags};
use crate::netlink::{
    Endpoint, Error, ErrorKind, ErrorMsg, Event, Failure, Messages, Netns, OpenOptions, RecvBatch, RecvInfo, Result,
    WAKE_SEQ, errno_name, has_cap_net_admin, nfnl_msg_type, read_proc,
};

/// How much of each packet the kernel copies to us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyMode {
    /// Nothing: the kernel drops every packet queued in this mode.
    None,
    /// Metadata only, no payload.
    Meta,
    /// Metadata and up to `range` bytes of the packet.
    Packet,
}

impl CopyMode {
    fn raw(self) -> u8 {
        match self {
            CopyMode::None => 0,
            CopyMode::Meta => 1,
            CopyMode::Packet => 2,
        }
    }
}

/// What a callback decided for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send this verdict (with the mark, connmark, priority and payload set on the context).
    Verdict(Verdict),
    /// Keep the packet queued; the program gives the verdict later with [`Queue::verdict`].
    Later,
}

/// Settings for [`Queue::open`].
#[derive(Clone, Debug)]
pub struct Config {
    queues: Vec<u16>,
    copy_mode: CopyMode,
    copy_range: u32,
    max_len: Option<u32>,
    flags: u32,
    flags_mask: u32,
    rcvbuf: Option<usize>,
    no_enobufs: bool,
    netns: Netns,
    batch: usize,
    ack_timeout: Duration,
    fallback: Verdict,
    coalesce: bool,
    socket_fd: Option<RawFd>,
}

impl Config {
    /// Queue `num`, copy mode packet with the whole packet, batch of 16, a 4 MiB receive buffer.
    pub fn new(num: u16) -> Self {
        Config { queues: vec![num], ..Self::unbound() }
    }

    /// No queue bound at open (bind later with [`Queue::bind`]).
    pub fn unbound() -> Self {
        Config {
            queues: Vec::new(),
            copy_mode: CopyMode::Packet,
            copy_range: MAX_COPY_RANGE,
            max_len: None,
            flags: 0,
            flags_mask: 0,
            rcvbuf: Some(4 << 20),
            no_enobufs: false,
            netns: Netns::Current,
            batch: 16,
            ack_timeout: Duration::from_secs(5),
            fallback: Verdict::Drop,
            coalesce: true,
            socket_fd: None,
        }
    }

    /// Open on a duplicate of the caller's `NETLINK_NETFILTER` socket `fd` instead of a new
    /// socket (the caller keeps `fd`). The duplicate is connected to the kernel, as a new
    /// socket would be. Set the namespace too (with [`netns`](Self::netns)) if the socket was
    /// made in another one: the kernel's queue counters are read there.
    pub fn socket_fd(&mut self, fd: Option<RawFd>) -> &mut Self {
        self.socket_fd = fd;
        self
    }

    /// Also bind queue `num` on the same socket.
    pub fn add_queue(&mut self, num: u16) -> &mut Self {
        if !self.queues.contains(&num) {
            self.queues.push(num);
        }
        self
    }
    /// A copy of these settings for queue `num` alone.
    pub fn for_queue(&self, num: u16) -> Config {
        Config { queues: vec![num], ..self.clone() }
    }
    /// The queue numbers to bind.
    pub fn queues(&self) -> &[u16] {
        &self.queues
    }
    /// Copy mode and range (clamped to 65531; 0 means the whole packet).
    pub fn copy_mode(&mut self, mode: CopyMode, range: u32) -> &mut Self {
        self.copy_mode = mode;
        self.copy_range = if range == 0 || range > MAX_COPY_RANGE { MAX_COPY_RANGE } else { range };
        self
    }
    /// Kernel queue length limit (default 1024 in the kernel).
    pub fn max_len(&mut self, n: u32) -> &mut Self {
        self.max_len = Some(n);
        self
    }
    /// Sets or clears queue flags (`flags::*`); only the bits in `mask` change.
    pub fn flags(&mut self, mask: u32, value: u32) -> &mut Self {
        self.flags = (self.flags & !mask) | (value & mask);
        self.flags_mask |= mask;
        self
    }
    /// Receive buffer in bytes (`None` keeps the system default).
    pub fn rcvbuf(&mut self, bytes: Option<usize>) -> &mut Self {
        self.rcvbuf = bytes;
        self
    }
    /// `NETLINK_NO_ENOBUFS`: stop reporting overflows (drops are still counted by the kernel).
    pub fn no_enobufs(&mut self, on: bool) -> &mut Self {
        self.no_enobufs = on;
        self
    }
    /// Open the socket in another network namespace.
    pub fn netns(&mut self, ns: Netns) -> &mut Self {
        self.netns = ns;
        self
    }
    /// Datagrams received per syscall (1..=1024).
    pub fn batch(&mut self, n: usize) -> &mut Self {
        self.batch = n.clamp(1, 1024);
        self
    }
    /// How long config requests wait for the kernel's ACK.
    pub fn ack_timeout(&mut self, d: Duration) -> &mut Self {
        self.ack_timeout = d;
        self
    }
    /// Whether runs of packets with consecutive ids that get the same plain verdict are sent as
    /// one batch verdict (default on; it turns itself off for good once a callback keeps a
    /// packet for later, since a batch verdict would release that packet too).
    pub fn coalesce_verdicts(&mut self, on: bool) -> &mut Self {
        self.coalesce = on;
        self
    }
    /// Verdict for packets that cannot be handed to the callback (malformed or truncated
    /// message, invalid callback answer, panicking callback). Default: drop.
    pub fn fallback_verdict(&mut self, v: Verdict) -> &mut Self {
        self.fallback = v;
        self
    }
}

/// Library counters for one handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packet messages received and decoded.
    pub packets_received: u64,
    /// Verdicts sent: one per packet given a verdict by the callback or [`Queue::verdict`]
    /// (also when several went out as one batch verdict); a [`Queue::verdict_batch`] call
    /// counts once.
    pub verdicts_sent: u64,
    /// Verdict messages sent (a batch verdict counts once): with coalescing, fewer than
    /// `verdicts_sent`.
    pub verdict_messages: u64,
    /// Verdicts the kernel rejected, or that could not be sent.
    pub verdict_errors: u64,
    /// Receive-buffer overflows reported by the kernel (ENOBUFS).
    pub enobufs: u64,
    /// Datagrams larger than the receive slot (cut short).
    pub truncated: u64,
    /// Messages from a sender other than the kernel, ignored. Stays 0 in practice: the socket
    /// is connected to the kernel, which refuses other senders (ECONNREFUSED at their end).
    pub foreign_ignored: u64,
    /// Malformed messages from the kernel.
    pub parse_errors: u64,
    /// Callbacks that panicked or returned an invalid answer (the fallback verdict was used).
    pub callback_errors: u64,
    /// Packets the callback kept for a later verdict.
    pub deferred: u64,
    /// Packets that got the fallback verdict.
    pub fallback_verdicts: u64,
}

#[derive(Default)]
struct Counters {
    packets_received: AtomicU64,
    verdicts_sent: AtomicU64,
    verdict_messages: AtomicU64,
    verdict_errors: AtomicU64,
    enobufs: AtomicU64,
    truncated: AtomicU64,
    foreign_ignored: AtomicU64,
    parse_errors: AtomicU64,
    callback_errors: AtomicU64,
    deferred: AtomicU64,
    fallback_verdicts: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

/// [`bump`] for a counter that only the thread holding the dispatch claim writes: a plain
/// load and store, without the locked read-modify-write (which costs about 1% at 64 B). The
/// claim's handover orders writes from different threads; readers see a value that is at
/// worst one batch old.
fn bump_owned(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// The kernel's own counters for a queue (`/proc/net/netfilter/nfnetlink_queue`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Queue number.
    pub queue: u16,
    /// Port id of the owning socket.
    pub portid: u32,
    /// Packets waiting for a verdict now.
    pub queue_total: u32,
    /// Copy mode (0 none, 1 meta, 2 packet).
    pub copy_mode: u32,
    /// Copy range.
    pub copy_range: u32,
    /// Packets dropped because the queue was full.
    pub dropped: u32,
    /// Packets dropped because the socket buffer was full.
    pub user_dropped: u32,
    /// Last packet id used.
    pub id_sequence: u32,
}

struct RxState {
    batch: RecvBatch,
    tx: TxState,
    /// Batch mode only: the packets of one receive, the contexts handed to the callback, a
    /// replacement-payload buffer per context and the callback's answers. Kept empty between
    /// batches so that their allocations are reused (see [`recycle`]).
    pkts: Vec<Packet<'static>>,
    ctxs: Vec<PacketCtx<'static>>,
    scratches: Vec<Vec<u8>>,
    decisions: Vec<Decision>,
    /// The last receive got as many datagrams as it asked for (a full batch, or the one a
    /// blocking receive asks for): more is probably waiting, so receive before blocking.
    busy: bool,
}

/// The verdicts of the current batch, and the scratch space for a replacement payload.
struct TxState {
    out: Vec<u8>,
    /// Packets whose verdicts are in `out`.
    out_count: u64,
    /// Messages in `out`.
    out_msgs: u64,
    scratch: Vec<u8>,
    /// The plain verdict last appended to `out`, while it can still absorb the next packet.
    run: Option<Run>,
    /// A wake-up datagram from `stop` was received in this batch.
    woke: bool,
}

/// A run of packets with consecutive ids of one queue that get the same plain verdict. Its
/// message starts as `NFQNL_MSG_VERDICT` for the first id; from the second id on it becomes
/// `NFQNL_MSG_VERDICT_BATCH` up to the last id (the two messages have the same layout).
#[derive(Clone, Copy)]
struct Run {
    queue: u16,
    verdict: u32,
    last_id: u32,
    offset: usize,
}

/// Offset of the packet id inside a plain verdict message: nlmsghdr 16, nfgenmsg 4, attribute
/// header 4, verdict 4.
const RUN_ID_AT: usize = 28;

const FLUSH_AT: usize = 64 * 1024;

fn slot_size(range: u32) -> usize {
    // Room for the headers and every metadata attribute around the payload.
    range as usize + 1024
}

thread_local! {
    static VBUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(128));
}

/// The callback of a dispatch: one call per packet, or one per receive batch.
enum Handler<'c> {
    Each(&'c mut dyn FnMut(&mut PacketCtx<'_>) -> Decision),
    Batch(&'c mut BatchCallback<'c>),
}

/// A callback that takes every packet of one receive at once and answers for each in the
/// slot of the same index (see [`Queue::dispatch_batch`]).
pub type BatchCallback<'c> = dyn FnMut(&mut [PacketCtx<'_>], &mut [Decision]) + 'c;

/// Reuses the allocation of an emptied vector for an element type of the same layout (the
/// same type with another lifetime), so that batch mode allocates nothing per batch in steady
/// state. The standard library collects a `map` over a vector's own `IntoIter` in place.
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| -> U { unreachable!("the vector was emptied") }).collect()
}

/// The parts of [`RxState`] that batch mode uses besides the packets.
struct BatchRest<'s> {
    tx: &'s mut TxState,
    ctxs: &'s mut Vec<PacketCtx<'static>>,
    scratches: &'s mut Vec<Vec<u8>>,
    decisions: &'s mut Vec<Decision>,
}

/// A netlink socket with its bound queues.
pub struct Queue {
    ep: Endpoint,
    rx: Mutex<Option<Box<RxState>>>,
    bound: Mutex<Vec<u16>>,
    slot: AtomicU32,
    batch: usize,
    fallback: Verdict,
    coalesce: bool,
    ever_deferred: AtomicBool,
    counters: Counters,
    stats_file: Option<File>,
}

/// A packet handed to a callback, with the verdict modifiers the callback may set.
pub struct PacketCtx<'a> {
    /// Borrowed, not owned: a `Packet` is 256 bytes, and moving it into each context cost a
    /// memcpy per packet.
    pkt: &'a Packet<'a>,
    queue: &'a Queue,
    mark: Option<u32>,
    connmark: Option<u32>,
    priority: Option<u32>,
    labels: Option<([u8; 16], [u8; 16])>,
    payload_set: bool,
    scratch: &'a mut Vec<u8>,
}

impl<'a> Deref for PacketCtx<'a> {
    type Target = Packet<'a>;
    fn deref(&self) -> &Packet<'a> {
        self.pkt
    }
}

impl<'a> PacketCtx<'a> {
    /// The packet.
    pub fn packet(&self) -> &Packet<'a> {
        self.pkt
    }
    /// The handle the packet came from (for deferred verdicts, config, stop).
    pub fn handle(&self) -> &'a Queue {
        self.queue
    }
    /// Set skb->mark with the verdict.
    pub fn set_mark(&mut self, mark: u32) {
        self.mark = Some(mark);
    }
    /// Set the connection mark with the verdict.
    pub fn set_connmark(&mut self, mark: u32) {
        self.connmark = Some(mark);
    }
    /// Set the connection labels with the verdict: the bits set in `mask` take their value
    /// from `labels` (needs conntrack glue in the kernel, like the connection mark).
    pub fn set_labels(&mut self, labels: &[u8; 16], mask: &[u8; 16]) {
        self.labels = Some((*labels, *mask));
    }
    /// Set skb->priority with the verdict.
    pub fn set_priority(&mut self, prio: u32) {
        self.priority = Some(prio);
    }
    /// Replace the packet (from its network header) with the verdict. The bytes are copied,
    /// so they may come from anywhere, the packet's own payload included.
    pub fn set_payload(&mut self, data: &[u8]) -> Result<()> {
        check_payload(data)?;
        self.scratch.clear();
        self.scratch.extend_from_slice(data);
        self.payload_set = true;
        Ok(())
    }
    /// The mark set so far.
    pub fn pending_mark(&self) -> Option<u32> {
        self.mark
    }
}

fn check_payload(p: &[u8]) -> Result<()> {
    if p.len() > MAX_PAYLOAD {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("replacement payload of {} bytes exceeds the maximum of {MAX_PAYLOAD}", p.len()),
        ));
    }
    Ok(())
}

impl Queue {
    /// Opens a socket (in the configured namespace), sets its buffers and binds and
    /// configures every queue of `cfg`. Needs CAP_NET_ADMIN.
    pub fn open(cfg: &Config) -> Result<Queue> {
        let (ep, mut files) = Endpoint::open(&OpenOptions {
            netns: &cfg.netns,
            adopt_fd: cfg.socket_fd,
            rcvbuf: cfg.rcvbuf,
            no_enobufs: cfg.no_enobufs,
            ack_timeout: cfg.ack_timeout,
            proc_files: &["netfilter/nfnetlink_queue"],
        })?;
        let _ = ep.socket().set_sndbuf(1 << 20);
        let range = if cfg.copy_mode == CopyMode::Packet { cfg.copy_range } else { 0 };
        let q = Queue {
            ep,
            rx: Mutex::new(None),
            bound: Mutex::new(Vec::new()),
            slot: AtomicU32::new(slot_size(range) as u32),
            batch: cfg.batch,
            fallback: cfg.fallback,
            coalesce: cfg.coalesce,
            ever_deferred: AtomicBool::new(false),
            counters: Counters::default(),
            stats_file: files.pop().flatten(),
        };
        for &n in &cfg.queues {
            q.bind(n)?;
            q.set_copy_mode(n, cfg.copy_mode, cfg.copy_range)?;
            if let Some(m) = cfg.max_len {
                q.set_max_len(n, m)?;
            }
            if cfg.flags_mask != 0 {
                q.set_flags(n, cfg.flags_mask, cfg.flags)?;
            }
        }
        Ok(q)
    }

    /// The socket descriptor, for an external poll/epoll loop (then call
    /// [`dispatch`](Self::dispatch) with a zero timeout when it is readable).
    pub fn fd(&self) -> RawFd {
        self.ep.socket().fd()
    }

    /// The socket's netlink port id.
    pub fn portid(&self) -> u32 {
        self.ep.socket().portid()
    }

    /// Queue numbers bound on this handle.
    pub fn bound_queues(&self) -> Vec<u16> {
        self.bound.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// The socket receive buffer as the kernel reports it.
    pub fn rcvbuf(&self) -> Result<usize> {
        self.ep.rcvbuf()
    }

    /// Sets the socket receive buffer; returns what the kernel reports afterwards.
    pub fn set_rcvbuf(&self, bytes: usize) -> Result<usize> {
        self.ep.set_rcvbuf(bytes)
    }

    /// Turns `NETLINK_NO_ENOBUFS` on or off.
    pub fn set_no_enobufs(&self, on: bool) -> Result<()> {
        self.ep.set_no_enobufs(on)
    }

    fn fail(&self, e: Error) -> Error {
        self.ep.fail(e)
    }

    /// Records an error as the handle's last error and returns it (for the FFI layer).
    pub fn record_error(&self, e: Error) -> Error {
        self.fail(e)
    }

    /// The last error recorded on this handle (empty if none).
    pub fn last_error(&self) -> String {
        self.ep.last_error()
    }

    /// Sends one config request and waits for its ACK. Packets that arrive meanwhile are kept
    /// for the next dispatch; errors for earlier verdicts are counted.
    fn request(&self, queue: u16, op: ConfigOp) -> std::result::Result<(), Failure> {
        self.ep.request(|req, seq| encode_config(req, seq, queue, op), &mut |ev| match ev {
            Event::Other(m, info) => {
                if m.msg_type() == nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET) {
                    self.keep_pending(m.bytes(), info.truncated);
                } else if let Some(Ok(e)) = m.error() {
                    self.async_error(&e);
                }
            }
            Event::Foreign(_) => bump(&self.counters.foreign_ignored, 1),
            Event::Overflow => bump(&self.counters.enobufs, 1),
            Event::Malformed => bump(&self.counters.parse_errors, 1),
        })
    }

    fn keep_pending(&self, msg: &[u8], truncated: bool) {
        if truncated {
            bump(&self.counters.truncated, 1);
        }
        self.ep.keep_pending(msg);
    }

    fn config(&self, queue: u16, op: ConfigOp, what: &str) -> Result<()> {
        let _g = self.ep.claim(true, what)?;
        match self.request(queue, op) {
            Ok(()) => Ok(()),
            Err((errno, ext)) => {
                let mut e = Error::from_errno(errno, what);
                let hint = match (errno, op) {
                    (libc::EPERM, _) if !has_cap_net_admin() => Some(format!(
                        "{what}: EPERM: the process lacks CAP_NET_ADMIN; run as root or grant the capability"
                    )),
                    (libc::EPERM, _) => Some(format!(
                        "{what}: EPERM: queue {queue} is bound by another process (another netlink socket owns it)"
                    )),
                    (libc::EBUSY, ConfigOp::Cmd { .. }) => {
                        Some(format!("{what}: EBUSY: queue {queue} is already bound on this handle"))
                    }
                    (libc::ENODEV, _) => Some(format!("{what}: ENODEV: queue {queue} is not bound; bind it first")),
                    (libc::EOPNOTSUPP, ConfigOp::Flags { mask, flags: f }) if mask & f & flags::CONNTRACK != 0 => {
                        Some(format!(
                            "{what}: EOPNOTSUPP: the kernel lacks CONFIG_NETFILTER_NETLINK_GLUE_CT, needed for \
                             the conntrack flag (NFQA_CFG_F_CONNTRACK)"
                        ))
                    }
                    (libc::EOPNOTSUPP, ConfigOp::Flags { flags: f, .. }) => {
                        Some(format!("{what}: EOPNOTSUPP: this kernel does not support queue flags {f:#x}"))
                    }
                    _ => None,
                };
                if let Some(h) = hint {
                    e = e.with_message(h);
                }
                if let Some(x) = ext {
                    let m = format!("{} (kernel: {x})", e.message());
                    e = e.with_message(m);
                }
                Err(self.fail(e))
            }
        }
    }

    /// Binds queue `num` to this socket.
    pub fn bind(&self, num: u16) -> Result<()> {
        self.config(num, ConfigOp::Cmd { cmd: cfg::CMD_BIND, pf: 0 }, &format!("binding queue {num}"))?;
        if let Ok(mut b) = self.bound.lock() {
            b.push(num);
        }
        Ok(())
    }

    /// Unbinds queue `num`; packets still queued there are dropped by the kernel.
    pub fn unbind(&self, num: u16) -> Result<()> {
        self.config(num, ConfigOp::Cmd { cmd: cfg::CMD_UNBIND, pf: 0 }, &format!("unbinding queue {num}"))?;
        if let Ok(mut b) = self.bound.lock() {
            b.retain(|&q| q != num);
        }
        Ok(())
    }

    /// Sets the copy mode of queue `num` (range clamped to 65531; 0 means the whole packet).
    pub fn set_copy_mode(&self, num: u16, mode: CopyMode, range: u32) -> Result<()> {
        let range = if range == 0 || range > MAX_COPY_RANGE { MAX_COPY_RANGE } else { range };
        let what = format!("setting copy mode {mode:?} range {range} on queue {num}");
        self.config(num, ConfigOp::Params { mode: mode.raw(), range }, &what)?;
        if mode == CopyMode::Packet {
            self.slot.fetch_max(slot_size(range) as u32, Relaxed);
        }
        Ok(())
    }

    /// Sets the kernel queue length limit of queue `num`.
    pub fn set_max_len(&self, num: u16, n: u32) -> Result<()> {
        self.config(num, ConfigOp::MaxLen(n), &format!("setting max length {n} on queue {num}"))
    }

    /// Sets flags of queue `num`: bits in `mask` take their value from `value`.
    pub fn set_flags(&self, num: u16, mask: u32, value: u32) -> Result<()> {
        let what = format!("setting flags {value:#x} (mask {mask:#x}) on queue {num}");
        self.config(num, ConfigOp::Flags { mask, flags: value & mask }, &what)
    }

    fn async_error(&self, e: &ErrorMsg<'_>) {
        if e.error == 0 || e.request_header().is_some_and(|(_, _, seq)| seq == WAKE_SEQ) {
            return; // a late ACK, or stop()'s wake-up (its error is EPERM without CAP_NET_ADMIN)
        }
        let errno = -e.error;
        let (ty, _, seq) = e.request_header().unwrap_or((0, 0, 0));
        let msg = match (ty & 0xff, e.request()) {
            (1 | 3, Some(req)) if ty >> 8 == NFNL_SUBSYS_QUEUE as u16 => {
                bump(&self.counters.verdict_errors, 1);
                let (queue, id) = req
                    .nfgen()
                    .ok()
                    .and_then(|(g, mut a)| {
                        a.find_map(|a| a.ok().filter(|a| a.kind() == 2)).map(|a| (g.res_id, a.data()))
                    })
                    .filter(|(_, d)| d.len() >= 8)
                    .map(|(q, d)| (q, u32::from_be_bytes([d[4], d[5], d[6], d[7]])))
                    .unwrap_or((0, 0));
                let kind = if ty & 0xff == 3 { "batch verdict up to" } else { "verdict for" };
                let hint = match errno {
                    libc::ENOENT => ": unknown packet id (already given a verdict, or never queued)",
                    libc::ENODEV => ": the queue is not bound",
                    libc::EPERM => {
                        ": the sending thread lacks CAP_NET_ADMIN in its effective set (the kernel checks it \
                         on every message), or the queue belongs to another socket"
                    }
                    libc::EINVAL => ": invalid verdict",
                    _ => "",
                };
                format!("{kind} packet {id} on queue {queue} rejected by the kernel: {}{hint}", errno_name(errno))
            }
            (1 | 3, None) => {
                bump(&self.counters.verdict_errors, 1);
                format!("a verdict was rejected by the kernel: {}", errno_name(errno))
            }
            _ => format!("request seq {seq} (type {ty:#x}) failed: {}", errno_name(errno)),
        };
        let _ = self.fail(Error::from_errno(errno, "").with_message(msg));
    }

    /// Sends a verdict for packet `id` of queue `queue` now, from any thread. Kernel-side
    /// errors (e.g. ENOENT for an unknown id) arrive later and are counted in
    /// `verdict_errors` and reported by [`last_error`](Self::last_error).
    pub fn verdict(&self, queue: u16, id: u32, v: Verdict, opts: &VerdictOpts<'_>) -> Result<()> {
        if let Some(p) = opts.payload {
            check_payload(p).map_err(|e| self.fail(e))?;
        }
        VBUF.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            encode_verdict(&mut b, 0, queue, id, v.raw(), opts, true);
            let pad = [0u8; 3];
            let r = match opts.payload {
                Some(p) => {
                    let padlen = crate::netlink::align4(p.len()) - p.len();
                    self.ep.socket().send_iov(&[IoSlice::new(&b), IoSlice::new(p), IoSlice::new(&pad[..padlen])])
                }
                None => self.ep.socket().send(&b),
            };
            self.sent(r, 1, 1, || format!("sending the verdict for packet {id} on queue {queue}"))
        })
    }

    /// Gives `v` (and `mark`) to every queued packet of `queue` with an id up to `max_id`.
    /// Careful: that includes packets kept for a later verdict.
    pub fn verdict_batch(&self, queue: u16, max_id: u32, v: Verdict, mark: Option<u32>) -> Result<()> {
        VBUF.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            encode_verdict_batch(&mut b, 0, queue, max_id, v.raw(), mark);
            let r = self.ep.socket().send(&b);
            self.sent(r, 1, 1, || format!("sending the batch verdict up to packet {max_id} on queue {queue}"))
        })
    }

    /// Counts the outcome of sending `msgs` verdict messages for `n` packets.
    fn sent(&self, r: std::io::Result<usize>, n: u64, msgs: u64, what: impl FnOnce() -> String) -> Result<()> {
        match r {
            Ok(_) => {
                bump(&self.counters.verdicts_sent, n);
                bump(&self.counters.verdict_messages, msgs);
                Ok(())
            }
            Err(e) => {
                bump(&self.counters.verdict_errors, n);
                Err(self.fail(Error::from_io(&e, &what())))
            }
        }
    }

    /// Asks a running [`run`](Self::run) to return, or a blocked [`dispatch`](Self::dispatch)
    /// to wake up (a `dispatch` that would block sees the request first and returns 0). Safe
    /// from any thread and from a signal handler (see [`Endpoint::stop`]).
    pub fn stop(&self) {
        self.ep.stop();
    }

    /// Whether a stop was requested and not yet consumed by `run`.
    pub fn stop_requested(&self) -> bool {
        self.ep.stop_requested()
    }

    /// Receives and handles packets until [`stop`](Self::stop) is called (a stop requested
    /// before `run` starts makes it return at once). Overflows (ENOBUFS) are counted and do
    /// not end the loop. Returns the number of packets handled.
    pub fn run(&self, cb: &mut dyn FnMut(&mut PacketCtx<'_>) -> Decision) -> Result<u64> {
        self.run_with(&mut Handler::Each(cb))
    }

    /// [`run`](Self::run) with a callback per receive batch (see
    /// [`dispatch_batch`](Self::dispatch_batch)).
    pub fn run_batch(&self, cb: &mut BatchCallback<'_>) -> Result<u64> {
        self.run_with(&mut Handler::Batch(cb))
    }

    fn run_with(&self, h: &mut Handler<'_>) -> Result<u64> {
        self.ep.run_until_stopped(|| self.dispatch_once(None, h))
    }

    /// Waits up to `timeout` (`None`: until something arrives or [`stop`](Self::stop)), then
    /// receives one batch of datagrams, hands each packet to `cb` and sends the batch's
    /// verdicts together. Returns the number of packets handled (0 on timeout or when woken
    /// by `stop`, which this call then consumes).
    pub fn dispatch(
        &self,
        timeout: Option<Duration>,
        cb: &mut dyn FnMut(&mut PacketCtx<'_>) -> Decision,
    ) -> Result<usize> {
        self.dispatch_once(timeout, &mut Handler::Each(cb)).map(|(n, _)| n)
    }

    /// [`dispatch`](Self::dispatch) with one callback for all the packets of a receive batch
    /// (up to the configured batch of datagrams), for callers whose cost is per call rather
    /// than per packet (an interpreter behind an FFI). The callback gets the packets in the
    /// order the kernel sent them and writes the answer for `ctxs[i]` to `answers[i]`, which
    /// starts as the fallback verdict. The verdicts then go out together, as in `dispatch`.
    /// A panic gives every packet of the batch the fallback verdict, counts each as a
    /// callback error and is resumed after the verdicts are sent.
    pub fn dispatch_batch(&self, timeout: Option<Duration>, cb: &mut BatchCallback<'_>) -> Result<usize> {
        self.dispatch_once(timeout, &mut Handler::Batch(cb)).map(|(n, _)| n)
    }

    fn dispatch_once(&self, timeout: Option<Duration>, cb: &mut Handler<'_>) -> Result<(usize, bool)> {
        let _g = self.ep.claim(false, "dispatch")?;
        let mut st = self.take_rx();
        let r = self.dispatch_inner(&mut st, timeout, cb);
        if let Ok(mut slot) = self.rx.lock() {
            *slot = Some(st);
        }
        match r {
            Ok((n, stopped, None)) => Ok((n, stopped)),
            Ok((_, _, Some(panic))) => resume_unwind(panic),
            Err(e) => Err(e),
        }
    }

    fn take_rx(&self) -> Box<RxState> {
        let want = self.slot.load(Relaxed) as usize;
        let cur = self.rx.lock().ok().and_then(|mut s| s.take());
        match cur {
            Some(st) if st.batch.slot_size() >= want => st,
            _ => Box::new(RxState {
                batch: RecvBatch::new(self.batch, want),
                tx: TxState {
                    out: Vec::with_capacity(FLUSH_AT + 128 * 1024),
                    out_count: 0,
                    out_msgs: 0,
                    scratch: Vec::with_capacity(2048),
                    run: None,
                    woke: false,
                },
                busy: false,
                pkts: Vec::new(),
                ctxs: Vec::new(),
                scratches: Vec::new(),
                decisions: Vec::new(),
            }),
        }
    }

    #[allow(clippy::type_complexity)]
    fn dispatch_inner(
        &self,
        st: &mut RxState,
        timeout: Option<Duration>,
        cb: &mut Handler<'_>,
    ) -> Result<(usize, bool, Option<Box<dyn std::any::Any + Send>>)> {
        let mut handled = 0;
        let mut stopped = false;
        let mut panic = None;
        if self.ep.take_pending_hint() {
            while let Some(msg) = self.ep.take_pending() {
                let info = RecvInfo { len: msg.len(), truncated: false, real_len: msg.len(), sender: 0 };
                handled += match cb {
                    Handler::Each(f) => self.process(&msg, info, &mut st.tx, *f, &mut panic),
                    Handler::Batch(f) => {
                        let RxState { tx, pkts: store, ctxs, scratches, decisions, .. } = &mut *st;
                        let mut pkts = recycle(std::mem::take(store));
                        self.collect(&msg, info, tx, &mut pkts);
                        let mut rest = BatchRest { tx, ctxs, scratches, decisions };
                        let n = self.handle_batch(&pkts, &mut rest, *f, &mut panic);
                        *store = recycle(pkts);
                        n
                    }
                };
            }
        }
        // After a receive that got all it asked for, receive first (without blocking) and wait
        // only when nothing is there; the wait happens inside recvmmsg itself, which takes one
        // system call where poll + receive take two. stop() wakes that wait with the kernel's
        // ACK to its NOOP, a signal with EINTR; a stop requested while datagrams were waiting
        // (stop() then sends no NOOP) is seen here, before blocking.
        let got = if handled == 0 && st.busy { self.receive(st, false, cb, &mut panic, &mut handled)? } else { 0 };
        if got == 0 {
            match timeout {
                _ if handled > 0 => {
                    self.receive(st, false, cb, &mut panic, &mut handled)?;
                }
                Some(t) if t.is_zero() => {
                    self.receive(st, false, cb, &mut panic, &mut handled)?;
                }
                // A stop() to honour before blocking (it sent no wake-up if datagrams waited).
                _ if self.ep.stop_requested() => st.tx.woke = true,
                None => {
                    self.receive(st, true, cb, &mut panic, &mut handled)?;
                }
                Some(t) => {
                    let readable = match self.ep.socket().wait(None, Some(t)) {
                        Ok((readable, _)) => readable,
                        Err(e) => {
                            self.flush(&mut st.tx)?;
                            return Err(self.fail(Error::from_io(&e, "waiting for packets")));
                        }
                    };
                    if readable {
                        self.receive(st, false, cb, &mut panic, &mut handled)?;
                    }
                }
            }
        }
        if std::mem::take(&mut st.tx.woke) {
            stopped = self.ep.take_stop();
        }
        self.flush(&mut st.tx)?;
        Ok((handled, stopped, panic))
    }

    /// Receives one batch (with `block`, waiting for its first datagram) and handles it;
    /// returns the datagrams received. An overflow (ENOBUFS) is counted and returns 0; other
    /// errors flush and return.
    fn receive(
        &self,
        st: &mut RxState,
        block: bool,
        cb: &mut Handler<'_>,
        panic: &mut Option<Box<dyn std::any::Any + Send>>,
        handled: &mut usize,
    ) -> Result<usize> {
        // A blocking receive asks for one datagram: when the loop had to wait, packets come
        // one at a time, and a lone packet then gets its verdict without waiting for the
        // kernel's attempt at a second datagram. When that one datagram arrives, more may be
        // waiting: `busy` makes the next call take them with a full non-blocking batch first.
        let (r, asked) = if block {
            (self.ep.socket().recv_batch_blocking(&mut st.batch, 1), 1)
        } else {
            (self.ep.socket().recv_batch(&mut st.batch), st.batch.slots())
        };
        match r {
            Ok(n) => {
                st.busy = n == asked;
                match cb {
                    Handler::Each(f) => {
                        let RxState { batch, tx, .. } = st;
                        for i in 0..n {
                            let (buf, info) = batch.get(i);
                            *handled += self.process(buf, info, tx, *f, panic);
                        }
                    }
                    Handler::Batch(f) => {
                        // The batch's datagrams stay in `batch` until the next receive, so the
                        // packets of all of them can be handed over at once.
                        let RxState { batch, tx, pkts: store, ctxs, scratches, decisions, .. } = &mut *st;
                        let mut pkts = recycle(std::mem::take(store));
                        for i in 0..n {
                            let (buf, info) = batch.get(i);
                            self.collect(buf, info, tx, &mut pkts);
                        }
                        let mut rest = BatchRest { tx, ctxs, scratches, decisions };
                        *handled += self.handle_batch(&pkts, &mut rest, *f, panic);
                        *store = recycle(pkts);
                    }
                }
                Ok(n)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                bump(&self.counters.enobufs, 1);
                let _ = self.fail(Error::from_errno(libc::ENOBUFS, "receiving packets"));
                Ok(0)
            }
            Err(e) => {
                self.flush(&mut st.tx)?;
                Err(self.fail(Error::from_io(&e, "receiving packets")))
            }
        }
    }

    fn flush(&self, st: &mut TxState) -> Result<()> {
        st.run = None;
        if st.out.is_empty() {
            return Ok(());
        }
        let r = self.ep.socket().send(&st.out);
        let (n, msgs) = (st.out_count, st.out_msgs);
        st.out.clear();
        st.out_count = 0;
        st.out_msgs = 0;
        self.sent(r, n, msgs, || format!("sending {n} verdicts"))
    }

    /// Appends a verdict to the batch. A plain verdict (no mark, payload, ...) for the id right
    /// after the previous plain one of the same queue and verdict extends that message into a
    /// batch verdict instead, unless the handle keeps packets for later: a batch verdict would
    /// release those too.
    fn push_verdict(&self, st: &mut TxState, queue: u16, id: u32, verdict: u32, opts: &VerdictOpts<'_>) {
        let plain = *opts == VerdictOpts::default();
        if plain && self.coalesce && !self.ever_deferred.load(Relaxed) {
            if let Some(run) = st.run.as_mut() {
                if run.queue == queue && run.verdict == verdict && run.last_id.wrapping_add(1) == id {
                    let batch = nfnl_msg_type(NFNL_SUBSYS_QUEUE, super::NFQNL_MSG_VERDICT_BATCH);
                    st.out[run.offset + 4..run.offset + 6].copy_from_slice(&batch.to_ne_bytes());
                    st.out[run.offset + RUN_ID_AT..run.offset + RUN_ID_AT + 4].copy_from_slice(&id.to_be_bytes());
                    run.last_id = id;
                    st.out_count += 1;
                    return;
                }
            }
        }
        if st.out.len() > FLUSH_AT {
            let _ = self.flush(st);
        }
        let (offset, _) = encode_verdict(&mut st.out, 0, queue, id, verdict, opts, false);
        st.out_count += 1;
        st.out_msgs += 1;
        st.run = plain.then_some(Run { queue, verdict, last_id: id, offset });
    }

    fn fallback_verdict(&self, st: &mut TxState, queue: u16, id: u32) {
        bump(&self.counters.fallback_verdicts, 1);
        self.push_verdict(st, queue, id, self.fallback.raw(), &VerdictOpts::default());
    }

    /// Checks a received datagram before its messages are read: one from another sender, or
    /// one cut short, is counted (a cut one's packet gets the fallback verdict) and skipped.
    fn admit(&self, buf: &[u8], info: RecvInfo, st: &mut TxState) -> bool {
        if info.sender != 0 {
            bump(&self.counters.foreign_ignored, 1);
            return false;
        }
        if info.truncated {
            bump(&self.counters.truncated, 1);
            let msg = match Packet::salvage_id(buf) {
                Some((q, id)) => {
                    self.fallback_verdict(st, q, id);
                    format!(
                        "packet {id} on queue {q}: message of {} bytes cut to {} (receive slot too small); \
                         gave it the fallback verdict {:?}",
                        info.real_len, info.len, self.fallback
                    )
                }
                None => format!("a message of {} bytes was cut to {}", info.real_len, info.len),
            };
            let _ = self.fail(Error::new(ErrorKind::Protocol, msg));
            return false;
        }
        true
    }

    /// Reads the packets of one datagram and hands each to `each`. Other messages (ACKs,
    /// errors, the wake-up of `stop`) and malformed ones are dealt with here; a malformed
    /// packet whose id can be read gets the fallback verdict.
    #[inline(always)]
    fn packets<'b>(&self, buf: &'b [u8], st: &mut TxState, mut each: impl FnMut(&mut TxState, &Packet<'b>)) {
        for m in Messages::new(buf) {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    bump(&self.counters.parse_errors, 1);
                    let _ = self.fail(Error::parse(e, "malformed message from the kernel"));
                    break;
                }
            };
            if m.msg_type() != nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_PACKET) {
                if let Some(Ok(e)) = m.error() {
                    if m.seq() == WAKE_SEQ {
                        st.woke = true; // stop()'s wake-up, not an answer
                    } else {
                        self.async_error(&e);
                    }
                }
                continue;
            }
            let parsed = Packet::parse(&m);
            let pkt = match &parsed {
                Ok(p) => p,
                Err(e) => {
                    bump(&self.counters.parse_errors, 1);
                    let msg = match Packet::salvage_id(m.bytes()) {
                        Some((q, id)) => {
                            self.fallback_verdict(st, q, id);
                            format!("malformed packet {id} on queue {q} ({e}); gave it the fallback verdict")
                        }
                        None => format!("malformed packet message ({e})"),
                    };
                    let _ = self.fail(Error::new(ErrorKind::Protocol, msg));
                    continue;
                }
            };
            each(st, pkt);
        }
    }

    fn process(
        &self,
        buf: &[u8],
        info: RecvInfo,
        st: &mut TxState,
        cb: &mut dyn FnMut(&mut PacketCtx<'_>) -> Decision,
        panic: &mut Option<Box<dyn std::any::Any + Send>>,
    ) -> usize {
        if !self.admit(buf, info, st) {
            return 0;
        }
        let mut handled = 0;
        self.packets(buf, st, |st, pkt| {
            bump_owned(&self.counters.packets_received, 1);
            handled += 1;
            let mut ctx = PacketCtx {
                pkt,
                queue: self,
                mark: None,
                connmark: None,
                priority: None,
                labels: None,
                payload_set: false,
                scratch: &mut st.scratch,
            };
            let r = catch_unwind(AssertUnwindSafe(|| cb(&mut ctx)));
            let decision = match r {
                Ok(d) => d,
                Err(p) => {
                    panic.get_or_insert(p);
                    let (queue, id) = (pkt.queue(), pkt.id());
                    bump(&self.counters.callback_errors, 1);
                    let _ = self.fail(Error::new(
                        ErrorKind::Internal,
                        format!("the callback panicked on packet {id} of queue {queue}; gave it the fallback verdict"),
                    ));
                    self.fallback_verdict(st, queue, id);
                    return;
                }
            };
            let (mark, connmark, priority, payload_set, labels) =
                (ctx.mark, ctx.connmark, ctx.priority, ctx.payload_set, ctx.labels);
            let scratch = std::mem::take(&mut st.scratch);
            let payload = if payload_set { Some(&scratch[..]) } else { None };
            self.answer(st, pkt, decision, mark, connmark, priority, payload, labels);
            st.scratch = scratch;
        });
        handled
    }

    /// Sends (appends) the verdict a callback chose for `pkt`, or records that it was deferred.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn answer(
        &self,
        st: &mut TxState,
        pkt: &Packet<'_>,
        decision: Decision,
        mark: Option<u32>,
        connmark: Option<u32>,
        priority: Option<u32>,
        payload: Option<&[u8]>,
        labels: Option<([u8; 16], [u8; 16])>,
    ) {
        match decision {
            Decision::Verdict(v) => {
                let opts =
                    VerdictOpts { mark, connmark, priority, payload, labels: labels.as_ref().map(|(l, m)| (l, m)) };
                self.push_verdict(st, pkt.queue(), pkt.id(), v.raw(), &opts);
            }
            Decision::Later => {
                self.ever_deferred.store(true, Relaxed);
                st.run = None;
                bump(&self.counters.deferred, 1)
            }
        }
    }

    /// Batch mode: the packets of one datagram, appended to `out`.
    fn collect<'b>(&self, buf: &'b [u8], info: RecvInfo, st: &mut TxState, out: &mut Vec<Packet<'b>>) {
        if self.admit(buf, info, st) {
            self.packets(buf, st, |_, pkt| out.push(*pkt));
        }
    }

    /// Batch mode: hands `pkts` to the callback at once, then sends their verdicts.
    fn handle_batch(
        &self,
        pkts: &[Packet<'_>],
        rest: &mut BatchRest<'_>,
        cb: &mut BatchCallback<'_>,
        panic: &mut Option<Box<dyn std::any::Any + Send>>,
    ) -> usize {
        let n = pkts.len();
        if n == 0 {
            return 0;
        }
        bump_owned(&self.counters.packets_received, n as u64);
        if rest.scratches.len() < n {
            rest.scratches.resize_with(n, Vec::new);
        }
        let decisions = &mut *rest.decisions;
        decisions.clear();
        decisions.resize(n, Decision::Verdict(self.fallback));
        let mut ctxs: Vec<PacketCtx<'_>> = recycle(std::mem::take(rest.ctxs));
        ctxs.extend(pkts.iter().zip(rest.scratches.iter_mut()).map(|(pkt, scratch)| PacketCtx {
            pkt,
            queue: self,
            mark: None,
            connmark: None,
            priority: None,
            labels: None,
            payload_set: false,
            scratch,
        }));
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| cb(&mut ctxs, decisions))) {
            panic.get_or_insert(p);
            bump(&self.counters.callback_errors, n as u64);
            let _ = self.fail(Error::new(
                ErrorKind::Internal,
                format!("the batch callback panicked on a batch of {n} packets; gave them the fallback verdict"),
            ));
            for (ctx, d) in ctxs.iter_mut().zip(decisions.iter_mut()) {
                *d = Decision::Verdict(self.fallback);
                (ctx.mark, ctx.connmark, ctx.priority, ctx.labels, ctx.payload_set) = (None, None, None, None, false);
            }
            bump(&self.counters.fallback_verdicts, n as u64);
        }
        for (ctx, d) in ctxs.drain(..).zip(decisions.iter()) {
            let payload = if ctx.payload_set { Some(&ctx.scratch[..]) } else { None };
            self.answer(rest.tx, ctx.pkt, *d, ctx.mark, ctx.connmark, ctx.priority, payload, ctx.labels);
        }
        *rest.ctxs = recycle(ctxs);
        n
    }

    /// Counts a callback answer that was not a valid verdict (used by the C layer) and
    /// returns the fallback verdict to apply.
    pub fn invalid_answer(&self, queue: u16, id: u32, answer: i64) -> Verdict {
        bump(&self.counters.callback_errors, 1);
        bump(&self.counters.fallback_verdicts, 1);
        let _ = self.fail(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "the callback returned {answer} for packet {id} of queue {queue}, which is not a verdict; \
                 gave it the fallback verdict {:?}",
                self.fallback
            ),
        ));
        self.fallback
    }

    /// Counts a callback that reported a failure (used by the C and Python layers) and
    /// returns the fallback verdict to apply.
    pub fn callback_failed(&self, queue: u16, id: u32) -> Verdict {
        bump(&self.counters.callback_errors, 1);
        bump(&self.counters.fallback_verdicts, 1);
        let _ = self.fail(Error::new(
            ErrorKind::Internal,
            format!(
                "the callback reported a failure for packet {id} of queue {queue}; gave it the fallback verdict {:?}",
                self.fallback
            ),
        ));
        self.fallback
    }

    /// A snapshot of the library counters.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            packets_received: c.packets_received.load(Relaxed),
            verdicts_sent: c.verdicts_sent.load(Relaxed),
            verdict_messages: c.verdict_messages.load(Relaxed),
            verdict_errors: c.verdict_errors.load(Relaxed),
            enobufs: c.enobufs.load(Relaxed),
            truncated: c.truncated.load(Relaxed),
            foreign_ignored: c.foreign_ignored.load(Relaxed),
            parse_errors: c.parse_errors.load(Relaxed),
            callback_errors: c.callback_errors.load(Relaxed),
            deferred: c.deferred.load(Relaxed),
            fallback_verdicts: c.fallback_verdicts.load(Relaxed),
        }
    }

    /// The kernel's counters for queue `num`, if `/proc/net/netfilter/nfnetlink_queue` was
    /// readable when the handle was opened and the queue is bound.
    pub fn kernel_stats(&self, num: u16) -> Option<KernelStats> {
        let text = read_proc(self.stats_file.as_ref()?)?;
        text.lines().filter_map(parse_proc_line).find(|s| s.queue == num)
    }
}

/// One line of /proc/net/netfilter/nfnetlink_queue:
/// `queue portid total mode range dropped user_dropped id_seq 1`.
fn parse_proc_line(line: &str) -> Option<KernelStats> {
    let mut it = line.split_whitespace().map(|w| w.parse::<u32>().ok());
    Some(KernelStats {
        queue: it.next()??.try_into().ok()?,
        portid: it.next()??,
        queue_total: it.next()??,
        copy_mode: it.next()??,
        copy_range: it.next()??,
        dropped: it.next()??,
        user_dropped: it.next()??,
        id_sequence: it.next()??,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_line_parses() {
        let s = parse_proc_line("    3 123456     2 2 65531     7     9       42  1").unwrap();
        assert_eq!((s.queue, s.portid, s.queue_total, s.copy_mode, s.copy_range), (3, 123456, 2, 2, 65531));
        assert_eq!((s.dropped, s.user_dropped, s.id_sequence), (7, 9, 42));
        assert!(parse_proc_line("garbage").is_none());
    }

    #[test]
    fn config_clamps_range_and_merges_flags() {
        let mut c = Config::new(1);
        c.copy_mode(CopyMode::Packet, 100_000).flags(flags::FAIL_OPEN, flags::FAIL_OPEN).flags(flags::GSO, 0);
        assert_eq!(c.copy_range, MAX_COPY_RANGE);
        assert_eq!(c.flags, flags::FAIL_OPEN);
        assert_eq!(c.flags_mask, flags::FAIL_OPEN | flags::GSO);
        c.add_queue(1).add_queue(2);
        assert_eq!(c.queues(), &[1, 2]);
    }
}
