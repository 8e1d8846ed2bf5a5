//! The AF_NETLINK socket: open (optionally inside another network namespace), bind, port id,
//! buffer sizes and options, send (with iovecs for zero-copy payloads), receive one or many
//! datagrams (`recvmmsg`), truncation and sender checks (or a socket connected to the kernel,
//! which the kernel itself keeps other senders away from), and waiting with a timeout and a
//! wake-up eventfd. This module and the FFI layers are the only places that call libc directly.

use std::io;
use std::io::IoSlice;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

/// Which network namespace a socket is opened in.
#[derive(Clone, Debug, Default)]
pub enum Netns {
    /// The calling thread's namespace.
    #[default]
    Current,
    /// A namespace file descriptor (e.g. an open `/var/run/netns/NAME`); not closed by us.
    Fd(RawFd),
    /// A namespace file path (`/var/run/netns/NAME` or `/proc/PID/ns/net`).
    Path(PathBuf),
}

impl Netns {
    /// Runs `f` with the network namespace switched, in a short-lived helper thread so the
    /// calling thread never moves. Sockets created by `f` stay in that namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
        let owned;
        let fd = match self {
            Netns::Current => return f(),
            Netns::Fd(fd) => *fd,
            Netns::Path(p) => {
                owned = std::fs::File::open(p)?;
                owned.as_raw_fd()
            }
        };
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: setns on a valid fd; it affects only this helper thread, which ends
                // right after `f` returns.
                if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("panic in network namespace helper thread")))
        })
    }
}

/// Facts about one received datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecvInfo {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC`); `real_len` has its length.
    pub truncated: bool,
    /// The datagram's full length.
    pub real_len: usize,
    /// The sender's port id (0 is the kernel).
    pub sender: u32,
}

/// An AF_NETLINK socket.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    portid: u32,
    /// Connected to the kernel (port id 0): the kernel refuses datagrams from any other
    /// sender (ECONNREFUSED at the sender), so receiving needs no sender address.
    kernel_only: bool,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain old data; all-zero is valid.
    let mut a: libc::sockaddr_nl = unsafe { mem::zeroed() };
    a.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    a
}

