"""The Pythonic API: Queue, Packet, Pool."""

from __future__ import annotations

import collections
import ctypes
import datetime
import enum
import os
import socket
import struct
import sys
import threading
import time
from operator import itemgetter
from ctypes import byref, c_size_t, c_uint16, c_uint32, c_uint64, c_void_p
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

from . import _lib
from ._lib import check, ct_lib, error, lib
from .conntrack import Conntrack, CtInfo, ct_info as _ct_info, labels_args as _labels_args

# --- verdicts ------------------------------------------------------------------------------

DROP = _lib.NFQ_RS_DROP
ACCEPT = _lib.NFQ_RS_ACCEPT
REPEAT = _lib.NFQ_RS_REPEAT
STOP = _lib.NFQ_RS_STOP

COPY_NONE = "none"
COPY_META = "meta"
COPY_PACKET = "packet"
_COPY_MODES = {
    "none": _lib.NFQ_RS_COPY_NONE,
    "meta": _lib.NFQ_RS_COPY_META,
    "packet": _lib.NFQ_RS_COPY_PACKET,
    _lib.NFQ_RS_COPY_NONE: _lib.NFQ_RS_COPY_NONE,
    _lib.NFQ_RS_COPY_META: _lib.NFQ_RS_COPY_META,
    _lib.NFQ_RS_COPY_PACKET: _lib.NFQ_RS_COPY_PACKET,
}

# Datagrams per receive call (Queue(batch=...)); each receive is one call into Python. Measured
# on a 64 B flood (python/README.md, Performance): 64 -> 256 cut the consumer's CPU time per
# packet by about a fifth, the kernel's share included (fewer, larger verdict batches).
DEFAULT_BATCH = 256

# How long one nfq_rs_dispatch call may block inside run()/iteration, so that Python signal
# handlers (Ctrl-C) run at least this often even if the signal went to another thread.
POLL_MS = 200

_U32 = 0xFFFFFFFF


def queue_verdict(num: int, bypass: bool = False) -> int:
    """The verdict code that sends a packet to queue ``num`` (NFQ_RS_QUEUE(n)); with
    ``bypass`` the packet is accepted when no program listens on that queue."""
    if not 0 <= num <= 0xFFFF:
        raise ValueError(f"queue number {num} is outside 0..65535")
    return (num << 16) | _lib.NFQ_RS_QUEUE_CODE | (_lib.NFQ_RS_QUEUE_BYPASS if bypass else 0)


def _check_verdict(v: int) -> int:
    v = int(v)
    if v in (DROP, ACCEPT, REPEAT, STOP):
        return v
    if 0 <= v <= _U32 and v & 0x7FFF == _lib.NFQ_RS_QUEUE_CODE:
        return v
    raise ValueError(
        f"{v!r} is not a verdict (use nfq_rs.ACCEPT, DROP, REPEAT, STOP or queue_verdict(n))"
    )


def _as_signed(v: int) -> int:
    return v - (1 << 32) if v >= (1 << 31) else v


def _check_u32(name: str, v: Optional[int]) -> Optional[int]:
    if v is None:
        return None
    v = int(v)
    if not 0 <= v <= _U32:
        raise ValueError(f"{name}={v} is outside 0..0xffffffff")
    return v


def _as_payload(p) -> Optional[bytes]:
    if p is None:
        return None
    if isinstance(p, bytes):
        return p
    return bytes(p)


class Hook(enum.IntEnum):
    """Netfilter hooks (the ``hook`` of a packet)."""

    PREROUTING = 0
    INPUT = 1
    FORWARD = 2
    OUTPUT = 3
    POSTROUTING = 4


# --- packet accessors (valid only while the C callback runs) --------------------------------


def _build_fetchers() -> Dict[str, Callable[[int], object]]:
    """key -> function(packet pointer) reading one attribute, with the C functions bound once."""
    L = lib()

    def u32(f):
        def get(ptr):
            out = c_uint32()
            return out.value if f(ptr, byref(out)) == 1 else None

        return get

    def raw(f):
        def get(ptr):
            data = c_void_p()
            n = c_size_t()
            if f(ptr, byref(data), byref(n)) != 1:
                return None
            return ctypes.string_at(data.value, n.value) if n.value else b""

        return get

    payload_f = L.nfq_rs_packet_payload

    def payload(ptr):
        n = c_size_t()
        addr = payload_f(ptr, byref(n))
        if addr is None:
            return None
        return ctypes.string_at(addr, n.value) if n.value else b""

    cap_len_f = L.nfq_rs_packet_cap_len

    def cap_len(ptr):
        out = c_uint32()
        return out.value if cap_len_f(ptr, byref(out)) == 1 else None

    ts_f = L.nfq_rs_packet_timestamp

    def timestamp(ptr):
        sec, usec = c_uint64(), c_uint64()
        if ts_f(ptr, byref(sec), byref(usec)) != 1:
            return None
        return (sec.value, usec.value)

    vlan_f = L.nfq_rs_packet_vlan

    def vlan(ptr):
        proto, tci = c_uint16(), c_uint16()
        if vlan_f(ptr, byref(proto), byref(tci)) != 1:
            return None
        return (proto.value, tci.value)

    trunc_f = L.nfq_rs_packet_is_truncated
    return {
        "family": L.nfq_rs_packet_family,
        "hook": L.nfq_rs_packet_hook,
        "hw_protocol": L.nfq_rs_packet_hw_protocol,
        "payload": payload,
        "orig_len": L.nfq_rs_packet_orig_len,
        "truncated": lambda ptr: trunc_f(ptr) == 1,
        "cap_len": cap_len,
        "mark": u32(L.nfq_rs_packet_mark),
        "indev": u32(L.nfq_rs_packet_indev),
        "outdev": u32(L.nfq_rs_packet_outdev),
        "physindev": u32(L.nfq_rs_packet_physindev),
        "physoutdev": u32(L.nfq_rs_packet_physoutdev),
        "uid": u32(L.nfq_rs_packet_uid),
        "gid": u32(L.nfq_rs_packet_gid),
        "skb_info": u32(L.nfq_rs_packet_skb_info),
        "priority": u32(L.nfq_rs_packet_priority),
        "cgroup_classid": u32(L.nfq_rs_packet_cgroup_classid),
        "ct_info": u32(L.nfq_rs_packet_ct_info),
        "timestamp": timestamp,
        "vlan": vlan,
        "hw_addr": raw(L.nfq_rs_packet_hwaddr),
        "secctx": raw(L.nfq_rs_packet_secctx),
        "ct": raw(L.nfq_rs_packet_ct),
        "exp": raw(L.nfq_rs_packet_exp),
        "l2hdr": raw(L.nfq_rs_packet_l2hdr),
    }


_FETCHERS: Optional[Dict[str, Callable[[int], object]]] = None


def _fetchers() -> Dict[str, Callable[[int], object]]:
    global _FETCHERS
    if _FETCHERS is None:
        _FETCHERS = _build_fetchers()
    return _FETCHERS


