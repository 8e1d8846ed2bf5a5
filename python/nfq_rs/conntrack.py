"""Conntrack entries and the conntrack table, through the library's ``nfq_rs_ct_*`` C API.

    from nfq_rs.conntrack import Conntrack, Table

    ct = Conntrack.decode(raw_cta_bytes)        # or pkt.conntrack inside a Queue callback
    print(ct.orig.src, ct.orig.dport, ct.state, ct.assured, ct.mark)

    with Table() as t:                           # ctnetlink, in the caller's namespace
        for e in t.dump(socket.AF_INET):
            if e.orig.dport == 53:
                t.update(e, mark=7)

A :class:`Conntrack` is a plain Python value: every field is read out of the C entry when it
is built, so it stays valid after the packet callback returns and across threads.
"""

from __future__ import annotations

import ctypes
import enum
import ipaddress
import os
import socket
import sys
import threading
from ctypes import byref, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p
from typing import FrozenSet, List, NamedTuple, Optional, Tuple, Union

from . import _lib
from ._lib import NfqError, ct_lib

__all__ = [
    "CtInfo",
    "Status",
    "CtTuple",
    "Counters",
    "Conntrack",
    "Table",
    "ct_info",
]

_U32 = 0xFFFFFFFF
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class CtInfo(enum.IntEnum):
    """``enum ip_conntrack_info`` (linux/netfilter/nf_conntrack_common.h): how a packet relates
    to its connection (``Packet.ct_info``)."""

    ESTABLISHED = 0
    RELATED = 1
    NEW = 2
    ESTABLISHED_REPLY = 3
    IS_REPLY = 3  # alias of ESTABLISHED_REPLY: values from here up are the reply direction
    RELATED_REPLY = 4
    NEW_REPLY = 5  # IP_CT_NUMBER; "only for userspace compatibility", never sent

    @property
    def is_reply(self) -> bool:
        return self >= CtInfo.IS_REPLY

    @property
    def state(self) -> str:
        """"ESTABLISHED", "RELATED" or "NEW" (either direction)."""
        return ("ESTABLISHED", "RELATED", "NEW")[self % 3]


def ct_info(value: Optional[int]):
    """``value`` as a :class:`CtInfo` (None stays None; an unknown number stays an int)."""
    if value is None:
        return None
    try:
        return CtInfo(value)
    except ValueError:
        return value


class Status(enum.IntFlag):
    """Connection status bits (``enum ip_conntrack_status``, ``IPS_*``)."""

    EXPECTED = 1 << 0
    SEEN_REPLY = 1 << 1
    ASSURED = 1 << 2
    CONFIRMED = 1 << 3
    SRC_NAT = 1 << 4
    DST_NAT = 1 << 5
    SEQ_ADJUST = 1 << 6
    SRC_NAT_DONE = 1 << 7
    DST_NAT_DONE = 1 << 8
    DYING = 1 << 9
    FIXED_TIMEOUT = 1 << 10
    TEMPLATE = 1 << 11
    UNTRACKED = 1 << 12
    HELPER = 1 << 13
    OFFLOAD = 1 << 14
    HW_OFFLOAD = 1 << 15


# --- values ----------------------------------------------------------------------------------


def _addr(b: bytes) -> IPAddress:
    return ipaddress.ip_address(b)


class CtTuple:
    """One direction of a connection: ``src``/``dst`` (ipaddress objects, None if absent),
    ``proto`` (IP protocol number) and ``proto_name`` ("tcp", "udp", ...), ``sport``/``dport``
    (None for protocols without ports), ``icmp_type``/``icmp_code``/``icmp_id`` (ICMP and
    ICMPv6 only, else None), ``zone`` (the tuple's own zone, usually None)."""

    __slots__ = ("src", "dst", "proto", "sport", "dport", "icmp_type", "icmp_code", "icmp_id", "zone")

    def __init__(
        self,
        src: Optional[IPAddress] = None,
        dst: Optional[IPAddress] = None,
        proto: Optional[int] = None,
        sport: Optional[int] = None,
        dport: Optional[int] = None,
        icmp_type: Optional[int] = None,
        icmp_code: Optional[int] = None,
        icmp_id: Optional[int] = None,
        zone: Optional[int] = None,
    ):
        self.src = src
        self.dst = dst
        self.proto = proto
        self.sport = sport
        self.dport = dport
        self.icmp_type = icmp_type
        self.icmp_code = icmp_code
        self.icmp_id = icmp_id
        self.zone = zone

    @property
    def proto_name(self) -> Optional[str]:
        if self.proto is None:
            return None
        return ct_lib().nfq_rs_ct_l4proto_name(self.proto).decode()

    def _key(self):
        return tuple(getattr(self, k) for k in self.__slots__)

    def __eq__(self, other) -> bool:
        return isinstance(other, CtTuple) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in self.__slots__ if getattr(self, k) is not None]
        return f"CtTuple({', '.join(parts)})"


