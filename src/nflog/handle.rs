//! The log handle: one netlink socket with one or more bound NFLOG groups, their config
//! requests (each waits for its ACK, keeping log messages that arrive meanwhile), and the
//! receive loop: many datagrams per `recvmmsg`, every message of every datagram handed to the
//! callback as a [`LogPacket`] pointing into the receive buffer.
//!
//! Threads: one thread receives (dispatch/run); config calls come from that thread (its
//! callbacks included) or while nobody receives; `stop` is safe from any thread and from a
//! signal handler. No lock is held while a callback runs.

use std::fs::File;
use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::time::Duration;

use super::msgs::{ConfigOp, encode_config};
use super::packet::LogPacket;
use super::{MAX_COPY_RANGE, MAX_NLBUFSIZ, NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, cfg, copy, flags, min_nlbufsiz};
use crate::netlink::{
    Endpoint, Error, ErrorKind, Event, Messages, Msg, NLMSG_DONE, Netns, OpenOptions, ParseError, RecvBatch, RecvInfo,
    Result, WAKE_SEQ, errno_name, has_cap_net_admin, nfnl_msg_type, read_proc, socket_drops,
};

/// Settings for [`Log::open`].
#[derive(Clone, Debug)]
pub struct Config {
    groups: Vec<u16>,
    copy_mode: u8,
    copy_range: u32,
    nlbufsiz: Option<u32>,
    timeout_cs: Option<u32>,
    qthresh: Option<u32>,
    flags: Option<u16>,
    rcvbuf: Option<usize>,
    no_enobufs: bool,
    netns: Netns,
    batch: usize,
    ack_timeout: Duration,
}

impl Config {
    /// Group `group`, copy mode packet with whole packets, kernel defaults for buffer, timeout
    /// and threshold, batches of 16 datagrams, a 4 MiB receive buffer.
    pub fn new(group: u16) -> Self {
        Config { groups: vec![group], ..Self::unbound() }
    }

    /// No group bound at open (bind later with [`Log::bind`]).
    pub fn unbound() -> Self {
        Config {
            groups: Vec::new(),
            copy_mode: copy::PACKET,
            copy_range: 0,
            nlbufsiz: None,
            timeout_cs: None,
            qthresh: None,
            flags: None,
            rcvbuf: Some(4 << 20),
            no_enobufs: false,
            netns: Netns::Current,
            batch: 16,
            ack_timeout: Duration::from_secs(5),
        }
    }

    /// Also bind group `group` on the same socket (every group gets the same settings).
    pub fn add_group(&mut self, group: u16) -> &mut Self {
        if !self.groups.contains(&group) {
            self.groups.push(group);
        }
        self
    }
    /// The groups to bind.
    pub fn groups(&self) -> &[u16] {
        &self.groups
    }
    /// Copy mode (`copy::NONE`, `META`, `PACKET`) and range (0: whole packets, up to 65531).
    /// Checked when the handle opens.
    pub fn copy_mode(&mut self, mode: u8, range: u32) -> &mut Self {
        self.copy_mode = mode;
        self.copy_range = range;
        self
    }
    /// The group buffer in bytes: how much the kernel gathers into one datagram (one page up to
    /// 131072). Checked when the handle opens.
    pub fn nlbufsiz(&mut self, bytes: u32) -> &mut Self {
        self.nlbufsiz = Some(bytes);
        self
    }
    /// Flush timeout in hundredths of a second (kernel default 100).
    pub fn timeout_cs(&mut self, cs: u32) -> &mut Self {
        self.timeout_cs = Some(cs);
        self
    }
    /// Messages gathered before a flush (kernel default 100; a rule's lower
    /// `--nflog-threshold` wins).
    pub fn threshold(&mut self, n: u32) -> &mut Self {
        self.qthresh = Some(n);
        self
    }
    /// Group flags (`flags::SEQ`, `SEQ_GLOBAL`, `CONNTRACK`).
    pub fn flags(&mut self, f: u16) -> &mut Self {
        self.flags = Some(f);
        self
    }
    /// Receive buffer in bytes (`None` keeps the system default).
    pub fn rcvbuf(&mut self, bytes: Option<usize>) -> &mut Self {
        self.rcvbuf = bytes;
        self
    }
    /// `NETLINK_NO_ENOBUFS`: stop reporting overflows (the kernel still counts its drops).
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
}

/// Library counters for one handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Log messages received, decoded and handed to the callback.
    pub packets_received: u64,
    /// Datagrams received (each carries one or more log messages).
    pub datagrams: u64,
    /// Receive-buffer overflows reported by the kernel (ENOBUFS): log messages were lost; the
    /// kernel's own count of lost datagrams is [`Log::kernel_drops`].
    pub enobufs: u64,
    /// Datagrams larger than the receive slot: the messages after the cut were lost (the slot
    /// grows for the next receive).
    pub truncated: u64,
    /// Malformed messages from the kernel (skipped).
    pub parse_errors: u64,
    /// Callbacks that panicked.
    pub callback_errors: u64,
}

