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
propagates out of run() and leaves that packet queued (packets received after it are handed to
the callback by the next run()); a second verdict raises
RuntimeError("Verdict already given for this packet"); a verdict after unbind() raises
RuntimeError("Parent queue has already been unbound"); NetfilterQueue(sockfd=fd) works on the
caller's netlink socket.

Packets are received in batches (one call from the library per batch, each packet's fields
read from one record), and the verdicts given inside the callback go out together when the
batch's callbacks have run. The differences from netfilterqueue are listed in
python/README.md.
"""

from __future__ import annotations

import collections
import fcntl
import struct
import select
import socket
import threading
import warnings
from typing import Callable, Optional

from . import _lib
from ._lib import NfqError, check, lib
from .queue import (
    DEFAULT_BATCH,
    _CLAIMED,
    _LOCK_FREE,
    _ID_QUEUE,
    _INFO,
    _INFO_SIZE,
    _LATER,
    _PTR,
    _PTR_SIZE,
    _SENT,
    POLL_MS,
    R_HWADDR,
    R_ID,
    R_PAYLOAD,
    R_PAYLOAD_LEN,
    R_PRESENT,
    R_QUEUE,
    R_TS_SEC,
    R_TS_USEC,
    Queue,
    _answer_struct,
    _get_ident,
    _memmove,
    _new_batch,
    _string_at,
)

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

# Datagrams per receive (and packets per call into Python).
_BATCH = DEFAULT_BATCH

# SIOCGSKNS: get a descriptor of a socket's network namespace.
_SIOCGSKNS = 0x894C

# A packet's answer slot while its callback runs and a mark or payload was set, but no verdict.
_EXTRAS = object()
_HAS_PAYLOAD = _lib.NFQ_RS_INFO_PAYLOAD
_HAS_HWADDR = _lib.NFQ_RS_INFO_HWADDR


def _protocols():
    # IANA assigned internet protocol numbers 0-140 (keywords, or the description where the
    # registry has no keyword), and 255; the names netfilterqueue's PROTOCOLS uses.
    names = (
        "HOPOPT ICMP IGMP GGP IP ST TCP CBT EGP IGP BBN-RCC-MON NVP-II PUP ARGUS EMCON XNET CHAOS "
        "UDP MUX DCN-MEAS HMP PRM XNS-IDP TRUNK-1 TRUNK-2 LEAF-1 LEAF-2 RDP IRTP ISO-TP4 NETBLT "
        "MFE-NSP MERIT-INP DCCP 3PC IDPR XTP DDP IDPR-CMTP TP++ IL IPv6 SDRP IPv6-Route IPv6-Frag "
        "IDRP RSVP GRE DSR BNA ESP AH I-NLSP SWIPE NARP MOBILE TLSP SKIP IPv6-ICMP IPv6-NoNxt "
        "IPv6-Opts #61 CFTP #63 SAT-EXPAK KRYPTOLAN RVD IPPC #68 SAT-MON VISA IPCV CPNX CPHB WSN "
        "PVP BR-SAT-MON SUN-ND WB-MON WB-EXPAK ISO-IP VMTP SECURE-VMTP VINES TTP NSFNET-IGP DGP "
        "TCF EIGRP OSPFIGP Sprite-RPC LARP MTP AX.25 IPIP MICP SCC-SP ETHERIP ENCAP #99 GMTP IFMP "
        "PNNI PIM ARIS SCPS QNX A/N IPComp SNP Compaq-Peer IPX-in-IP VRRP PGM #114 L2TP DDX IATP "
        "STP SRP UTI SMP SM PTP ISIS FIRE CRTP CRUDP SSCOPMCE IPLT SPS PIPE SCTP FC "
        "RSVP-E2E-IGNORE Mobility UDPLite MPLS-in-IP manet HIP Shim6"
    ).split()
    described = {
        61: "any host internal protocol",
        63: "any local network",
        68: "any distributed file system",
        99: "any private encryption scheme",
        114: "any 0-hop protocol",
    }
    table = {n: described.get(n, name) for n, name in enumerate(names)}
    table[255] = "Reserved"
    return table


PROTOCOLS = _protocols()


def _c_uint(v, bits: int, ctype: str) -> int:
    """Converts like a Cython argument of an unsigned C type: TypeError for a non-integer,
    OverflowError outside the type's range."""
    try:
        v = v.__index__()
    except AttributeError:
        raise TypeError(f"an integer is required (got type {type(v).__name__})") from None
    if v < 0:
        raise OverflowError(f"can't convert negative value to {ctype}")
    if v >> bits:
        raise OverflowError(f"value too large to convert to {ctype}")
    return v


