"""NFLOG: receive the packets that iptables/nft ``NFLOG`` rules log (``nfq_rs.Log``).

    import nfq_rs

    # iptables -A INPUT -p tcp --syn -j NFLOG --nflog-group 5 --nflog-prefix new-tcp
    with nfq_rs.Log(5) as log:
        for pkt in log:                       # or log.run(callback)
            print(pkt.prefix, pkt.indev_name, len(pkt.payload or b""))

Logging needs no answer: a :class:`LogPacket` is a complete copy made when it arrives, valid
for as long as you keep it.
"""

from __future__ import annotations

import collections
import ctypes
import datetime
import os
import socket
import threading
import time
from ctypes import byref, c_size_t, c_uint16, c_uint32, c_uint64, c_void_p
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

from . import _lib
from ._lib import log_check, log_error, log_lib
from .conntrack import Conntrack, CtInfo, ct_info as _ct_info
from .queue import _COPY_MODES, _EPOCH, COPY_PACKET, POLL_MS, Hook, _ifname, _run_until_stopped

F_SEQ = _lib.NFQ_RS_LOG_F_SEQ
F_SEQ_GLOBAL = _lib.NFQ_RS_LOG_F_SEQ_GLOBAL
F_CONNTRACK = _lib.NFQ_RS_LOG_F_CONNTRACK

_U32 = 0xFFFFFFFF
_ITERATE = object()  # handler marker: keep messages for iteration


def _read_all(ptr) -> dict:
    """Every attribute of the log message at ``ptr`` (valid only during the C callback)."""
    L = log_lib()
    d: Dict[str, object] = {
        "family": L.nfq_rs_log_packet_family(ptr),
        "group": L.nfq_rs_log_packet_group(ptr),
        "hw_protocol": L.nfq_rs_log_packet_hw_protocol(ptr),
        "hook": L.nfq_rs_log_packet_hook(ptr),
    }
    u32 = c_uint32()
    for key in ("mark", "indev", "outdev", "physindev", "physoutdev", "uid", "gid", "seq", "seq_global", "ct_info"):
        d[key] = u32.value if getattr(L, "nfq_rs_log_packet_" + key)(ptr, byref(u32)) == 1 else None
    u16 = c_uint16()
    for key in ("hwtype", "hwlen"):
        d[key] = u16.value if getattr(L, "nfq_rs_log_packet_" + key)(ptr, byref(u16)) == 1 else None
    data, n = c_void_p(), c_size_t()
    for key in ("payload", "hwaddr", "hwheader", "ct", "l2hdr", "prefix"):
        if getattr(L, "nfq_rs_log_packet_" + key)(ptr, byref(data), byref(n)) == 1:
            d[key] = ctypes.string_at(data.value, n.value) if n.value else b""
        else:
            d[key] = None
    sec, usec = c_uint64(), c_uint64()
    d["timestamp"] = (sec.value, usec.value) if L.nfq_rs_log_packet_timestamp(ptr, byref(sec), byref(usec)) == 1 else None
    proto, tci = c_uint16(), c_uint16()
    d["vlan"] = (proto.value, tci.value) if L.nfq_rs_log_packet_vlan(ptr, byref(proto), byref(tci)) == 1 else None
    return d


