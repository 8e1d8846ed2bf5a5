"""The Pythonic API (nfq_rs.Queue, Packet, Pool) on real traffic in a network namespace."""

from __future__ import annotations

import datetime
import signal
import socket
import threading
import time

import pytest
from conftest import recv_or_none, set_udp_payload, wait_for

import nfq_rs
from nfq_rs import NfqError, Queue

PORT = 9999


def queue_rule(ns, chain="OUTPUT", num=0, extra=""):
    ns.iptables(f"-A {chain} -p udp --dport {PORT} {extra} -j NFQUEUE --queue-num {num}")


def test_fields_on_output_and_input_hooks(ns):
    queue_rule(ns, "OUTPUT")
    queue_rule(ns, "INPUT")
    rx, tx = ns.udp_pair(PORT)
    rx.setsockopt(socket.SOL_SOCKET, 29, 1)  # SO_TIMESTAMP: makes the kernel stamp packets
    time.sleep(0.2)  # the kernel turns stamping on from a work queue
    seen = []

    def cb(p):
        seen.append(
            dict(
                id=p.id,
                queue_num=p.queue_num,
                family=p.family,
                hook=p.hook,
                hw_protocol=p.hw_protocol,
                payload=p.payload,
                view=bytes(p.payload_view),
                mark=p.mark,
                indev=p.indev,
                outdev=p.outdev,
                indev_name=p.indev_name,
                outdev_name=p.outdev_name,
                physindev=p.physindev,
                hw_addr=p.hw_addr,
                timestamp=p.timestamp,
                uid=p.uid,
                gid=p.gid,
                cap_len=p.cap_len,
                truncated=p.truncated,
                orig_len=p.orig_len,
                priority=p.priority,
                secctx=p.secctx,
                ct=p.ct,
                ct_info=p.ct_info,
                live=p.live,
            )
        )
        p.accept()

    before = datetime.datetime.now(datetime.timezone.utc)
    with Queue(0, netns=ns.path, uid_gid=True) as q:
        tx.sendto(b"hello", ("127.0.0.1", PORT))
        deadline = time.monotonic() + 3
        while len(seen) < 2 and time.monotonic() < deadline:
            q.dispatch(cb, 0.5)
        assert rx.recv(100) == b"hello"
        stats = q.stats()

    out, inp = seen
    for f in (out, inp):
        assert f["queue_num"] == 0
        assert f["family"] == socket.AF_INET
        assert f["hw_protocol"] == 0x0800
        assert f["payload"][-5:] == b"hello" and len(f["payload"]) == 33
        assert f["view"] == f["payload"]
        assert f["mark"] is None
        assert f["cap_len"] is None and f["truncated"] is False and f["orig_len"] == 33
        assert f["priority"] is None and f["secctx"] is None
        assert f["ct"] is None and f["ct_info"] is None
        assert f["physindev"] is None
        assert f["live"] is True
    assert out["hook"] == nfq_rs.Hook.OUTPUT and inp["hook"] == nfq_rs.Hook.INPUT
    assert inp["id"] == out["id"] + 1
    # Loopback is index 1 in every namespace, so the caller-namespace name lookup agrees here.
    assert out["outdev"] == 1 and out["indev"] is None and out["outdev_name"] == "lo"
    assert inp["indev"] == 1 and inp["outdev"] is None and inp["indev_name"] == "lo"
    assert out["uid"] == 0 and out["gid"] == 0  # uid_gid=True, a local socket of root
    assert out["hw_addr"] is None and out["timestamp"] is None
    assert inp["hw_addr"] == b"\0" * 6
    ts = inp["timestamp"]
    assert ts is not None and ts.tzinfo is datetime.timezone.utc
    assert before - datetime.timedelta(seconds=5) <= ts <= datetime.datetime.now(datetime.timezone.utc)
    assert stats["packets_received"] == 2 and stats["verdicts_sent"] == 2
    assert stats["kernel"][0]["id_sequence"] == inp["id"]
    assert stats["kernel"][0]["copy_mode"] == 2