def _get_payload(ptr):
    return _fetchers()["payload"](ptr)


def _get_timestamp(ptr):
    return _fetchers()["timestamp"](ptr)


# --- packet records (nfq_rs_packet_info, one per packet of a batch callback) ---------------

_INFO = struct.Struct(_lib.PACKET_INFO_FORMAT)
_INFO_SIZE = _INFO.size
_PTR_SIZE = struct.calcsize("@P")
_string_at = ctypes.string_at
_memmove = ctypes.memmove
_get_ident = threading.get_ident

# Indexes into a record tuple.
R_ID, R_PRESENT, R_PAYLOAD_LEN, R_QUEUE, R_HW_PROTOCOL, R_HOOK, R_HWADDR_LEN, R_HWADDR = 0, 1, 9, 16, 17, 19, 20, 22
R_TS_SEC, R_TS_USEC, R_PAYLOAD = 23, 24, 25


def _rec_opt(i: int, bit: int):
    def get(r):
        return r[i] if r[R_PRESENT] & bit else None

    return get


def _rec_payload(r):
    if not r[R_PRESENT] & _lib.NFQ_RS_INFO_PAYLOAD:
        return None
    n = r[R_PAYLOAD_LEN]
    return _string_at(r[R_PAYLOAD], n) if n else b""


# key -> function(record) for the attributes the record carries; the others are read through
# the packet handle (_fetchers).
_RECORD_FIELDS: Dict[str, Callable[[tuple], object]] = {
    "family": itemgetter(18),
    "hook": itemgetter(R_HOOK),
    "hw_protocol": itemgetter(R_HW_PROTOCOL),
    "payload": _rec_payload,
    "orig_len": itemgetter(7),
    "truncated": lambda r: r[21] == 1,
    "cap_len": _rec_opt(8, _lib.NFQ_RS_INFO_CAP_LEN),
    "mark": _rec_opt(2, _lib.NFQ_RS_INFO_MARK),
    "indev": _rec_opt(3, _lib.NFQ_RS_INFO_INDEV),
    "outdev": _rec_opt(4, _lib.NFQ_RS_INFO_OUTDEV),
    "physindev": _rec_opt(5, _lib.NFQ_RS_INFO_PHYSINDEV),
    "physoutdev": _rec_opt(6, _lib.NFQ_RS_INFO_PHYSOUTDEV),
    "uid": _rec_opt(12, _lib.NFQ_RS_INFO_UID),
    "gid": _rec_opt(13, _lib.NFQ_RS_INFO_GID),
    "skb_info": _rec_opt(10, _lib.NFQ_RS_INFO_SKB_INFO),
    "priority": _rec_opt(11, _lib.NFQ_RS_INFO_PRIORITY),
    "cgroup_classid": _rec_opt(14, _lib.NFQ_RS_INFO_CGROUP_CLASSID),
    "ct_info": _rec_opt(15, _lib.NFQ_RS_INFO_CT_INFO),
    "timestamp": lambda r: (r[R_TS_SEC], r[R_TS_USEC]) if r[R_PRESENT] & _lib.NFQ_RS_INFO_TIMESTAMP else None,
    "hw_addr": lambda r: r[R_HWADDR][: r[R_HWADDR_LEN]] if r[R_PRESENT] & _lib.NFQ_RS_INFO_HWADDR else None,
}

_ANSWER_STRUCTS: Dict[int, struct.Struct] = {}


def _answer_struct(n: int) -> struct.Struct:
    s = _ANSWER_STRUCTS.get(n)
    if s is None:
        s = _ANSWER_STRUCTS[n] = struct.Struct("@%di" % n)
    return s


def _check_info_size() -> None:
    n = lib().nfq_rs_packet_info_size()
    if n != _INFO_SIZE:
        raise _lib.NfqError(
            _lib.NFQ_RS_E_NOTSUP,
            f"{lib()._nfq_rs_path}: nfq_rs_packet_info is {n} bytes, this package reads {_INFO_SIZE}; "
            "use the library and the Python package of the same version",
            "nfq_rs_packet_info_size",
        )




_ID_QUEUE = struct.Struct("@I60xH")  # nfq_rs_packet_info.id and .queue


def _new_batch(q, pkts: int, infos: int, n: int) -> "_Batch":
    """A _Batch for the batch callback's arguments: a copy of the records and of the handle
    pointers (nothing unpacked; a packet unpacks what a property needs), no verdict yet."""
    b = _Batch()
    b.q = q
    b.data = _string_at(infos, n * _INFO_SIZE)
    b.ptrs = _string_at(pkts, n * _PTR_SIZE)
    b.codes = [None] * n
    b.cur = -1
    b.final = b.kept = b.views = None
    return b


def _unraisable_hook(u) -> None:
    """sys.unraisablehook while queues exist: an exception that escaped a queue's batch
    callback goes to that queue, whose dispatch re-raises it (the others go on to the hook
    that was there before).

    The callback catches everything its own code raises, but a Python signal handler can run
    at the callback's very first instruction, before any try block (a signal that arrived
    while the library waited, with packets coming in). ctypes would print that exception and
    drop it; the library gives the batch the fallback verdict.
    """
    obj = getattr(u, "object", None)
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, Queue) and getattr(obj, "__name__", "") == "_on_batch" and u.exc_value is not None:
        if owner._exc is None:
            owner._exc = u.exc_value
        return
    _prev_unraisable_hook(u)


_prev_unraisable_hook = sys.__unraisablehook__
_hook_lock = threading.Lock()


def _install_unraisable_hook() -> None:
    global _prev_unraisable_hook
    with _hook_lock:
        current = sys.unraisablehook
        if current is not _unraisable_hook:
            _prev_unraisable_hook = current
            sys.unraisablehook = _unraisable_hook


_MISSING = object()

_memview_from_memory = None


def _memview(addr: int, n: int) -> memoryview:
    """A read-only memoryview of ``n`` bytes at ``addr``, without copying."""
    global _memview_from_memory
    if _memview_from_memory is None:
        try:
            f = ctypes.pythonapi.PyMemoryView_FromMemory
            f.restype = ctypes.py_object
            f.argtypes = [c_void_p, ctypes.c_ssize_t, ctypes.c_int]
            _memview_from_memory = lambda a, k: f(a, k, 0x100)  # PyBUF_READ
        except AttributeError:  # not CPython: a view of a ctypes array (writable)
            _memview_from_memory = lambda a, k: memoryview((ctypes.c_ubyte * k).from_address(a)).cast("B")
    if n == 0:
        return memoryview(b"")
    return _memview_from_memory(addr, n)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# Answers of a batch (see _Batch).
_LATER = _lib.NFQ_RS_LATER
_FAILED = -1  # NFQ_RS_FAILED: the library gives the fallback verdict and counts a callback error
_SENT = object()  # final answer of a kept packet once its later verdict went out
_CLAIMED = object()  # a verdict being set up inside the callback (under the lock)
_PTR = struct.Struct("@P")


