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

MAIN, DYING, UNCONFIRMED = 0, 1, 2
"""Tables for :meth:`Table.dump` (``table=``): the connection table, the dying list (entries
being destroyed whose destroy event is not delivered yet), the unconfirmed list (always empty
since Linux 6.1)."""



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

    def _call(self, call: str, fn):
        with self._lock:
            rc = fn(self._handle())
            err = self._error(rc, call) if rc < 0 else None
        if err is not None:
            raise err
        return rc

    def dump(
        self,
        family: int = 0,
        *,
        mark: Optional[int] = None,
        mark_mask: int = _U32,
        zone: Optional[int] = None,
        proto: Optional[int] = None,
        table: int = MAIN,
        orig: Optional[CtTuple] = None,
        reply: Optional[CtTuple] = None,
    ) -> List[Conntrack]:
        """Every connection of ``table`` (``MAIN``, ``DYING``, ``UNCONFIRMED``) and ``family``
        (0: all) that passes the filter: ``mark`` (``mark & mark_mask``), ``zone``, layer-4
        ``proto``, and the tuple filters ``orig``/``reply`` (a :class:`CtTuple` whose None parts are
        not compared). The kernel filters where it can (mark always, zone since Linux 6.8, tuples
        since 5.10); the rest is filtered here: :meth:`last_dump_report` says which."""
        L = _ext()
        filt = 0
        if mark is not None:
            filt |= _F_MARK
        if zone is not None:
            filt |= _F_ZONE
        if proto is not None:
            filt |= _F_L4PROTO
        of, rf = _tuple_filter(orig), _tuple_filter(reply)
        cfunc, out, errors = _collect("plain")
        self._call("nfq_rs_ct_dump_table", lambda h: L.nfq_rs_ct_dump_table(
            h, int(table), _family_arg(family), filt, (mark or 0) & _U32, mark_mask & _U32, zone or 0,
            _proto_number(proto) if proto is not None else 0,
            byref(of) if of is not None else None, byref(rf) if rf is not None else None, cfunc, None))
        if errors:
            raise errors[0]
        return out

    def last_dump_report(self) -> dict:
        """What the last dump received and kept, and which filter parts the kernel applied:
        ``{"received": n, "kept": n, "kernel_mark": bool, "kernel_zone": bool, "kernel_tuple": bool}``."""
        L = _ext()
        r, k, bits = c_uint64(), c_uint64(), c_uint32()
        self._call("nfq_rs_ct_last_dump_report",
                   lambda h: L.nfq_rs_ct_last_dump_report(h, byref(r), byref(k), byref(bits)))
        b = bits.value
        return {"received": r.value, "kept": k.value, "kernel_mark": bool(b & _F_MARK),
                "kernel_zone": bool(b & _F_ZONE), "kernel_tuple": bool(b & _F_TUPLE)}

    def kernel_has_tuple_filter(self) -> bool:
        """Whether the kernel has the ``CTA_FILTER`` tuple filter (Linux 5.10 and later)."""
        L = _ext()
        return bool(self._call("nfq_rs_ct_kernel_has_tuple_filter", L.nfq_rs_ct_kernel_has_tuple_filter))

    def create(
        self,
        src,
        dst,
        proto: Union[int, str],
        sport: int = 0,
        dport: int = 0,
        *,
        timeout: int,
        mark: Optional[int] = None,
        zone: Optional[int] = None,
        helper: Optional[str] = None,
        tcp_state: Optional[int] = None,
    ) -> None:
        """Creates a connection (reply tuple: the original reversed). ``helper`` ("ftp", ...)
        attaches a helper, which the master of a userspace expectation needs; ``tcp_state`` is
        an ``NFQ_RS_CT_TCP_*`` number (3: ESTABLISHED). Exists already: ``NfqError`` E_EXIST."""
        L = _ext()
        key = Conntrack.key(src, dst, proto, sport, dport, zone=zone)
        with _CEntry() as e:
            _build(e, key)
            for value, f, call in (
                (timeout, L.nfq_rs_ct_entry_set_timeout, "nfq_rs_ct_entry_set_timeout"),
                (mark, L.nfq_rs_ct_entry_set_mark, "nfq_rs_ct_entry_set_mark"),
                (tcp_state, L.nfq_rs_ct_entry_set_tcp_state, "nfq_rs_ct_entry_set_tcp_state"),
            ):
                if value is not None:
                    rc = f(e.p, int(value))
                    if rc < 0:
                        raise _fail(rc, call)
            if helper is not None:
                rc = L.nfq_rs_ct_entry_set_helper(e.p, helper.encode())
                if rc < 0:
                    raise _fail(rc, "nfq_rs_ct_entry_set_helper")
            self._call("nfq_rs_ct_create", lambda h: L.nfq_rs_ct_create(h, e.p))

    def dump_expect(self, family: int = 0) -> List[Expectation]:
        """Every expectation of ``family`` (0: all)."""
        L = _ext()
        cfunc, out, errors = _collect("plain")
        self._call("nfq_rs_ct_dump_expect", lambda h: L.nfq_rs_ct_dump_expect(h, _family_arg(family), cfunc, None))
        if errors:
            raise errors[0]
        return out

    def get_expect(self, tuple: CtTuple, *, zone: Optional[int] = None, id: Optional[int] = None):
        """The expectation whose expected tuple is ``tuple`` (in ``zone``; with ``id``, only that
        one), or None."""
        with _CExp() as k, _CExp() as o:
            _build_exp(k, Expectation(tuple=tuple, zone=zone, id=id), key_only=True)
            with self._lock:
                rc = k.L.nfq_rs_ct_get_expect(self._handle(), k.p, o.p)
                if rc == _lib.NFQ_RS_E_NOENT:
                    return None
                if rc < 0:
                    raise self._error(rc, "nfq_rs_ct_get_expect")
            return Expectation._from_ptr(o.p)

    def create_expect(self, exp: Expectation) -> None:
        """Creates ``exp`` (master tuple of an existing connection with a helper, expected tuple,
        mask, timeout; optionally zone, helper, flags, class_, nat, function). Errors: E_EXIST (it
        exists), E_NOENT (no such master), E_NOTSUP (the master has no helper)."""
        if not isinstance(exp, Expectation):
            raise TypeError(f"expected an Expectation, got {type(exp).__name__}")
        with _CExp() as e:
            _build_exp(e, exp)
            self._call("nfq_rs_ct_create_expect", lambda h: e.L.nfq_rs_ct_create_expect(h, e.p))

    def update_expect_timeout(self, tuple: CtTuple, timeout: int, *, zone: Optional[int] = None) -> None:
        """Changes the timeout of the expectation with expected tuple ``tuple``."""
        with _CExp() as e:
            _build_exp(e, Expectation(tuple=tuple, zone=zone), key_only=True)
            self._call("nfq_rs_ct_update_expect_timeout",
                       lambda h: e.L.nfq_rs_ct_update_expect_timeout(h, e.p, int(timeout)))

    def delete_expect(self, tuple: CtTuple, *, zone: Optional[int] = None, id: Optional[int] = None) -> None:
        """Deletes the expectation with expected tuple ``tuple`` (and ``id`` if given). None
        there: ``NfqError`` E_NOENT."""
        with _CExp() as e:
            _build_exp(e, Expectation(tuple=tuple, zone=zone, id=id), key_only=True)
            self._call("nfq_rs_ct_delete_expect", lambda h: e.L.nfq_rs_ct_delete_expect(h, e.p))

    def delete_expect_id(self, id: int, family: int = 0) -> None:
        """Deletes the expectation with id ``id``. None has it: ``NfqError`` E_NOENT."""
        L = _ext()
        self._call("nfq_rs_ct_delete_expect_id",
                   lambda h: L.nfq_rs_ct_delete_expect_id(h, _family_arg(family), int(id) & _U32))

    def delete_expect_helper(self, helper: str, family: int = 0) -> None:
        """Deletes every expectation of the helper ``helper`` ("ftp", ...)."""
        L = _ext()
        self._call("nfq_rs_ct_delete_expect_helper",
                   lambda h: L.nfq_rs_ct_delete_expect_helper(h, _family_arg(family), helper.encode()))

    def flush_expect(self, family: int = 0) -> None:
        """Deletes every expectation of ``family`` (0: all)."""
        L = _ext()
        self._call("nfq_rs_ct_flush_expect", lambda h: L.nfq_rs_ct_flush_expect(h, _family_arg(family)))

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