def test_copy_modes_meta_and_range(ns):
    queue_rule(ns, num=0)
    rx, tx = ns.udp_pair(PORT)
    got = []

    def cb(p):
        got.append((p.payload, p.truncated, p.cap_len, p.orig_len, len(p)))
        p.accept()

    with Queue(0, netns=ns.path, copy_mode="meta") as q:
        tx.sendto(b"x" * 100, ("127.0.0.1", PORT))
        assert q.dispatch(cb, 2) == 1
    # Copy mode meta: no bytes, and the kernel sends no NFQA_CAP_LEN either.
    assert got[0] == (None, False, None, 0, 0)
    assert rx.recv(200) == b"x" * 100

    with Queue(0, netns=ns.path, copy_range=40) as q:
        tx.sendto(b"y" * 100, ("127.0.0.1", PORT))
        assert q.dispatch(cb, 2) == 1
    payload, truncated, cap_len, orig_len, n = got[1]
    assert n == 40 and truncated is True and cap_len == 128 and orig_len == 128
    assert rx.recv(200) == b"y" * 100  # a truncated copy does not change the packet


def test_iteration_with_timeout_and_default_verdict(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    with Queue(0, netns=ns.path) as q:
        for i in range(3):
            tx.sendto(b"m%d" % i, ("127.0.0.1", PORT))
        seen = []
        t0 = time.monotonic()
        for pkt in q.packets(timeout=0.5):
            seen.append(pkt.payload[28:])
            assert not pkt.live
            if pkt.payload.endswith(b"m1"):
                pkt.drop()
            # m0 and m2: no verdict -> default_verdict (ACCEPT) when the loop moves on
        assert time.monotonic() - t0 < 3
        assert seen == [b"m0", b"m1", b"m2"]
        assert recv_or_none(rx) == b"m0"
        assert recv_or_none(rx) == b"m2"
        assert recv_or_none(rx, 0.3) is None


def test_default_verdict_drop_and_accept(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    with Queue(0, netns=ns.path) as q:  # default ACCEPT
        tx.sendto(b"a", ("127.0.0.1", PORT))
        assert q.dispatch(lambda p: None, 2) == 1
        assert recv_or_none(rx) == b"a"
    with Queue(0, netns=ns.path, default_verdict=nfq_rs.DROP) as q:
        tx.sendto(b"b", ("127.0.0.1", PORT))
        assert q.dispatch(lambda p: None, 2) == 1
        assert recv_or_none(rx, 0.3) is None


def test_drop(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"bad", ("127.0.0.1", PORT))
        tx.sendto(b"good", ("127.0.0.1", PORT))

        def cb(p):
            p.drop() if p.payload.endswith(b"bad") else p.accept()

        wait_for(lambda: q.dispatch(cb, 0.2) == 0 and q.stats()["packets_received"] == 2, what="2 packets")
        assert recv_or_none(rx) == b"good"
        assert recv_or_none(rx, 0.3) is None


def test_payload_rewrite_arrives_changed(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)

    def cb(p):
        data = p.payload[28:]
        if data == b"same-len":
            p.accept(payload=set_udp_payload(p.payload, b"SAME-LEN"))
        else:
            p.accept(payload=set_udp_payload(p.payload, b"a longer payload than before"))

    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"same-len", ("127.0.0.1", PORT))
        tx.sendto(b"short", ("127.0.0.1", PORT))
        wait_for(lambda: q.dispatch(cb, 0.2) == 0 and q.stats()["packets_received"] == 2, what="2 packets")
        assert recv_or_none(rx) == b"SAME-LEN"
        assert recv_or_none(rx) == b"a longer payload than before"


def test_mark_and_repeat(ns):
    # Rule 1 queues unmarked packets; rule 2 counts packets with mark 0x1.
    queue_rule(ns, extra="-m mark ! --mark 0x1")
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -m mark --mark 0x1")
    rx, tx = ns.udp_pair(PORT)
    calls = []

    def cb(p):
        calls.append(p.mark)
        p.repeat(mark=1)

    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"again", ("127.0.0.1", PORT))
        assert q.dispatch(cb, 2) == 1
        assert recv_or_none(rx) == b"again"
        assert q.dispatch(cb, 0.2) == 0
    assert calls == [None]  # seen once: the repeated packet skipped the queue rule
    assert ns.rule_packets("OUTPUT", 2) == 1