class _Batch:
    """The packets of one call of the batch callback.

    ``codes[i]`` is packet i's answer for the library while the batch is handled: None until
    a verdict is chosen. ``cur`` is the index of the packet whose callback runs (-1: none).
    When that callback returns, a packet without a verdict gets its answer at once (the
    default verdict, or NFQ_RS_LATER if it was retained), as if it had been sent.

    A verdict without keywords inside the callback is only the store ``codes[i] = verdict``
    (``Packet.accept``), done without the lock: with the GIL, CPython 3.10 and later switch
    threads only at bytecodes that call or jump, and the check ``codes[i] is None`` and the
    store have none in between, so no other thread's check and store can come between them.
    (Before 3.10 a switch may come between any two bytecodes, and a free-threaded build may
    run without a GIL: there the verdict methods always take the lock; see _LOCK_FREE.)
    Everything else (keywords, a verdict after the callback, reading the receive buffer,
    the answer of a callback that returned without a verdict) takes ``q._plock``.

    When the batch's callbacks have run, the receiving thread sets ``codes = None`` under the
    lock; after that no store into the list can start, and ``final`` holds the answers the
    library got: NFQ_RS_LATER for a packet kept for later, which becomes _SENT when its
    verdict goes out. ``data`` is a copy of the batch's records, ``ptrs`` the packet handles
    (valid while ``codes`` is not None), ``kept`` the indexes of retained packets, ``views``
    the memoryviews of the receive buffer to release when their packet's callback returns."""

    __slots__ = ("codes", "cur", "final", "data", "ptrs", "q", "kept", "views")


# Whether a verdict can be stored without the lock (see _Batch): CPython 3.10 or later (which
# checks for a thread switch only at calls and jumps), running with its GIL (a free-threaded
# build may run without one).
_LOCK_FREE = sys.version_info >= (3, 10) and bool(getattr(sys, "_is_gil_enabled", lambda: True)())


def _run_until_stopped(h, cb) -> int:
    """The loop of Queue.run and Log.run: ``h._dispatch(POLL_MS, cb)`` until ``h.stop()`` (or
    close, when dispatch returns None); returns the number handled. The wait of each dispatch
    is bounded so that Python signal handlers run; a stop that came while no loop ran ends
    this one at once and is consumed."""
    total = 0
    try:
        while not h._stop_flag:
            n = h._dispatch(POLL_MS, cb)
            if n is None:
                break
            total += n
    finally:
        h._stop_flag = False
    return total


def _ifname(idx: Optional[int]) -> Optional[str]:
    if idx is None:
        return None
    try:
        return socket.if_indextoname(idx)
    except OSError:
        return None


def _gone(pkt: "Packet", key: str) -> RuntimeError:
    return RuntimeError(
        f"packet {pkt.id}: '{key}' is no longer available because the callback returned; "
        "call pkt.retain() inside the callback to keep the packet's data"
    )


