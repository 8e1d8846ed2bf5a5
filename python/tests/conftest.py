"""Test helpers: a throwaway network namespace per test (lo up, iptables rules inside it, UDP
sockets created inside it), removed afterwards even when the test fails. Needs root.

Sockets are made inside the namespace by a short-lived thread that calls setns(2) through
ctypes (os.setns is Python 3.12+); the namespace change dies with the thread, the sockets keep
their namespace.
"""

from __future__ import annotations

import ctypes
import faulthandler
import itertools
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PKG_ROOT = HERE.parent  # python/
REPO = PKG_ROOT.parent

# Import the package from this checkout (not an installed copy).
sys.path.insert(0, str(PKG_ROOT))
os.environ.setdefault("NFQ_RS_LIBRARY", str(REPO / "target" / "release" / "libnfq_rs.so"))


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()

# Upper bound for any single test: dump the stacks and exit rather than hang CI.
TEST_DEADLINE = 120


def _run(args, check=True):
    p = subprocess.run(args, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


class NetNS:
    """A network namespace made for one test: nfqrs-py-<pid>-<n>."""

    def __init__(self):
        self.name = f"nfqrs-py-{os.getpid()}-{next(_counter)}"
        _run(["ip", "netns", "add", self.name])
        try:
            _run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        except BaseException:
            self.remove()
            raise
        self._sockets = []

    @property
    def path(self) -> str:
        return f"/var/run/netns/{self.name}"

    def exec(self, *args, check=True):
        return _run(["ip", "netns", "exec", self.name, *args], check=check)

    def iptables(self, rule: str, table: str = "filter"):
        self.exec("iptables", "-w", "-t", table, *rule.split())

    def rule_packets(self, chain: str, pos: int, table: str = "filter") -> int:
        out = self.exec("iptables", "-w", "-t", table, "-L", chain, "-v", "-n", "-x", "--line-numbers").stdout
        for line in out.splitlines():
            w = line.split()
            if w and w[0] == str(pos):
                return int(w[1])
        raise AssertionError(f"rule {pos} not in {table}/{chain}:\n{out}")

    def in_ns(self, fn):
        """Runs fn() on a thread that has joined this namespace; returns its result."""
        box = {}

        def body():
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        e = ctypes.get_errno()
                        raise OSError(e, f"setns({self.path}): {os.strerror(e)}")
                finally:
                    os.close(fd)
                box["v"] = fn()
            except BaseException as e:
                box["e"] = e

        t = threading.Thread(target=body)
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        return box["v"]

    def socket(self, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto=0) -> socket.socket:
        s = self.in_ns(lambda: socket.socket(family, type, proto))
        self._sockets.append(s)
        return s

    def udp_pair(self, port: int = 9999):
        """(receiver bound to 127.0.0.1:port with a 2 s timeout, sender)."""
        rx = self.socket()
        rx.bind(("127.0.0.1", port))
        rx.settimeout(2.0)
        tx = self.socket()
        return rx, tx

    def remove(self):
        for s in getattr(self, "_sockets", []):
            s.close()
        _run(["ip", "netns", "del", self.name], check=False)


@pytest.fixture
def ns():
    if os.geteuid() != 0:
        pytest.fail("these tests need root (CAP_NET_ADMIN, network namespaces); run them as root")
    n = NetNS()
    try:
        yield n
    finally:
        n.remove()


@pytest.fixture(autouse=True)
def _deadline():
    faulthandler.dump_traceback_later(TEST_DEADLINE, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


class Runner:
    """Runs q.run(cb) on a thread; stop() stops and joins it (bounded)."""

    def __init__(self, q, cb):
        self.q = q
        self.error = None
        self.result = None
        self.thread = threading.Thread(target=self._body, args=(cb,), daemon=True)
        self.thread.start()

    def _body(self, cb):
        try:
            self.result = self.q.run(cb)
        except BaseException as e:
            self.error = e

    def stop(self, timeout=5.0):
        self.q.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return after stop()"
        return self.result


@pytest.fixture
def runners():
    started = []

    def start(q, cb):
        r = Runner(q, cb)
        started.append(r)
        return r

    try:
        yield start
    finally:
        for r in started:
            if r.thread.is_alive():
                r.q.stop()
                r.thread.join(5)


def recv_or_none(sock, timeout=0.5):
    """One datagram, or None if nothing arrives within timeout."""
    old = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        return sock.recv(65535)
    except socket.timeout:
        return None
    finally:
        sock.settimeout(old)


def wait_for(pred, timeout=3.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def set_udp_payload(packet: bytes, data: bytes) -> bytes:
    """Replaces the UDP payload of an IPv4/UDP packet (no IP options), fixing the IP total
    length and header checksum and zeroing the UDP checksum."""
    b = bytearray(packet[:28]) + data
    b[2:4] = struct.pack(">H", len(b))
    b[10:12] = b"\0\0"
    s = sum(struct.unpack(">10H", bytes(b[:20])))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    b[10:12] = struct.pack(">H", s ^ 0xFFFF)
    b[24:26] = struct.pack(">H", 8 + len(data))
    b[26:28] = b"\0\0"
    return bytes(b)