#[derive(Default)]
struct Counters {
    packets_received: AtomicU64,
    datagrams: AtomicU64,
    enobufs: AtomicU64,
    truncated: AtomicU64,
    parse_errors: AtomicU64,
    callback_errors: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

/// [`bump`] for a counter only the thread holding the receive claim writes: a plain load and
/// store instead of a locked read-modify-write.
fn bump_owned(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// One line of `/proc/net/netfilter/nfnetlink_log`: the kernel's view of a bound group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Group number.
    pub group: u16,
    /// Port id of the owning socket.
    pub portid: u32,
    /// Messages gathered and not yet sent.
    pub qlen: u32,
    /// Copy mode (0 none, 1 meta, 2 packet).
    pub copy_mode: u32,
    /// Copy range.
    pub copy_range: u32,
    /// Flush timeout in hundredths of a second.
    pub flush_timeout: u32,
}

fn parse_proc_line(line: &str) -> Option<KernelStats> {
    let mut it = line.split_whitespace().map(|w| w.parse::<u32>().ok());
    Some(KernelStats {
        group: it.next()??.try_into().ok()?,
        portid: it.next()??,
        qlen: it.next()??,
        copy_mode: it.next()??,
        copy_range: it.next()??,
        flush_timeout: it.next()??,
    })
}

struct RxState {
    batch: RecvBatch,
    /// A wake-up ACK from `stop` was received in this batch.
    woke: bool,
    /// The last receive got all it asked for: more is probably waiting.
    busy: bool,
}

/// Receive slot for a group buffer of `nlbufsiz` bytes and a copy range of `range`. The kernel
/// allocates the group's skb for the buffer size (or one message when a single one is larger),
/// but the allocator rounds that up (`kmalloc_size_roundup`: a power of two above a page, plus
/// `struct skb_shared_info`), and the kernel fills the skb up to its real tail room before it
/// sends it. So a datagram can be almost twice `nlbufsiz`: with 8192, 14 KiB datagrams were
/// seen. The slot is the power of two above the request plus that overhead.
fn slot_size(nlbufsiz: u32, range: u32) -> usize {
    let n = (nlbufsiz as usize).max(range as usize + 1024).max(min_nlbufsiz() as usize);
    (n + 1024).next_power_of_two()
}

type Panic = Option<Box<dyn std::any::Any + Send>>;

/// What the receive loop does with each log message and at the end of each receive batch.
/// The loop is generic over it, so each way of handing messages out is compiled on its own.
trait Handler {
    /// One `NFULNL_MSG_PACKET` message, `view` the datagram's one view to decode it into if the
    /// handler wants a view. An error means the message was malformed (the loop counts it).
    fn message<'b>(
        &mut self,
        log: &Log,
        m: &Msg<'b>,
        view: &mut LogPacket<'b>,
        panic: &mut Panic,
    ) -> std::result::Result<(), ParseError>;
    /// The end of a receive batch that handed at least one datagram.
    fn end(&mut self, panic: &mut Panic);
}

/// The view path: each message decoded into the view and handed to `each`.
struct Sink<'c, 'e> {
    each: &'c mut dyn FnMut(&LogPacket<'_>),
    end: &'e mut dyn FnMut(),
}

impl Handler for Sink<'_, '_> {
    #[inline]
    fn message<'b>(
        &mut self,
        log: &Log,
        m: &Msg<'b>,
        view: &mut LogPacket<'b>,
        panic: &mut Panic,
    ) -> std::result::Result<(), ParseError> {
        // Decoded into the one view of this datagram: nothing is copied per message.
        view.parse_in_place(m)?;
        let pkt = &*view;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| (self.each)(pkt))) {
            bump(&log.counters.callback_errors, 1);
            let _ = log.fail(Error::new(
                ErrorKind::Internal,
                format!("the callback panicked on a log message of group {}", pkt.group()),
            ));
            panic.get_or_insert(p);
        }
        Ok(())
    }
    #[inline]
    fn end(&mut self, _panic: &mut Panic) {
        (self.end)();
    }
}

/// A record of a log message that decodes itself from the message (the C API's
/// `nfq_rs_log_packet_info`), for the record path of the receive loop.
pub(crate) trait RecordDecode: Sized {
    /// The record with every field absent.
    const EMPTY: Self;
    /// Decodes a `NFULNL_MSG_PACKET` message's payload (the bytes after its nlmsghdr) into
    /// `rec`, which holds [`EMPTY`](Self::EMPTY) on entry (decoded in place: the record is not
    /// moved after it is filled).
    fn decode_into(payload: &[u8], rec: &mut Self) -> std::result::Result<(), ParseError>;
}