# --- the other tables, kernel-side filters, expectations, events -------------------------------
#
# Declared here (on first use) rather than in _lib, so that a library without them fails only
# the calls that need them, naming the missing symbol.


_TF_SRC, _TF_DST, _TF_ZONE, _TF_PROTO, _TF_SPORT, _TF_DPORT = 1, 2, 4, 8, 16, 32
_TF_ICMP_TYPE, _TF_ICMP_CODE, _TF_ICMP_ID = 64, 128, 256
_F_MARK, _F_ZONE, _F_L4PROTO, _F_FAMILY, _F_TUPLE = 1, 2, 4, 8, 16
_F_STATUS, _F_SRC, _F_DST, _F_SPORT, _F_DPORT = 32, 64, 128, 256, 512

EV_NEW, EV_UPDATE, EV_DESTROY, EV_EXP_NEW, EV_EXP_UPDATE, EV_EXP_DESTROY = 1, 2, 4, 8, 16, 32
EV_CONNTRACK, EV_EXPECT, EV_ALL = 7, 56, 63
"""Event kinds (``NFQ_RS_CT_EV_*``): groups to subscribe to and kinds to keep."""

_EV_NAMES = {EV_NEW: "new", EV_UPDATE: "update", EV_DESTROY: "destroy", EV_EXP_NEW: "new",
             EV_EXP_UPDATE: "update", EV_EXP_DESTROY: "destroy"}