class LogPacket:
    """One logged packet: a complete copy, valid after the callback. Absent attributes are
    None (``mark`` when the packet had none, ``indev`` on OUTPUT, ``payload`` in copy mode
    "meta", ``uid`` for packets without a local socket, ``seq`` without ``seq=True``...)."""

    __slots__ = ("_d", "_ct")

    def __init__(self, fields: dict):
        self._d = fields
        self._ct = None

    family = property(lambda self: self._d["family"], doc="Address family (socket.AF_INET, AF_INET6, 7 bridge).")
    group = property(lambda self: self._d["group"], doc="The NFLOG group it was logged to.")
    hw_protocol = property(lambda self: self._d["hw_protocol"], doc="Link-layer protocol (0x0800 IPv4, 0x86dd IPv6).")
    payload = property(lambda self: self._d["payload"], doc="The packet from its network header (bytes), or None.")
    mark = property(lambda self: self._d["mark"], doc="Packet mark (sent when nonzero), or None.")
    indev = property(lambda self: self._d["indev"], doc="Input interface index, or None.")
    outdev = property(lambda self: self._d["outdev"], doc="Output interface index, or None.")
    physindev = property(lambda self: self._d["physindev"], doc="Bridge input port index, or None.")
    physoutdev = property(lambda self: self._d["physoutdev"], doc="Bridge output port index, or None.")
    uid = property(lambda self: self._d["uid"], doc="Owner uid of the local socket, or None.")
    gid = property(lambda self: self._d["gid"], doc="Owner gid of the local socket, or None.")
    seq = property(lambda self: self._d["seq"], doc="The group's sequence number (``seq=True``), or None.")
    seq_global = property(
        lambda self: self._d["seq_global"], doc="The namespace-wide sequence number (``seq_global=True``), or None."
    )
    hw_addr = property(lambda self: self._d["hwaddr"], doc="Link-layer source address (input hooks), or None.")
    hw_type = property(lambda self: self._d["hwtype"], doc="ARPHRD_* type of the input device, or None.")
    hw_len = property(lambda self: self._d["hwlen"], doc="Link-layer header length of the input device, or None.")
    hw_header = property(lambda self: self._d["hwheader"], doc="The link-layer header as received, or None.")
    ct = property(lambda self: self._d["ct"], doc="The raw NFULA_CT nest (``conntrack=True``), or None.")
    vlan = property(lambda self: self._d["vlan"], doc="(protocol, TCI) of the VLAN tag (bridge family), or None.")
    l2hdr = property(lambda self: self._d["l2hdr"], doc="The layer-2 header (bridge family), or None.")

    @property
    def hook(self) -> Union[Hook, int]:
        """The netfilter hook, a :class:`nfq_rs.Hook` (PREROUTING ... POSTROUTING)."""
        h = self._d["hook"]
        try:
            return Hook(h)
        except ValueError:
            return h

    @property
    def prefix(self) -> Optional[str]:
        """The rule's ``--nflog-prefix`` (str; bytes that are not UTF-8 are replaced), or None."""
        p = self._d["prefix"]
        return None if p is None else p.decode(errors="replace")

    @property
    def prefix_bytes(self) -> Optional[bytes]:
        """The prefix as bytes (without its NUL), or None."""
        return self._d["prefix"]

    @property
    def timestamp(self) -> Optional[datetime.datetime]:
        """Arrival time as a UTC-aware datetime (PREROUTING, INPUT, FORWARD), or None."""
        t = self._d["timestamp"]
        if t is None:
            return None
        return _EPOCH + datetime.timedelta(seconds=t[0], microseconds=t[1])

    @property
    def indev_name(self) -> Optional[str]:
        """Name of ``indev`` in this process's network namespace, or None."""
        return _ifname(self.indev)

    @property
    def outdev_name(self) -> Optional[str]:
        """Name of ``outdev`` in this process's network namespace, or None."""
        return _ifname(self.outdev)

    @property
    def physindev_name(self) -> Optional[str]:
        return _ifname(self.physindev)

    @property
    def physoutdev_name(self) -> Optional[str]:
        return _ifname(self.physoutdev)

    @property
    def conntrack(self) -> Optional[Conntrack]:
        """The connection decoded from ``ct`` (``conntrack=True``; needs a kernel with
        CONFIG_NETFILTER_NETLINK_GLUE_CT), or None. Malformed bytes raise NfqError."""
        if self._ct is None and self.ct is not None:
            fam = self.family
            self._ct = Conntrack.decode(self.ct, fam if fam in (socket.AF_INET, socket.AF_INET6) else 0)
        return self._ct

    @property
    def ct_info(self) -> Optional[Union[CtInfo, int]]:
        """Conntrack info (:class:`nfq_rs.conntrack.CtInfo`), or None."""
        return _ct_info(self._d["ct_info"])

    def __len__(self) -> int:
        return len(self.payload or b"")

    def __repr__(self) -> str:
        hook = self.hook
        return (
            f"<LogPacket group={self.group} hook={getattr(hook, 'name', hook)} prefix={self.prefix!r} "
            f"len={len(self)} mark={self.mark} indev={self.indev} outdev={self.outdev}>"
        )