/// The record path: each message decoded straight into a record (no view, no call per
/// message), the batch's records handed to `end` at once.
struct Records<'r, 'e, R> {
    recs: &'r mut Vec<R>,
    end: &'e mut dyn FnMut(&[R]),
}

impl<R: RecordDecode> Handler for Records<'_, '_, R> {
    #[inline]
    fn message<'b>(
        &mut self,
        _log: &Log,
        m: &Msg<'b>,
        _view: &mut LogPacket<'b>,
        _panic: &mut Panic,
    ) -> std::result::Result<(), ParseError> {
        self.recs.push(R::EMPTY);
        let last = self.recs.len() - 1;
        let r = R::decode_into(m.payload(), &mut self.recs[last]);
        if r.is_err() {
            self.recs.pop();
        }
        r
    }
    #[inline]
    fn end(&mut self, panic: &mut Panic) {
        if self.recs.is_empty() {
            return;
        }
        let (recs, end) = (&*self.recs, &mut self.end);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| end(recs))) {
            panic.get_or_insert(p);
        }
        self.recs.clear();
    }
}

/// A netlink socket with its bound NFLOG groups.
pub struct Log {
    ep: Endpoint,
    rx: Mutex<Option<Box<RxState>>>,
    bound: Mutex<Vec<u16>>,
    slot: AtomicU32,
    batch: usize,
    counters: Counters,
    stats_file: Option<File>,
    netlink_file: Option<File>,
}