class Packet:
    """A queued packet.

    Inside the callback every property reads the packet straight from the library's receive
    buffer. After the callback has returned, only ``id``, ``queue_num`` and what was already read
    remain, unless the callback called :meth:`retain`, which copies everything. Packets from
    iteration (``for pkt in q``) are always complete copies.

    Absent attributes are ``None`` (e.g. ``mark`` when the packet has none, ``indev`` on the
    OUTPUT hook, ``payload`` in copy mode "meta").

    Verdict methods (:meth:`accept`, :meth:`drop`, :meth:`repeat`, :meth:`queue`, :meth:`verdict`)
    take ``mark=``, ``connmark=``, ``priority=``, ``payload=`` and ``labels=`` keywords. Called
    while the packet's callback runs (from any thread), the verdict is sent together with the
    rest of the receive batch when its callbacks have run; called later, from any thread, it is
    sent at once with ``nfq_rs_verdict_ex`` (``nfq_rs_verdict_ct_labels`` for labels). A packet
    takes exactly one verdict: a second raises RuntimeError.
    """

    # A packet is built with its batch and its index alone (nothing else per packet); the
    # rest lives in the instance dict, and only once set (class attributes are the defaults).
    __slots__ = ("_b", "_i", "__dict__", "__weakref__")
    _cache: Optional[Dict[str, object]] = None  # values read so far (all of them once retained)
    _rec = None  # the unpacked record, once needed
    _retained = False

    @property
    def _q(self) -> "Queue":
        return self._b.q

    @property
    def _lock(self):
        return self._b.q._plock

    @property
    def id(self) -> int:
        """Packet id (always available)."""
        return _ID_QUEUE.unpack_from(self._b.data, self._i * _INFO_SIZE)[0]

    @property
    def queue_num(self) -> int:
        """The queue the packet came from (always available)."""
        return _ID_QUEUE.unpack_from(self._b.data, self._i * _INFO_SIZE)[1]

    def _record(self) -> tuple:
        r = self._rec
        if r is None:
            r = self._rec = _INFO.unpack_from(self._b.data, self._i * _INFO_SIZE)
        return r

    def _handle(self) -> int:
        """The packet's nfq_rs_packet handle (only while its batch's callback runs)."""
        return _PTR.unpack_from(self._b.ptrs, self._i * _PTR_SIZE)[0]

    # -- data ---------------------------------------------------------------------------

    def _get(self, key: str):
        c = self._cache
        if c is not None:
            v = c.get(key, _MISSING)
            if v is not _MISSING:
                return v
        b = self._b
        # Under the lock: the receiving thread leaves the callback (and the library reuses the
        # buffer) only after taking it.
        with b.q._plock:
            if b.cur != self._i or b.codes is None:
                raise _gone(self, key)
            f = _RECORD_FIELDS.get(key)
            v = f(self._record()) if f is not None else _fetchers()[key](self._handle())
        c = self._cache
        if c is None:
            c = self._cache = {}
        c[key] = v
        return v

    def _snapshot(self) -> None:
        """Copies every attribute out of the receive buffer (the batch must be live; under the
        lock, or on the receiving thread before anyone else has the packet)."""
        c = self._cache
        if c is None:
            c = self._cache = {}
        ptr = self._handle()
        rec = self._record()
        for key, fetch in _fetchers().items():
            if key not in c:
                f = _RECORD_FIELDS.get(key)
                c[key] = f(rec) if f is not None else fetch(ptr)

    @property
    def live(self) -> bool:
        """True while the callback that received this packet is running."""
        b = self._b
        return b.cur == self._i and b.codes is not None

    @property
    def family(self) -> int:
        """Address family of the hook (socket.AF_INET, AF_INET6, AF_BRIDGE=7)."""
        v = self._get("family")
        try:
            return socket.AddressFamily(v)
        except ValueError:
            return v

    @property
    def hook(self) -> int:
        """Netfilter hook, a :class:`Hook` (PREROUTING=0 ... POSTROUTING=4)."""
        v = self._get("hook")
        try:
            return Hook(v)
        except ValueError:
            return v

    @property
    def hw_protocol(self) -> int:
        """Link-layer protocol (0x0800 IPv4, 0x86dd IPv6)."""
        return self._get("hw_protocol")

    @property
    def payload(self) -> Optional[bytes]:
        """The packet from its network header, as bytes (None in copy mode "none"/"meta")."""
        return self._get("payload")

    @property
    def payload_view(self) -> Optional[memoryview]:
        """A read-only memoryview of the payload without copying, valid only while the callback
        runs (it is released when the callback returns; copy what you keep). For retained or
        iterated packets, a view of their copy."""
        if self._cache is not None and "payload" in self._cache:
            p = self._cache["payload"]
            return None if p is None else memoryview(p)
        b = self._b
        v = self._view
        if v is not None and b.cur == self._i and b.codes is not None:
            return v
        with b.q._plock:
            if b.cur == self._i and b.codes is not None:
                rec = self._record()
                if not rec[R_PRESENT] & _lib.NFQ_RS_INFO_PAYLOAD:
                    return None
                v = self._view = _memview(rec[R_PAYLOAD], rec[R_PAYLOAD_LEN])
                if b.views is None:
                    b.views = []
                b.views.append(v)
                return v
        p = self._get("payload")  # raises: the callback returned
        return None if p is None else memoryview(p)

    _view: Optional[memoryview] = None

    def __len__(self) -> int:
        p = self.payload
        return 0 if p is None else len(p)

    @property
    def orig_len(self) -> int:
        """Length of the packet in the kernel (larger than the payload when cut by copy_range)."""
        return self._get("orig_len")

    @property
    def truncated(self) -> bool:
        """True if the payload is shorter than the packet."""
        return self._get("truncated")

    @property
    def cap_len(self) -> Optional[int]:
        """NFQA_CAP_LEN: the original length if the kernel cut the packet, else None."""
        return self._get("cap_len")

    @property
    def mark(self) -> Optional[int]:
        """Packet mark (the kernel sends it only when nonzero), or None."""
        return self._get("mark")

    @property
    def indev(self) -> Optional[int]:
        """Input interface index, or None."""
        return self._get("indev")

    @property
    def outdev(self) -> Optional[int]:
        """Output interface index, or None."""
        return self._get("outdev")

    @property
    def physindev(self) -> Optional[int]:
        """Physical input interface (bridge port) index, or None."""
        return self._get("physindev")

    @property
    def physoutdev(self) -> Optional[int]:
        """Physical output interface (bridge port) index, or None."""
        return self._get("physoutdev")

    # Interface names resolve in the namespace of the *calling* process (socket.if_indextoname),
    # which is not the queue's namespace when the Queue was opened with netns=.
    @property
    def indev_name(self) -> Optional[str]:
        """Name of ``indev`` resolved in the caller's network namespace, or None."""
        return _ifname(self.indev)

    @property
    def outdev_name(self) -> Optional[str]:
        """Name of ``outdev`` resolved in the caller's network namespace, or None."""
        return _ifname(self.outdev)

    @property
    def physindev_name(self) -> Optional[str]:
        """Name of ``physindev`` resolved in the caller's network namespace, or None."""
        return _ifname(self.physindev)

    @property
    def physoutdev_name(self) -> Optional[str]:
        """Name of ``physoutdev`` resolved in the caller's network namespace, or None."""
        return _ifname(self.physoutdev)

    @property
    def hw_addr(self) -> Optional[bytes]:
        """Link-layer source address (input hooks), or None."""
        return self._get("hw_addr")

    @property
    def timestamp(self) -> Optional[datetime.datetime]:
        """Kernel receive timestamp as a UTC-aware datetime (input/forward hooks, when the
        kernel stamped the packet), or None."""
        t = self._get("timestamp")
        if t is None:
            return None
        return _EPOCH + datetime.timedelta(seconds=t[0], microseconds=t[1])

    @property
    def uid(self) -> Optional[int]:
        """Owner uid of the local socket (needs ``uid_gid=True``), or None."""
        return self._get("uid")

    @property
    def gid(self) -> Optional[int]:
        """Owner gid of the local socket (needs ``uid_gid=True``), or None."""
        return self._get("gid")

    @property
    def skb_info(self) -> Optional[int]:
        """NFQA_SKB_INFO bits (SKB_CSUM_NOT_READY, SKB_GSO, SKB_CSUM_NOT_VERIFIED), or None."""
        return self._get("skb_info")

    @property
    def priority(self) -> Optional[int]:
        """Packet priority (sent when nonzero), or None."""
        return self._get("priority")

    @property
    def cgroup_classid(self) -> Optional[int]:
        """net_cls cgroup class id, or None."""
        return self._get("cgroup_classid")

    @property
    def secctx(self) -> Optional[str]:
        """Security context (needs ``secctx=True``), or None."""
        v = self._get("secctx")
        return None if v is None else v.rstrip(b"\0").decode(errors="replace")

    @property
    def ct(self) -> Optional[bytes]:
        """The raw NFQA_CT nest (CTA_* attributes; needs ``conntrack=True``), or None."""
        return self._get("ct")

    @property
    def conntrack(self) -> Optional[Conntrack]:
        """The packet's connection decoded from ``ct`` (a :class:`nfq_rs.conntrack.Conntrack`,
        a plain value that stays valid after the callback), or None without ``NFQA_CT``.
        Malformed bytes raise NfqError (E_PROTO)."""
        v = _MISSING if self._cache is None else self._cache.get("_conntrack", _MISSING)
        if v is _MISSING:
            raw = self._get("ct")
            fam = self._get("family")
            v = None if raw is None else Conntrack.decode(raw, fam if fam in (socket.AF_INET, socket.AF_INET6) else 0)
            self._cache["_conntrack"] = v
        return v

    @property
    def ct_info(self) -> Optional[Union[CtInfo, int]]:
        """Conntrack info, a :class:`nfq_rs.conntrack.CtInfo` (enum ip_conntrack_info:
        ESTABLISHED, RELATED, NEW, ESTABLISHED_REPLY, RELATED_REPLY), or None."""
        return _ct_info(self._get("ct_info"))

    @property
    def exp(self) -> Optional[bytes]:
        """The raw NFQA_EXP nest, or None."""
        return self._get("exp")

    @property
    def vlan(self) -> Optional[tuple]:
        """(protocol, TCI) of the VLAN tag (bridge family), or None."""
        return self._get("vlan")

    @property
    def l2hdr(self) -> Optional[bytes]:
        """Link-layer header (bridge family), or None."""
        return self._get("l2hdr")

    # -- verdicts -----------------------------------------------------------------------

    @property
    def verdict_given(self) -> bool:
        """True once a verdict was given (inside or after the callback)."""
        b = self._b
        with b.q._plock:
            c = b.codes
            v = (c if c is not None else b.final)[self._i]
            return v is not None and v != _LATER

    def retain(self) -> "Packet":
        """Keeps the packet queued after the callback returns: copies all its data and tells
        the library not to give it a verdict; give it one later, from any thread, with
        :meth:`accept` & co. Returns the packet."""
        b = self._b
        with b.q._plock:
            if b.cur == self._i and b.codes is not None:
                self._snapshot()
                if b.kept is None:
                    b.kept = set()
                b.kept.add(self._i)
            self._retained = True
        return self

    def verdict(
        self,
        verdict: int,
        *,
        mark: Optional[int] = None,
        connmark: Optional[int] = None,
        priority: Optional[int] = None,
        payload=None,
        labels=None,
    ) -> None:
        """Gives the packet ``verdict`` (ACCEPT, DROP, REPEAT, STOP or queue_verdict(n)),
        optionally setting its mark, connmark, priority, and replacing its bytes (from the
        network header; fix checksums yourself, e.g. zero the UDP checksum).

        ``labels=(labels16, mask16)`` sets the connection's labels: the bits set in the 16-byte
        mask take their value from the 16-byte labels (needs conntrack glue in the kernel,
        like ``connmark``). After the callback it cannot be combined with the other keywords
        (the C API sends it with ``nfq_rs_verdict_ct_labels``)."""
        code = _check_verdict(verdict)
        mark = _check_u32("mark", mark)
        connmark = _check_u32("connmark", connmark)
        priority = _check_u32("priority", priority)
        payload = _as_payload(payload)
        if labels is not None:
            labels = _labels_args(labels)
        b = self._b
        i = self._i
        with b.q._plock:
            c = b.codes
            slots = c if c is not None else b.final
            v = slots[i]
            if v is None:
                # The callback runs: the answer goes back with the batch.
                if mark is not None or connmark is not None or priority is not None or payload is not None or labels is not None:
                    c[i] = _CLAIMED  # a lock-free accept() on another thread now takes this path
                    try:
                        ptr = self._handle()
                        L = lib()
                        if mark is not None:
                            check(L.nfq_rs_packet_set_mark(ptr, mark), "nfq_rs_packet_set_mark")
                        if connmark is not None:
                            check(L.nfq_rs_packet_set_connmark(ptr, connmark), "nfq_rs_packet_set_connmark")
                        if priority is not None:
                            check(L.nfq_rs_packet_set_priority(ptr, priority), "nfq_rs_packet_set_priority")
                        if payload is not None:
                            check(L.nfq_rs_packet_set_payload(ptr, payload, len(payload)), "nfq_rs_packet_set_payload")
                        if labels is not None:
                            check(ct_lib().nfq_rs_packet_set_ct_labels(ptr, *labels), "nfq_rs_packet_set_ct_labels")
                    except BaseException:
                        c[i] = None
                        raise
                c[i] = _as_signed(code)
                return
            if v != _LATER:
                raise RuntimeError(f"a verdict was already given for packet {self.id} of queue {self.queue_num}")
            # Kept for later (retained, or from iteration): sent on its own, at once.
            b.q._send_verdict(self.queue_num, self.id, code, mark, connmark, priority, payload, labels)
            slots[i] = _SENT

    # The verdicts without keywords inside the callback are only a store into the batch's
    # answers (see _Batch for why no lock is needed); anything else goes through verdict().

    def accept(self, **kw) -> None:
        """Accepts the packet (it continues with the next rule/hook). See :meth:`verdict`."""
        if not kw:
            c = self._b.codes
            if c is not None:
                i = self._i
                if c[i] is None:
                    c[i] = 1  # ACCEPT
                    return
        self.verdict(ACCEPT, **kw)

    def drop(self, **kw) -> None:
        """Drops the packet. See :meth:`verdict`."""
        if not kw:
            c = self._b.codes
            if c is not None:
                i = self._i
                if c[i] is None:
                    c[i] = 0  # DROP
                    return
        self.verdict(DROP, **kw)

    def repeat(self, **kw) -> None:
        """Sends the packet through the same hook again (give it a mark your rule skips,
        or it comes back). See :meth:`verdict`."""
        self.verdict(REPEAT, **kw)

    def stop(self, **kw) -> None:
        """Accepts the packet, skipping the remaining rules of the hook (NF_STOP)."""
        self.verdict(STOP, **kw)

    def queue(self, num: int, *, bypass: bool = False, **kw) -> None:
        """Sends the packet to queue ``num``; with ``bypass`` it is accepted when nobody
        listens there. (The packet's own queue number is ``queue_num``.)"""
        self.verdict(queue_verdict(num, bypass), **kw)

    if not _LOCK_FREE:  # see _Batch

        def accept(self, **kw) -> None:
            """Accepts the packet (it continues with the next rule/hook). See :meth:`verdict`."""
            self.verdict(ACCEPT, **kw)

        def drop(self, **kw) -> None:
            """Drops the packet. See :meth:`verdict`."""
            self.verdict(DROP, **kw)

    def __repr__(self) -> str:
        try:
            hook = self.hook
            hook = hook.name if isinstance(hook, Hook) else hook
            p = self.payload
            extra = f" hook={hook} len={'-' if p is None else len(p)}"
        except RuntimeError:
            extra = ""
        return f"<nfq_rs.Packet id={self.id} queue={self.queue_num}{extra}>"