_CAP_NET_ADMIN = 12


def _has_cap_net_admin() -> bool:
    """Whether this thread has CAP_NET_ADMIN in its effective set (True if that cannot be read)."""
    try:
        with open("/proc/thread-self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    return True


def _c_int(v) -> int:
    try:
        v = v.__index__()
    except AttributeError:
        raise TypeError(f"an integer is required (got type {type(v).__name__})") from None
    if not -(1 << 31) <= v < (1 << 31):
        raise OverflowError("value too large to convert to int")
    return v


class Packet:
    """A packet received from NetfilterQueue (same attributes and methods as netfilterqueue's)."""

    # A packet is built with its batch and index alone (see nfq_rs.queue._Batch); the rest
    # lives in the instance dict once set (class attributes are the defaults).
    __slots__ = ("_b", "_i", "__dict__", "__weakref__")
    _rec = None  # the unpacked record, once needed
    _mark_is_set = False
    _given_mark = 0
    _given_payload: Optional[bytes] = None
    _owned_payload: Optional[bytes] = None
    _payload: Optional[bytes] = None  # copy of the payload of a held packet (see _hold)

    def _record(self) -> tuple:
        r = self._rec
        if r is None:
            r = self._rec = _INFO.unpack_from(self._b.data, self._i * _INFO_SIZE)
        return r

    # Read-only attributes, 0 when the kernel did not send the value (as in netfilterqueue).
    id = property(lambda self: _ID_QUEUE.unpack_from(self._b.data, self._i * _INFO_SIZE)[0], doc="Packet id.")
    hw_protocol = property(lambda self: self._record()[17], doc="Link-layer protocol (0x0800 IPv4).")
    hook = property(lambda self: self._record()[19], doc="Netfilter hook (0 PREROUTING ... 4 POSTROUTING).")
    mark = property(lambda self: self._record()[2], doc="Packet mark as received (0 if none).")
    indev = property(lambda self: self._record()[3], doc="Input interface index (0 if none).")
    outdev = property(lambda self: self._record()[4], doc="Output interface index (0 if none).")
    physindev = property(lambda self: self._record()[5], doc="Physical input interface index (0 if none).")
    physoutdev = property(lambda self: self._record()[6], doc="Physical output interface index (0 if none).")

    def __str__(self) -> str:
        payload = self._owned_payload or self._live_payload()
        if payload is None:
            return "%d byte packet, contents unretained" % (self._record()[R_PAYLOAD_LEN],)
        proto = payload[9] if len(payload) > 9 else -1
        return "%s packet, %s bytes" % (PROTOCOLS.get(proto, "Unknown protocol"), self._record()[R_PAYLOAD_LEN])

    def _live_payload(self) -> Optional[bytes]:
        """The received bytes while the callback runs (a new copy each time, as netfilterqueue
        makes; None after the callback, or without a payload)."""
        p = self._payload
        if p is None:
            b = self._b
            with b.q._plock:  # the receiving thread leaves the callback only after taking it
                if b.cur == self._i and b.codes is not None:
                    rec = self._record()
                    if rec[R_PRESENT] & _HAS_PAYLOAD:
                        p = _string_at(rec[R_PAYLOAD], rec[R_PAYLOAD_LEN])
        return p

    def get_hw(self) -> Optional[bytes]:
        """The packet's source MAC address (8 bytes as the kernel sent them), or None if not
        available (only input hooks have one)."""
        rec = self._record()
        return rec[R_HWADDR] if rec[R_PRESENT] & _HAS_HWADDR else None

    def get_payload(self) -> bytes:
        """The payload as bytes."""
        if self._given_payload:
            return self._given_payload
        if self._owned_payload:
            return self._owned_payload
        p = self._live_payload()
        if p is not None:
            return p
        if self._record()[R_PAYLOAD_LEN] == 0:
            raise RuntimeError("Packet has no payload -- perhaps you're using COPY_META mode?")
        raise RuntimeError(
            "Payload data is no longer available. You must call retain() within the "
            "user_callback in order to copy the payload if you need to expect it after your "
            "callback has returned."
        )

    def get_payload_len(self) -> int:
        return self._record()[R_PAYLOAD_LEN]

    def get_timestamp(self) -> float:
        """Kernel receive timestamp in seconds since the epoch (0.0 when absent)."""
        rec = self._record()
        return rec[R_TS_SEC] + rec[R_TS_USEC] / 1000000.0

    def _extras(self) -> None:
        """A mark or payload was set: a verdict inside the callback must go through
        _verdict (which hands them to the library), not the lock-free store."""
        b = self._b
        with b.q._plock:
            c = b.codes
            if c is not None:
                i = self._i
                if c[i] is None:
                    c[i] = _EXTRAS

    def set_payload(self, payload: bytes) -> None:
        """Sets the packet's new bytes (from the IP header), sent with the verdict."""
        if payload is not None and not isinstance(payload, bytes):
            raise TypeError(
                "Argument 'payload' has incorrect type (expected bytes, got %s)" % type(payload).__name__
            )
        self._given_payload = payload
        self._extras()

    def set_mark(self, mark: int) -> None:
        self._given_mark = _c_uint(mark, 32, "u_int32_t")
        self._mark_is_set = True
        self._extras()

    def get_mark(self) -> int:
        if self._mark_is_set:
            return self._given_mark
        return self._record()[2]

    def retain(self) -> None:
        """Copies the payload so get_payload() works after the callback returned."""
        self._owned_payload = self.get_payload()

    def _verdict(self, verdict: int) -> None:
        b = self._b
        i = self._i
        q = b.q
        with q._plock:
            c = b.codes
            slots = c if c is not None else b.final
            given = slots[i]
            if given is not None and given is not _EXTRAS and given != _LATER:
                raise RuntimeError("Verdict already given for this packet")
            if not q._nfq_bound:
                raise RuntimeError("Parent queue has already been unbound")
            if given is None or given is _EXTRAS:
                # The callback runs: the answer goes back with the batch.
                if self._mark_is_set or self._given_payload:
                    c[i] = _CLAIMED  # a lock-free accept() on another thread now takes this path
                    try:
                        ptr = _PTR.unpack_from(b.ptrs, i * _PTR_SIZE)[0]
                        L = lib()
                        if self._mark_is_set:
                            check(L.nfq_rs_packet_set_mark(ptr, self._given_mark), "nfq_rs_packet_set_mark")
                        p = self._given_payload
                        if p:
                            check(L.nfq_rs_packet_set_payload(ptr, p, len(p)), "nfq_rs_packet_set_payload")
                    except BaseException:
                        c[i] = given
                        raise
                c[i] = verdict
            else:
                # Its callback returned without a verdict (NFQ_RS_LATER): sent on its own.
                mark = self._given_mark if self._mark_is_set else None
                rec = self._record()
                q._send_verdict(rec[R_QUEUE], rec[R_ID], verdict, mark, None, None, self._given_payload or None)
                slots[i] = _SENT

    # Inside the callback, without a mark or payload set: only a store into the batch's
    # answers (see nfq_rs.queue._Batch for why without the lock). Everything else, errors
    # included, goes through _verdict.

    def accept(self) -> None:
        """Accept the packet."""
        b = self._b
        c = b.codes
        if c is not None:
            i = self._i
            if c[i] is None and b.q._nfq_bound:
                c[i] = NF_ACCEPT
                return
        self._verdict(NF_ACCEPT)

    def drop(self) -> None:
        """Drop the packet."""
        b = self._b
        c = b.codes
        if c is not None:
            i = self._i
            if c[i] is None and b.q._nfq_bound:
                c[i] = NF_DROP
                return
        self._verdict(NF_DROP)

    def repeat(self) -> None:
        """Repeat the packet (send it through the same hook again)."""
        self._verdict(NF_REPEAT)

    if not _LOCK_FREE:  # see nfq_rs.queue._Batch

        def accept(self) -> None:
            """Accept the packet."""
            self._verdict(NF_ACCEPT)

        def drop(self) -> None:
            """Drop the packet."""
            self._verdict(NF_DROP)

    def _hold(self) -> None:
        """Keeps a packet that an earlier callback's exception kept from its own callback
        (still queued in the kernel) for the next run(), with a copy of its payload (its
        batch must be live)."""
        rec = self._record()
        if rec[R_PRESENT] & _HAS_PAYLOAD:
            self._payload = _string_at(rec[R_PAYLOAD], rec[R_PAYLOAD_LEN])


class _CompatQueue(Queue):
    _packet_class = Packet
    _nfq_bound = False

    def _on_batch(self, pkts, infos, n, answers, _user):
        """netfilterqueue's semantics: a packet without a verdict stays queued; after a
        callback raised, the rest of the batch waits for the next run()."""
        b = None
        try:
            nfq = self._handler  # the NetfilterQueue, during its run()
            if nfq is None:
                return
            b = _new_batch(self, pkts, infos, n)
            codes = b.codes
            i = -1
            try:
                for i in range(n):
                    cb = nfq.user_callback
                    if cb is None:  # unbound meanwhile: no callback, no verdict (unbind drops it)
                        break
                    b.cur = i
                    pkt = Packet()
                    pkt._b = b
                    pkt._i = i
                    cb(pkt)
                    c = codes[i]
                    if c is None or c is _EXTRAS:
                        self._no_verdict(b, i)
            except BaseException as e:  # KeyboardInterrupt included: re-raised by run()
                self._exc = e
                held = nfq._held
                for j in range(i + 1, n):
                    pkt = Packet()
                    pkt._b = b
                    pkt._i = j
                    pkt._hold()
                    held.append(pkt)
        except BaseException as e:
            if self._exc is None:
                self._exc = e
        finally:
            if b is None:
                data = _answer_struct(n).pack(*([_LATER] * n))
            else:
                data = self._end_batch(b, -1)
            _memmove(answers, data, len(data))

    def _no_verdict(self, b, i: int) -> None:
        """Packet i's callback returned without a verdict: the packet stays queued, and a
        later verdict goes out on its own."""
        with self._plock:
            codes = b.codes
            c = codes[i]
            if c is None or c is _EXTRAS:
                codes[i] = _LATER

    def _end_batch(self, b, failed: int) -> bytes:
        """Ends a batch: a packet without a verdict stays queued (NFQ_RS_LATER)."""
        codes = b.codes
        with self._plock:
            b.cur = -1
            b.codes = None
            b.final = codes
            try:
                data = _answer_struct(len(codes)).pack(*codes)  # the usual case
            except struct.error:
                for j, c in enumerate(codes):
                    if c is None or c is _EXTRAS:
                        codes[j] = _LATER
                data = _answer_struct(len(codes)).pack(*[_LATER if c is _SENT else c for c in codes])
        return data


class NetfilterQueue:
    """Handle a single numbered queue (netfilterqueue-compatible).

    ``af`` is accepted and ignored (binding a protocol family is obsolete since Linux 3.8).
    ``sockfd``: a NETLINK_NETFILTER socket made elsewhere (typically in another network
    namespace); the queue works on it (on a duplicate; the caller keeps ``sockfd``).
    ``netns`` (nfq-rs extension): open the socket in a network namespace given as a path such
    as "/var/run/netns/NAME", or a descriptor of one.
    """

    def __init__(self, *, af: int = socket.AF_INET, sockfd: int = -1, netns=None):
        self._q: Optional[_CompatQueue] = None
        self.user_callback: Optional[Callable[[Packet], None]] = None
        self._bound: Optional[int] = None
        self._unbind_pending: Optional[int] = None
        self._held: "collections.deque[Packet]" = collections.deque()
        self._netns_fd = -1
        af = _c_uint(af, 16, "u_int16_t")
        sockfd = _c_int(sockfd)
        if sockfd >= 0:
            # netfilterqueue dup2()s the caller's socket onto its own descriptor.
            try:
                fcntl.fcntl(sockfd, fcntl.F_GETFD)
            except OSError as e:
                raise OSError(e.errno, "dup2 failed") from None
            if netns is None:
                try:  # the socket's namespace, for the kernel's queue counters
                    self._netns_fd = fcntl.ioctl(sockfd, _SIOCGSKNS)
                    netns = self._netns_fd
                except OSError:
                    pass
        try:
            self._q = _CompatQueue(
                None, batch=_BATCH, netns=netns, socket_fd=sockfd if sockfd >= 0 else None
            )
        except NfqError as e:
            raise NfqError(e.code, f"Failed to open NFQueue. ({e.message})", e.call) from e
        # netfilterqueue fails here without CAP_NET_ADMIN: its protocol-family bind is a
        # configuration request, which the kernel refuses. The shim sends none until bind(),
        # so it checks the capability instead (the kernel's own check comes with bind()).
        if not _has_cap_net_admin():
            q, self._q = self._q, None
            q.close()
            raise OSError("Failed to bind family %s. Are you root?" % af)

    def __del__(self):
        try:
            self.unbind()
            q, self._q = self._q, None
            if q is not None:
                q.close()
        except Exception:
            pass
        try:
            if self._netns_fd >= 0:
                import os

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
        queue_num = _c_int(queue_num)
        max_len = _c_uint(max_len, 32, "u_int32_t")
        mode = _c_uint(mode, 8, "u_int8_t")
        range = _c_uint(range, 32, "u_int32_t")
        sock_len = _c_uint(sock_len, 32, "u_int32_t")
        if self._bound is not None:
            raise RuntimeError("A queue is already bound; use unbind() first")
        q = self._q
        L = lib()
        h = q._handle()
        num = queue_num & 0xFFFF  # netfilterqueue passes it on as a u_int16_t
        self.user_callback = user_callback
        with q._lock:
            rc = L.nfq_rs_bind(h, num)
        if rc < 0:
            e = _lib.error(rc, "nfq_rs_bind", h)
            raise NfqError(e.code, f"Failed to create queue {queue_num}. ({e.message})", e.call)
        self._bound = num
        q._nfq_bound = True
        q.queue_nums = [num]
        if mode in (COPY_NONE, COPY_META, COPY_PACKET):
            with q._lock:
                rc = L.nfq_rs_set_copy_mode(h, num, mode, range)
            if rc < 0:
                self.unbind()
                raise OSError("Failed to set packet copy mode.")
        # else: the kernel ignores an unknown mode (the queue keeps COPY_META) without an
        # error, and netfilterqueue passes that on; so does the shim.
        with q._lock:
            L.nfq_rs_set_max_len(h, num, max_len)  # netfilterqueue ignores a failure here too
            newsiz = L.nfq_rs_set_rcvbuf(h, sock_len)
        if newsiz >= 0 and newsiz != sock_len * 2:
            try:
                warnings.warn(
                    "Socket rcvbuf limit is now %d, requested %d." % (newsiz, sock_len),
                    category=RuntimeWarning,
                )
            except BaseException:  # warnings turned into errors
                self.unbind()
                raise

    def unbind(self) -> None:
        """Destroy the queue (the kernel drops the packets still waiting for a verdict).
        Called from inside the callback, it takes effect when the callback returns (after the
        verdicts already given); from another thread while run() waits, run() returns."""
        self.user_callback = None
        num = self._bound
        q = self._q
        if num is None or q is None:
            return
        self._bound = None
        q._nfq_bound = False
        self._held.clear()
        me = _get_ident()
        with q._lock:
            if q._recv_thread == me:
                self._unbind_pending = num
                return
            while q._recv_thread is not None and q._h is not None:
                lib().nfq_rs_stop(q._h)
                q._recv_cond.wait(0.5)
            if q._h is not None:
                lib().nfq_rs_unbind(q._h, num)

    def get_fd(self) -> int:
        """Get the file descriptor of the queue handler."""
        q = self._q
        if q is None:
            raise RuntimeError("the queue handle is closed")
        return q.fileno()

    def _require(self) -> _CompatQueue:
        if self._bound is None or self._q is None:
            raise RuntimeError("No queue is bound; call bind() first")
        return self._q

    def _deliver_held(self) -> int:
        """Hands the packets an exception held back to the callback, in order."""
        n = 0
        while self._held and self._bound is not None:
            pkt = self._held.popleft()
            cb = self.user_callback
            if cb is None:
                break
            n += 1
            try:
                cb(pkt)
            finally:
                pkt._payload = None
        return n

    def _once(self, q: _CompatQueue, timeout_ms: int) -> Optional[int]:
        try:
            if self._held:
                return self._deliver_held()
            return q._dispatch(timeout_ms, self)
        finally:
            num, self._unbind_pending = self._unbind_pending, None
            if num is not None and q._h is not None:
                with q._lock:
                    lib().nfq_rs_unbind(q._h, num)

    def run(self, block: bool = True) -> None:
        """Accept packets (send them to the callback). With block=True, runs until an
        exception (Ctrl-C) or unbind(); with block=False, handles the packets already waiting
        and returns."""
        q = self._require()
        if block:
            while self._bound is not None:
                if self._once(q, POLL_MS) is None:
                    return
        else:
            while self._bound is not None:
                n = self._once(q, 0)
                if not n:
                    return

    def run_socket(self, s: socket.socket) -> None:
        """Accept packets, waiting on ``s`` (``socket.fromfd(get_fd(), ...)``, so that gevent
        can monkeypatch the wait). A non-blocking ``s`` handles what is waiting and returns;
        a timeout on ``s`` raises socket.timeout."""
        q = self._require()
        timeout = s.gettimeout()
        while self._bound is not None:
            if timeout == 0.0:
                n = self._once(q, 0)
                if not n:
                    return
                continue
            if not self._held:
                r, _, _ = select.select([s], [], [], timeout)
                if not r:
                    raise socket.timeout("timed out")
            if self._once(q, 0) is None:
                return
