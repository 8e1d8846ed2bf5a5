"""The batch callback of nfq_rs.Queue and of the shim, driven in memory with made-up packet
records (no kernel, no socket): the lock-free verdict store must give each packet exactly one
verdict whatever the thread switches."""

from __future__ import annotations

import collections
import ctypes
import struct
import sys
import threading

import pytest

from nfq_rs import _lib, compat
from nfq_rs import queue as qm

N = 256


class Fake:
    """A queue object without a socket (only what the batch callback reads), and a batch of N
    made-up records whose handles are never dereferenced by verdicts without keywords."""

    def __init__(self, kind):
        info = struct.Struct(_lib.PACKET_INFO_FORMAT)
        self.payload = ctypes.create_string_buffer(b"E" + b"\0" * 8 + b"\x11" + b"\0" * 54)
        recs = b"".join(
            info.pack(i + 1, _lib.NFQ_RS_INFO_PAYLOAD, 0, 0, 1, 0, 0, 64, 0, 64, 0, 0, 0, 0, 0, 0,
                      0, 0x800, 2, 3, 0, 0, b"\0" * 8, 0, 0, ctypes.addressof(self.payload))
            for i in range(N)
        )
        self.infos = ctypes.create_string_buffer(recs, len(recs))
        self.pkts = (ctypes.c_void_p * N)(*[0x1000 + 8 * i for i in range(N)])
        self.answers = (ctypes.c_int32 * N)()
        cls = qm.Queue if kind == "queue" else compat._CompatQueue
        q = self.q = cls.__new__(cls)
        q.__dict__.update(
            _h=None, _lock=threading.RLock(), _plock=threading.Lock(), _exc=None,
            _pending=collections.deque(), _fallback=0, _default_verdict=1, _callback=None,
            _recv_thread=threading.get_ident(), _stop_flag=False, _closing=False, _nfq_bound=True,
        )
        self.kind = kind

    def run(self, cb):
        if self.kind == "queue":
            self.q._handler = cb
        else:
            nfq = compat.NetfilterQueue.__new__(compat.NetfilterQueue)
            nfq.user_callback = cb
            nfq._held = collections.deque()
            self.q._handler = nfq
        self.q._on_batch(ctypes.addressof(self.pkts), ctypes.addressof(self.infos), N,
                         ctypes.addressof(self.answers), None)
        if self.q._exc is not None:
            raise self.q._exc
        return list(self.answers)


@pytest.fixture
def fast_switches():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.parametrize("kind", ["queue", "compat"])
@pytest.mark.parametrize("locked", [False, True], ids=["lock-free", "locked"])
def test_racing_verdicts_give_each_packet_exactly_one(kind, locked, fast_switches, monkeypatch):
    if locked:  # the verdict methods of Python 3.8/3.9 and of a build without a GIL
        if kind == "queue":
            monkeypatch.setattr(qm.Packet, "accept", lambda self, **kw: self.verdict(qm.ACCEPT, **kw))
            monkeypatch.setattr(qm.Packet, "drop", lambda self, **kw: self.verdict(qm.DROP, **kw))
        else:
            monkeypatch.setattr(compat.Packet, "accept", lambda self: self._verdict(compat.NF_ACCEPT))
            monkeypatch.setattr(compat.Packet, "drop", lambda self: self._verdict(compat.NF_DROP))
    # The callback hands each packet to a worker thread and then drops it itself while the
    # worker accepts it: exactly one of the two wins (the other gets RuntimeError), and the
    # library gets the winner's answer.
    by_worker = 0
    for _ in range(5):
        fake = Fake(kind)
        todo = collections.deque()
        wins = collections.defaultdict(list)
        done = threading.Event()

        def worker():
            while not done.is_set() or todo:
                try:
                    p, tried = todo.popleft()
                except IndexError:
                    continue
                try:
                    p.accept()
                    wins[p.id].append(1)
                except RuntimeError:
                    pass
                tried.set()

        t = threading.Thread(target=worker)
        t.start()

        def cb(p):
            tried = threading.Event()
            todo.append((p, tried))
            if p.id % 3 == 0:
                tried.wait(5)  # the worker goes first: it wins these
            for _ in range(p.id % 7):  # vary where the switch falls
                pass
            try:
                p.drop()
                wins[p.id].append(0)
            except RuntimeError:
                pass

        try:
            answers = fake.run(cb)
        finally:
            done.set()
            t.join()
        assert all(len(wins[i + 1]) == 1 for i in range(N)), dict(wins)
        assert answers == [wins[i + 1][0] for i in range(N)]
        by_worker += sum(wins[i + 1] == [1] for i in range(N))
    # Both orders happened (the worker at least for every third packet).
    assert 0 < by_worker < 5 * N, by_worker


def test_answers_of_a_batch_without_verdicts_and_with_an_exception(monkeypatch):
    # Queue: no verdict -> default_verdict as each callback returns; retained -> later; the
    # packet whose callback raised -> NFQ_RS_FAILED; the rest -> the fallback verdict.
    # (retain() copies through the packet handle, which is made up here: skip the copy.)
    monkeypatch.setattr(qm.Packet, "_snapshot", lambda self: None)
    fake = Fake("queue")
    fake.q._default_verdict = qm.DROP
    fake.q._fallback = qm.REPEAT
    seen = []

    def cb(p):
        seen.append(p)
        if p.id == 2:
            p.retain()
        if p.id == 3:
            p.accept()
        if p.id == 5:
            raise KeyError("five")

    with pytest.raises(KeyError):
        fake.run(cb)
    answers = list(fake.answers)
    assert answers[:5] == [qm.DROP, _lib.NFQ_RS_LATER, qm.ACCEPT, qm.DROP, -1]
    assert answers[5:] == [qm.REPEAT] * (N - 5)
    assert len(seen) == 5 and not any(p.live for p in seen)
    assert [p.verdict_given for p in seen] == [True, False, True, True, True]
    with pytest.raises(RuntimeError, match="already given"):
        seen[0].accept()
    with pytest.raises(RuntimeError, match="closed"):  # kept: sent on its own (no socket here)
        seen[1].accept()
    assert not seen[1].verdict_given


def test_payload_view_is_released_when_its_callback_returns():
    fake = Fake("queue")
    views = []

    def cb(p):
        if views:
            with pytest.raises(ValueError):
                bytes(views[-1])  # the previous packet's view
        v = p.payload_view
        assert bytes(v) == p.payload and len(v) == 64
        views.append(v)
        p.accept()

    assert fake.run(cb) == [qm.ACCEPT] * N
    with pytest.raises(ValueError):
        bytes(views[-1])