# --- queue ---------------------------------------------------------------------------------

_ITERATE = object()  # handler marker: snapshot packets for iteration


class Queue:
    """One netlink socket bound to one or more NFQUEUE queue numbers.

    ``queue`` is a number or an iterable of numbers (all bound on this socket). Keywords:

    - ``copy_mode``: "none", "meta" or "packet" (default), ``copy_range``: bytes of each packet
      to copy (default 0xffff: the whole packet, up to 65531)
    - ``max_len``: kernel queue length limit (kernel default 1024)
    - flags: ``fail_open``, ``gso``, ``uid_gid``, ``secctx``, ``conntrack`` (booleans)
    - ``rcvbuf``: socket receive buffer in bytes (library default 4 MiB), ``no_enobufs``,
      ``batch``: datagrams per receive call (default 256; the C library's default is 16), each
      handed to Python in one call
    - ``netns``: open the socket in another network namespace, a path such as
      "/var/run/netns/NAME" or an open descriptor (int) of one
    - ``fallback_verdict``: for packets whose callback raised or that the library cannot
      handle (default DROP)
    - ``default_verdict``: for packets whose callback returned without a verdict and
      without retain() (default ACCEPT)
    - ``callback``: the default callback for :meth:`run`

    Use it as a context manager, or call :meth:`close`. Closing makes the kernel drop the
    packets still waiting for a verdict.
    """

    _packet_class = Packet

    def __init__(
        self,
        queue: Union[int, Iterable[int]] = 0,
        *,
        copy_mode: Union[str, int] = COPY_PACKET,
        copy_range: int = 0xFFFF,
        max_len: Optional[int] = None,
        fail_open: bool = False,
        gso: bool = False,
        uid_gid: bool = False,
        secctx: bool = False,
        conntrack: bool = False,
        rcvbuf: Optional[int] = None,
        no_enobufs: bool = False,
        batch: Optional[int] = None,
        netns: Union[None, str, os.PathLike, int] = None,
        socket_fd: Optional[int] = None,
        fallback_verdict: int = DROP,
        default_verdict: int = ACCEPT,
        callback: Optional[Callable[[Packet], None]] = None,
    ):
        self._h = None
        self._lock = threading.RLock()
        self._recv_cond = threading.Condition(self._lock)
        self._recv_thread: Optional[int] = None
        self._stop_flag = False
        self._closing = False
        self._exc: Optional[BaseException] = None
        self._handler = None
        self._pending: "collections.deque[Packet]" = collections.deque()
        self._callback = callback
        # Guards the verdict state of this queue's packets (shared: one lock per packet cost
        # more than the contention it saves).
        self._plock = threading.Lock()

        if queue is None:
            nums = []  # bind later (the netfilterqueue shim does)
        elif isinstance(queue, int):
            nums = [queue]
        else:
            nums = [int(n) for n in queue]
            if not nums:
                raise ValueError("no queue number given")
        for n in nums:
            if not 0 <= n <= 0xFFFF:
                raise ValueError(f"queue number {n} is outside 0..65535")
        self.queue_nums: List[int] = nums
        try:
            mode = _COPY_MODES[copy_mode]
        except (KeyError, TypeError):
            raise ValueError(f"copy_mode={copy_mode!r}: use 'none', 'meta' or 'packet'") from None
        self._fallback = _check_verdict(fallback_verdict)
        self._default_verdict = _as_signed(_check_verdict(default_verdict))
        flags = 0
        for on, bit in (
            (fail_open, _lib.NFQ_RS_F_FAIL_OPEN),
            (conntrack, _lib.NFQ_RS_F_CONNTRACK),
            (gso, _lib.NFQ_RS_F_GSO),
            (uid_gid, _lib.NFQ_RS_F_UID_GID),
            (secctx, _lib.NFQ_RS_F_SECCTX),
        ):
            if on:
                flags |= bit

        L = lib()
        cfg = L.nfq_rs_config_new(nums[0]) if nums else L.nfq_rs_config_new_unbound()
        if not cfg:
            raise MemoryError("nfq_rs_config_new failed")
        try:
            for n in nums[1:]:
                check(L.nfq_rs_config_add_queue(cfg, n), "nfq_rs_config_add_queue")
            check(L.nfq_rs_config_set_copy_mode(cfg, mode, int(copy_range) & _U32), "nfq_rs_config_set_copy_mode")
            if max_len is not None:
                check(L.nfq_rs_config_set_max_len(cfg, _check_u32("max_len", max_len)), "nfq_rs_config_set_max_len")
            if flags:
                check(L.nfq_rs_config_set_flags(cfg, flags, flags), "nfq_rs_config_set_flags")
            if rcvbuf is not None:
                check(L.nfq_rs_config_set_rcvbuf(cfg, int(rcvbuf)), "nfq_rs_config_set_rcvbuf")
            if no_enobufs:
                check(L.nfq_rs_config_set_no_enobufs(cfg, 1), "nfq_rs_config_set_no_enobufs")
            # DEFAULT_BATCH datagrams per receive unless told otherwise (the library's default is
            # 16): each receive costs one call into Python, and larger batches also cost the
            # kernel less per packet (see python/README.md, Performance).
            check(
                L.nfq_rs_config_set_batch(cfg, int(DEFAULT_BATCH if batch is None else batch)), "nfq_rs_config_set_batch"
            )
            check(L.nfq_rs_config_set_fallback_verdict(cfg, self._fallback), "nfq_rs_config_set_fallback_verdict")
            if socket_fd is not None:
                check(L.nfq_rs_config_set_socket_fd(cfg, int(socket_fd)), "nfq_rs_config_set_socket_fd")
            if netns is not None:
                if isinstance(netns, int):
                    check(L.nfq_rs_config_set_netns_fd(cfg, netns), "nfq_rs_config_set_netns_fd")
                else:
                    check(
                        L.nfq_rs_config_set_netns_path(cfg, os.fsencode(netns)),
                        "nfq_rs_config_set_netns_path",
                    )
            out = c_void_p()
            check(L.nfq_rs_open(cfg, byref(out)), "nfq_rs_open")
        finally:
            L.nfq_rs_config_free(cfg)
        self._h = out.value
        # One call into Python per receive batch, with a record of each packet's common
        # fields (see _on_batch). The C function pointer must stay alive as long as the
        # handle: keep it on self.
        _check_info_size()
        _install_unraisable_hook()
        self._cfunc = _lib.BATCH_CALLBACK(self._on_batch)
        check(L.nfq_rs_set_batch_callback(self._h, self._cfunc, None), "nfq_rs_set_batch_callback", self._h)

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            if self._h is not None and self._recv_thread is None:
                h, self._h = self._h, None
                lib().nfq_rs_close(h)
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._h is None

    @property
    def queue_num(self) -> int:
        """The first (usually only) queue number."""
        if not self.queue_nums:
            raise RuntimeError("no queue is bound on this socket")
        return self.queue_nums[0]

    def close(self) -> None:
        """Stops a running loop (waiting for it to return), then closes the socket; the kernel
        unbinds the queues and drops the packets still waiting for a verdict. Idempotent."""
        with self._lock:
            if self._h is None:
                return
            if self._recv_thread == threading.get_ident():
                raise RuntimeError("close() called from inside a callback; call stop() and close after run() returns")
            self._closing = True
            if self._recv_thread is not None:
                self._stop_flag = True
                lib().nfq_rs_stop(self._h)
                while self._recv_thread is not None:
                    self._recv_cond.wait()
            h, self._h = self._h, None
        lib().nfq_rs_close(h)

    def fileno(self) -> int:
        """The socket descriptor, for select/poll loops (then call :meth:`dispatch`)."""
        with self._lock:
            return check(lib().nfq_rs_fd(self._handle()), "nfq_rs_fd")

    def _handle(self):
        h = self._h
        if h is None:
            raise RuntimeError("the queue is closed")
        return h

    # -- receiving ------------------------------------------------------------------------

    def _on_batch(self, pkts, infos, n, answers, _user):
        """The C batch callback: every packet of one receive. Writes an answer per packet and
        never lets an exception escape into C.

        Per packet only: a Packet holding the batch and its index, the user's callback, and
        (in accept()/drop()) a store into the batch's answers. Everything else is per batch."""
        b = None
        failed = -1  # the packet whose callback raised
        codes = None
        try:
            handler = self._handler
            if self._exc is not None or handler is None:
                # The loop is ending (an earlier callback raised): no more callbacks.
                codes = [_as_signed(self._fallback)] * n
                return
            b = _new_batch(self, pkts, infos, n)
            codes = b.codes
            cls = self._packet_class
            if handler is _ITERATE:
                pending = self._pending
                for i in range(n):
                    pkt = cls()
                    pkt._b = b
                    pkt._i = i
                    pkt._snapshot()
                    codes[i] = _LATER
                    pending.append(pkt)
                return
            default = self._default_verdict
            i = 0
            try:
                for i in range(n):
                    b.cur = i
                    pkt = cls()
                    pkt._b = b
                    pkt._i = i
                    handler(pkt)
                    if codes[i] is None:
                        self._no_verdict(b, i, default)
                    if b.views is not None:
                        self._release_views(b)
            except BaseException as e:  # KeyboardInterrupt included: re-raised by the loop
                self._exc = e
                failed = i
        except BaseException as e:
            if self._exc is None:
                self._exc = e
        finally:
            if b is None:
                if codes is None:
                    codes = [_as_signed(self._fallback)] * n
                data = _answer_struct(n).pack(*codes)
            else:
                data = self._end_batch(b, failed)
            _memmove(answers, data, len(data))

    def _end_batch(self, b: _Batch, failed: int) -> bytes:
        """Ends a batch (no verdict goes into ``codes`` after this) and returns the answers
        for the library. Every packet has one unless a callback raised: then that packet gets
        NFQ_RS_FAILED (NFQ_RS_LATER if it was retained) and those after it, never handed to
        the callback, the fallback verdict. A kept packet whose verdict was sent meanwhile
        (_SENT) is NFQ_RS_LATER to the library."""
        codes = b.codes
        with self._plock:
            b.cur = -1
            b.codes = None
            b.final = codes
            try:
                data = _answer_struct(len(codes)).pack(*codes)  # the usual case
            except struct.error:
                kept = b.kept or ()
                fallback = _as_signed(self._fallback)
                for j, c in enumerate(codes):
                    if c is None:
                        if j in kept:
                            codes[j] = _LATER
                        elif j == failed:
                            codes[j] = _FAILED
                        else:
                            codes[j] = fallback
                data = _answer_struct(len(codes)).pack(*[_LATER if c is _SENT else c for c in codes])
        if b.views is not None:  # no view is made after codes = None
            self._release_views(b)
        return data

    def _no_verdict(self, b: _Batch, i: int, default: int) -> None:
        """Packet i's callback returned without a verdict: its answer is decided now."""
        with self._plock:
            codes = b.codes
            if codes[i] is None:
                codes[i] = _LATER if b.kept is not None and i in b.kept else default

    def _release_views(self, b: _Batch) -> None:
        """Releases the memoryviews of the receive buffer made during a callback."""
        with self._plock:
            views, b.views = b.views, None
        for v in views or ():
            try:
                v.release()
            except BufferError:  # something still holds the buffer; nothing we can do
                pass

    def _dispatch(self, timeout_ms: int, handler) -> Optional[int]:
        """One nfq_rs_dispatch call; None if the queue is closing/closed."""
        with self._lock:
            if self._h is None or self._closing:
                return None
            if self._recv_thread is not None:
                raise RuntimeError("another thread is already receiving on this queue")
            self._recv_thread = threading.get_ident()
            h = self._h
        self._handler = handler
        try:
            rc = lib().nfq_rs_dispatch(h, timeout_ms)  # GIL released while it waits
            err = error(rc, "nfq_rs_dispatch", h) if rc < 0 else None
        finally:
            self._handler = None
            with self._lock:
                self._recv_thread = None
                self._recv_cond.notify_all()
        exc, self._exc = self._exc, None
        if exc is not None:
            try:
                raise exc
            finally:
                exc = None
        if err is not None:
            raise err
        return rc

    def dispatch(self, callback: Optional[Callable[[Packet], None]] = None, timeout: Optional[float] = 0) -> int:
        """Waits up to ``timeout`` seconds (None: until a packet or stop()), handles one batch
        with ``callback`` and returns how many packets it handled. For event loops: wait for
        :meth:`fileno` to be readable, then call ``dispatch(cb, 0)``. An exception raised by
        the callback is re-raised here."""
        cb = callback or self._callback
        if cb is None:
            raise TypeError("no callback: pass one or give Queue(callback=...)")
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        n = self._dispatch(ms, cb)
        return 0 if n is None else n

    def run(self, callback: Optional[Callable[[Packet], None]] = None) -> int:
        """Calls ``callback(packet)`` for every packet until :meth:`stop` (from any thread, or
        the callback) or :meth:`close`; returns the number of packets handled.

        In the callback, give a verdict with ``pkt.accept()``/``drop()``/``repeat()``/
        ``queue(n)`` (with ``mark=``/``connmark=``/``payload=``), or call ``pkt.retain()`` to
        give it later from any thread. A callback that returns without either gives the packet
        ``default_verdict`` (ACCEPT unless configured).

        If the callback raises (KeyboardInterrupt included), that packet gets
        ``fallback_verdict`` (unless it already had a verdict), the other packets of the same
        receive batch get ``fallback_verdict`` without a callback, the loop stops and the
        exception is re-raised here. Ctrl-C while waiting raises KeyboardInterrupt within
        POLL_MS (200 ms).

        A stop() that comes while no loop runs makes the next loop return at once.
        """
        cb = callback or self._callback
        if cb is None:
            raise TypeError("no callback: pass one or give Queue(callback=...)")
        return _run_until_stopped(self, cb)

    def stop(self) -> None:
        """Makes run() (or iteration) return; wakes a blocked dispatch. Any thread; also from a
        Python signal handler."""
        with self._lock:
            self._stop_flag = True
            if self._h is not None:
                lib().nfq_rs_stop(self._h)

    def packets(self, timeout: Optional[float] = None) -> Iterator[Packet]:
        """Yields packets as they arrive, until stop()/close(), or until ``timeout`` seconds
        pass without a packet (None: no limit).

        Yielded packets are complete copies kept queued in the kernel; give each a verdict
        (any thread). A packet still without a verdict when the loop asks for the next one (or
        ends) gets ``default_verdict``, unless you called ``pkt.retain()`` on it; so do packets
        already received but not yet yielded when you break out of the loop.
        """
        last = time.monotonic()
        current: Optional[Packet] = None
        try:
            while True:
                if self._pending:
                    current = self._pending.popleft()
                    yield current
                    self._settle(current)
                    current = None
                    last = time.monotonic()
                    continue
                if self._stop_flag:
                    break
                wait = POLL_MS
                if timeout is not None:
                    left = timeout - (time.monotonic() - last)
                    if left <= 0:
                        break
                    wait = min(wait, max(0, int(left * 1000)))
                if self._dispatch(wait, _ITERATE) is None:
                    break
        finally:
            self._stop_flag = False
            if current is not None:
                self._settle(current)
            # Left the loop early (break): packets received but not yet yielded get the
            # default verdict too, rather than waiting in the kernel for nobody.
            while self._pending:
                self._settle(self._pending.popleft())

    def __iter__(self) -> Iterator[Packet]:
        return self.packets()

    def _settle(self, pkt: Packet) -> None:
        if not pkt._retained and not self.closed and not pkt.verdict_given:
            try:
                pkt.verdict(self._default_verdict & _U32)
            except RuntimeError:
                pass

    # -- verdicts by id (any thread) ---------------------------------------------------------

    def _send_verdict(self, queue_num, pid, code, mark=None, connmark=None, priority=None, payload=None, labels=None):
        if labels is not None:
            if mark is not None or connmark is not None or priority is not None or payload is not None:
                raise ValueError(
                    "labels= cannot be combined with mark=, connmark=, priority= or payload= after the "
                    "callback (nfq_rs_verdict_ct_labels sends labels only); set them inside the callback"
                )
            L = ct_lib()
            with self._lock:
                h = self._h
                if h is None:
                    raise RuntimeError(
                        f"cannot give packet {pid} a verdict: the queue is closed (the kernel dropped it)"
                    )
                rc = L.nfq_rs_verdict_ct_labels(h, queue_num, pid, code, labels[0], labels[1])
                if rc < 0:
                    raise error(rc, "nfq_rs_verdict_ct_labels", h)
            return
        setm = 0
        if mark is not None:
            setm |= _lib.NFQ_RS_SET_MARK
        if connmark is not None:
            setm |= _lib.NFQ_RS_SET_CONNMARK
        if priority is not None:
            setm |= _lib.NFQ_RS_SET_PRIORITY
        with self._lock:
            h = self._h
            if h is None:
                raise RuntimeError(
                    f"cannot give packet {pid} a verdict: the queue is closed (the kernel dropped it)"
                )
            rc = lib().nfq_rs_verdict_ex(
                h,
                queue_num,
                pid,
                code,
                setm,
                mark or 0,
                connmark or 0,
                priority or 0,
                payload,
                0 if payload is None else len(payload),
            )
            if rc < 0:
                raise error(rc, "nfq_rs_verdict_ex", h)

    def verdict(
        self,
        packet_id: int,
        verdict: int,
        *,
        queue_num: Optional[int] = None,
        mark: Optional[int] = None,
        connmark: Optional[int] = None,
        priority: Optional[int] = None,
        payload=None,
        labels=None,
    ) -> None:
        """Gives packet ``packet_id`` (of ``queue_num``, default the first queue) a verdict by
        id, from any thread; for packets the callback retained. ``labels=(labels16, mask16)``
        as in :meth:`Packet.verdict` (alone: not with the other keywords)."""
        self._send_verdict(
            self.queue_num if queue_num is None else queue_num,
            _check_u32("packet_id", packet_id),
            _check_verdict(verdict),
            _check_u32("mark", mark),
            _check_u32("connmark", connmark),
            _check_u32("priority", priority),
            _as_payload(payload),
            None if labels is None else _labels_args(labels),
        )

    def verdict_batch(
        self, max_id: int, verdict: int, *, queue_num: Optional[int] = None, mark: Optional[int] = None
    ) -> None:
        """Gives every queued packet of ``queue_num`` with id <= ``max_id`` the verdict."""
        q = self.queue_num if queue_num is None else queue_num
        code = _check_verdict(verdict)
        with self._lock:
            h = self._handle()
            if mark is None:
                rc = lib().nfq_rs_verdict_batch(h, q, _check_u32("max_id", max_id), code)
            else:
                rc = lib().nfq_rs_verdict_batch_mark(h, q, _check_u32("max_id", max_id), code, _check_u32("mark", mark))
            check(rc, "nfq_rs_verdict_batch", h)

    # -- counters -------------------------------------------------------------------------

    def stats(self) -> Dict[str, object]:
        """Library counters (packets_received, verdicts_sent, verdict_errors, enobufs,
        truncated, foreign_ignored, parse_errors, callback_errors, deferred,
        fallback_verdicts) plus ``"kernel"``: {queue number: kernel counters (queue_total,
        dropped, user_dropped, id_sequence, portid, copy_mode, copy_range) or None}."""
        L = lib()
        out: Dict[str, object] = {}
        v = c_uint64()
        with self._lock:
            h = self._handle()
            for i, name in enumerate(_lib.STAT_NAMES):
                check(L.nfq_rs_stat(h, i, byref(v)), "nfq_rs_stat", h)
                out[name] = v.value
            out["kernel"] = {n: self._kernel_stats(h, n) for n in self.queue_nums}
        return out

    def kernel_stats(self, queue_num: Optional[int] = None) -> Optional[Dict[str, int]]:
        """The kernel's counters for one queue (/proc/net/netfilter/nfnetlink_queue of the
        socket's namespace), or None when the kernel does not list it."""
        with self._lock:
            return self._kernel_stats(self._handle(), self.queue_num if queue_num is None else queue_num)

    @staticmethod
    def _kernel_stats(h, n) -> Optional[Dict[str, int]]:
        L = lib()
        v = c_uint64()
        out = {}
        for i, name in enumerate(_lib.KSTAT_NAMES):
            rc = L.nfq_rs_kernel_stat(h, n, i, byref(v))
            if rc == _lib.NFQ_RS_E_NODEV:
                return None
            check(rc, "nfq_rs_kernel_stat", h)
            out[name] = v.value
        return out

    def last_error(self) -> str:
        """The handle's last error message (empty if none)."""
        with self._lock:
            return _lib.last_error(self._handle())

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<nfq_rs.Queue {','.join(map(str, self.queue_nums))} {state}>"