_NEG = {"proto": 1, "mark": 2, "zone": 4, "status": 8, "src": 16, "dst": 32, "sport": 64, "dport": 128}


class _TupleFilter(ctypes.Structure):
    _fields_ = [
        ("flags", c_uint32),
        ("family", c_uint8),
        ("l4proto", c_uint8),
        ("icmp_type", c_uint8),
        ("icmp_code", c_uint8),
        ("src", c_uint8 * 16),
        ("dst", c_uint8 * 16),
        ("sport", c_uint16),
        ("dport", c_uint16),
        ("icmp_id", c_uint16),
        ("zone", c_uint16),
    ]


class _EventFilter(ctypes.Structure):
    _fields_ = [
        ("kinds", c_uint32),
        ("fields", c_uint32),
        ("negate", c_uint32),
        ("family", c_uint8),
        ("l4proto", c_uint8),
        ("addr_family", c_uint8),
        ("src_prefix", c_uint8),
        ("dst_prefix", c_uint8),
        ("zone", c_uint16),
        ("sport", c_uint16),
        ("dport", c_uint16),
        ("mark", c_uint32),
        ("mark_mask", c_uint32),
        ("status", c_uint32),
        ("status_mask", c_uint32),
        ("src", c_uint8 * 16),
        ("dst", c_uint8 * 16),
    ]


