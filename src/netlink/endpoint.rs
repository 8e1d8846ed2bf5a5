//! What every subscriber handle (an NFQUEUE queue, an NFLOG group set) needs around its socket,
//! independent of the subsystem: one receiving thread at a time (the claim), config requests
//! that wait for their ACK while keeping whatever else arrives, `stop` from any thread or a
//! signal handler, and the handle's last-error text.
//!
//! Threads: the thread holding the claim receives and configures; `stop`, `last_error` and
//! sending (through [`Endpoint::socket`]) are safe from any thread.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::*};
use std::time::Duration;

use super::{
    Error, ErrorKind, Event, Failure, NETLINK_NETFILTER, NLM_F_ACK, NLM_F_REQUEST, NLMSG_NOOP, Netns, Result, Socket,
    transact,
};

/// The sequence number of `stop`'s wake-up request (never used by a config request).
pub const WAKE_SEQ: u32 = u32::MAX;

/// Receive buffer of a config request's wait for its ACK.
const CTL_BUF: usize = 128 * 1024;

thread_local! {
    static TID: i32 = {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() }
    };
}

fn my_tid() -> i32 {
    TID.with(|t| *t)
}

/// Whether the calling thread has CAP_NET_ADMIN in its effective set (for error messages;
/// capabilities are per thread, and the kernel checks the sending thread's).
pub fn has_cap_net_admin() -> bool {
    let Ok(s) = std::fs::read_to_string("/proc/thread-self/status") else { return false };
    s.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// `stop`'s wake-up: an `NLMSG_NOOP` to the kernel with `NLM_F_ACK`. The kernel answers every
/// such message with an ACK (error 0, or EPERM when the sending thread lacks CAP_NET_ADMIN),
/// and that ACK makes a receive blocked on the socket return.
fn wake_request() -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0..4].copy_from_slice(&16u32.to_ne_bytes());
    m[4..6].copy_from_slice(&NLMSG_NOOP.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m[8..12].copy_from_slice(&WAKE_SEQ.to_ne_bytes());
    m
}

/// Reads a whole (proc) file through a descriptor opened earlier, e.g. in another namespace.
pub fn read_proc(f: &File) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    loop {
        let n = f.read_at(&mut buf[len..], len as u64).ok()?;
        if n == 0 {
            break;
        }
        len += n;
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// The kernel's drop count for the netlink socket with port id `portid`, from an open
/// `/proc/net/netlink` (its `Drops` column: datagrams the kernel could not queue to the
/// socket because its receive buffer was full).
pub fn socket_drops(proc_netlink: &File, portid: u32) -> Option<u64> {
    let text = read_proc(proc_netlink)?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split_whitespace().collect();
    let pid_col = head.iter().position(|&h| h == "Pid")?;
    let drops_col = head.iter().position(|&h| h == "Drops")?;
    lines.find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.get(pid_col)?.parse::<u32>().ok()? == portid).then(|| cols.get(drops_col)?.parse().ok())?
    })
}

/// How to open a subscriber socket ([`Endpoint::open`]).
pub struct OpenOptions<'a> {
    /// The network namespace to open it in.
    pub netns: &'a Netns,
    /// Adopt (a duplicate of) this `NETLINK_NETFILTER` socket instead of opening one.
    pub adopt_fd: Option<std::os::fd::RawFd>,
    /// Receive buffer in bytes (`None` keeps the system default).
    pub rcvbuf: Option<usize>,
    /// `NETLINK_NO_ENOBUFS`.
    pub no_enobufs: bool,
    /// How long config requests wait for their answer.
    pub ack_timeout: Duration,
    /// Files under `/proc/thread-self/net/` to open in that namespace (the kernel's counters),
    /// returned in the same order (`None` where one could not be opened).
    pub proc_files: &'a [&'a str],
}

/// A subscriber socket with its claim, config path, stop flag and last error.
pub struct Endpoint {
    sock: Socket,
    seq: AtomicU32,
    stop: AtomicBool,
    owner: AtomicI32,
    ctl: Mutex<Vec<u8>>,
    pending: Mutex<VecDeque<Vec<u8>>>,
    has_pending: AtomicBool,
    last_error: Mutex<String>,
    ack_timeout: Duration,
}

/// Ownership of the receive/config path by the current thread, released on drop.
pub struct Claim<'a> {
    ep: &'a Endpoint,
    prev: i32,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.ep.owner.store(self.prev, Release);
    }
}