class Counters(NamedTuple):
    """Packet and byte counters of one direction."""

    packets: int
    bytes: int


# --- reading a C entry -------------------------------------------------------------------------


def _u(f, ptr, ctype):
    out = ctype()
    return out.value if f(ptr, byref(out)) == 1 else None


def _str(f, ptr) -> Optional[str]:
    n = f(ptr, None, 0)
    if n <= 0:
        return None
    buf = ctypes.create_string_buffer(n + 1)
    f(ptr, buf, len(buf))
    return buf.value.decode(errors="replace")


def _read_tuple(L, t) -> Optional[CtTuple]:
    if not t:
        return None
    a = ctypes.create_string_buffer(16)
    fam = L.nfq_rs_ct_tuple_src(t, a)
    src = _addr(a.raw[: 4 if fam == socket.AF_INET else 16]) if fam in (socket.AF_INET, socket.AF_INET6) else None
    fam = L.nfq_rs_ct_tuple_dst(t, a)
    dst = _addr(a.raw[: 4 if fam == socket.AF_INET else 16]) if fam in (socket.AF_INET, socket.AF_INET6) else None
    proto = _u(L.nfq_rs_ct_tuple_l4proto, t, c_uint8)
    sp, dp = c_uint16(), c_uint16()
    sport = dport = None
    if L.nfq_rs_ct_tuple_ports(t, byref(sp), byref(dp)) == 1:
        sport, dport = sp.value, dp.value
    ty, code, ident = c_uint8(), c_uint8(), c_uint16()
    icmp = (None, None, None)
    if L.nfq_rs_ct_tuple_icmp(t, byref(ty), byref(code), byref(ident)) == 1:
        icmp = (ty.value, code.value, ident.value)
    zone = _u(L.nfq_rs_ct_tuple_zone, t, c_uint16)
    return CtTuple(src, dst, proto, sport, dport, *icmp, zone=zone)


def _read_entry(L, p) -> dict:
    """Every field of the C entry at ``p`` as Python values."""
    d = {}
    d["family"] = L.nfq_rs_ct_family(p)
    d["orig"] = _read_tuple(L, L.nfq_rs_ct_entry_tuple(p, _lib.NFQ_RS_CT_DIR_ORIG))
    d["reply"] = _read_tuple(L, L.nfq_rs_ct_entry_tuple(p, _lib.NFQ_RS_CT_DIR_REPLY))
    d["master"] = _read_tuple(L, L.nfq_rs_ct_entry_tuple(p, _lib.NFQ_RS_CT_DIR_MASTER))
    for key, f in (
        ("status", L.nfq_rs_ct_status),
        ("mark", L.nfq_rs_ct_mark),
        ("id", L.nfq_rs_ct_id),
        ("use", L.nfq_rs_ct_use),
        ("timeout", L.nfq_rs_ct_timeout),
        ("secmark", L.nfq_rs_ct_secmark),
    ):
        d[key] = _u(f, p, c_uint32)
    d["zone"] = _u(L.nfq_rs_ct_zone, p, c_uint16)
    d["proto"] = _u(L.nfq_rs_ct_l4proto, p, c_uint8)
    d["proto_state"] = _u(L.nfq_rs_ct_proto_state, p, c_uint8)
    name = L.nfq_rs_ct_proto_state_name(p)
    d["state"] = name.decode() if name else None
    pk, by = c_uint64(), c_uint64()
    for key, direction in (("counters_orig", _lib.NFQ_RS_CT_DIR_ORIG), ("counters_reply", _lib.NFQ_RS_CT_DIR_REPLY)):
        ok = L.nfq_rs_ct_counters(p, direction, byref(pk), byref(by)) == 1
        d[key] = Counters(pk.value, by.value) if ok else None
    start, stop = c_uint64(), c_uint64()
    if L.nfq_rs_ct_timestamp(p, byref(start), byref(stop)) == 1:
        d["timestamp"] = (start.value or None, stop.value or None)
    else:
        d["timestamp"] = None
    lb = ctypes.create_string_buffer(16)
    d["labels"] = lb.raw if L.nfq_rs_ct_labels(p, lb) == 1 else None
    d["helper"] = _str(L.nfq_rs_ct_helper_name, p)
    d["secctx"] = _str(L.nfq_rs_ct_secctx, p)
    n = L.nfq_rs_ct_snprintf(p, None, 0, 0)
    buf = ctypes.create_string_buffer(max(n, 0) + 1)
    L.nfq_rs_ct_snprintf(p, buf, len(buf), 0)
    d["text"] = buf.value.decode(errors="replace")
    data, size = c_void_p(), c_size_t()
    if L.nfq_rs_ct_raw(p, byref(data), byref(size)) == 1 and size.value:
        d["raw"] = ctypes.string_at(data.value, size.value)
    else:
        d["raw"] = b""
    return d