_P = c_void_p
_PU8, _PU16, _PU32, _PU64 = (ctypes.POINTER(t) for t in (c_uint8, c_uint16, c_uint32, c_uint64))
_CB = _lib.CT_CALLBACK
_EXT_PROTOTYPES = {
    "nfq_rs_ct_exp_new": (_P, []),
    "nfq_rs_ct_exp_free": (None, [_P]),
    "nfq_rs_ct_exp_tuple": (_P, [_P, ctypes.c_int]),
    "nfq_rs_ct_exp_timeout": (ctypes.c_int, [_P, _PU32]),
    "nfq_rs_ct_exp_id": (ctypes.c_int, [_P, _PU32]),
    "nfq_rs_ct_exp_zone": (ctypes.c_int, [_P, _PU16]),
    "nfq_rs_ct_exp_flags": (ctypes.c_int, [_P, _PU32]),
    "nfq_rs_ct_exp_class": (ctypes.c_int, [_P, _PU32]),
    "nfq_rs_ct_exp_family": (ctypes.c_int, [_P]),
    "nfq_rs_ct_exp_helper_name": (ctypes.c_int, [_P, ctypes.c_char_p, c_size_t]),
    "nfq_rs_ct_exp_snprintf": (ctypes.c_int, [_P, ctypes.c_char_p, c_size_t]),
    "nfq_rs_ct_exp_set_tuple": (
        ctypes.c_int,
        [_P, ctypes.c_int, c_uint8, ctypes.c_char_p, ctypes.c_char_p, c_uint8, c_uint16, c_uint16],
    ),
    "nfq_rs_ct_exp_set_timeout": (ctypes.c_int, [_P, c_uint32]),
    "nfq_rs_ct_exp_set_zone": (ctypes.c_int, [_P, c_uint16]),
    "nfq_rs_ct_exp_set_flags": (ctypes.c_int, [_P, c_uint32]),
    "nfq_rs_ct_exp_set_class": (ctypes.c_int, [_P, c_uint32]),
    "nfq_rs_ct_exp_set_id": (ctypes.c_int, [_P, c_uint32]),
    "nfq_rs_ct_exp_set_nat_dir": (ctypes.c_int, [_P, c_uint32]),
    "nfq_rs_ct_exp_set_helper": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "nfq_rs_ct_exp_set_function": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "nfq_rs_ct_entry_set_timeout": (ctypes.c_int, [_P, c_uint32]),
    "nfq_rs_ct_entry_set_mark": (ctypes.c_int, [_P, c_uint32]),
    "nfq_rs_ct_entry_set_tcp_state": (ctypes.c_int, [_P, c_uint8]),
    "nfq_rs_ct_entry_set_helper": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "nfq_rs_ct_create": (ctypes.c_int, [_P, _P]),
    "nfq_rs_ct_get_expect": (ctypes.c_int, [_P, _P, _P]),
    "nfq_rs_ct_create_expect": (ctypes.c_int, [_P, _P]),
    "nfq_rs_ct_update_expect_timeout": (ctypes.c_int, [_P, _P, c_uint32]),
    "nfq_rs_ct_delete_expect": (ctypes.c_int, [_P, _P]),
    "nfq_rs_ct_delete_expect_id": (ctypes.c_int, [_P, c_uint8, c_uint32]),
    "nfq_rs_ct_delete_expect_helper": (ctypes.c_int, [_P, c_uint8, ctypes.c_char_p]),
    "nfq_rs_ct_dump_expect": (ctypes.c_int, [_P, c_uint8, _CB, _P]),
    "nfq_rs_ct_flush_expect": (ctypes.c_int, [_P, c_uint8]),
    "nfq_rs_ct_dump_table": (
        ctypes.c_int,
        [_P, ctypes.c_int, c_uint8, c_uint32, c_uint32, c_uint32, c_uint16, c_uint8,
         ctypes.POINTER(_TupleFilter), ctypes.POINTER(_TupleFilter), _CB, _P],
    ),
    "nfq_rs_ct_last_dump_report": (ctypes.c_int, [_P, _PU64, _PU64, _PU32]),
    "nfq_rs_ct_kernel_has_tuple_filter": (ctypes.c_int, [_P]),
    "nfq_rs_ct_events_open": (ctypes.c_int, [ctypes.c_char_p, c_uint32, ctypes.POINTER(_P)]),
    "nfq_rs_ct_events_close": (None, [_P]),
    "nfq_rs_ct_events_fd": (ctypes.c_int, [_P]),
    "nfq_rs_ct_events_set_rcvbuf": (ctypes.c_int, [_P, c_size_t]),
    "nfq_rs_ct_events_set_filter_ex": (ctypes.c_int, [_P, ctypes.POINTER(_EventFilter)]),
    "nfq_rs_ct_events_set_kernel_filter": (ctypes.c_int, [_P, ctypes.POINTER(_EventFilter)]),
    "nfq_rs_ct_events_run": (ctypes.c_int, [_P, _CB, _P, c_uint64, ctypes.c_int]),
    "nfq_rs_ct_events_stop": (None, [_P]),
    "nfq_rs_ct_events_stat": (ctypes.c_int, [_P, ctypes.c_int, _PU64]),
    "nfq_rs_ct_events_last_error": (ctypes.c_int, [_P, ctypes.c_char_p, c_size_t]),
    "nfq_rs_ct_events_take_overflows": (ctypes.c_int, [_P, _PU64]),
    "nfq_rs_ct_events_set_stop_on_overflow": (ctypes.c_int, [_P, ctypes.c_int]),
    "nfq_rs_ct_events_resync": (ctypes.c_int, [_P, _P, c_uint8, _CB, _P]),
}
_EXT_LOCK = threading.Lock()
_EXT_DONE = False