# --- pool ----------------------------------------------------------------------------------


class Pool:
    """One thread per queue number, each with its own :class:`Queue`, all calling ``callback``
    (for an iptables ``--queue-balance`` range). Keywords go to each Queue.

    ``start()`` starts the threads, ``stop()`` stops them all, ``join()`` waits and re-raises
    the first exception a callback raised (which also stops the others); ``run()`` is start +
    join, stopping everything on Ctrl-C. Callbacks run under the GIL, one at a time.
    """

    def __init__(self, queues: Iterable[int], callback: Callable[[Packet], None], **queue_kwargs):
        self._callback = callback
        self.queues: List[Queue] = []
        try:
            for n in queues:
                self.queues.append(Queue(n, **queue_kwargs))
        except BaseException:
            for q in self.queues:
                q.close()
            raise
        if not self.queues:
            raise ValueError("no queue numbers given")
        self._threads: List[threading.Thread] = []
        self._errors: List[BaseException] = []
        self._lock = threading.Lock()

    def _worker(self, q: Queue) -> None:
        try:
            q.run(self._callback)
        except BaseException as e:
            with self._lock:
                self._errors.append(e)
            self.stop()

    def start(self) -> "Pool":
        if self._threads:
            raise RuntimeError("the pool is already started")
        for q in self.queues:
            t = threading.Thread(target=self._worker, args=(q,), name=f"nfq_rs-queue-{q.queue_num}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def stop(self) -> None:
        for q in self.queues:
            q.stop()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Waits for the threads (returns False on timeout); re-raises the first callback
        exception once all have stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            while t.is_alive():
                left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                if left <= 0:
                    return False
                t.join(left)
        with self._lock:
            errors, self._errors = self._errors, []
        self._threads = []
        if errors:
            raise errors[0]
        return True

    def run(self) -> None:
        self.start()
        try:
            self.join()
        except KeyboardInterrupt:
            self.stop()
            self.join()
            raise

    def close(self) -> None:
        self.stop()
        try:
            self.join(5)
        finally:
            for q in self.queues:
                q.close()

    def stats(self) -> Dict[int, Dict[str, object]]:
        return {q.queue_num: q.stats() for q in self.queues}

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