impl Endpoint {
    /// Wraps an open socket; config requests wait `ack_timeout` for their answer.
    pub fn new(sock: Socket, ack_timeout: Duration) -> Self {
        Endpoint {
            sock,
            seq: AtomicU32::new(1),
            stop: AtomicBool::new(false),
            owner: AtomicI32::new(0),
            ctl: Mutex::new(Vec::new()),
            pending: Mutex::new(VecDeque::new()),
            has_pending: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            ack_timeout,
        }
    }

    /// Opens a netfilter netlink socket connected to the kernel, in the given namespace: only
    /// the kernel may send to it (a datagram forged by another local process is refused at its
    /// sender with ECONNREFUSED instead of reaching us), so receiving needs no per-datagram
    /// sender address. Extended ACKs on; receive buffer and `NETLINK_NO_ENOBUFS` as asked.
    pub fn open(o: &OpenOptions<'_>) -> Result<(Endpoint, Vec<Option<File>>)> {
        let (sock, files) = o
            .netns
            .run(|| {
                let s = match o.adopt_fd {
                    Some(fd) => Socket::adopt_kernel_only(fd, NETLINK_NETFILTER)?,
                    None => Socket::open_kernel_only(NETLINK_NETFILTER)?,
                };
                // /proc/thread-self: the namespace of this (helper) thread, not the process's.
                let files = o.proc_files.iter().map(|f| File::open(format!("/proc/thread-self/net/{f}")).ok()).collect();
                Ok((s, files))
            })
            .map_err(|e| match (o.netns, o.adopt_fd) {
                (_, Some(fd)) => Error::from_io(
                    &e,
                    &format!("adopting socket descriptor {fd} (it must be an open AF_NETLINK socket of protocol NETLINK_NETFILTER)"),
                ),
                (Netns::Current, None) => Error::from_io(&e, "opening the netlink socket"),
                (ns, None) => Error::from_io(&e, &format!("opening the netlink socket in network namespace {ns:?}")),
            })?;
        let _ = sock.set_ext_ack(true);
        if let Some(n) = o.rcvbuf {
            sock.set_rcvbuf(n).map_err(|e| Error::from_io(&e, "setting the receive buffer size"))?;
        }
        if o.no_enobufs {
            sock.set_no_enobufs(true).map_err(|e| Error::from_io(&e, "setting NETLINK_NO_ENOBUFS"))?;
        }
        Ok((Endpoint::new(sock, o.ack_timeout), files))
    }

    /// The socket.
    #[inline]
    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    /// The socket receive buffer as the kernel reports it.
    pub fn rcvbuf(&self) -> Result<usize> {
        self.sock.rcvbuf().map_err(|e| Error::from_io(&e, "reading SO_RCVBUF"))
    }

    /// Sets the socket receive buffer; returns what the kernel reports afterwards.
    pub fn set_rcvbuf(&self, bytes: usize) -> Result<usize> {
        self.sock.set_rcvbuf(bytes).map_err(|e| self.fail(Error::from_io(&e, "setting the receive buffer size")))
    }

    /// Turns `NETLINK_NO_ENOBUFS` on or off.
    pub fn set_no_enobufs(&self, on: bool) -> Result<()> {
        self.sock.set_no_enobufs(on).map_err(|e| self.fail(Error::from_io(&e, "setting NETLINK_NO_ENOBUFS")))
    }