def _ext() -> ctypes.CDLL:
    """The library with the functions above declared."""
    global _EXT_DONE
    L = ct_lib()
    if not _EXT_DONE:
        with _EXT_LOCK:
            if not _EXT_DONE:
                for name, (restype, argtypes) in _EXT_PROTOTYPES.items():
                    try:
                        f = getattr(L, name)
                    except AttributeError:
                        raise NfqError(
                            _lib.NFQ_RS_E_NOTSUP, f"the library has no {name}: it predates this API; rebuild it", name
                        ) from None
                    f.restype, f.argtypes = restype, argtypes
                _EXT_DONE = True
    return L


def _fam_of(a: IPAddress) -> int:
    return socket.AF_INET if a.version == 4 else socket.AF_INET6


def _packed16(a: IPAddress):
    b = a.packed
    return (c_uint8 * 16)(*(b + bytes(16 - len(b))))


def _tuple_filter(t: Optional[CtTuple]):
    """A partial :class:`CtTuple` (None parts are not compared) as the C tuple filter."""
    if t is None:
        return None
    f = _TupleFilter()
    fams = {a.version for a in (t.src, t.dst) if a is not None}
    if len(fams) > 1:
        raise ValueError("the tuple filter's src and dst are of different address families")
    for name, bit in (("src", _TF_SRC), ("dst", _TF_DST)):
        a = getattr(t, name)
        if a is not None:
            a = ipaddress.ip_address(a)
            f.flags |= bit
            f.family = _fam_of(a)
            setattr(f, name, _packed16(a))
    for name, field, bit in (
        ("proto", "l4proto", _TF_PROTO),
        ("sport", "sport", _TF_SPORT),
        ("dport", "dport", _TF_DPORT),
        ("icmp_type", "icmp_type", _TF_ICMP_TYPE),
        ("icmp_code", "icmp_code", _TF_ICMP_CODE),
        ("icmp_id", "icmp_id", _TF_ICMP_ID),
        ("zone", "zone", _TF_ZONE),
    ):
        v = getattr(t, name)
        if v is not None:
            f.flags |= bit
            setattr(f, field, _proto_number(v) if name == "proto" else int(v))
    return f


class Expectation:
    """An expectation: a connection a helper (FTP, SIP, ...) expects. Read from
    :meth:`Table.dump_expect`, :meth:`Table.get_expect` or an event; built for
    :meth:`Table.create_expect` with keyword arguments:

        Expectation(master=CtTuple(...), tuple=CtTuple(...), mask=CtTuple(...), timeout=60,
                    helper="ftp", flags=0, class_=0, zone=None, nat=(dir, CtTuple(...)))

    ``mask`` parts that are None (or the whole mask) are wildcards; ``flags`` are
    ``PERMANENT`` (1), ``INACTIVE`` (2), ``USERSPACE`` (4)."""

    __slots__ = ("family", "master", "tuple", "mask", "nat", "nat_dir", "timeout", "id", "zone", "flags",
                 "class_", "helper", "function", "text")

    def __init__(self, **kw):
        unknown = set(kw) - set(self.__slots__)
        if unknown:
            raise TypeError(f"Expectation() got unknown fields {sorted(unknown)}")
        for k in self.__slots__:
            setattr(self, k, kw.get(k))
        if isinstance(self.nat, tuple):
            self.nat_dir, self.nat = self.nat

    @classmethod
    def _from_ptr(cls, p) -> "Expectation":
        L = _ext()
        d = {"family": L.nfq_rs_ct_exp_family(p)}
        for key, which in (("master", 0), ("tuple", 1), ("mask", 2), ("nat", 3)):
            d[key] = _read_tuple(L, L.nfq_rs_ct_exp_tuple(p, which))
        for key, f in (("timeout", L.nfq_rs_ct_exp_timeout), ("id", L.nfq_rs_ct_exp_id),
                       ("flags", L.nfq_rs_ct_exp_flags), ("class_", L.nfq_rs_ct_exp_class)):
            d[key] = _u(f, p, c_uint32)
        d["zone"] = _u(L.nfq_rs_ct_exp_zone, p, c_uint16)
        d["helper"] = _str(L.nfq_rs_ct_exp_helper_name, p)
        n = L.nfq_rs_ct_exp_snprintf(p, None, 0)
        buf = ctypes.create_string_buffer(max(n, 0) + 1)
        L.nfq_rs_ct_exp_snprintf(p, buf, len(buf))
        d["text"] = buf.value.decode(errors="replace")
        return cls(**d)

    def _fields(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    def __eq__(self, other) -> bool:
        return isinstance(other, Expectation) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.tuple, self.id))

    def __repr__(self) -> str:
        return f"<nfq_rs.Expectation {self.text or self.tuple}>"