impl Log {
    /// Opens a socket (in the configured namespace), sets its buffers and binds and configures
    /// every group of `cfg`. Needs CAP_NET_ADMIN.
    pub fn open(cfg: &Config) -> Result<Log> {
        let (ep, files) = Endpoint::open(&OpenOptions {
            netns: &cfg.netns,
            adopt_fd: None,
            rcvbuf: cfg.rcvbuf,
            no_enobufs: cfg.no_enobufs,
            ack_timeout: cfg.ack_timeout,
            proc_files: &["netfilter/nfnetlink_log", "netlink"],
        })?;
        let [stats_file, netlink_file]: [Option<File>; 2] = files.try_into().unwrap_or_default();
        let log = Log {
            ep,
            rx: Mutex::new(None),
            bound: Mutex::new(Vec::new()),
            slot: AtomicU32::new(slot_size(min_nlbufsiz(), 0) as u32),
            batch: cfg.batch,
            counters: Counters::default(),
            stats_file,
            netlink_file,
        };
        for &g in &cfg.groups {
            log.bind(g)?;
            log.set_copy_mode(g, cfg.copy_mode, cfg.copy_range)?;
            if let Some(n) = cfg.nlbufsiz {
                log.set_nlbufsiz(g, n)?;
            }
            if let Some(t) = cfg.timeout_cs {
                log.set_timeout(g, t)?;
            }
            if let Some(q) = cfg.qthresh {
                log.set_threshold(g, q)?;
            }
            if let Some(f) = cfg.flags {
                log.set_flags(g, f)?;
            }
        }
        Ok(log)
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

    /// Groups bound on this handle.
    pub fn bound_groups(&self) -> Vec<u16> {
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

    fn invalid(&self, msg: String) -> Error {
        self.fail(Error::new(ErrorKind::InvalidArgument, msg))
    }

    /// Sends one config request for `group` (family `family`) and waits for its ACK, keeping
    /// the log messages that arrive meanwhile.
    fn config(&self, family: u8, group: u16, op: ConfigOp, what: &str) -> Result<()> {
        let _g = self.ep.claim(true, what)?;
        let mut again = true;
        loop {
            let r = self.ep.request(
                |req, seq| {
                    encode_config(req, seq, family, group, op, true);
                },
                &mut |ev| match ev {
                    Event::Other(m, info) => {
                        if m.msg_type() == nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET) {
                            if info.truncated {
                                bump(&self.counters.truncated, 1);
                            }
                            self.ep.keep_pending(m.bytes());
                        }
                    }
                    Event::Foreign(_) => {}
                    Event::Overflow => bump(&self.counters.enobufs, 1),
                    Event::Malformed => bump(&self.counters.parse_errors, 1),
                },
            );
            let (errno, ext) = match r {
                Ok(()) => return Ok(()),
                // The kernel loaded a module it needed (nf_conntrack_netlink for the conntrack
                // flag) and asks for the request again.
                Err((libc::EAGAIN, _)) if again => {
                    again = false;
                    continue;
                }
                Err(f) => f,
            };
            let mut e = Error::from_errno(errno, what);
            if let Some(h) = self.hint(errno, family, group, op, what) {
                e = e.with_message(h);
            }
            if let Some(x) = ext {
                let m = format!("{} (kernel: {x})", e.message());
                e = e.with_message(m);
            }
            return Err(self.fail(e));
        }
    }

    /// What an errno means for an NFLOG config request, and what to do about it.
    fn hint(&self, errno: i32, family: u8, group: u16, op: ConfigOp, what: &str) -> Option<String> {
        let e = errno_name(errno);
        Some(match (errno, op) {
            (libc::EPERM, _) if !has_cap_net_admin() => {
                format!("{what}: {e}: the process lacks CAP_NET_ADMIN; run as root or grant the capability")
            }
            (libc::EPERM, _) => format!(
                "{what}: {e}: group {group} is bound by another netlink socket (another process, e.g. ulogd); \
                 stop it or use another --nflog-group"
            ),
            (libc::EBUSY, ConfigOp::Cmd(cfg::CMD_BIND)) => {
                format!("{what}: {e}: group {group} is already bound on this handle")
            }
            (libc::ENODEV, _) => format!("{what}: {e}: group {group} is not bound; bind it first"),
            (libc::EOPNOTSUPP, ConfigOp::Flags(f)) if f & flags::CONNTRACK != 0 => format!(
                "{what}: {e}: the kernel lacks CONFIG_NETFILTER_NETLINK_GLUE_CT (or nf_conntrack_netlink), needed \
                 for the conntrack flag (NFULNL_CFG_F_CONNTRACK)"
            ),
            (libc::ENOENT, ConfigOp::Cmd(cfg::CMD_PF_BIND)) => format!(
                "{what}: {e}: nfnetlink_log is not registered as an nf_log backend for family {family} \
                 (modprobe nfnetlink_log; see /proc/net/netfilter/nf_log)"
            ),
            (libc::EINVAL, _) if self.stats_file.is_none() => format!(
                "{what}: {e}: this kernel has no nfnetlink_log (CONFIG_NETFILTER_NETLINK_LOG): \
                 modprobe nfnetlink_log, or build the kernel with it"
            ),
            _ => return None,
        })
    }

    /// Binds group `group` to this socket: the kernel sends what NFLOG rules log to it here.
    pub fn bind(&self, group: u16) -> Result<()> {
        self.config(0, group, ConfigOp::Cmd(cfg::CMD_BIND), &format!("binding nflog group {group}"))?;
        if let Ok(mut b) = self.bound.lock() {
            b.push(group);
        }
        Ok(())
    }

    /// Unbinds group `group`; the kernel first sends what it has gathered for it.
    pub fn unbind(&self, group: u16) -> Result<()> {
        self.config(0, group, ConfigOp::Cmd(cfg::CMD_UNBIND), &format!("unbinding nflog group {group}"))?;
        if let Ok(mut b) = self.bound.lock() {
            b.retain(|&g| g != group);
        }
        Ok(())
    }

    /// Makes nfnetlink_log the nf_log backend of address family `family` (the historical
    /// `NFULNL_CFG_CMD_PF_BIND`: needed only for the kernel's own log calls, e.g. conntrack's
    /// invalid-packet logging; NFLOG rules do not need it).
    pub fn bind_pf(&self, family: u8) -> Result<()> {
        self.config(family, 0, ConfigOp::Cmd(cfg::CMD_PF_BIND), &format!("binding nfnetlink_log to family {family}"))
    }

    /// Undoes [`bind_pf`](Self::bind_pf) (for every user of the namespace).
    pub fn unbind_pf(&self, family: u8) -> Result<()> {
        self.config(
            family,
            0,
            ConfigOp::Cmd(cfg::CMD_PF_UNBIND),
            &format!("unbinding nfnetlink_log from family {family}"),
        )
    }

    /// Sets the copy mode of group `group`: `copy::NONE`, `META` or `PACKET`, and for `PACKET`
    /// the bytes of each packet to copy (0 means whole packets, at most 65531). The kernel
    /// would ignore a bad mode and clamp a larger range without saying so; both are refused here.
    pub fn set_copy_mode(&self, group: u16, mode: u8, range: u32) -> Result<()> {
        if mode > copy::PACKET {
            return Err(self.invalid(format!(
                "copy mode {mode} for nflog group {group}: not a copy mode (0 none, 1 meta, 2 packet)"
            )));
        }
        if range > MAX_COPY_RANGE {
            return Err(self.invalid(format!(
                "copy range {range} for nflog group {group}: the kernel's maximum is {MAX_COPY_RANGE} \
                 (NFULNL_COPY_RANGE_MAX) and it would clamp it silently; use 0 for whole packets"
            )));
        }
        let what = format!("setting copy mode {mode} range {range} on nflog group {group}");
        self.config(0, group, ConfigOp::Mode { mode, range }, &what)?;
        if mode == copy::PACKET {
            let r = if range == 0 { MAX_COPY_RANGE } else { range };
            self.slot.fetch_max(slot_size(0, r) as u32, Relaxed);
        }
        Ok(())
    }

    /// Sets the group buffer: how many bytes of log messages the kernel gathers into one
    /// datagram (one page up to 131072; the kernel would ignore other values silently).
    pub fn set_nlbufsiz(&self, group: u16, bytes: u32) -> Result<()> {
        let min = min_nlbufsiz();
        if !(min..=MAX_NLBUFSIZ).contains(&bytes) {
            return Err(self.invalid(format!(
                "buffer size {bytes} for nflog group {group}: the kernel accepts {min} to {MAX_NLBUFSIZ} bytes \
                 and would ignore this value silently"
            )));
        }
        self.config(
            0,
            group,
            ConfigOp::NlBufSiz(bytes),
            &format!("setting buffer size {bytes} on nflog group {group}"),
        )?;
        self.slot.fetch_max(slot_size(bytes, 0) as u32, Relaxed);
        Ok(())
    }

    /// Sets the flush timeout in hundredths of a second: a gathered message waits at most this
    /// long before the kernel sends it.
    pub fn set_timeout(&self, group: u16, cs: u32) -> Result<()> {
        self.config(0, group, ConfigOp::Timeout(cs), &format!("setting timeout {cs} cs on nflog group {group}"))
    }

    /// Sets the threshold: the kernel sends a datagram once it holds this many messages (a
    /// rule's lower `--nflog-threshold` wins).
    pub fn set_threshold(&self, group: u16, n: u32) -> Result<()> {
        self.config(0, group, ConfigOp::QThresh(n), &format!("setting threshold {n} on nflog group {group}"))
    }

    /// Sets the group's flags (`flags::SEQ`, `SEQ_GLOBAL`, `CONNTRACK`; all at once, not a mask).
    pub fn set_flags(&self, group: u16, f: u16) -> Result<()> {
        let known = flags::SEQ | flags::SEQ_GLOBAL | flags::CONNTRACK;
        if f & !known != 0 {
            return Err(self.invalid(format!(
                "flags {f:#x} for nflog group {group}: unknown bits {:#x} (known: SEQ 1, SEQ_GLOBAL 2, CONNTRACK 4)",
                f & !known
            )));
        }
        self.config(0, group, ConfigOp::Flags(f), &format!("setting flags {f:#x} on nflog group {group}"))
    }

    /// Asks a running [`run`](Self::run) to return, or a blocked [`dispatch`](Self::dispatch)
    /// to wake up. Safe from any thread and from a signal handler (see [`Endpoint::stop`]).
    pub fn stop(&self) {
        self.ep.stop();
    }

    /// Whether a stop was requested and not yet consumed.
    pub fn stop_requested(&self) -> bool {
        self.ep.stop_requested()
    }

    /// Receives and hands log messages to `cb` until [`stop`](Self::stop) (a stop requested
    /// before `run` makes it return at once). Overflows (ENOBUFS) are counted and do not end
    /// the loop. Returns the number of messages handled.
    pub fn run(&self, cb: &mut dyn FnMut(&LogPacket<'_>)) -> Result<u64> {
        self.run_batched(cb, &mut || {})
    }

    /// [`run`](Self::run), calling `end` after the messages of each receive batch (every
    /// message handed to `cb` since the last `end` still points into the receive buffer until
    /// `end` returns): for callers that gather a batch and hand it on at once.
    pub fn run_batched(&self, cb: &mut dyn FnMut(&LogPacket<'_>), end: &mut dyn FnMut()) -> Result<u64> {
        let mut sink = Sink { each: cb, end };
        self.ep.run_until_stopped(|| self.dispatch_once(None, &mut sink))
    }

    /// Waits up to `timeout` (`None`: until something arrives or [`stop`](Self::stop)), then
    /// receives one batch of datagrams and hands every log message in them to `cb`. Returns
    /// the number of messages handled (0 on timeout or when woken by `stop`, which this call
    /// then consumes).
    pub fn dispatch(&self, timeout: Option<Duration>, cb: &mut dyn FnMut(&LogPacket<'_>)) -> Result<usize> {
        self.dispatch_batched(timeout, cb, &mut || {})
    }

    /// [`dispatch`](Self::dispatch) with `end` called after each batch, as in
    /// [`run_batched`](Self::run_batched).
    pub fn dispatch_batched(
        &self,
        timeout: Option<Duration>,
        cb: &mut dyn FnMut(&LogPacket<'_>),
        end: &mut dyn FnMut(),
    ) -> Result<usize> {
        self.dispatch_once(timeout, &mut Sink { each: cb, end }).map(|(n, _)| n)
    }

    /// [`run`](Self::run) for the C API's batch callback: each message decoded straight into
    /// a record in `recs`, and `end` called with the records of each receive batch (what they
    /// point at valid until it returns). No view and no call per message.
    pub(crate) fn run_records<R: RecordDecode>(&self, recs: &mut Vec<R>, end: &mut dyn FnMut(&[R])) -> Result<u64> {
        let mut h = Records { recs, end };
        self.ep.run_until_stopped(|| self.dispatch_once(None, &mut h))
    }

    /// [`dispatch`](Self::dispatch) for the C API's batch callback, as
    /// [`run_records`](Self::run_records).
    pub(crate) fn dispatch_records<R: RecordDecode>(
        &self,
        timeout: Option<Duration>,
        recs: &mut Vec<R>,
        end: &mut dyn FnMut(&[R]),
    ) -> Result<usize> {
        self.dispatch_once(timeout, &mut Records { recs, end }).map(|(n, _)| n)
    }

    fn dispatch_once<H: Handler>(&self, timeout: Option<Duration>, sink: &mut H) -> Result<(usize, bool)> {
        let _g = self.ep.claim(false, "dispatch")?;
        let mut st = self.take_rx();
        let mut panic = None;
        let r = self.dispatch_inner(&mut st, timeout, sink, &mut panic);
        if let Ok(mut slot) = self.rx.lock() {
            *slot = Some(st);
        }
        if let Some(p) = panic {
            resume_unwind(p);
        }
        r
    }

    fn take_rx(&self) -> Box<RxState> {
        let want = self.slot.load(Relaxed) as usize;
        match self.rx.lock().ok().and_then(|mut s| s.take()) {
            Some(st) if st.batch.slot_size() >= want => st,
            _ => Box::new(RxState { batch: RecvBatch::new(self.batch, want), woke: false, busy: false }),
        }
    }

    fn dispatch_inner<H: Handler>(
        &self,
        st: &mut RxState,
        timeout: Option<Duration>,
        cb: &mut H,
        panic: &mut Panic,
    ) -> Result<(usize, bool)> {
        let mut handled = 0;
        if self.ep.take_pending_hint() {
            while let Some(msg) = self.ep.take_pending() {
                let info = RecvInfo { len: msg.len(), truncated: false, real_len: msg.len(), sender: 0 };
                handled += self.process(&msg, info, &mut st.woke, cb, panic);
                cb.end(panic); // the message is dropped next
            }
        }
        // As in the queue loop: after a full receive, receive again before blocking; block
        // inside recvmmsg itself (one system call); stop() wakes it with the kernel's ACK.
        let got = if handled == 0 && st.busy { self.receive(st, false, cb, panic, &mut handled)? } else { 0 };
        if got == 0 {
            match timeout {
                _ if handled > 0 => {
                    self.receive(st, false, cb, panic, &mut handled)?;
                }
                Some(t) if t.is_zero() => {
                    self.receive(st, false, cb, panic, &mut handled)?;
                }
                _ if self.ep.stop_requested() => st.woke = true,
                None => {
                    self.receive(st, true, cb, panic, &mut handled)?;
                }
                Some(t) => {
                    let readable = self
                        .ep
                        .socket()
                        .wait(None, Some(t))
                        .map_err(|e| self.fail(Error::from_io(&e, "waiting for log messages")))?
                        .0;
                    if readable {
                        self.receive(st, false, cb, panic, &mut handled)?;
                    }
                }
            }
        }
        let stopped = std::mem::take(&mut st.woke) && self.ep.take_stop();
        Ok((handled, stopped))
    }

    /// Receives one batch (with `block`, waiting for its first datagram) and handles it;
    /// returns the datagrams received. An overflow (ENOBUFS) is counted, recorded and returns
    /// an error of kind `NoBuffers` ([`run`](Self::run) goes on after it).
    fn receive<H: Handler>(
        &self,
        st: &mut RxState,
        block: bool,
        cb: &mut H,
        panic: &mut Panic,
        handled: &mut usize,
    ) -> Result<usize> {
        // A blocking receive asks for the whole batch with MSG_WAITFORONE: it returns after the
        // first datagram unless more are already there. Unlike the queue, a lone datagram here
        // has no verdict waiting on it, and it usually carries many messages already (the
        // kernel batches them), so the extra non-blocking receive that a one-datagram wake-up
        // would need on the next call costs more than it saves.
        let sock = self.ep.socket();
        let asked = st.batch.slots();
        let r = if block { sock.recv_batch_blocking(&mut st.batch, asked) } else { sock.recv_batch(&mut st.batch) };
        match r {
            Ok(n) => {
                st.busy = n == asked;
                bump_owned(&self.counters.datagrams, n as u64);
                let RxState { batch, woke, .. } = st;
                for i in 0..n {
                    let (buf, info) = batch.get(i);
                    *handled += self.process(buf, info, woke, cb, panic);
                }
                if n > 0 {
                    cb.end(panic);
                }
                Ok(n)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                bump(&self.counters.enobufs, 1);
                let drops = self
                    .kernel_drops()
                    .map(|d| format!(" (the kernel has dropped {d} datagrams for this socket so far)"))
                    .unwrap_or_default();
                Err(self.fail(Error::from_errno(libc::ENOBUFS, "receiving log messages").with_message(format!(
                    "receiving log messages: ENOBUFS: the socket receive buffer overflowed and log messages were \
                     lost{drops}; raise the receive buffer (rcvbuf), lower the copy range, or handle messages faster"
                ))))
            }
            Err(e) => Err(self.fail(Error::from_io(&e, "receiving log messages"))),
        }
    }

    /// Hands every log message of one datagram to `cb`; returns how many.
    fn process<H: Handler>(&self, buf: &[u8], info: RecvInfo, woke: &mut bool, cb: &mut H, panic: &mut Panic) -> usize {
        if info.truncated {
            bump(&self.counters.truncated, 1);
            // Grow the slot so the next receive takes datagrams this large whole.
            self.slot.fetch_max(info.real_len.min(u32::MAX as usize) as u32, Relaxed);
            let _ = self.fail(Error::new(
                ErrorKind::Protocol,
                format!(
                    "a datagram of {} bytes was cut to {} (receive slot too small); the log messages after the \
                     cut were lost; the slot grows for the next receive",
                    info.real_len, info.len
                ),
            ));
        }
        let mut handled = 0;
        let packet_type = nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET);
        let mut view = LogPacket::default();
        for m in Messages::new(buf) {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    // A cut datagram ends in a partial message: already reported above.
                    if !info.truncated {
                        bump(&self.counters.parse_errors, 1);
                        let _ = self.fail(Error::parse(e, "malformed message from the kernel"));
                    }
                    break;
                }
            };
            if m.msg_type() != packet_type {
                if m.msg_type() == NLMSG_DONE {
                    continue;
                }
                if let Some(Ok(e)) = m.error() {
                    if m.seq() == WAKE_SEQ {
                        *woke = true;
                    } else if e.error != 0 {
                        let _ = self.fail(Error::from_errno(-e.error, &format!("request seq {}", m.seq())));
                    }
                }
                continue;
            }
            if let Err(e) = cb.message(self, &m, &mut view, panic) {
                bump(&self.counters.parse_errors, 1);
                let _ = self.fail(Error::parse(e, "malformed log message"));
                continue;
            }
            handled += 1;
        }
        bump_owned(&self.counters.packets_received, handled as u64);
        handled
    }

    /// Counts a callback that reported a failure (used by the C and Python layers).
    pub fn callback_failed(&self, group: u16) {
        bump(&self.counters.callback_errors, 1);
        let _ = self.fail(Error::new(
            ErrorKind::Internal,
            format!("the callback reported a failure for a log message of group {group}"),
        ));
    }

    /// A snapshot of the library counters.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            packets_received: c.packets_received.load(Relaxed),
            datagrams: c.datagrams.load(Relaxed),
            enobufs: c.enobufs.load(Relaxed),
            truncated: c.truncated.load(Relaxed),
            parse_errors: c.parse_errors.load(Relaxed),
            callback_errors: c.callback_errors.load(Relaxed),
        }
    }

