"""A drop-in for the PyPI ``netfilterqueue`` package (1.x API) on top of libnfq_rs.

Change ``from netfilterqueue import NetfilterQueue`` to ``from nfq_rs.compat import
NetfilterQueue`` and the script runs unchanged:

    from nfq_rs.compat import NetfilterQueue

    def print_and_accept(pkt):
        print(pkt)
        pkt.accept()

    nfqueue = NetfilterQueue()
    nfqueue.bind(1, print_and_accept)
    try:
        nfqueue.run()
    except KeyboardInterrupt:
        print('')
    nfqueue.unbind()

Behaviour kept from netfilterqueue: a packet the callback neither accepts, drops nor repeats
stays queued in the kernel (its Packet can still be given a verdict later, from any thread;
its payload only if retain() was called in the callback); an exception raised by the callback
propagates out of run() and leaves that packet queued; a second verdict raises
RuntimeError("Verdict already given for this packet"); a verdict after unbind() raises
RuntimeError("Parent queue has already been unbound"); one packet is handled per receive.

Differences (see python/README.md): get_fd() needs bind() first (the C API opens the socket
together with its first queue); ``range`` is honoured up to 65531 bytes instead of being cut
to 4016; NetfilterQueue(sockfd=fd) opens a new socket in the namespace of ``fd`` instead of
adopting it; run_socket(s) waits on ``s`` but receives through the library's own socket, so
``s`` must be made from get_fd() as in netfilterqueue's README.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import socket
import threading
import warnings
from typing import Callable, Optional

from . import _lib
from ._lib import NfqError, check, lib
from .queue import POLL_MS, Queue, _as_signed, _get_payload, _get_timestamp

COPY_NONE = 0
COPY_META = 1
COPY_PACKET = 2

DEFAULT_MAX_QUEUELEN = 1024
MaxPacketSize = 0xFFFF
# netfilterqueue's default socket receive buffer: enough for max_len packets of ~4 KiB.
SockRcvSize = DEFAULT_MAX_QUEUELEN * (4096 - 80 + 760 + 20) // 2

NF_DROP = 0
NF_ACCEPT = 1
NF_REPEAT = 4

# SIOCGSKNS: get a descriptor of a socket's network namespace.
_SIOCGSKNS = 0x894C

PROTOCOLS = {
    0: "HOPOPT",
    1: "ICMP",
    2: "IGMP",
    4: "IP",
    6: "TCP",
    8: "EGP",
    17: "UDP",
    27: "RDP",
    33: "DCCP",
    41: "IPv6",
    43: "IPv6-Route",
    44: "IPv6-Frag",
    46: "RSVP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "IPv6-ICMP",
    59: "IPv6-NoNxt",
    60: "IPv6-Opts",
    88: "EIGRP",
    89: "OSPFIGP",
    94: "IPIP",
    103: "PIM",
    108: "IPComp",
    112: "VRRP",
    115: "L2TP",
    132: "SCTP",
    136: "UDPLite",
    137: "MPLS-in-IP",
    255: "Reserved",
}


class Packet:
    """A packet received from NetfilterQueue (same attributes and methods as netfilterqueue's)."""

    def __init__(self, q: "_CompatQueue", ptr: int):
        L = lib()
        self._q = q
        self._ptr = ptr
        self._tid = threading.get_ident()
        self._lock = threading.Lock()
        self._verdict_is_set = False
        self._chosen: Optional[int] = None
        self._mark_is_set = False
        self._given_mark = 0
        self._given_payload: Optional[bytes] = None
        self._owned_payload: Optional[bytes] = None
        self._payload: Optional[bytes] = None  # cached copy while the callback runs
        self.id: int = L.nfq_rs_packet_id(ptr)
        self._queue_num: int = L.nfq_rs_packet_queue(ptr)
        self.hw_protocol: int = L.nfq_rs_packet_hw_protocol(ptr)
        self.hook: int = L.nfq_rs_packet_hook(ptr)
        v = _U32Out()
        self.mark: int = v.value if L.nfq_rs_packet_mark(ptr, v.ref) == 1 else 0
        self.indev: int = v.value if L.nfq_rs_packet_indev(ptr, v.ref) == 1 else 0
        self.outdev: int = v.value if L.nfq_rs_packet_outdev(ptr, v.ref) == 1 else 0
        self.physindev: int = v.value if L.nfq_rs_packet_physindev(ptr, v.ref) == 1 else 0
        self.physoutdev: int = v.value if L.nfq_rs_packet_physoutdev(ptr, v.ref) == 1 else 0
        hw = _hwaddr(ptr)
        self._hw = None if hw is None else (hw + b"\0" * 8)[:8]
        ts = _get_timestamp(ptr)
        self._timestamp = 0.0 if ts is None else ts[0] + ts[1] / 1000000.0
        n = _payload_len(ptr)
        self.payload_len: int = 0 if n is None else n

    def __str__(self) -> str:
        payload = self._owned_payload if self._owned_payload is not None else self._live_payload()
        if payload is None:
            return "%d byte packet, contents unretained" % (self.payload_len,)
        proto = payload[9] if len(payload) > 9 else -1
        return "%s packet, %s bytes" % (PROTOCOLS.get(proto, "Unknown protocol"), self.payload_len)

    def _live_payload(self) -> Optional[bytes]:
        if self._payload is None and self._ptr is not None:
            self._payload = _get_payload(self._ptr)
        return self._payload

    def get_hw(self) -> Optional[bytes]:
        """The packet's source MAC address (8 bytes, zero-padded), or None if not available."""
        return self._hw

    def get_payload(self) -> bytes:
        """The payload as bytes."""
        if self._given_payload:
            return self._given_payload
        if self._owned_payload is not None:
            return self._owned_payload
        p = self._live_payload()
        if p:
            return p
        if self.payload_len == 0:
            raise RuntimeError("Packet has no payload -- perhaps you're using COPY_META mode?")
        raise RuntimeError(
            "Payload data is no longer available. You must call retain() within the "
            "user_callback in order to copy the payload if you need to expect it after your "
            "callback has returned."
        )

    def get_payload_len(self) -> int:
        return self.payload_len

    def get_timestamp(self) -> float:
        """Kernel receive timestamp in seconds since the epoch (0.0 when absent)."""
        return self._timestamp

    def set_payload(self, payload: bytes) -> None:
        """Sets the packet's new bytes (from the IP header), sent with the verdict."""
        self._given_payload = bytes(payload)

    def set_mark(self, mark: int) -> None:
        if not 0 <= mark <= 0xFFFFFFFF:
            raise OverflowError("mark is outside 0..0xffffffff")
        self._given_mark = mark
        self._mark_is_set = True

    def get_mark(self) -> int:
        if self._mark_is_set:
            return self._given_mark
        return self.mark

    def retain(self) -> None:
        """Copies the payload so get_payload() works after the callback returned."""
        self._owned_payload = self.get_payload()

    def _verdict(self, verdict: int) -> None:
        with self._lock:
            if self._verdict_is_set:
                raise RuntimeError("Verdict already given for this packet")
            q = self._q
            if q.closed:
                raise RuntimeError("Parent queue has already been unbound")
            mark = self._given_mark if self._mark_is_set else None
            payload = self._given_payload or None
            ptr = self._ptr
            if ptr is not None and threading.get_ident() == self._tid:
                L = lib()
                if mark is not None:
                    check(L.nfq_rs_packet_set_mark(ptr, mark), "nfq_rs_packet_set_mark")
                if payload is not None:
                    check(L.nfq_rs_packet_set_payload(ptr, payload, len(payload)), "nfq_rs_packet_set_payload")
                self._chosen = verdict
            else:
                q._send_verdict(self._queue_num, self.id, verdict, mark, None, None, payload)
            self._verdict_is_set = True

    def accept(self) -> None:
        """Accept the packet."""
        self._verdict(NF_ACCEPT)

    def drop(self) -> None:
        """Drop the packet."""
        self._verdict(NF_DROP)

    def repeat(self) -> None:
        """Repeat the packet (send it through the same hook again)."""
        self._verdict(NF_REPEAT)

    def _finish(self, failed: bool) -> int:
        with self._lock:
            self._ptr = None
            self._payload = None
            if self._chosen is not None:
                return _as_signed(self._chosen)
            # No verdict: like netfilterqueue, the packet stays queued until its Packet gets one.
            return _lib.NFQ_RS_LATER


class _U32Out:
    """A reusable uint32 out-parameter."""

    __slots__ = ("_v", "ref")

    def __init__(self):
        self._v = ctypes.c_uint32()
        self.ref = ctypes.byref(self._v)

    @property
    def value(self) -> int:
        return self._v.value


def _hwaddr(ptr) -> Optional[bytes]:
    data = ctypes.c_void_p()
    n = ctypes.c_size_t()
    if lib().nfq_rs_packet_hwaddr(ptr, ctypes.byref(data), ctypes.byref(n)) != 1:
        return None
    return ctypes.string_at(data.value, n.value)


def _payload_len(ptr) -> Optional[int]:
    n = ctypes.c_size_t()
    if lib().nfq_rs_packet_payload(ptr, ctypes.byref(n)) is None:
        return None
    return n.value


class _CompatQueue(Queue):
    _packet_class = Packet


class NetfilterQueue:
    """Handle a single numbered queue (netfilterqueue-compatible).

    ``af`` is accepted and ignored (binding a protocol family is obsolete since Linux 3.8).
    ``sockfd``: a socket opened in another network namespace; the queue is opened in that
    namespace (on a new socket). ``netns`` (nfq-rs extension): a namespace path such as
    "/var/run/netns/NAME" or a descriptor of one.
    """

    def __init__(self, *, af: int = socket.AF_INET, sockfd: int = -1, netns=None):
        self._q: Optional[_CompatQueue] = None
        self.user_callback: Optional[Callable[[Packet], None]] = None
        self._netns = netns
        self._netns_fd = -1
        self._unbind_pending = False
        if sockfd >= 0:
            try:
                self._netns_fd = fcntl.ioctl(sockfd, _SIOCGSKNS)
            except OSError as e:
                raise OSError(e.errno, f"cannot find the network namespace of sockfd {sockfd}: {e.strerror}") from e
            self._netns = self._netns_fd

    def __del__(self):
        try:
            self.unbind()
            if self._netns_fd >= 0:
                os.close(self._netns_fd)
                self._netns_fd = -1
        except Exception:
            pass

    def bind(
        self,
        queue_num: int,
        user_callback: Callable[[Packet], None],
        max_len: int = DEFAULT_MAX_QUEUELEN,
        mode: int = COPY_PACKET,
        range: int = MaxPacketSize,
        sock_len: int = SockRcvSize,
    ) -> None:
        """Create and bind to a new queue."""
        if self._q is not None:
            raise RuntimeError("A queue is already bound; use unbind() first")
        if mode not in (COPY_NONE, COPY_META, COPY_PACKET):
            raise OSError("Failed to set packet copy mode.")
        try:
            q = _CompatQueue(
                queue_num,
                copy_mode=mode,
                copy_range=range,
                max_len=max_len,
                batch=1,
                netns=self._netns,
            )
        except NfqError as e:
            raise NfqError(e.code, f"Failed to create queue {queue_num}. ({e.message})", e.call) from e
        try:
            with q._lock:
                newsiz = lib().nfq_rs_set_rcvbuf(q._handle(), sock_len)
            check(newsiz, "nfq_rs_set_rcvbuf")
        except BaseException:
            q.close()
            raise
        self.user_callback = user_callback
        self._unbind_pending = False
        self._q = q
        if newsiz != sock_len * 2:
            try:
                warnings.warn(
                    "Socket rcvbuf limit is now %d, requested %d." % (newsiz, sock_len),
                    category=RuntimeWarning,
                    stacklevel=2,
                )
            except BaseException:  # warnings turned into errors
                self.unbind()
                raise

    def unbind(self) -> None:
        """Destroy the queue (the kernel drops the packets still waiting for a verdict).
        Called from inside the callback, it takes effect when the callback returns."""
        self.user_callback = None
        q = self._q
        if q is None:
            return
        if q._recv_thread == threading.get_ident():
            self._unbind_pending = True
            q.stop()
            return
        self._q = None
        q.close()

    def get_fd(self) -> int:
        """Get the file descriptor of the queue handler (after bind())."""
        return self._require().fileno()

    def _require(self) -> _CompatQueue:
        q = self._q
        if q is None:
            raise RuntimeError("No queue is bound; call bind() first")
        return q

    def _handle(self, pkt: Packet) -> None:
        cb = self.user_callback
        if cb is not None:
            cb(pkt)

    def _once(self, q: _CompatQueue, timeout_ms: int) -> Optional[int]:
        try:
            return q._dispatch(timeout_ms, self._handle)
        finally:
            if self._unbind_pending:
                self._unbind_pending = False
                if self._q is q:
                    self._q = None
                q.close()

    def run(self, block: bool = True) -> None:
        """Send packets to the callback. With block=True, runs until an exception (Ctrl-C)
        or unbind(); with block=False, handles the packets already waiting and returns."""
        q = self._require()
        if block:
            while True:
                if self._once(q, POLL_MS) is None:
                    return
        else:
            while True:
                n = self._once(q, 0)
                if not n:
                    return

    def run_socket(self, s: socket.socket) -> None:
        """Send packets to the callback, waiting on ``s`` (e.g. ``socket.fromfd(get_fd(), ...)``
        so gevent can monkeypatch the wait). A non-blocking ``s`` handles what is waiting
        and returns; a timeout on ``s`` raises socket.timeout."""
        q = self._require()
        timeout = s.gettimeout()
        while True:
            if timeout == 0.0:
                n = self._once(q, 0)
                if not n:
                    return
                continue
            r, _, _ = select.select([s], [], [], timeout)
            if not r:
                raise socket.timeout("timed out")
            if self._once(q, 0) is None:
                return