class _CExp:
    """A C ``nfq_rs_ct_exp`` owned for the duration of a ``with`` block."""

    def __init__(self):
        self.L = _ext()
        self.p = self.L.nfq_rs_ct_exp_new()
        if not self.p:
            raise MemoryError("nfq_rs_ct_exp_new failed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.L.nfq_rs_ct_exp_free(self.p)
        self.p = None


def _exp_tuple(e: _CExp, which: int, t: CtTuple, like: Optional[CtTuple] = None) -> None:
    """Sets tuple ``which`` (0 master, 1 expected, 2 mask, 3 NAT); a mask's missing parts
    are zero, with the family of ``like``."""
    L = e.L
    src, dst = t.src, t.dst
    if which == 2:
        fam_v = (like.src or like.dst).version if like is not None and (like.src or like.dst) else 4
        zero = ipaddress.ip_address(0) if fam_v == 4 else ipaddress.IPv6Address(0)
        src, dst = src if src is not None else zero, dst if dst is not None else zero
    if src is None or dst is None:
        raise ValueError(f"the expectation's {('master', 'tuple', 'mask', 'nat')[which]} needs src and dst")
    src, dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if src.version != dst.version:
        raise ValueError("src and dst are of different address families")
    proto = t.proto if t.proto is not None else (like.proto if like is not None else 0)
    rc = L.nfq_rs_ct_exp_set_tuple(e.p, which, _fam_of(src), src.packed, dst.packed, _proto_number(proto or 0),
                                   int(t.sport or 0), int(t.dport or 0))
    if rc < 0:
        raise _fail(rc, "nfq_rs_ct_exp_set_tuple")


def _build_exp(e: _CExp, x: Expectation, key_only: bool = False) -> None:
    L = e.L
    if x.tuple is None:
        raise ValueError("the expectation needs its expected tuple (tuple=CtTuple(...))")
    _exp_tuple(e, 1, x.tuple)
    if not key_only:
        if x.master is not None:
            _exp_tuple(e, 0, x.master)
        _exp_tuple(e, 2, x.mask or CtTuple(), like=x.tuple)
        if x.nat is not None:
            _exp_tuple(e, 3, x.nat)
    for value, f, call in (
        (x.zone, L.nfq_rs_ct_exp_set_zone, "nfq_rs_ct_exp_set_zone"),
        (x.id, L.nfq_rs_ct_exp_set_id, "nfq_rs_ct_exp_set_id"),
        (None if key_only else x.timeout, L.nfq_rs_ct_exp_set_timeout, "nfq_rs_ct_exp_set_timeout"),
        (None if key_only else x.flags, L.nfq_rs_ct_exp_set_flags, "nfq_rs_ct_exp_set_flags"),
        (None if key_only else x.class_, L.nfq_rs_ct_exp_set_class, "nfq_rs_ct_exp_set_class"),
        (None if key_only else x.nat_dir, L.nfq_rs_ct_exp_set_nat_dir, "nfq_rs_ct_exp_set_nat_dir"),
    ):
        if value is not None:
            rc = f(e.p, int(value))
            if rc < 0:
                raise _fail(rc, call)
    for value, f, call in (
        (None if key_only else x.helper, L.nfq_rs_ct_exp_set_helper, "nfq_rs_ct_exp_set_helper"),
        (None if key_only else x.function, L.nfq_rs_ct_exp_set_function, "nfq_rs_ct_exp_set_function"),
    ):
        if value is not None:
            rc = f(e.p, value.encode() if isinstance(value, str) else bytes(value))
            if rc < 0:
                raise _fail(rc, call)


def _collect(kind: str):
    """A C callback that appends Conntrack/Expectation values (with their event kind)."""
    out: list = []
    errors: List[BaseException] = []

    def cb(event, ent, exp, _user):
        try:
            v = Conntrack._from_ptr(ent) if ent else Expectation._from_ptr(exp)
            out.append(v if kind == "plain" else (_EV_NAMES.get(event, str(event)), v))
            return 0
        except BaseException as e:  # never into C; re-raised by the caller
            errors.append(e)
            return 1

    return _CB(cb), out, errors




def _event_filter(kinds=0, family=None, proto=None, mark=None, mark_mask=_U32, zone=None, status=None,
                  status_mask=_U32, src=None, dst=None, sport=None, dport=None, negate=()):
    """The C event filter from keyword arguments; ``src``/``dst`` are networks ("10.0.0.0/8",
    an ipaddress network, or an address), ``negate`` names the negated parts ("proto", "mark",
    "zone", "status", "src", "dst", "sport", "dport")."""
    f = _EventFilter()
    f.kinds = int(kinds)
    for name in negate:
        if name not in _NEG:
            raise ValueError(f"negate: unknown part {name!r} (one of {sorted(_NEG)})")
        f.negate |= _NEG[name]
    if family is not None:
        f.fields |= _F_FAMILY
        f.family = int(family)
    if proto is not None:
        f.fields |= _F_L4PROTO
        f.l4proto = _proto_number(proto)
    if mark is not None:
        f.fields |= _F_MARK
        f.mark, f.mark_mask = int(mark) & _U32, int(mark_mask) & _U32
    if zone is not None:
        f.fields |= _F_ZONE
        f.zone = int(zone)
    if status is not None:
        f.fields |= _F_STATUS
        f.status, f.status_mask = int(status) & _U32, int(status_mask) & _U32
    fams = set()
    for name, bit, prefix in (("src", _F_SRC, "src_prefix"), ("dst", _F_DST, "dst_prefix")):
        v = src if name == "src" else dst
        if v is None:
            continue
        n = ipaddress.ip_network(v, strict=False)
        fams.add(n.version)
        f.fields |= bit
        setattr(f, name, _packed16(n.network_address))
        setattr(f, prefix, n.prefixlen)
        f.addr_family = _fam_of(n.network_address)
    if len(fams) > 1:
        raise ValueError("src and dst networks are of different address families")
    for name, bit in (("sport", _F_SPORT), ("dport", _F_DPORT)):
        v = sport if name == "sport" else dport
        if v is not None:
            f.fields |= bit
            setattr(f, name, int(v))
    return f


class Events:
    """A subscription to the conntrack events of one network namespace (``groups``: a mask of
    ``EV_*``). Filters: :meth:`set_filter` (checked in the library) and
    :meth:`set_kernel_filter` (compiled to BPF, run by the kernel, so filtered events are never
    copied here); both take the same keywords and keep the same events. Overflows (lost
    events) are counted, do not stop receiving, and :meth:`resync` rebuilds a view from a dump.
    """

    def __init__(self, netns: Union[None, str, os.PathLike] = None, groups: int = EV_CONNTRACK):
        L = _ext()
        self._lock = threading.Lock()
        out = c_void_p()
        path = None if netns is None else os.fsencode(netns)
        rc = L.nfq_rs_ct_events_open(path, int(groups), byref(out))
        if rc < 0:
            raise _fail(rc, "nfq_rs_ct_events_open")
        self._h = out.value

    def __enter__(self) -> "Events":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        with self._lock:
            h, self._h = self._h, None
        if h is not None:
            _ext().nfq_rs_ct_events_close(h)

    def _handle(self):
        if self._h is None:
            raise RuntimeError("the conntrack event handle is closed")
        return self._h

    def _error(self, rc: int, call: str) -> NfqError:
        buf = ctypes.create_string_buffer(512)
        if self._h is not None:
            _ext().nfq_rs_ct_events_last_error(self._h, buf, len(buf))
        msg = buf.value.decode(errors="replace") or _lib.last_error(None)
        return NfqError(rc, msg or _lib.strerror(rc), call)

    def _call(self, call: str, fn):
        rc = fn(self._handle())
        if rc < 0:
            raise self._error(rc, call)
        return rc

    def fileno(self) -> int:
        return self._call("nfq_rs_ct_events_fd", _ext().nfq_rs_ct_events_fd)

    def set_rcvbuf(self, nbytes: int) -> None:
        self._call("nfq_rs_ct_events_set_rcvbuf", lambda h: _ext().nfq_rs_ct_events_set_rcvbuf(h, int(nbytes)))

    def set_filter(self, **kw) -> None:
        """Which events :meth:`run` hands over (checked in the library): ``kinds`` (``EV_*``),
        ``family``, ``proto``, ``mark``/``mark_mask``, ``zone``, ``status``/``status_mask``,
        ``src``/``dst`` (networks), ``sport``/``dport``, ``negate`` (names of negated parts)."""
        f = _event_filter(**kw)
        self._call("nfq_rs_ct_events_set_filter_ex", lambda h: _ext().nfq_rs_ct_events_set_filter_ex(h, byref(f)))

    def set_kernel_filter(self, **kw) -> int:
        """The same description compiled to a BPF program attached to the socket (no keywords:
        detach). Returns the program's length in instructions."""
        if not kw:
            return self._call("nfq_rs_ct_events_set_kernel_filter",
                              lambda h: _ext().nfq_rs_ct_events_set_kernel_filter(h, None))
        f = _event_filter(**kw)
        return self._call("nfq_rs_ct_events_set_kernel_filter",
                          lambda h: _ext().nfq_rs_ct_events_set_kernel_filter(h, byref(f)))

    def run(self, max_events: int = 0, timeout: Optional[float] = None) -> list:
        """Receives events until ``max_events`` (0: no limit) or ``timeout`` seconds (None: no
        limit) or :meth:`stop`; returns ``[(kind, Conntrack | Expectation)]`` with kind
        "new", "update" or "destroy"."""
        cfunc, out, errors = _collect("event")
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        self._call("nfq_rs_ct_events_run", lambda h: _ext().nfq_rs_ct_events_run(h, cfunc, None, int(max_events), ms))
        if errors:
            raise errors[0]
        return out

    def stop(self) -> None:
        """Makes a running :meth:`run` return (from any thread)."""
        if self._h is not None:
            _ext().nfq_rs_ct_events_stop(self._h)

    def stats(self) -> dict:
        """Counters: received, delivered, filtered, overflows, parse_errors."""
        out = {}
        for i, name in enumerate(("received", "delivered", "filtered", "overflows", "parse_errors")):
            v = c_uint64()
            self._call("nfq_rs_ct_events_stat", lambda h: _ext().nfq_rs_ct_events_stat(h, i, byref(v)))
            out[name] = v.value
        return out

    def take_overflows(self) -> int:
        """Overflows since the last call (then reset): nonzero means events were lost and the
        view of the table should be rebuilt (:meth:`resync`)."""
        v = c_uint64()
        self._call("nfq_rs_ct_events_take_overflows", lambda h: _ext().nfq_rs_ct_events_take_overflows(h, byref(v)))
        return v.value

    def set_stop_on_overflow(self, on: bool = True) -> None:
        """With ``on``, :meth:`run` returns right after an overflow (so the caller resyncs)."""
        self._call("nfq_rs_ct_events_set_stop_on_overflow",
                   lambda h: _ext().nfq_rs_ct_events_set_stop_on_overflow(h, 1 if on else 0))

    def resync(self, table: "Table", family: int = 0) -> List[Conntrack]:
        """Every connection of the table (through ``table``, a :class:`Table` on the same
        namespace) that passes this handle's filters: the view to start again from."""
        cfunc, out, errors = _collect("plain")
        with table._lock:
            th = table._handle()
            self._call("nfq_rs_ct_events_resync",
                       lambda h: _ext().nfq_rs_ct_events_resync(h, th, _family_arg(family), cfunc, None))
        if errors:
            raise errors[0]
        return out

    def __repr__(self) -> str:
        return f"<nfq_rs.conntrack.Events {'closed' if self._h is None else 'open'}>"


__all__ += ["Expectation", "Events", "MAIN", "DYING", "UNCONFIRMED", "EV_NEW", "EV_UPDATE", "EV_DESTROY",
            "EV_EXP_NEW", "EV_EXP_UPDATE", "EV_EXP_DESTROY", "EV_CONNTRACK", "EV_EXPECT", "EV_ALL"]
