"""nfq_rs.Log (NFLOG) on real traffic in a network namespace: every LogPacket field on the
OUTPUT and INPUT hooks, settings, iteration, stop from another thread, exceptions raised by
the callback, and the errors (group bound by another socket, bad values, the conntrack flag
on a kernel without conntrack glue)."""

from __future__ import annotations

import datetime
import socket
import threading
import time

import pytest
from conftest import wait_for

import nfq_rs
from nfq_rs import Log, LogPacket, NfqError

PORT = 9888
GROUP = 31


def log_rules(ns, group=GROUP, port=PORT):
    ns.iptables(f"-A OUTPUT -p udp --dport {port} -j MARK --set-mark 0x2a", table="mangle")
    ns.iptables(f"-A OUTPUT -p udp --dport {port} -j NFLOG --nflog-group {group} --nflog-prefix py-out")
    ns.iptables(f"-A INPUT -p udp --dport {port} -j NFLOG --nflog-group {group} --nflog-prefix py-in")


def collect(log, want, timeout=5.0):
    got = []
    end = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < end:
        log.dispatch(got.append, timeout=0.05)
    return got


def test_every_field_on_output_and_input(ns):
    log_rules(ns)
    rx, tx = ns.udp_pair(PORT)
    with Log(GROUP, netns=ns.path, seq=True, seq_global=True, threshold=1, flush_timeout=0.05) as log:
        for i in range(3):
            tx.sendto(b"hello-%d" % i, ("127.0.0.1", PORT))
        got = collect(log, 6)
        assert len(got) == 6
        assert all(isinstance(p, LogPacket) for p in got)
        outs = [p for p in got if p.prefix == "py-out"]
        ins = [p for p in got if p.prefix == "py-in"]
        assert len(outs) == 3 and len(ins) == 3
        seqs = [p.seq for p in got]
        assert seqs == list(range(seqs[0], seqs[0] + 6))
        for p in got:
            assert p.family == socket.AF_INET and p.group == GROUP and p.hw_protocol == 0x0800
            assert p.prefix_bytes == p.prefix.encode()
            assert p.mark == 0x2A
            assert p.seq_global is not None
            assert p.payload[9] == 17 and p.payload[28:34] == b"hello-" and len(p) == 20 + 8 + 7
            assert p.physindev is None and p.physoutdev is None and p.vlan is None and p.l2hdr is None
            assert p.ct is None and p.conntrack is None and p.ct_info is None
            assert "py-" in repr(p)
        for p in outs:
            assert p.hook == nfq_rs.Hook.OUTPUT
            assert p.outdev == 1 and p.indev is None
            assert (p.uid, p.gid) == (0, 0)
            assert p.timestamp is None and p.hw_addr is None and p.hw_type is None and p.hw_header is None
        for p in ins:
            assert p.hook == nfq_rs.Hook.INPUT
            assert p.indev == 1 and p.outdev is None
            assert isinstance(p.timestamp, datetime.datetime)
            assert abs((p.timestamp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 60
            assert p.hw_type == 772 and p.hw_len == 14 and len(p.hw_header) == 14
            assert p.hw_addr == b"\0" * 6
        st = log.stats()
        assert st["packets_received"] == 6 and 1 <= st["datagrams"] <= 6
        assert st["enobufs"] == st["truncated"] == st["parse_errors"] == st["callback_errors"] == 0
        ks = log.kernel_stats()
        assert ks["portid"] > 0 and ks["copy_mode"] == 2 and ks["copy_range"] == 65531 and ks["flush_timeout"] == 5
        assert log.kernel_stats(GROUP + 50) is None
        assert log.kernel_drops() == 0
        assert log.fileno() >= 0
        assert len(rx.recv(100)) == 7


def test_settings_meta_copy_range_and_multi_message_datagrams(ns):
    log_rules(ns)
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT + 1} -j NFLOG --nflog-group {GROUP + 1} --nflog-prefix batch")
    tx = ns.socket()
    with Log([GROUP, GROUP + 1], netns=ns.path, copy_mode="meta", threshold=8, flush_timeout=1.0,
             nlbufsiz=65536, batch=4, rcvbuf=1 << 20) as log:
        assert log.groups == [GROUP, GROUP + 1]
        for i in range(8):
            tx.sendto(b"b", ("127.0.0.1", PORT + 1))
        got = collect(log, 8)
        assert len(got) == 8 and all(p.prefix == "batch" and p.payload is None for p in got)
        assert log.stats()["datagrams"] < 8  # gathered by the kernel: threshold 8
        log.set_copy_mode(GROUP, "packet", 10)
        log.set_threshold(GROUP, 1)
        tx.sendto(b"0123456789abcdef", ("127.0.0.1", PORT))
        got = collect(log, 1)
        assert got and len(got[0].payload) == 10
        log.set_flush_timeout(GROUP, 0.2)
        log.set_nlbufsiz(GROUP, 8192)
        log.set_flags(GROUP, seq=True)
        assert log.kernel_stats(GROUP)["flush_timeout"] == 20
        assert log.set_rcvbuf(1 << 20) >= 1 << 20
        log.set_no_enobufs(True)
        log.unbind(GROUP + 1)
        assert log.groups == [GROUP] and log.kernel_stats(GROUP + 1) is None
        log.bind(GROUP + 1)
        assert log.kernel_stats(GROUP + 1) is not None
        log.bind_pf(socket.AF_INET)  # inside the test namespace only
        log.unbind_pf(socket.AF_INET)


def test_iteration_and_stop_from_another_thread(ns):
    log_rules(ns)
    tx = ns.socket()
    with Log(GROUP, netns=ns.path, threshold=1) as log:
        for i in range(2):
            tx.sendto(b"it", ("127.0.0.1", PORT))
        seen = []
        for p in log.packets(timeout=3):
            seen.append(p)
            if len(seen) == 4:
                break
        assert len(seen) == 4
        assert list(log.packets(timeout=0.2)) == []  # nothing more, and the timeout ends it
        threading.Timer(0.3, log.stop).start()
        t0 = time.monotonic()
        assert log.run(lambda p: None) == 0
        assert 0.2 < time.monotonic() - t0 < 5
        # A stop while nothing runs makes the next run return at once.
        log.stop()
        t0 = time.monotonic()
        log.run(lambda p: None)
        assert time.monotonic() - t0 < 1


def test_callback_exception_propagates_and_later_messages_are_kept(ns):
    log_rules(ns)
    tx = ns.socket()
    with Log(GROUP, netns=ns.path, threshold=4, flush_timeout=0.05) as log:
        for i in range(2):
            tx.sendto(b"x", ("127.0.0.1", PORT))
        calls = []

        def boom(p):
            calls.append(p)
            raise ValueError("from the callback")

        with pytest.raises(ValueError, match="from the callback"):
            end = time.monotonic() + 5
            while time.monotonic() < end:
                log.dispatch(boom, timeout=0.05)
        assert len(calls) == 1
        assert log.stats()["callback_errors"] == 1
        # The other messages of that batch were kept and come first now.
        rest = collect(log, 3)
        assert len(rest) == 3 and log.stats()["packets_received"] == 4
        # run() re-raises too, and stops.
        tx.sendto(b"y", ("127.0.0.1", PORT))
        with pytest.raises(KeyError):
            log.run(lambda p: {}["missing"])


def test_callback_can_stop_run(ns):
    log_rules(ns)
    tx = ns.socket()
    with Log(GROUP, netns=ns.path, threshold=1) as log:
        tx.sendto(b"s", ("127.0.0.1", PORT))
        seen = []

        def cb(p):
            seen.append(p)
            if len(seen) == 2:
                log.stop()

        timer = threading.Timer(5, log.stop)
        timer.start()
        try:
            assert log.run(cb) >= 2
        finally:
            timer.cancel()
        assert len(seen) == 2


def test_errors_have_clear_messages(ns):
    with Log(GROUP, netns=ns.path) as a:
        with pytest.raises(NfqError) as e:
            Log(GROUP, netns=ns.path)
        assert e.value.code == nfq_rs.E_PERM
        assert "bound by another netlink socket" in str(e.value)
        with pytest.raises(NfqError) as e:
            a.set_copy_mode(GROUP, "packet", 70000)
        assert e.value.code == nfq_rs.E_INVAL and "65531" in str(e.value)
        with pytest.raises(NfqError) as e:
            a.set_nlbufsiz(GROUP, 100)
        assert e.value.code == nfq_rs.E_INVAL and "buffer size 100" in str(e.value)
        with pytest.raises(NfqError) as e:
            a.set_flags(GROUP, conntrack=True)
        assert e.value.code == nfq_rs.E_NOTSUP
        assert "CONFIG_NETFILTER_NETLINK_GLUE_CT" in str(e.value) and "EOPNOTSUPP" in str(e.value)
        with pytest.raises(NfqError) as e:
            a.unbind(GROUP + 9)
        assert e.value.code == nfq_rs.E_NODEV and "not bound" in str(e.value)
        with pytest.raises(NfqError) as e:
            a.bind(GROUP)
        assert e.value.code == nfq_rs.E_BUSY
        assert "already bound" in a.last_error()
    with pytest.raises(NfqError) as e:
        Log(GROUP + 1, netns=ns.path, conntrack=True)
    assert e.value.code == nfq_rs.E_NOTSUP and "CONFIG_NETFILTER_NETLINK_GLUE_CT" in str(e.value)
    with pytest.raises(NfqError) as e:
        Log(GROUP, netns=ns.path, copy_range=70000)
    assert e.value.code == nfq_rs.E_INVAL
    with pytest.raises(NfqError):
        Log(GROUP, netns=ns.path, nlbufsiz=10)
    with pytest.raises(ValueError):
        Log(GROUP, copy_mode="everything")
    with pytest.raises(ValueError):
        Log(70000)
    with pytest.raises(NfqError) as e:
        Log(GROUP, netns="/var/run/netns/nfqrs-py-no-such-namespace")
    assert "nfqrs-py-no-such-namespace" in str(e.value)


def test_unbound_close_and_callback_default(ns):
    log_rules(ns)
    tx = ns.socket()
    got = []
    log = Log(netns=ns.path, callback=got.append)
    assert log.groups == [] and log.kernel_stats() is None
    log.bind(GROUP)
    log.set_threshold(GROUP, 1)
    tx.sendto(b"d", ("127.0.0.1", PORT))
    wait_for(lambda: log.dispatch(timeout=0.05) >= 0 and len(got) == 2, what="2 log messages")
    log.close()
    log.close()
    assert log.closed and "closed" in repr(log)
    with pytest.raises(RuntimeError):
        log.fileno()
    with pytest.raises(TypeError):
        Log(netns=ns.path).run()


def test_bindings_match_the_header():
    """Every nfq_rs_log_* function of include/nfq_rs.h is declared for ctypes, and the
    constants and counter orders match the header's."""
    import re
    from pathlib import Path

    from nfq_rs import _lib

    header = (Path(__file__).resolve().parents[2] / "include" / "nfq_rs.h").read_text()
    funcs = set(re.findall(r"\b(nfq_rs_log_[a-z0-9_]+)\(", header))
    # LogPacket.conntrack decodes the raw nest (nfq_rs_log_packet_ct) with Conntrack.decode.
    funcs.discard("nfq_rs_log_packet_ct_entry")
    assert funcs and funcs == set(_lib._LOG_PROTOTYPES), funcs ^ set(_lib._LOG_PROTOTYPES)
    defines = dict(re.findall(r"#define (NFQ_RS_LOG_[A-Z0-9_]+) (\d+)", header))
    for name in ("F_SEQ", "F_SEQ_GLOBAL", "F_CONNTRACK", "MAX_COPY_RANGE", "MAX_NLBUFSIZ"):
        assert getattr(_lib, "NFQ_RS_LOG_" + name) == int(defines["NFQ_RS_LOG_" + name])
    for i, name in enumerate(_lib.LOG_STAT_NAMES):
        assert int(defines["NFQ_RS_LOG_STAT_" + name.upper()]) == i
    for i, name in enumerate(_lib.LOG_KSTAT_NAMES):
        assert int(defines["NFQ_RS_LOG_KSTAT_" + name.upper()]) == i
    assert _lib.log_lib() is _lib.lib()


def test_example_print_log(ns):
    import os
    import subprocess
    import sys
    from pathlib import Path

    log_rules(ns)
    tx = ns.socket()
    example = Path(__file__).resolve().parents[1] / "examples" / "print_log.py"
    env = dict(os.environ, PYTHONPATH=str(example.parents[1]))
    p = subprocess.Popen(
        [sys.executable, str(example), "--group", str(GROUP), "--netns", ns.path, "--count", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for(lambda: ns.exec("cat", "/proc/net/netfilter/nfnetlink_log").stdout.strip() or p.poll() is not None,
                 timeout=10, what="the group to be bound")
        for _ in range(2):
            tx.sendto(b"ex", ("127.0.0.1", PORT))
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert sum(ln.startswith("py-out: hook=OUTPUT in=- out=lo 127.0.0.1:") and f"-> 127.0.0.1:{PORT} udp mark=42 uid=0"
               in ln for ln in lines) == 2, out
    assert sum(ln.startswith("py-in: hook=INPUT in=lo out=- 127.0.0.1:") for ln in lines) == 2, out
    assert "'packets_received': 4" in out