def test_queue_to_another_queue(ns):
    queue_rule(ns, num=0)
    rx, tx = ns.udp_pair(PORT)
    seen = []

    def cb(p):
        seen.append(p.queue_num)
        if p.queue_num == 0:
            p.queue(1)
        else:
            p.accept(mark=7)

    with Queue([0, 1], netns=ns.path) as q:
        assert q.queue_nums == [0, 1]
        tx.sendto(b"hop", ("127.0.0.1", PORT))
        wait_for(lambda: (q.dispatch(cb, 0.2), len(seen) == 2)[1], what="the packet on both queues")
        assert recv_or_none(rx) == b"hop"
        assert set(q.stats()["kernel"]) == {0, 1}
    assert seen == [0, 1]


def test_queue_bypass_when_nobody_listens(ns):
    queue_rule(ns, num=0)
    rx, tx = ns.udp_pair(PORT)
    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"by", ("127.0.0.1", PORT))
        assert q.dispatch(lambda p: p.queue(5, bypass=True), 2) == 1
        assert recv_or_none(rx) == b"by"


def test_deferred_verdict_from_another_thread(ns, runners):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    kept = []

    def cb(p):
        kept.append(p.retain())

    with Queue(0, netns=ns.path) as q:
        r = runners(q, cb)
        tx.sendto(b"later", ("127.0.0.1", PORT))
        wait_for(lambda: kept, what="the packet")
        pkt = kept[0]
        assert not pkt.live and pkt.payload.endswith(b"later")  # retained data
        assert recv_or_none(rx, 0.3) is None  # still queued
        assert q.kernel_stats()["queue_total"] == 1

        def give():
            pkt.accept(payload=set_udp_payload(pkt.payload, b"LATER"))

        t = threading.Thread(target=give)
        t.start()
        t.join(5)
        assert recv_or_none(rx) == b"LATER"
        with pytest.raises(RuntimeError, match="already given"):
            pkt.drop()
        r.stop()
        st = q.stats()
        assert st["deferred"] == 1 and st["verdict_errors"] == 0 and st["kernel"][0]["queue_total"] == 0