class _CEntry:
    """A C ``nfq_rs_ct_entry`` owned for the duration of a ``with`` block."""

    def __init__(self):
        self.L = ct_lib()
        self.p = self.L.nfq_rs_ct_entry_new()
        if not self.p:
            raise MemoryError("nfq_rs_ct_entry_new failed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.L.nfq_rs_ct_entry_free(self.p)
        self.p = None


_PROTOS = {"icmp": 1, "tcp": 6, "udp": 17, "dccp": 33, "gre": 47, "icmpv6": 58, "ipv6-icmp": 58,
           "sctp": 132, "udplite": 136}


def _proto_number(proto: Union[int, str]) -> int:
    if isinstance(proto, str):
        n = _PROTOS.get(proto.lower())
        if n is None:
            try:
                n = socket.getprotobyname(proto)
            except OSError:
                raise ValueError(f"unknown protocol name {proto!r}") from None
        return n
    n = int(proto)
    if not 0 <= n <= 255:
        raise ValueError(f"protocol {proto} is outside 0..255")
    return n


def _build(e: "_CEntry", ent: "Conntrack") -> None:
    """Describes ``ent`` in the C entry of ``e``: decodes its raw bytes, or (an entry built
    with Conntrack.key, which has none) sets its original tuple, zone and id."""
    L = e.L
    if ent.raw:
        rc = L.nfq_rs_ct_entry_decode(e.p, _family_arg(ent.family), ent.raw, len(ent.raw))
        if rc < 0:
            raise _fail(rc, "nfq_rs_ct_entry_decode")
        return
    t = ent.orig
    if t is None or t.src is None or t.dst is None or t.proto is None:
        raise ValueError("the entry has no original tuple with addresses and protocol to name a connection by")
    fam = socket.AF_INET if t.src.version == 4 else socket.AF_INET6
    if t.icmp_type is not None:
        rc = L.nfq_rs_ct_entry_set_tuple_icmp(
            e.p, _lib.NFQ_RS_CT_DIR_ORIG, fam, t.src.packed, t.dst.packed, t.icmp_type, t.icmp_code or 0, t.icmp_id or 0
        )
        call = "nfq_rs_ct_entry_set_tuple_icmp"
    else:
        rc = L.nfq_rs_ct_entry_set_tuple(
            e.p, _lib.NFQ_RS_CT_DIR_ORIG, fam, t.src.packed, t.dst.packed, t.proto, t.sport or 0, t.dport or 0
        )
        call = "nfq_rs_ct_entry_set_tuple"
    if rc < 0:
        raise _fail(rc, call)
    for value, f, call in (
        (ent.zone, L.nfq_rs_ct_entry_set_zone, "nfq_rs_ct_entry_set_zone"),
        (ent.id, L.nfq_rs_ct_entry_set_id, "nfq_rs_ct_entry_set_id"),
    ):
        if value is not None:
            rc = f(e.p, value)
            if rc < 0:
                raise _fail(rc, call)


def _fail(rc: int, call: str) -> NfqError:
    msg = _lib.last_error(None) or _lib.strerror(rc)
    return NfqError(rc, msg, call)


def _family_arg(family) -> int:
    f = int(family or 0)
    if not 0 <= f <= 255:
        raise ValueError(f"family={family!r} is not an address family")
    return f


class Conntrack:
    """A conntrack entry (a connection), decoded by the library from ``CTA_*`` attributes.

    Build one with :meth:`decode` (raw bytes: the payload of ``NFQA_CT``, or of a ctnetlink
    message after its nfgenmsg), :meth:`key` (a lookup key for :class:`Table`), or get it from
    ``Packet.conntrack`` / ``Table.dump``. Absent attributes are None.
    """

    __slots__ = (
        "family",
        "orig",
        "reply",
        "master",
        "status",
        "mark",
        "id",
        "use",
        "timeout",
        "secmark",
        "zone",
        "proto",
        "proto_state",
        "state",
        "counters_orig",
        "counters_reply",
        "timestamp",
        "labels",
        "helper",
        "secctx",
        "text",
        "raw",
    )

    family: int
    """Address family (socket.AF_INET, AF_INET6), 0 if unknown."""
    orig: Optional[CtTuple]
    reply: Optional[CtTuple]
    master: Optional[CtTuple]
    """The master connection's tuple (of an expected connection), usually None."""
    status: Optional[Status]
    mark: Optional[int]
    id: Optional[int]
    use: Optional[int]
    timeout: Optional[int]
    """Seconds until the entry expires."""
    secmark: Optional[int]
    zone: Optional[int]
    proto: Optional[int]
    """Layer-4 protocol number (of the original tuple, else the reply tuple)."""
    proto_state: Optional[int]
    """TCP (``NFQ_RS_CT_TCP_*``), SCTP or DCCP state number."""
    state: Optional[str]
    """The protocol state's name as ``conntrack`` prints it ("ESTABLISHED", "TIME_WAIT", ...)."""
    counters_orig: Optional[Counters]
    counters_reply: Optional[Counters]
    timestamp: Optional[Tuple[Optional[int], Optional[int]]]
    """(start, stop) in nanoseconds since the epoch (``nf_conntrack_timestamp``)."""
    labels: Optional[bytes]
    """The 16 label bytes as the kernel stores them (32-bit words in host order)."""
    helper: Optional[str]
    secctx: Optional[str]
    text: str
    """The entry in the ``conntrack -L`` layout."""
    raw: bytes
    """The ``CTA_*`` bytes it was decoded from (empty for :meth:`key` entries)."""

    def __init__(self, fields: dict):
        for k in self.__slots__:
            setattr(self, k, fields.get(k))
        if self.status is not None:
            self.status = Status(self.status)

    @classmethod
    def decode(cls, data, family: int = 0) -> "Conntrack":
        """Decodes ``CTA_*`` attribute bytes; ``family`` is the address family if known (0:
        from the addresses). Malformed bytes raise :class:`NfqError` (``E_PROTO``)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Conntrack.decode() takes bytes, not {type(data).__name__}")
        data = bytes(data)
        with _CEntry() as e:
            rc = e.L.nfq_rs_ct_entry_decode(e.p, _family_arg(family), data, len(data))
            if rc < 0:
                raise _fail(rc, "nfq_rs_ct_entry_decode")
            return cls(_read_entry(e.L, e.p))

    @classmethod
    def _from_ptr(cls, ptr) -> "Conntrack":
        return cls(_read_entry(ct_lib(), ptr))

    @classmethod
    def key(
        cls,
        src,
        dst,
        proto: Union[int, str],
        sport: int = 0,
        dport: int = 0,
        *,
        icmp_type: Optional[int] = None,
        icmp_code: int = 0,
        icmp_id: int = 0,
        zone: Optional[int] = None,
    ) -> "Conntrack":
        """An entry with only an original tuple (and zone), to name a connection for
        :meth:`Table.get`, :meth:`Table.update` and :meth:`Table.delete`. ``proto`` is a number
        or "tcp"/"udp"/"icmp"/...; for ICMP/ICMPv6 give ``icmp_type`` (and code, id)."""
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if s.version != d.version:
            raise ValueError(f"src {s} and dst {d} are of different address families")
        t = CtTuple(s, d, _proto_number(proto))
        if icmp_type is not None:
            t.icmp_type, t.icmp_code, t.icmp_id = int(icmp_type), int(icmp_code), int(icmp_id)
        else:
            t.sport, t.dport = int(sport), int(dport)
        fam = socket.AF_INET if s.version == 4 else socket.AF_INET6
        with _CEntry() as e:
            _build(e, Conntrack({"family": fam, "orig": t, "zone": zone}))
            return cls(_read_entry(e.L, e.p))

    # -- status bits ------------------------------------------------------------------------

    def _bit(self, bit: Status) -> bool:
        return self.status is not None and bool(self.status & bit)

    @property
    def expected(self) -> bool:
        return self._bit(Status.EXPECTED)

    @property
    def seen_reply(self) -> bool:
        return self._bit(Status.SEEN_REPLY)

    @property
    def assured(self) -> bool:
        return self._bit(Status.ASSURED)

    @property
    def confirmed(self) -> bool:
        return self._bit(Status.CONFIRMED)

    @property
    def dying(self) -> bool:
        return self._bit(Status.DYING)

    @property
    def src_nat(self) -> bool:
        return self._bit(Status.SRC_NAT)

    @property
    def dst_nat(self) -> bool:
        return self._bit(Status.DST_NAT)

    # -- labels -----------------------------------------------------------------------------

    def has_label(self, bit: int) -> bool:
        """Whether connlabel bit ``bit`` (0..127) is set."""
        if not 0 <= bit < 128:
            raise ValueError(f"label bit {bit} is outside 0..127")
        if self.labels is None:
            return False
        w = int.from_bytes(self.labels[4 * (bit // 32) : 4 * (bit // 32) + 4], sys.byteorder)
        return bool(w >> (bit % 32) & 1)

    @property
    def label_bits(self) -> FrozenSet[int]:
        """The set label bits."""
        return frozenset(b for b in range(128) if self.has_label(b))

    # -- misc -------------------------------------------------------------------------------

    @property
    def proto_name(self) -> Optional[str]:
        return None if self.proto is None else ct_lib().nfq_rs_ct_l4proto_name(self.proto).decode()

    def _fields(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    def __eq__(self, other) -> bool:
        return isinstance(other, Conntrack) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.family, self.raw, self.orig, self.id))

    def __reduce__(self):
        return (Conntrack, (self._fields(),))

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<nfq_rs.Conntrack {self.text}>"


def labels_args(labels) -> Tuple[bytes, bytes]:
    """Checks a ``labels=(bytes16, mask16)`` argument."""
    try:
        value, mask = labels
    except (TypeError, ValueError):
        raise ValueError("labels= takes a pair (labels, mask) of 16 bytes each") from None
    value, mask = bytes(value), bytes(mask)
    if len(value) != 16 or len(mask) != 16:
        raise ValueError(f"labels= takes 16-byte labels and mask (got {len(value)} and {len(mask)} bytes)")
    return value, mask


# --- the table (ctnetlink) ---------------------------------------------------------------------


class Table:
    """A ctnetlink socket on the conntrack table of one network namespace (``netns``: a path
    such as "/var/run/netns/NAME"; None: the caller's). Needs CAP_NET_ADMIN there.

    Calls are serialised with a lock, so one Table may be shared between threads. Use it as a
    context manager or call :meth:`close`.
    """

    def __init__(self, netns: Union[None, str, os.PathLike] = None):
        L = ct_lib()
        self._lock = threading.Lock()
        out = c_void_p()
        path = None if netns is None else os.fsencode(netns)
        rc = L.nfq_rs_ct_open(path, byref(out))
        if rc < 0:
            raise _fail(rc, "nfq_rs_ct_open")
        self._h = out.value

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        with self._lock:
            h, self._h = self._h, None
        if h is not None:
            ct_lib().nfq_rs_ct_close(h)

    def _handle(self):
        if self._h is None:
            raise RuntimeError("the conntrack table handle is closed")
        return self._h

    def _error(self, rc: int, call: str) -> NfqError:
        L = ct_lib()
        msg = _lib.last_error(None)
        if not msg and self._h is not None:
            buf = ctypes.create_string_buffer(512)
            L.nfq_rs_ct_last_error(self._h, buf, len(buf))
            msg = buf.value.decode(errors="replace")
        return NfqError(rc, msg or _lib.strerror(rc), call)

    def dump(
        self,
        family: int = 0,
        *,
        mark: Optional[int] = None,
        mark_mask: int = _U32,
        zone: Optional[int] = None,
        proto: Optional[int] = None,
    ) -> List[Conntrack]:
        """Every connection of ``family`` (0: all), optionally only those with ``mark``
        (``mark & mark_mask``), ``zone`` or layer-4 ``proto``."""
        L = ct_lib()
        filt = 0
        if mark is not None:
            filt |= _lib.NFQ_RS_CT_FILTER_MARK
        if zone is not None:
            filt |= _lib.NFQ_RS_CT_FILTER_ZONE
        if proto is not None:
            filt |= _lib.NFQ_RS_CT_FILTER_L4PROTO
        out: List[Conntrack] = []
        errors: List[BaseException] = []

        def cb(_event, ent, _exp, _user):
            try:
                out.append(Conntrack._from_ptr(ent))
                return 0
            except BaseException as e:  # never into C; re-raised below
                errors.append(e)
                return 1

        cfunc = _lib.CT_CALLBACK(cb)
        with self._lock:
            rc = L.nfq_rs_ct_dump(
                self._handle(),
                _family_arg(family),
                filt,
                (mark or 0) & _U32,
                mark_mask & _U32,
                zone or 0,
                proto or 0,
                cfunc,
                None,
            )
            err = self._error(rc, "nfq_rs_ct_dump") if rc < 0 else None
        if errors:
            raise errors[0]
        if err is not None:
            raise err
        return out

    def get(self, key: Conntrack) -> Optional[Conntrack]:
        """The current entry of the connection ``key`` names (by its original tuple and zone;
        from :meth:`Conntrack.key`, a dump or a packet), or None if there is none."""
        with _CEntry() as k, _CEntry() as o:
            self._load(k, key)
            with self._lock:
                rc = k.L.nfq_rs_ct_get(self._handle(), k.p, o.p)
                if rc == _lib.NFQ_RS_E_NOENT:
                    return None
                if rc < 0:
                    raise self._error(rc, "nfq_rs_ct_get")
            return Conntrack._from_ptr(o.p)

    def update(
        self,
        key: Conntrack,
        *,
        mark: Optional[int] = None,
        mark_mask: int = _U32,
        timeout: Optional[int] = None,
        status: Optional[int] = None,
        labels=None,
    ) -> None:
        """Changes the connection ``key`` names: ``mark`` (only the bits of ``mark_mask``),
        ``timeout`` (seconds), ``status`` (the full bits), ``labels=(bytes16, mask16)``.
        No such connection: :class:`NfqError` with code ``E_NOENT``."""
        L = ct_lib()
        setm = 0
        if mark is not None:
            setm |= _lib.NFQ_RS_CT_SET_MARK
        if timeout is not None:
            setm |= _lib.NFQ_RS_CT_SET_TIMEOUT
        if status is not None:
            setm |= _lib.NFQ_RS_CT_SET_STATUS
        lv = lm = None
        if labels is not None:
            lv, lm = labels_args(labels)
            setm |= _lib.NFQ_RS_CT_SET_LABELS
        if not setm:
            raise ValueError("update() needs at least one of mark=, timeout=, status=, labels=")
        with _CEntry() as k:
            self._load(k, key)
            with self._lock:
                rc = L.nfq_rs_ct_update(
                    self._handle(),
                    k.p,
                    setm,
                    (mark or 0) & _U32,
                    mark_mask & _U32,
                    (timeout or 0) & _U32,
                    int(status or 0) & _U32,
                    lv,
                    lm,
                )
                if rc < 0:
                    raise self._error(rc, "nfq_rs_ct_update")

    def delete(self, key: Conntrack) -> None:
        """Deletes the connection ``key`` names (only the entry with its id, when ``key`` has
        one, as entries from a dump do). None there: :class:`NfqError` ``E_NOENT``."""
        with _CEntry() as k:
            self._load(k, key)
            with self._lock:
                rc = k.L.nfq_rs_ct_delete(self._handle(), k.p)
                if rc < 0:
                    raise self._error(rc, "nfq_rs_ct_delete")

    def flush(self, family: int = 0) -> None:
        """Deletes every connection of ``family`` (0: all families)."""
        with self._lock:
            rc = ct_lib().nfq_rs_ct_flush(self._handle(), _family_arg(family))
            if rc < 0:
                raise self._error(rc, "nfq_rs_ct_flush")

    def count(self) -> Tuple[int, int]:
        """(entries now, the table's limit or 0 if the kernel does not say)."""
        n, m = c_uint32(), c_uint32()
        with self._lock:
            rc = ct_lib().nfq_rs_ct_stats(self._handle(), byref(n), byref(m))
            if rc < 0:
                raise self._error(rc, "nfq_rs_ct_stats")
        return n.value, m.value

    @staticmethod
    def _load(k: _CEntry, key: Conntrack) -> None:
        if not isinstance(key, Conntrack):
            raise TypeError(f"expected a Conntrack entry (e.g. Conntrack.key(...)), got {type(key).__name__}")
        _build(k, key)

    def __repr__(self) -> str:
        return f"<nfq_rs.conntrack.Table {'closed' if self.closed else 'open'}>"
