"""nfq_rs.compat.NetfilterQueue behaves like the PyPI netfilterqueue package, on real traffic."""

from __future__ import annotations

import signal
import socket
import threading
import time
import warnings

import pytest
from conftest import recv_or_none, set_udp_payload

from nfq_rs import NfqError
from nfq_rs.compat import COPY_META, COPY_NONE, COPY_PACKET, NetfilterQueue

PORT = 9999


@pytest.fixture
def setup(ns):
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-num 1")
    rx, tx = ns.udp_pair(PORT)
    nfqs = []

    def bind(cb, **kw):
        nfq = NetfilterQueue(netns=ns.path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            nfq.bind(1, cb, **kw)
        nfqs.append(nfq)
        return nfq

    def send(*msgs):
        for m in msgs:
            tx.sendto(m, ("127.0.0.1", PORT))

    try:
        yield bind, send, rx
    finally:
        for n in nfqs:
            n.unbind()


def test_constants():
    assert (COPY_NONE, COPY_META, COPY_PACKET) == (0, 1, 2)


def test_accept_and_packet_attributes(setup):
    bind, send, rx = setup
    seen = []

    def cb(pkt):
        seen.append(
            (str(pkt), pkt.hook, pkt.hw_protocol, pkt.id, pkt.get_payload_len(), pkt.get_payload()[28:],
             pkt.get_hw(), pkt.get_timestamp(), pkt.get_mark(), pkt.mark, pkt.indev, pkt.outdev,
             pkt.physindev, pkt.physoutdev)
        )
        pkt.accept()

    nfq = bind(cb)
    send(b"hello")
    time.sleep(0.05)
    nfq.run(block=False)
    assert recv_or_none(rx) == b"hello"
    s, hook, hwp, pid, plen, data, hw, ts, gmark, mark, indev, outdev, pin, pout = seen[0]
    assert s == "UDP packet, 33 bytes"
    assert (hook, hwp, plen, data) == (3, 0x0800, 33, b"hello")
    assert pid >= 1
    assert hw is None and ts == 0.0  # OUTPUT hook: no hardware address, no timestamp
    assert (gmark, mark, indev, outdev, pin, pout) == (0, 0, 0, 1, 0, 0)


def test_drop(setup):
    bind, send, rx = setup
    nfq = bind(lambda p: p.drop() if p.get_payload().endswith(b"bad") else p.accept())
    send(b"bad", b"good")
    time.sleep(0.05)
    nfq.run(block=False)
    assert recv_or_none(rx) == b"good"
    assert recv_or_none(rx, 0.3) is None


def test_set_payload(setup):
    bind, send, rx = setup
    got = []

    def cb(pkt):
        pkt.set_payload(set_udp_payload(pkt.get_payload(), b"numero uno"))
        got.append(pkt.get_payload()[28:])  # get_payload returns the new bytes
        pkt.accept()

    nfq = bind(cb)
    send(b"one")
    time.sleep(0.05)
    nfq.run(block=False)
    assert recv_or_none(rx) == b"numero uno"
    assert got == [b"numero uno"]


def test_set_mark_and_repeat(ns, setup):
    bind, send, rx = setup
    # Queue only unmarked packets; count the ones with mark 5.
    ns.iptables("-F OUTPUT")
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -m mark ! --mark 5 -j NFQUEUE --queue-num 1")
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -m mark --mark 5")
    marks = []

    def cb(pkt):
        pkt.set_mark(5)
        marks.append((pkt.mark, pkt.get_mark()))
        pkt.repeat()

    nfq = bind(cb)
    send(b"rep")
    time.sleep(0.05)
    nfq.run(block=False)
    assert recv_or_none(rx) == b"rep"
    assert marks == [(0, 5)]
    assert ns.rule_packets("OUTPUT", 2) == 1


def test_unverdicted_packet_stays_queued_and_retain_then_accept_later(setup):
    bind, send, rx = setup
    kept = []

    def cb(pkt):
        if pkt.get_payload().endswith(b"keep"):
            pkt.retain()
        kept.append(pkt)  # no verdict: the packet stays queued

    nfq = bind(cb)
    send(b"keep", b"other")
    time.sleep(0.05)
    nfq.run(block=False)
    assert len(kept) == 2
    assert recv_or_none(rx, 0.3) is None
    assert nfq._q.kernel_stats()["queue_total"] == 2
    a, b = kept
    assert a.get_payload()[28:] == b"keep"  # retained
    assert str(a) == "UDP packet, 32 bytes"
    with pytest.raises(RuntimeError, match="Payload data is no longer available"):
        b.get_payload()
    assert str(b) == "33 byte packet, contents unretained"
    # Verdicts after the callback, from another thread too.
    t = threading.Thread(target=b.accept)
    t.start()
    t.join(5)
    a.accept()
    assert sorted([recv_or_none(rx), recv_or_none(rx)]) == [b"keep", b"other"]
    with pytest.raises(RuntimeError, match="Verdict already given for this packet"):
        a.drop()


def test_exception_propagates_and_packet_stays_queued(setup):
    bind, send, rx = setup
    box = {}

    def cb(pkt):
        box["p"] = pkt
        raise ValueError("test")

    nfq = bind(cb)
    send(b"boom")
    with pytest.raises(ValueError, match="test"):
        nfq.run()
    pkt = box["p"]
    with pytest.raises(RuntimeError, match="Payload data is no longer"):
        pkt.get_payload()
    assert recv_or_none(rx, 0.3) is None
    pkt.accept()
    assert recv_or_none(rx) == b"boom"
    with pytest.raises(RuntimeError, match="Verdict already given for this packet"):
        pkt.drop()


def test_unbind_then_verdict_raises(setup):
    bind, send, rx = setup
    kept = []
    nfq = bind(kept.append)
    send(b"x")
    time.sleep(0.05)
    nfq.run(block=False)
    nfq.unbind()
    with pytest.raises(RuntimeError, match="Parent queue has already been unbound"):
        kept[0].drop()
    nfq.unbind()  # twice is fine


def test_bind_errors(ns, setup):
    bind, send, rx = setup
    nfq = bind(lambda p: None)
    with pytest.raises(RuntimeError, match="A queue is already bound"):
        nfq.bind(2, lambda p: None)
    other = NetfilterQueue(netns=ns.path)
    with pytest.raises(OSError, match="Failed to create queue 1") as ei:
        other.bind(1, lambda p: None)
    assert isinstance(ei.value, NfqError) and "bound by another process" in str(ei.value)
    assert other.get_fd() >= 0  # as in netfilterqueue, the socket exists before bind()


def test_sock_len_warning(ns):
    nfq = NetfilterQueue(netns=ns.path)
    try:
        with pytest.warns(RuntimeWarning, match="rcvbuf limit is"):
            nfq.bind(1, lambda p: None, sock_len=2**30)
    finally:
        nfq.unbind()
    nfq = NetfilterQueue(netns=ns.path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            nfq.bind(1, lambda p: None, sock_len=131072)  # root: the kernel grants it
    finally:
        nfq.unbind()


def test_run_socket(setup):
    bind, send, rx = setup
    seen = []
    nfq = bind(lambda p: (seen.append(p.get_payload()[28:]), p.accept()))
    s = socket.fromfd(nfq.get_fd(), socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        send(b"a", b"b")
        time.sleep(0.05)
        s.setblocking(False)
        nfq.run_socket(s)  # handles what is waiting, then returns
        assert seen == [b"a", b"b"]
        s.settimeout(0.3)
        send(b"c")
        with pytest.raises(socket.timeout):
            nfq.run_socket(s)  # handles c, then times out like socket.recv would
        assert seen == [b"a", b"b", b"c"]
    finally:
        s.close()
    assert [recv_or_none(rx) for _ in range(3)] == [b"a", b"b", b"c"]


def test_run_blocking_ctrl_c_and_unbind_from_callback(setup):
    bind, send, rx = setup

    def alarm(sig, frame):
        raise KeyboardInterrupt("brrrrrring!")

    nfq = bind(lambda p: p.accept())
    old = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt, match="brrrrrring!"):
            nfq.run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    nfq.unbind()

    def cb(pkt):
        pkt.accept()
        nfq2.unbind()  # takes effect when the callback returns; run() then returns

    nfq2 = bind(cb)
    send(b"u")
    t0 = time.monotonic()
    nfq2.run()
    assert time.monotonic() - t0 < 2
    assert recv_or_none(rx) == b"u"
    assert nfq2.get_fd() >= 0  # the socket outlives the queue, as in netfilterqueue


def test_sockfd_selects_the_namespace(ns):
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-num 4")
    rx, tx = ns.udp_pair(PORT)
    nl = ns.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER, made inside ns
    nfq = NetfilterQueue(sockfd=nl.fileno())
    nfq.bind(4, lambda p: p.accept())
    try:
        tx.sendto(b"ns", ("127.0.0.1", PORT))
        time.sleep(0.05)
        nfq.run(block=False)
        assert recv_or_none(rx) == b"ns"
    finally:
        nfq.unbind()


def test_script_runs_with_the_one_import_changed(ns, tmp_path):
    """A netfilterqueue-style script (examples/netfilterqueue_style.py) works unchanged."""
    import os
    import subprocess
    import sys

    from conftest import PKG_ROOT

    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-num 1")
    rx, tx = ns.udp_pair(PORT)
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    p = subprocess.Popen(
        ["ip", "netns", "exec", ns.name, sys.executable, str(PKG_ROOT / "examples" / "netfilterqueue_style.py"), "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        got = None
        while got is None and time.monotonic() < deadline and p.poll() is None:
            tx.sendto(b"via script", ("127.0.0.1", PORT))  # dropped until the script binds
            got = recv_or_none(rx, 0.2)
        assert got == b"via script", p.stderr.read() if p.poll() is not None else "no packet"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "UDP packet" in out


def test_packets_of_one_batch_behave_one_by_one(setup):
    # One receive batch: an earlier packet without a verdict stays queued when its callback
    # returns (its payload gone), and its verdict from a later callback goes out on its own.
    bind, send, rx = setup
    seen, errors = [], []

    def cb(pkt):
        if seen:
            prev = seen[-1]
            try:
                prev.get_payload()
            except RuntimeError as e:
                errors.append("gone" if "no longer available" in str(e) else str(e))
            prev.accept()
            try:
                prev.accept()
            except RuntimeError as e:
                errors.append(str(e))
        seen.append(pkt)
        if pkt.get_payload().endswith(b"3"):
            pkt.set_mark(7)
            pkt.accept()

    nfq = bind(cb)
    send(b"1", b"2", b"3")
    time.sleep(0.1)
    nfq.run(block=False)
    assert sorted(recv_or_none(rx) for _ in range(3)) == [b"1", b"2", b"3"]
    assert errors == ["gone", "Verdict already given for this packet"] * 2
    assert nfq._q.kernel_stats()["queue_total"] == 0


def test_exception_in_the_middle_of_a_batch_holds_the_rest(setup):
    bind, send, rx = setup
    called = []

    def cb(pkt):
        called.append(pkt.get_payload()[-1:])
        if called == [b"1", b"2"]:
            raise ValueError("two")
        pkt.accept()

    nfq = bind(cb)
    send(b"1", b"2", b"3")
    time.sleep(0.1)
    with pytest.raises(ValueError, match="two"):
        nfq.run(block=False)
    assert called == [b"1", b"2"]
    assert recv_or_none(rx) == b"1"
    nfq.run(block=False)  # the held third packet, with its payload
    assert called == [b"1", b"2", b"3"]
    assert recv_or_none(rx) == b"3"
    assert nfq._q.kernel_stats()["queue_total"] == 1  # the second stays queued