def _flags(seq: bool, seq_global: bool, conntrack: bool) -> int:
    return (F_SEQ if seq else 0) | (F_SEQ_GLOBAL if seq_global else 0) | (F_CONNTRACK if conntrack else 0)


def _cs(seconds: float) -> int:
    cs = round(float(seconds) * 100)
    if not 0 <= cs <= _U32:
        raise ValueError(f"flush_timeout={seconds!r} s is outside 0..{_U32 / 100:.0f} s")
    return cs


class Log:
    """A netlink socket with one or more bound NFLOG groups.

    ``Log(group, **settings)``: ``group`` is a group number, several numbers, or None (bind
    later with :meth:`bind`). Settings (every group gets them):

    - ``copy_mode`` "none", "meta" or "packet" (default) and ``copy_range`` (0: whole
      packets, at most 65531);
    - ``nlbufsiz``: bytes the kernel gathers into one datagram (one page .. 131072);
    - ``flush_timeout``: seconds a gathered message may wait (kernel default 1.0);
    - ``threshold``: messages per datagram before the kernel sends it (kernel default 100);
    - ``seq``, ``seq_global``, ``conntrack``: group flags (``conntrack`` needs a kernel with
      CONFIG_NETFILTER_NETLINK_GLUE_CT; otherwise the constructor raises E_NOTSUP);
    - ``rcvbuf``, ``no_enobufs``, ``batch`` (datagrams per receive call);
    - ``netns``: a path ("/var/run/netns/NAME") or an open descriptor of a network namespace to
      open the socket in;
    - ``callback``: the default callback of :meth:`run` and :meth:`dispatch`.

    A context manager; :meth:`close` unbinds everything. One thread receives at a time;
    :meth:`stop` works from any thread and from signal handlers.
    """

    def __init__(
        self,
        group: Union[None, int, Iterable[int]] = None,
        *,
        copy_mode: Union[str, int] = COPY_PACKET,
        copy_range: int = 0,
        nlbufsiz: Optional[int] = None,
        flush_timeout: Optional[float] = None,
        threshold: Optional[int] = None,
        seq: bool = False,
        seq_global: bool = False,
        conntrack: bool = False,
        rcvbuf: Optional[int] = None,
        no_enobufs: bool = False,
        batch: Optional[int] = None,
        netns: Union[None, str, os.PathLike, int] = None,
        callback: Optional[Callable[[LogPacket], None]] = None,
    ):
        self._h = None
        self._lock = threading.RLock()
        self._recv_cond = threading.Condition(self._lock)
        self._recv_thread: Optional[int] = None
        self._stop_flag = False
        self._closing = False
        self._exc: Optional[BaseException] = None
        self._handler = None
        self._pending: "collections.deque[LogPacket]" = collections.deque()
        self._callback = callback

        if group is None:
            groups: List[int] = []
        elif isinstance(group, int):
            groups = [group]
        else:
            groups = [int(g) for g in group]
        for g in groups:
            if not 0 <= g <= 0xFFFF:
                raise ValueError(f"group {g} is outside 0..65535")
        try:
            mode = _COPY_MODES[copy_mode]
        except (KeyError, TypeError):
            raise ValueError(f"copy_mode={copy_mode!r}: use 'none', 'meta' or 'packet'") from None

        L = log_lib()
        cfg = L.nfq_rs_log_config_new(groups[0]) if groups else L.nfq_rs_log_config_new_unbound()
        if not cfg:
            raise MemoryError("nfq_rs_log_config_new failed")
        try:
            for g in groups[1:]:
                log_check(L.nfq_rs_log_config_add_group(cfg, g), "nfq_rs_log_config_add_group")
            log_check(
                L.nfq_rs_log_config_set_copy_mode(cfg, mode, int(copy_range) & _U32), "nfq_rs_log_config_set_copy_mode"
            )
            if nlbufsiz is not None:
                log_check(L.nfq_rs_log_config_set_nlbufsiz(cfg, int(nlbufsiz) & _U32), "nfq_rs_log_config_set_nlbufsiz")
            if flush_timeout is not None:
                log_check(L.nfq_rs_log_config_set_timeout(cfg, _cs(flush_timeout)), "nfq_rs_log_config_set_timeout")
            if threshold is not None:
                log_check(L.nfq_rs_log_config_set_threshold(cfg, int(threshold) & _U32), "nfq_rs_log_config_set_threshold")
            f = _flags(seq, seq_global, conntrack)
            if f:
                log_check(L.nfq_rs_log_config_set_flags(cfg, f), "nfq_rs_log_config_set_flags")
            if rcvbuf is not None:
                log_check(L.nfq_rs_log_config_set_rcvbuf(cfg, int(rcvbuf)), "nfq_rs_log_config_set_rcvbuf")
            if no_enobufs:
                log_check(L.nfq_rs_log_config_set_no_enobufs(cfg, 1), "nfq_rs_log_config_set_no_enobufs")
            if batch is not None:
                log_check(L.nfq_rs_log_config_set_batch(cfg, int(batch) & _U32), "nfq_rs_log_config_set_batch")
            if netns is not None:
                if isinstance(netns, int):
                    log_check(L.nfq_rs_log_config_set_netns_fd(cfg, netns), "nfq_rs_log_config_set_netns_fd")
                else:
                    log_check(
                        L.nfq_rs_log_config_set_netns_path(cfg, os.fsencode(netns)), "nfq_rs_log_config_set_netns_path"
                    )
            # The C function pointer must stay alive as long as the handle: keep it on self.
            self._cfunc = _lib.LOG_CALLBACK(self._on_log)
            out = c_void_p()
            log_check(L.nfq_rs_log_open(cfg, self._cfunc, None, byref(out)), "nfq_rs_log_open")
        finally:
            L.nfq_rs_log_config_free(cfg)
        self._h = out.value
        self.groups: List[int] = groups

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> "Log":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            if self._h is not None and self._recv_thread is None:
                h, self._h = self._h, None
                log_lib().nfq_rs_log_close(h)
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Stops a running loop (waiting for it to return), then closes the socket; the kernel
        unbinds the groups. Idempotent."""
        with self._lock:
            if self._h is None:
                return
            if self._recv_thread == threading.get_ident():
                raise RuntimeError("close() called from inside a callback; call stop() and close after run() returns")
            self._closing = True
            if self._recv_thread is not None:
                self._stop_flag = True
                log_lib().nfq_rs_log_stop(self._h)
                while self._recv_thread is not None:
                    self._recv_cond.wait()
            h, self._h = self._h, None
        log_lib().nfq_rs_log_close(h)

    def _handle(self):
        h = self._h
        if h is None:
            raise RuntimeError("the log handle is closed")
        return h

    def _call(self, name: str, *args) -> int:
        with self._lock:
            h = self._handle()
            return log_check(getattr(log_lib(), name)(h, *args), name, h)

    def fileno(self) -> int:
        """The socket descriptor, for select/poll loops (then call :meth:`dispatch`)."""
        return self._call("nfq_rs_log_fd")

    # -- configuration ----------------------------------------------------------------------

    def bind(self, group: int) -> None:
        """Binds another group on this socket (kernel defaults until set)."""
        self._call("nfq_rs_log_bind", group)
        if group not in self.groups:
            self.groups.append(group)

    def unbind(self, group: int) -> None:
        """Unbinds a group (the kernel first sends what it gathered for it)."""
        self._call("nfq_rs_log_unbind", group)
        if group in self.groups:
            self.groups.remove(group)

    def bind_pf(self, family: int) -> None:
        """Makes nfnetlink_log the kernel's log backend for ``family`` (only the kernel's own
        log calls need it; NFLOG rules do not)."""
        self._call("nfq_rs_log_bind_pf", family)

    def unbind_pf(self, family: int) -> None:
        self._call("nfq_rs_log_unbind_pf", family)

    def set_copy_mode(self, group: int, copy_mode: Union[str, int], copy_range: int = 0) -> None:
        try:
            mode = _COPY_MODES[copy_mode]
        except (KeyError, TypeError):
            raise ValueError(f"copy_mode={copy_mode!r}: use 'none', 'meta' or 'packet'") from None
        self._call("nfq_rs_log_set_copy_mode", group, mode, int(copy_range) & _U32)

    def set_nlbufsiz(self, group: int, nbytes: int) -> None:
        self._call("nfq_rs_log_set_nlbufsiz", group, int(nbytes) & _U32)

    def set_flush_timeout(self, group: int, seconds: float) -> None:
        self._call("nfq_rs_log_set_timeout", group, _cs(seconds))

    def set_threshold(self, group: int, n: int) -> None:
        self._call("nfq_rs_log_set_threshold", group, int(n) & _U32)

    def set_flags(self, group: int, *, seq: bool = False, seq_global: bool = False, conntrack: bool = False) -> None:
        """Sets all flags of a group at once."""
        self._call("nfq_rs_log_set_flags", group, _flags(seq, seq_global, conntrack))

    def set_rcvbuf(self, nbytes: int) -> int:
        """Sets the socket receive buffer; returns what the kernel reports (it doubles it)."""
        return self._call("nfq_rs_log_set_rcvbuf", int(nbytes))

    def set_no_enobufs(self, on: bool) -> None:
        self._call("nfq_rs_log_set_no_enobufs", 1 if on else 0)

    # -- receiving ------------------------------------------------------------------------

    def _on_log(self, ptr, _user):
        """The C callback. Never lets an exception escape into C."""
        try:
            pkt = LogPacket(_read_all(ptr))
            handler = self._handler
            if handler is _ITERATE or handler is None or self._exc is not None:
                # Iteration, or the loop is ending (an earlier callback raised): keep it for
                # the next dispatch/run/iteration rather than lose it.
                self._pending.append(pkt)
                return 0
            try:
                handler(pkt)
            except BaseException as e:  # KeyboardInterrupt included: re-raised by the loop
                self._exc = e
                return 1  # counted as a callback error
            return 0
        except BaseException as e:
            if self._exc is None:
                self._exc = e
            return 1

    def _dispatch(self, timeout_ms: int, handler) -> Optional[int]:
        """Hands waiting messages to ``handler``, then one nfq_rs_log_dispatch call; None if the
        handle is closing/closed."""
        with self._lock:
            if self._h is None or self._closing:
                return None
            if self._recv_thread is not None:
                raise RuntimeError("another thread is already receiving on this log handle")
            self._recv_thread = threading.get_ident()
            h = self._h
        n = 0
        err = None
        try:
            if handler is not _ITERATE:
                while self._pending:
                    handler(self._pending.popleft())
                    n += 1
                if n:
                    timeout_ms = 0
            self._handler = handler
            rc = log_lib().nfq_rs_log_dispatch(h, timeout_ms)  # GIL released while it waits
            if rc < 0 and rc != _lib.NFQ_RS_E_NOBUFS:
                err = log_error(rc, "nfq_rs_log_dispatch", h)
            n += max(rc, 0)
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
        return n

    def dispatch(self, callback: Optional[Callable[[LogPacket], None]] = None, timeout: Optional[float] = 0) -> int:
        """Waits up to ``timeout`` seconds (None: until a message or stop()), hands one batch to
        ``callback`` and returns how many messages it handled. An exception raised by the
        callback is re-raised here; the messages after it stay for the next call."""
        cb = callback or self._callback
        if cb is None:
            raise TypeError("no callback: pass one or give Log(callback=...)")
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        n = self._dispatch(ms, cb)
        return 0 if n is None else n

    def run(self, callback: Optional[Callable[[LogPacket], None]] = None) -> int:
        """Calls ``callback(packet)`` for every logged packet until :meth:`stop` (any thread, a
        signal handler, or the callback) or :meth:`close`; returns the number handled.
        Overflows of the receive buffer are counted (``stats()["enobufs"]``), not raised.

        If the callback raises (KeyboardInterrupt included), the loop stops and the exception
        is re-raised here; messages received after it are kept and handed out first by the
        next run/dispatch/iteration. Ctrl-C while waiting raises within POLL_MS (200 ms).
        A stop() that comes while no loop runs makes the next loop return at once.
        """
        cb = callback or self._callback
        if cb is None:
            raise TypeError("no callback: pass one or give Log(callback=...)")
        return _run_until_stopped(self, cb)

    def stop(self) -> None:
        """Makes run() (or iteration) return; wakes a blocked dispatch. Any thread; also from a
        Python signal handler."""
        with self._lock:
            self._stop_flag = True
            if self._h is not None:
                log_lib().nfq_rs_log_stop(self._h)

    def packets(self, timeout: Optional[float] = None) -> Iterator[LogPacket]:
        """Yields logged packets as they arrive, until stop()/close(), or until ``timeout``
        seconds pass without one (None: no limit)."""
        last = time.monotonic()
        try:
            while True:
                if self._pending:
                    yield self._pending.popleft()
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

    def __iter__(self) -> Iterator[LogPacket]:
        return self.packets()

    # -- counters ---------------------------------------------------------------------------

    def stats(self) -> Dict[str, int]:
        """The library counters: packets_received, datagrams, enobufs, truncated, parse_errors,
        callback_errors."""
        out = {}
        v = c_uint64()
        with self._lock:
            h = self._handle()
            L = log_lib()
            for i, name in enumerate(_lib.LOG_STAT_NAMES):
                log_check(L.nfq_rs_log_stat(h, i, byref(v)), "nfq_rs_log_stat", h)
                out[name] = v.value
        return out

    def kernel_stats(self, group: Optional[int] = None) -> Optional[Dict[str, int]]:
        """The kernel's view of ``group`` (default: the first bound) from
        /proc/net/netfilter/nfnetlink_log: portid, qlen, copy_mode, copy_range, flush_timeout
        (hundredths of a second); None if the group is not listed."""
        g = self.groups[0] if group is None and self.groups else group
        if g is None:
            return None
        out = {}
        v = c_uint64()
        with self._lock:
            h = self._handle()
            L = log_lib()
            for i, name in enumerate(_lib.LOG_KSTAT_NAMES):
                rc = L.nfq_rs_log_kernel_stat(h, g, i, byref(v))
                if rc == _lib.NFQ_RS_E_NODEV:
                    return None
                log_check(rc, "nfq_rs_log_kernel_stat", h)
                out[name] = v.value
        return out

    def kernel_drops(self) -> Optional[int]:
        """Datagrams the kernel could not deliver to this socket (receive buffer full), from
        /proc/net/netlink; None if that is not readable."""
        v = c_uint64()
        with self._lock:
            h = self._handle()
            rc = log_lib().nfq_rs_log_kernel_drops(h, byref(v))
        return v.value if rc == 0 else None

    def last_error(self) -> str:
        """The handle's last error message."""
        with self._lock:
            return _lib.log_last_error(self._handle())

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"groups={self.groups}"
        return f"<nfq_rs.Log {state}>"