    /// The kernel's count of datagrams it could not deliver to this socket because its receive
    /// buffer was full (`Drops` in `/proc/net/netlink`), if that file was readable at open.
    pub fn kernel_drops(&self) -> Option<u64> {
        socket_drops(self.netlink_file.as_ref()?, self.portid())
    }

    /// The kernel's view of group `group` (`/proc/net/netfilter/nfnetlink_log`), if bound and
    /// the file was readable at open.
    pub fn kernel_stats(&self, group: u16) -> Option<KernelStats> {
        let text = read_proc(self.stats_file.as_ref()?)?;
        text.lines().filter_map(parse_proc_line).find(|s| s.group == group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_line_parses() {
        let s = parse_proc_line("  100 2815718     0 2 65531    100  1").unwrap();
        assert_eq!(
            s,
            KernelStats { group: 100, portid: 2815718, qlen: 0, copy_mode: 2, copy_range: 65531, flush_timeout: 100 }
        );
        assert!(parse_proc_line("nonsense").is_none());
    }

    /// A log message of group 5 with a prefix and a payload, as the kernel builds it.
    fn log_msg(out: &mut Vec<u8>, prefix: &str, payload: &[u8]) {
        let mut b = crate::netlink::MsgBuilder::new(out, nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET), 0, 0);
        b.nfgen(2, 5);
        b.put(super::super::attr::PACKET_HDR, &[0x08, 0x00, 3, 0]);
        let mut p = prefix.as_bytes().to_vec();
        p.push(0);
        b.put(super::super::attr::PREFIX, &p);
        b.put(super::super::attr::PAYLOAD, payload);
        b.finish();
    }

    fn datagram() -> Vec<u8> {
        let mut d = Vec::new();
        log_msg(&mut d, "a", &[1; 10]);
        log_msg(&mut d, "bb", &[2; 300]);
        log_msg(&mut d, "ccc", &[3; 7]);
        let mut b = crate::netlink::MsgBuilder::new(&mut d, NLMSG_DONE, 0, 0);
        b.nfgen(0, 5);
        b.finish();
        d
    }

    #[test]
    fn every_message_of_a_multi_message_datagram_is_handled_and_done_is_skipped() {
        let log = Log::open(&Config::unbound()).expect("an unbound netlink socket needs no privilege");
        let d = datagram();
        let info = RecvInfo { len: d.len(), truncated: false, real_len: d.len(), sender: 0 };
        let mut seen = Vec::new();
        let mut each = |p: &LogPacket<'_>| seen.push((p.prefix().unwrap().to_owned(), p.payload().unwrap().len()));
        let n = log.process(&d, info, &mut false, &mut Sink { each: &mut each, end: &mut || {} }, &mut None);
        assert_eq!(n, 3);
        assert_eq!(seen, vec![("a".into(), 10), ("bb".into(), 300), ("ccc".into(), 7)]);
        assert_eq!(log.stats().parse_errors, 0);
    }

    #[test]
    fn a_cut_datagram_is_counted_reported_and_grows_the_slot() {
        let log = Log::open(&Config::unbound()).unwrap();
        let d = datagram();
        let cut = 200; // inside the second message
        let info = RecvInfo { len: cut, truncated: true, real_len: d.len(), sender: 0 };
        let mut seen = 0;
        let mut each = |_: &LogPacket<'_>| seen += 1;
        let n = log.process(&d[..cut], info, &mut false, &mut Sink { each: &mut each, end: &mut || {} }, &mut None);
        assert_eq!((n, seen), (1, 1), "the whole first message is still handed over");
        let st = log.stats();
        assert_eq!((st.truncated, st.parse_errors), (1, 0));
        assert!(log.last_error().contains("were lost"), "{}", log.last_error());
        assert!(log.slot.load(Relaxed) as usize >= d.len());
    }

    #[test]
    fn a_malformed_message_is_counted_and_the_rest_skipped() {
        let log = Log::open(&Config::unbound()).unwrap();
        let mut d = datagram();
        // Make the second message's PACKET_HDR attribute 3 bytes long (the kernel sends 4).
        let second = u32::from_ne_bytes(d[0..4].try_into().unwrap()) as usize;
        d[second + 20] = 7;
        let info = RecvInfo { len: d.len(), truncated: false, real_len: d.len(), sender: 0 };
        let n = log.process(&d, info, &mut false, &mut Sink { each: &mut |_| {}, end: &mut || {} }, &mut None);
        assert_eq!(n, 2);
        assert_eq!(log.stats().parse_errors, 1);
        assert!(log.last_error().contains("NFULA_PACKET_HDR"), "{}", log.last_error());
    }

    #[test]
    fn slot_holds_the_group_buffer_or_one_whole_message() {
        assert!(slot_size(131072, 0) >= 131072);
        assert!(slot_size(0, 65531) >= 65531 + 1024);
        assert!(slot_size(0, 0) >= 4096);
    }

    #[test]
    fn slot_holds_the_allocators_rounding_of_the_group_buffer() {
        // The skb for a buffer of n bytes has the tail room of the next power of two above
        // n + skb_shared_info (about 320 bytes), and the kernel fills all of it.
        for n in [4096u32, 8192, 16384, 65536, 131072] {
            let skb = (n as usize + 384).next_power_of_two() - 320;
            assert!(slot_size(n, 0) >= skb, "nlbufsiz {n}: slot {} < {skb}", slot_size(n, 0));
        }
        let one_message: usize = 65531 + 600 + 384;
        assert!(slot_size(0, 65531) >= one_message.next_power_of_two() - 320);
    }
}