def test_verdict_by_id_and_after_close(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    ids = []
    q = Queue(0, netns=ns.path)
    try:
        tx.sendto(b"one", ("127.0.0.1", PORT))
        tx.sendto(b"two", ("127.0.0.1", PORT))
        wait_for(lambda: (q.dispatch(lambda p: ids.append(p.retain()), 0.2), len(ids) == 2)[1], what="2 packets")
        q.verdict(ids[0].id, nfq_rs.ACCEPT)
        assert recv_or_none(rx) == b"one"
    finally:
        q.close()
    with pytest.raises(RuntimeError, match="closed"):
        ids[1].accept()
    assert recv_or_none(rx, 0.3) is None  # the kernel dropped it on close


def test_data_after_callback_needs_retain(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    box = {}

    def cb(p):
        box["p"] = p
        box["hook"] = p.hook  # read inside: cached
        box["view"] = p.payload_view
        p.accept()

    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"gone", ("127.0.0.1", PORT))
        assert q.dispatch(cb, 2) == 1
    p = box["p"]
    assert p.id >= 1 and p.hook == nfq_rs.Hook.OUTPUT
    with pytest.raises(RuntimeError, match="retain"):
        p.payload
    with pytest.raises(ValueError):
        bytes(box["view"])  # released when the callback returned
    assert "id=" in repr(p)


def test_double_verdict_in_callback(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    errors = []

    def cb(p):
        p.accept()
        try:
            p.drop()
        except RuntimeError as e:
            errors.append(str(e))

    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"x", ("127.0.0.1", PORT))
        assert q.dispatch(cb, 2) == 1
        assert recv_or_none(rx) == b"x"
    assert errors and "already given" in errors[0]


def test_queue_bound_by_another_handle(ns):
    with Queue(3, netns=ns.path):
        with pytest.raises(NfqError) as ei:
            Queue(3, netns=ns.path)
    e = ei.value
    assert e.code == nfq_rs.E_PERM and e.name == "NFQ_RS_E_PERM"
    assert "bound by another process" in str(e) and "bound by another process" in e.message
    assert isinstance(e, OSError)


def test_conntrack_flag_needs_glue_ct(ns):
    with pytest.raises(NfqError) as ei:
        Queue(0, netns=ns.path, conntrack=True)
    assert ei.value.code == nfq_rs.E_NOTSUP
    assert "CONFIG_NETFILTER_NETLINK_GLUE_CT" in str(ei.value)


def test_bad_arguments():
    with pytest.raises(ValueError):
        Queue(70000)
    with pytest.raises(ValueError):
        Queue(0, copy_mode="all")
    with pytest.raises(ValueError):
        Queue(0, fallback_verdict=99)
    with pytest.raises(NfqError) as ei:
        Queue(0, batch=0)
    assert ei.value.code == nfq_rs.E_INVAL and "1..1024" in ei.value.message
    with pytest.raises(NfqError) as ei:
        Queue(0, netns="/nonexistent/netns")
    assert "/nonexistent/netns" in str(ei.value)


def test_callback_exception_propagates_from_run(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)

    def cb(p):
        raise ValueError("boom in callback")

    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"x", ("127.0.0.1", PORT))
        with pytest.raises(ValueError, match="boom in callback"):
            q.run(cb)
        assert recv_or_none(rx, 0.3) is None  # fallback verdict: drop
        st = q.stats()
        assert st["callback_errors"] == 1 and st["kernel"][0]["queue_total"] == 0
        # The queue keeps working afterwards.
        tx.sendto(b"y", ("127.0.0.1", PORT))
        assert q.dispatch(lambda p: p.accept(), 2) == 1
        assert recv_or_none(rx) == b"y"

    with Queue(0, netns=ns.path, fallback_verdict=nfq_rs.ACCEPT) as q:
        tx.sendto(b"z", ("127.0.0.1", PORT))
        with pytest.raises(ValueError):
            q.run(cb)
        assert recv_or_none(rx) == b"z"  # fail open


def test_exception_after_verdict_keeps_the_verdict(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)

    def cb(p):
        p.accept(payload=set_udp_payload(p.payload, b"kept"))
        raise KeyError("late")

    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"x", ("127.0.0.1", PORT))
        with pytest.raises(KeyError):
            q.dispatch(cb, 2)
        assert recv_or_none(rx) == b"kept"


def test_stop_from_another_thread_returns_promptly(ns):
    with Queue(0, netns=ns.path) as q:
        timer = threading.Timer(0.3, q.stop)
        t0 = time.monotonic()
        timer.start()
        assert q.run(lambda p: p.accept()) == 0
        elapsed = time.monotonic() - t0
        timer.join()
    assert 0.25 <= elapsed < 1.0, elapsed


def test_stop_inside_callback_and_close_stops_run(ns, runners):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"s", ("127.0.0.1", PORT))

        def cb(p):
            p.accept()
            q.stop()

        assert q.run(cb) == 1
        assert recv_or_none(rx) == b"s"

    q = Queue(0, netns=ns.path)
    r = runners(q, lambda p: p.accept())
    time.sleep(0.2)
    t0 = time.monotonic()
    q.close()  # stops the loop, waits for it, then closes
    r.thread.join(2)
    assert not r.thread.is_alive() and r.error is None
    assert time.monotonic() - t0 < 1.0
    assert q.closed