/// A new, unbound netlink socket of protocol `proto` (close-on-exec).
fn new_fd(proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = cvt(unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: fd is a fresh descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Socket {
    /// Opens and binds a netlink socket of protocol `proto` in the current namespace; the
    /// kernel picks the port id.
    pub fn open(proto: i32) -> io::Result<Socket> {
        let fd = new_fd(proto)?;
        Self::adopt(fd, true)
    }

    /// Opens a netlink socket of protocol `proto` connected to the kernel (port id 0); the
    /// kernel picks the port id. The kernel delivers only its own datagrams to it: another
    /// socket sending here gets ECONNREFUSED. Connecting is what binds it (no `bind` first),
    /// so there is no moment in which another socket could queue a datagram to it. Receiving
    /// then skips the per-datagram sender address, which is a measurable part of the cost of
    /// `recvmmsg` (each address is copied out separately); [`RecvInfo::sender`] is 0.
    pub fn open_kernel_only(proto: i32) -> io::Result<Socket> {
        let fd = new_fd(proto)?;
        let addr = kernel_addr();
        let alen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: addr is a valid sockaddr_nl of length alen. Connecting an unbound netlink
        // socket binds it to a port id of the kernel's choice.
        cvt(unsafe { libc::connect(fd.as_raw_fd(), &addr as *const _ as *const libc::sockaddr, alen) })?;
        let mut s = Self::adopt(fd, false)?;
        s.kernel_only = true;
        Ok(s)
    }

    /// Uses a duplicate of the caller's netlink socket `fd` (which stays the caller's),
    /// connected to the kernel as in [`open_kernel_only`](Self::open_kernel_only); connecting
    /// binds it first if it is not bound yet. For a socket made elsewhere, such as in another
    /// network namespace. Fails if `fd` is not a netlink socket of protocol `proto`.
    pub fn adopt_kernel_only(fd: RawFd, proto: i32) -> io::Result<Socket> {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on any integer is safe; a bad fd gives EBADF.
        let dup = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
        // SAFETY: dup is a fresh descriptor that we own.
        let dup = unsafe { OwnedFd::from_raw_fd(dup) };
        let get = |opt: libc::c_int| -> io::Result<libc::c_int> {
            let mut v: libc::c_int = 0;
            let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: v has room for an int; len holds its size.
            cvt(unsafe {
                libc::getsockopt(dup.as_raw_fd(), libc::SOL_SOCKET, opt, &mut v as *mut _ as *mut _, &mut len)
            })?;
            Ok(v)
        };
        if get(libc::SO_DOMAIN)? != libc::AF_NETLINK || get(libc::SO_PROTOCOL)? != proto {
            return Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT));
        }
        let addr = kernel_addr();
        let alen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: addr is a valid sockaddr_nl of length alen.
        cvt(unsafe { libc::connect(dup.as_raw_fd(), &addr as *const _ as *const libc::sockaddr, alen) })?;
        let mut s = Self::adopt(dup, false)?;
        s.kernel_only = true;
        Ok(s)
    }

    /// Opens the socket inside another network namespace without moving the calling thread.
    pub fn open_in(proto: i32, ns: &Netns) -> io::Result<Socket> {
        ns.run(|| Socket::open(proto))
    }

    /// Takes ownership of an existing netlink socket. With `bind`, binds it first (port id
    /// chosen by the kernel); otherwise it must already be bound.
    pub fn adopt(fd: OwnedFd, bind: bool) -> io::Result<Socket> {
        let raw = fd.as_raw_fd();
        let addr = kernel_addr();
        let alen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        if bind {
            // SAFETY: addr is a valid sockaddr_nl of length alen.
            cvt(unsafe { libc::bind(raw, &addr as *const _ as *const libc::sockaddr, alen) })?;
        }
        let mut local = kernel_addr();
        let mut len = alen;
        // SAFETY: local has room for a sockaddr_nl; len holds its size.
        cvt(unsafe { libc::getsockname(raw, &mut local as *mut _ as *mut libc::sockaddr, &mut len) })?;
        if local.nl_family != libc::AF_NETLINK as libc::sa_family_t {
            return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
        }
        Ok(Socket { fd, portid: local.nl_pid, kernel_only: false })
    }

    /// Uses a netlink socket the caller owns, without taking it over: the result must never
    /// be dropped as a `Socket` (it is wrapped in `ManuallyDrop`), so the descriptor stays the
    /// caller's to close. Fails (leaving the descriptor alone) if it is not a bound netlink
    /// socket.
    pub fn borrow_raw(fd: RawFd) -> io::Result<mem::ManuallyDrop<Socket>> {
        let mut local = kernel_addr();
        let mut len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: local has room for a sockaddr_nl; len holds its size; a bad fd gives EBADF.
        cvt(unsafe { libc::getsockname(fd, &mut local as *mut _ as *mut libc::sockaddr, &mut len) })?;
        if local.nl_family != libc::AF_NETLINK as libc::sa_family_t {
            return Err(io::Error::from_raw_os_error(libc::ENOTSOCK));
        }
        // SAFETY: fd is open (getsockname succeeded); ManuallyDrop ensures we never close it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(mem::ManuallyDrop::new(Socket { fd, portid: local.nl_pid, kernel_only: false }))
    }

    /// The raw descriptor (for poll/epoll loops).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The port id the kernel assigned.
    pub fn portid(&self) -> u32 {
        self.portid
    }

    fn setsockopt_int(&self, level: i32, opt: i32, v: i32) -> io::Result<()> {
        // SAFETY: v lives across the call; the size matches.
        cvt(unsafe {
            libc::setsockopt(
                self.fd(),
                level,
                opt,
                &v as *const i32 as *const libc::c_void,
                mem::size_of::<i32>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    fn getsockopt_int(&self, level: i32, opt: i32) -> io::Result<i32> {
        let mut v: i32 = 0;
        let mut len = mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: v has room for an int; len holds its size.
        cvt(unsafe { libc::getsockopt(self.fd(), level, opt, &mut v as *mut i32 as *mut libc::c_void, &mut len) })?;
        Ok(v)
    }

    /// Sets the receive buffer: `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN, ignores rmem_max), falling
    /// back to `SO_RCVBUF`. Returns the size the kernel reports afterwards (it doubles the value).
    pub fn set_rcvbuf(&self, bytes: usize) -> io::Result<usize> {
        let v = bytes.min(i32::MAX as usize / 2) as i32;
        if self.setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v).is_err() {
            self.setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF, v)?;
        }
        self.rcvbuf()
    }

    /// The current receive buffer size as the kernel reports it.
    pub fn rcvbuf(&self) -> io::Result<usize> {
        self.getsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF).map(|v| v as usize)
    }

    /// Sets the send buffer (`SO_SNDBUFFORCE`, falling back to `SO_SNDBUF`).
    pub fn set_sndbuf(&self, bytes: usize) -> io::Result<()> {
        let v = bytes.min(i32::MAX as usize / 2) as i32;
        if self.setsockopt_int(libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, v).is_err() {
            self.setsockopt_int(libc::SOL_SOCKET, libc::SO_SNDBUF, v)?;
        }
        Ok(())
    }

    /// `NETLINK_NO_ENOBUFS`: when on, the kernel stops reporting receive-buffer overflows.
    pub fn set_no_enobufs(&self, on: bool) -> io::Result<()> {
        self.setsockopt_int(libc::SOL_NETLINK, libc::NETLINK_NO_ENOBUFS, on as i32)
    }

    /// `NETLINK_EXT_ACK`: errors carry a text message from the kernel when it has one.
    pub fn set_ext_ack(&self, on: bool) -> io::Result<()> {
        self.setsockopt_int(libc::SOL_NETLINK, libc::NETLINK_EXT_ACK, on as i32)
    }

    /// `NETLINK_CAP_ACK`: errors echo only the request header, not its payload.
    pub fn set_cap_ack(&self, on: bool) -> io::Result<()> {
        self.setsockopt_int(libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, on as i32)
    }

    /// Joins a multicast group (for event subscriptions).
    pub fn add_membership(&self, group: u32) -> io::Result<()> {
        self.setsockopt_int(libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, group as i32)
    }

    /// Sends one buffer to the kernel.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.send_iov(&[IoSlice::new(buf)])
    }

    /// Sends several slices as one datagram (`sendmsg`) to the kernel. EINTR is retried.
    pub fn send_iov(&self, iov: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut addr = kernel_addr();
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut mh: libc::msghdr = unsafe { mem::zeroed() };
        mh.msg_name = &mut addr as *mut _ as *mut libc::c_void;
        mh.msg_namelen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // IoSlice is ABI-compatible with struct iovec (documented guarantee on Unix).
        mh.msg_iov = iov.as_ptr() as *mut libc::iovec;
        mh.msg_iovlen = iov.len() as _;
        loop {
            // SAFETY: mh points at live iovecs and a live address for the whole call.
            let r = unsafe { libc::sendmsg(self.fd(), &mh, 0) };
            if r >= 0 {
                return Ok(r as usize);
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }

    /// Sends `buf` to port id `portid` (0: the kernel) without blocking. One sendto(2) on
    /// stack data: async-signal-safe.
    pub fn send_to_port(&self, buf: &[u8], portid: u32) -> io::Result<usize> {
        let mut addr = kernel_addr();
        addr.nl_pid = portid;
        // SAFETY: buf and addr are live for the call and their lengths are passed.
        let r = unsafe {
            libc::sendto(
                self.fd(),
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
                &addr as *const _ as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r as usize) }
    }

    /// Receives one datagram into `buf` (blocking unless `dontwait`).
    pub fn recv(&self, buf: &mut [u8], dontwait: bool) -> io::Result<RecvInfo> {
        let mut addr = kernel_addr();
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut mh: libc::msghdr = unsafe { mem::zeroed() };
        mh.msg_name = &mut addr as *mut _ as *mut libc::c_void;
        mh.msg_namelen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        let flags = libc::MSG_TRUNC | if dontwait { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: mh points at buf (with its length) and addr for the whole call.
        let r = unsafe { libc::recvmsg(self.fd(), &mut mh, flags) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let real = r as usize;
        Ok(RecvInfo {
            len: real.min(buf.len()),
            truncated: mh.msg_flags & libc::MSG_TRUNC != 0 || real > buf.len(),
            real_len: real,
            sender: addr.nl_pid,
        })
    }

    /// Receives up to `batch.slots()` datagrams in one `recvmmsg` call without blocking.
    /// Returns how many arrived (0 if none was waiting).
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        self.recv_batch_flags(batch, false, batch.slots())
    }

    /// Like [`recv_batch`](Self::recv_batch), but blocks until the first datagram arrives
    /// (`MSG_WAITFORONE`): one system call where polling first would take two. A signal
    /// interrupts it (0 datagrams). At most `max` datagrams (at least 1, at most the slots):
    /// with `max` 1 it returns as soon as one datagram is there, without the kernel's extra
    /// attempt at a second one, which a lone packet would wait for.
    pub fn recv_batch_blocking(&self, batch: &mut RecvBatch, max: usize) -> io::Result<usize> {
        self.recv_batch_flags(batch, true, max.clamp(1, batch.slots()))
    }

    fn recv_batch_flags(&self, batch: &mut RecvBatch, block_first: bool, n: usize) -> io::Result<usize> {
        batch.count = 0;
        let slot = batch.slot_size;
        // Build the header arrays on the stack in chunks so nothing is allocated per call.
        const CHUNK: usize = 64;
        let mut done = 0;
        while done < n {
            let k = (n - done).min(CHUNK);
            // SAFETY: these are plain old data arrays; all-zero is valid.
            let mut addrs: [libc::sockaddr_nl; CHUNK] = unsafe { mem::zeroed() };
            let mut iovs: [libc::iovec; CHUNK] = unsafe { mem::zeroed() };
            let mut hdrs: [libc::mmsghdr; CHUNK] = unsafe { mem::zeroed() };
            let base = batch.buf.as_mut_ptr();
            for i in 0..k {
                // SAFETY: slot (done+i) lies within buf, which holds n*slot bytes.
                iovs[i].iov_base = unsafe { base.add((done + i) * slot) } as *mut libc::c_void;
                iovs[i].iov_len = slot;
                if !self.kernel_only {
                    hdrs[i].msg_hdr.msg_name = &mut addrs[i] as *mut _ as *mut libc::c_void;
                    hdrs[i].msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
                }
                hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
                hdrs[i].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: hdrs[..k] point at live iovecs into buf (and live addresses, unless
            // connected) for the whole call.
            let r = unsafe {
                libc::recvmmsg(
                    self.fd(),
                    hdrs.as_mut_ptr(),
                    k as libc::c_uint,
                    if block_first && done == 0 {
                        libc::MSG_WAITFORONE | libc::MSG_TRUNC
                    } else {
                        libc::MSG_DONTWAIT | libc::MSG_TRUNC
                    },
                    std::ptr::null_mut(),
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                let code = e.raw_os_error();
                if code == Some(libc::EAGAIN) || code == Some(libc::EINTR) {
                    break;
                }
                if batch.count > 0 {
                    // Report what we have; the error will show again on the next call.
                    break;
                }
                return Err(e);
            }
            let r = r as usize;
            for i in 0..r {
                let real = hdrs[i].msg_len as usize;
                batch.infos[done + i] = RecvInfo {
                    len: real.min(slot),
                    truncated: hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || real > slot,
                    real_len: real,
                    // On a socket connected to the kernel no address was asked for (it stays
                    // zero): nobody else can have sent the datagram.
                    sender: addrs[i].nl_pid,
                };
            }
            batch.count += r;
            done += r;
            if r < k {
                break;
            }
        }
        Ok(batch.count)
    }

    /// Whether a receive would return at once (a datagram or a pending error is waiting): a
    /// zero-timeout poll(2), async-signal-safe. A failed poll counts as not readable.
    pub fn readable_now(&self) -> bool {
        let mut p = libc::pollfd { fd: self.fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: p is one live pollfd.
        let r = unsafe { libc::poll(&mut p, 1, 0) };
        r > 0 && p.revents & (libc::POLLIN | libc::POLLERR) != 0
    }

    /// Waits until the socket is readable, `wake` (if given) is readable, or the timeout ends
    /// (`None` waits forever). Returns (socket readable, wake readable). EINTR returns
    /// (false, false) so the caller can check its stop flag.
    pub fn wait(&self, wake: Option<RawFd>, timeout: Option<Duration>) -> io::Result<(bool, bool)> {
        let mut fds = [
            libc::pollfd { fd: self.fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: wake.unwrap_or(-1), events: libc::POLLIN, revents: 0 },
        ];
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_millis().min(i32::MAX as u128) as i32,
        };
        let nfds = if wake.is_some() { 2 } else { 1 };
        // SAFETY: fds is a live array of nfds pollfd entries.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), nfds, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                return Ok((false, false));
            }
            return Err(e);
        }
        let sock = fds[0].revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0;
        let woke = nfds == 2 && fds[1].revents & libc::POLLIN != 0;
        Ok((sock, woke))
    }
}

/// Buffers for receiving many datagrams with one `recvmmsg`: `slots` slots of `slot_size` bytes
/// in one allocation made once.
pub struct RecvBatch {
    buf: Vec<u8>,
    slot_size: usize,
    infos: Vec<RecvInfo>,
    count: usize,
}

impl RecvBatch {
    /// Allocates the buffers.
    pub fn new(slots: usize, slot_size: usize) -> Self {
        let slots = slots.max(1);
        let slot_size = super::align4(slot_size.max(super::NLMSG_HDRLEN));
        RecvBatch { buf: vec![0u8; slots * slot_size], slot_size, infos: vec![RecvInfo::default(); slots], count: 0 }
    }
    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.infos.len()
    }
    /// Bytes per slot.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }
    /// Datagrams received by the last call.
    pub fn count(&self) -> usize {
        self.count
    }
    /// The i-th received datagram and its facts.
    pub fn get(&self, i: usize) -> (&[u8], RecvInfo) {
        let info = self.infos[i];
        let off = i * self.slot_size;
        (&self.buf[off..off + info.len], info)
    }
    /// Mutable access to the i-th received datagram (for in-place packet edits).
    pub fn get_mut(&mut self, i: usize) -> (&mut [u8], RecvInfo) {
        let info = self.infos[i];
        let off = i * self.slot_size;
        (&mut self.buf[off..off + info.len], info)
    }
}

/// A non-blocking eventfd used to wake a thread blocked in [`Socket::wait`].
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// Creates it.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: plain eventfd(2) call; the result is checked.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: fresh descriptor we own.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
    /// The descriptor.
    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
    /// Wakes waiters. Async-signal-safe (one write(2)).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; the result is irrelevant (a full counter
        // still leaves the fd readable).
        unsafe { libc::write(self.fd(), &one as *const u64 as *const libc::c_void, 8) };
    }
    /// Clears the readable state.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; non-blocking.
        unsafe { libc::read(self.fd(), &mut v as *mut u64 as *mut libc::c_void, 8) };
    }
}