    /// The receive loop of `run`: calls `round` (one dispatch, returning what it handled and
    /// whether it consumed a stop) until a stop is requested; overflows (ENOBUFS) are counted
    /// by `round` and do not end the loop. Returns the total handled.
    pub fn run_until_stopped(&self, mut round: impl FnMut() -> Result<(usize, bool)>) -> Result<u64> {
        let mut total = 0u64;
        loop {
            if self.take_stop() {
                return Ok(total);
            }
            match round() {
                Ok((n, stopped)) => {
                    total += n as u64;
                    if stopped {
                        return Ok(total);
                    }
                }
                Err(e) if e.kind() == ErrorKind::NoBuffers => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Records `e` as the last error and returns it.
    pub fn fail(&self, e: Error) -> Error {
        if let Ok(mut s) = self.last_error.lock() {
            s.clear();
            s.push_str(e.message());
        }
        e
    }

    /// The last error recorded (empty if none).
    pub fn last_error(&self) -> String {
        self.last_error.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Claims the receive/config path for this thread. `nested_ok` allows a thread that
    /// already owns it (a config call from inside a callback).
    pub fn claim(&self, nested_ok: bool, what: &str) -> Result<Claim<'_>> {
        let me = my_tid();
        match self.owner.compare_exchange(0, me, Acquire, Relaxed) {
            Ok(_) => Ok(Claim { ep: self, prev: 0 }),
            Err(cur) if cur == me && nested_ok => Ok(Claim { ep: self, prev: me }),
            Err(cur) if cur == me => Err(self.fail(Error::new(
                ErrorKind::Busy,
                format!("{what}: called from inside a callback of this handle; return from the callback instead"),
            ))),
            Err(_) => Err(self.fail(Error::new(
                ErrorKind::Busy,
                format!(
                    "{what}: another thread is receiving on this handle; call it from the receiving thread \
                     (or its callbacks) or before receiving starts"
                ),
            ))),
        }
    }

    fn next_seq(&self) -> u32 {
        loop {
            let s = self.seq.fetch_add(1, Relaxed);
            if s != 0 && s != WAKE_SEQ {
                return s;
            }
        }
    }

    /// Sends one request, built by `build(buf, seq)` with `NLM_F_ACK`, and waits for its
    /// answer. Everything else that arrives meanwhile goes to `on_event` (which may keep
    /// messages with [`keep_pending`](Self::keep_pending)). The caller holds the claim.
    pub fn request(
        &self,
        build: impl FnOnce(&mut Vec<u8>, u32),
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> std::result::Result<(), Failure> {
        let mut buf = self.ctl.lock().unwrap_or_else(|p| p.into_inner());
        let seq = self.next_seq();
        let mut req = Vec::with_capacity(64);
        build(&mut req, seq);
        transact(&self.sock, &req, seq, &mut buf, CTL_BUF, self.ack_timeout, on_event)
    }

    /// Keeps a message that arrived during a config request for the next dispatch.
    pub fn keep_pending(&self, msg: &[u8]) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.push_back(msg.to_vec());
        self.has_pending.store(true, Release);
    }

    /// Whether kept messages wait (and forgets the hint: drain with [`take_pending`](Self::take_pending)).
    #[inline]
    pub fn take_pending_hint(&self) -> bool {
        self.has_pending.swap(false, AcqRel)
    }

    /// The oldest kept message.
    pub fn take_pending(&self) -> Option<Vec<u8>> {
        self.pending.lock().ok().and_then(|mut p| p.pop_front())
    }

    /// Asks the receiving loop to return. Safe from any thread and from a signal handler: an
    /// atomic store, a zero-timeout `poll(2)`, and, only when nothing waits in the socket, one
    /// `sendto(2)` of a 16-byte `NLMSG_NOOP` asking the kernel for an ACK, which wakes a
    /// blocked receive. When datagrams are waiting the loop cannot be blocked and sees the flag
    /// before it blocks again; not sending then also keeps the ACK from overflowing a full
    /// receive buffer (a false ENOBUFS).
    pub fn stop(&self) {
        self.stop.store(true, SeqCst);
        if !self.sock.readable_now() {
            let _ = self.sock.send_to_port(&wake_request(), 0);
        }
    }

    /// Whether a stop was requested and not yet consumed.
    #[inline]
    pub fn stop_requested(&self) -> bool {
        self.stop.load(SeqCst)
    }

    /// Consumes a pending stop request; true if there was one.
    #[inline]
    pub fn take_stop(&self) -> bool {
        self.stop.swap(false, SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_drops_reads_the_drops_column_of_the_right_socket() {
        let f = tempfile_with(
            "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
             0000000000000000 12  4026531   00000000 0        0        0     2        0        111\n\
             0000000000000000 12  77        00000000 2304     0        0     2        15       112\n",
        );
        assert_eq!(socket_drops(&f, 77), Some(15));
        assert_eq!(socket_drops(&f, 4026531), Some(0));
        assert_eq!(socket_drops(&f, 5), None);
    }

    fn tempfile_with(text: &str) -> File {
        let p =
            std::env::temp_dir().join(format!("nfqrs-proc-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::write(&p, text).unwrap();
        let f = File::open(&p).unwrap();
        let _ = std::fs::remove_file(&p);
        f
    }
}