def test_ctrl_c_stops_run(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)

    def alarm(sig, frame):
        raise KeyboardInterrupt("alarm")

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        with Queue(0, netns=ns.path) as q:
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            t0 = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                q.run(lambda p: p.accept())
            assert time.monotonic() - t0 < 1.5
            # Still usable afterwards.
            tx.sendto(b"after", ("127.0.0.1", PORT))
            assert q.dispatch(lambda p: p.accept(), 2) == 1
            assert recv_or_none(rx) == b"after"

            # Ctrl-C while the callback runs: the packet gets the fallback verdict and
            # KeyboardInterrupt comes out of run().
            def slow(p):
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                time.sleep(1)
                p.accept()

            tx.sendto(b"slow", ("127.0.0.1", PORT))
            with pytest.raises(KeyboardInterrupt):
                q.run(slow)
            assert recv_or_none(rx, 0.3) is None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_ctrl_c_in_a_script_exits_cleanly(ns, tmp_path):
    """SIGINT to a process blocked in run() raises KeyboardInterrupt there."""
    import os
    import subprocess
    import sys

    from conftest import PKG_ROOT

    script = tmp_path / "sig.py"
    script.write_text(
        "import sys, nfq_rs\n"
        f"q = nfq_rs.Queue(0, netns={ns.path!r})\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    q.run(lambda p: p.accept())\n"
        "except KeyboardInterrupt:\n"
        "    q.close(); print('interrupted', flush=True); sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "interrupted" in out


def test_pool_over_queue_balance(ns):
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-balance 0:1")
    rx = ns.socket()
    rx.bind(("127.0.0.1", PORT))
    rx.settimeout(2)
    # --queue-balance hashes the addresses (not the ports): send from 16 loopback addresses.
    senders = []
    for i in range(16):
        s = ns.socket()
        s.bind((f"127.0.0.{i + 2}", 0))
        senders.append(s)
    seen = []
    lock = threading.Lock()

    def cb(p):
        with lock:
            seen.append((p.queue_num, threading.current_thread().name))
        p.accept()

    with nfq_rs.Pool(range(0, 2), cb, netns=ns.path) as pool:
        pool.start()
        for i, s in enumerate(senders):
            s.sendto(b"p%d" % i, ("127.0.0.1", PORT))
        got = sorted(rx.recv(100) for _ in senders)
        assert got == sorted(b"p%d" % i for i in range(16))
        t0 = time.monotonic()
        pool.stop()
        assert pool.join(2) is True
        assert time.monotonic() - t0 < 1.0
        stats = pool.stats()
    assert {q for q, _ in seen} == {0, 1}
    for qn, thread in seen:
        assert thread == f"nfq_rs-queue-{qn}"
    assert stats[0]["packets_received"] + stats[1]["packets_received"] == 16


def test_pool_callback_exception_stops_all(ns):
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-balance 0:1")
    rx, tx = ns.udp_pair(PORT)

    def cb(p):
        raise RuntimeError("pool boom")

    with nfq_rs.Pool([0, 1], cb, netns=ns.path) as pool:
        pool.start()
        tx.sendto(b"x", ("127.0.0.1", PORT))
        with pytest.raises(RuntimeError, match="pool boom"):
            assert pool.join(5)


def test_library_version_and_path():
    assert nfq_rs.library_version().count(".") == 2
    assert nfq_rs.library_path().endswith("libnfq_rs.so")


def test_breaking_out_of_iteration_settles_unseen_packets(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    with Queue(0, netns=ns.path) as q:
        for m in (b"i0", b"i1", b"i2"):
            tx.sendto(m, ("127.0.0.1", PORT))
        time.sleep(0.05)
        for pkt in q.packets(timeout=2):
            pkt.drop()
            break
        assert [recv_or_none(rx) for _ in range(2)] == [b"i1", b"i2"]
        assert q.kernel_stats()["queue_total"] == 0


def test_signal_handler_exception_under_traffic_comes_out_of_run(ns):
    """A signal handler's exception raised while packets flow (it may fire at the very start of
    the batch callback, where ctypes would lose it) comes out of run(), with run in the
    traceback; several tries to land the signal at different points."""
    import traceback

    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-num 0")
    rx, tx = ns.udp_pair(PORT)

    class Alarm(Exception):
        pass

    def alarm(sig, frame):
        raise Alarm("ring")

    stop = threading.Event()

    def flood():
        while not stop.is_set():
            try:
                tx.sendto(b"f", ("127.0.0.1", PORT))
            except OSError:
                pass
            time.sleep(0.0002)

    old = signal.signal(signal.SIGALRM, alarm)
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        with Queue(0, netns=ns.path) as q:
            for _ in range(5):
                signal.setitimer(signal.ITIMER_REAL, 0.1)
                with pytest.raises(Alarm) as ei:
                    q.run(lambda p: p.accept())
                names = [f.name for f in traceback.extract_tb(ei.value.__traceback__)]
                assert "run" in names and names[-1] == "alarm", names
            assert q.stats()["packets_received"] > 0
    finally:
        stop.set()
        t.join(2)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _one_batch(q, tx, msgs, cb):
    """Sends msgs first, then hands them to cb in one receive batch (one dispatch call)."""
    for m in msgs:
        tx.sendto(m, ("127.0.0.1", PORT))
    time.sleep(0.1)
    assert q.dispatch(cb, 0) == len(msgs)


def test_packets_of_one_batch_each_end_with_their_callback(ns):
    # The packets of a receive batch share one answer list; each must still behave as if
    # its verdict were decided when its own callback returned.
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    seen, errors = [], []

    def cb(p):
        if seen:
            prev = seen[-1]
            errors.append(prev.live)
            try:
                prev.payload  # not read in its callback: gone
            except RuntimeError as e:
                errors.append("gone" if "retain" in str(e) else str(e))
            try:
                prev.accept()  # got the default verdict when its callback returned
            except RuntimeError as e:
                errors.append("given" if "already given" in str(e) else str(e))
        assert p.live
        seen.append(p)

    with Queue(0, netns=ns.path) as q:
        _one_batch(q, tx, [b"a", b"b", b"c"], cb)
        assert sorted(recv_or_none(rx) for _ in range(3)) == [b"a", b"b", b"c"]  # default: accept
    assert errors == [False, "gone", "given"] * 2
    assert all(not p.live and p.verdict_given for p in seen)


def test_retained_packet_gets_its_verdict_from_a_later_callback_of_the_batch(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    kept = []

    def cb(p):
        if p.payload.endswith(b"keep"):
            kept.append(p.retain())
            return
        kept[0].drop()  # sent on its own at once, while the batch goes on
        assert kept[0].verdict_given
        with pytest.raises(RuntimeError, match="already given"):
            kept[0].accept()
        p.accept()

    with Queue(0, netns=ns.path) as q:
        _one_batch(q, tx, [b"keep", b"pass"], cb)
        assert recv_or_none(rx) == b"pass"
        assert recv_or_none(rx, 0.3) is None  # the kept one was dropped
        assert q.stats()["kernel"][0]["queue_total"] == 0
        assert kept[0].payload.endswith(b"keep")  # retained data


def test_verdict_from_another_thread_while_the_callback_runs(ns):
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    results = []

    def cb(p):
        t = threading.Thread(target=lambda: p.drop() if p.payload.endswith(b"drop") else p.accept())
        t.start()
        t.join()
        assert p.verdict_given
        try:
            p.accept()
        except RuntimeError as e:
            results.append("already given" in str(e))

    with Queue(0, netns=ns.path) as q:
        _one_batch(q, tx, [b"drop", b"pass"], cb)
        assert recv_or_none(rx) == b"pass"
        assert recv_or_none(rx, 0.3) is None
        assert q.stats()["kernel"][0]["queue_total"] == 0
    assert results == [True, True]


def test_exception_in_the_middle_of_a_batch(ns):
    # Before it: their verdicts; the one that raised: the fallback verdict (counted as a
    # callback error); after it: the fallback verdict without a callback.
    queue_rule(ns)
    rx, tx = ns.udp_pair(PORT)
    called = []

    def cb(p):
        called.append(p.payload[-1:])
        if p.payload.endswith(b"2"):
            raise ValueError("two")
        p.accept()

    with Queue(0, netns=ns.path, fallback_verdict=nfq_rs.DROP) as q:
        with pytest.raises(ValueError, match="two"):
            _one_batch(q, tx, [b"1", b"2", b"3"], cb)
        assert called == [b"1", b"2"]
        assert recv_or_none(rx) == b"1"
        assert recv_or_none(rx, 0.3) is None
        st = q.stats()
        assert st["callback_errors"] == 1  # the third got the fallback verdict from Python
        assert st["kernel"][0]["queue_total"] == 0
