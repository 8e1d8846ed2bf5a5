"""nfq_rs.conntrack: the expectation table (create, get, update, delete by tuple/id/helper),
the dying and unconfirmed lists, kernel-side dump filters with their report, events with the
kernel (BPF) filter checked against the library filter on the same stream, and overflow with a
resync. Each test runs in its own network namespace; `conntrack -L expect` is the independent
reader of the expectation table."""

from __future__ import annotations

import socket
import subprocess

import pytest

from nfq_rs import NfqError
from nfq_rs.conntrack import (
    DYING,
    EV_CONNTRACK,
    EV_DESTROY,
    EV_EXPECT,
    EV_NEW,
    UNCONFIRMED,
    CtTuple,
    Events,
    Expectation,
    Table,
)
from ipaddress import ip_address as ip

A, B = "10.5.0.1", "10.5.0.2"


def tool(ns, *args) -> str:
    p = subprocess.run(["ip", "netns", "exec", ns.name, "conntrack", *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def ftp_master(t: Table, sport: int) -> CtTuple:
    t.create(A, B, "tcp", sport, 21, timeout=120, helper="ftp", tcp_state=3)
    return CtTuple(ip(A), ip(B), 6, sport, 21)


def test_expectation_create_get_update_delete_against_the_conntrack_tool(ns):
    with Table(ns.path) as t, Events(ns.path, EV_EXPECT) as ev:
        master = ftp_master(t, 40000)
        exp = Expectation(
            master=master,
            tuple=CtTuple(ip(A), ip(B), 6, 0, 50200),
            mask=CtTuple(ip("255.255.255.255"), ip("255.255.255.255"), None, 0, 0xFFFF),
            timeout=100,
            helper="ftp",
            flags=1,
        )
        t.create_expect(exp)
        listed = tool(ns, "-L", "expect")
        assert "dport=50200" in listed and "PERMANENT" in listed and "helper=ftp" in listed, listed
        g = t.get_expect(exp.tuple)
        assert g.master == master and g.tuple.dport == 50200 and g.mask.dport == 0xFFFF and g.mask.sport == 0
        assert g.helper == "ftp" and g.flags & 1 and g.id is not None
        assert t.get_expect(exp.tuple, id=g.id ^ 1) is None
        assert [x.id for x in t.dump_expect()] == [g.id]
        with pytest.raises(NfqError) as e:
            t.create_expect(exp)
        assert "expectation exists" in str(e.value)
        t.update_expect_timeout(exp.tuple, 1000)
        assert t.get_expect(exp.tuple).timeout > 900
        t.delete_expect(exp.tuple, id=g.id)
        assert "dport=50200" not in tool(ns, "-L", "expect")
        with pytest.raises(NfqError) as e:
            t.delete_expect(exp.tuple)
        assert "no such expectation" in str(e.value)
        kinds = [(k, x.tuple.dport) for k, x in ev.run(2, 3.0)]
        assert kinds == [("new", 50200), ("destroy", 50200)]

        # By id and by helper.
        for i, port in enumerate((50210, 50211)):
            m = ftp_master(t, 41000 + i)
            t.create_expect(Expectation(master=m, tuple=CtTuple(ip(A), ip(B), 6, 0, port), timeout=60))
        (x,) = [e for e in t.dump_expect() if e.tuple.dport == 50210]
        t.delete_expect_id(x.id)
        assert [e.tuple.dport for e in t.dump_expect()] == [50211]
        with pytest.raises(NfqError):
            t.delete_expect_id(x.id)
        t.delete_expect_helper("ftp")
        assert t.dump_expect() == [] and "dport=" not in tool(ns, "-L", "expect")

        # A master without a helper: the error says so.
        t.create(A, B, "tcp", 42000, 21, timeout=60, tcp_state=3)
        with pytest.raises(NfqError) as e:
            t.create_expect(Expectation(master=CtTuple(ip(A), ip(B), 6, 42000, 21),
                                        tuple=CtTuple(ip(A), ip(B), 6, 0, 50220), timeout=60, helper="nope"))
        assert "helper" in str(e.value)


def test_dying_unconfirmed_and_kernel_dump_filters(ns):
    with Table(ns.path) as t:
        for i in range(8):
            t.create(A, B, "udp", 3000 + i, 53 if i % 2 else 123, timeout=60, mark=i, zone=4 if i < 2 else None)
        for table, name in ((DYING, "dying"), (UNCONFIRMED, "unconfirmed")):
            got = t.dump(table=table)
            theirs = [line for line in tool(ns, "-L", name).splitlines() if line.strip()]
            assert len(got) == len(theirs)
        sel = t.dump(socket.AF_INET, orig=CtTuple(proto=17, dport=53))
        assert sorted(e.orig.sport for e in sel) == [3001, 3003, 3005, 3007]
        r = t.last_dump_report()
        assert r["kept"] == 4 and r["kernel_tuple"] == t.kernel_has_tuple_filter()
        if r["kernel_tuple"]:
            assert r["received"] == 4
        sel = t.dump(zone=4, reply=CtTuple(src=ip(B), proto=17, sport=123))
        assert [e.orig.sport for e in sel] == [3000]
        with pytest.raises(NfqError) as e:
            t.dump(orig=CtTuple(dport=53))
        assert "no protocol" in str(e.value)


def test_kernel_event_filter_equals_library_filter_and_overflow_resync(ns):
    flt = dict(proto="udp", dport=53, src="10.5.0.0/24", negate=("src",), kinds=EV_NEW | EV_DESTROY)
    with Table(ns.path) as t, Events(ns.path, EV_CONNTRACK) as kern, Events(ns.path, EV_CONNTRACK) as lib:
        assert kern.set_kernel_filter(**flt) > 0
        lib.set_filter(**flt)
        for i in range(12):
            src = A if i % 3 else "10.6.0.1"
            t.create(src, B, "udp" if i % 4 else "tcp", 5000 + i, 53 if i % 2 else 80, timeout=60,
                     tcp_state=None if i % 4 else 3)
        t.flush()
        k = [(kind, e.orig.src, e.orig.sport) for kind, e in kern.run(0, 0.3)]
        l = [(kind, e.orig.src, e.orig.sport) for kind, e in lib.run(0, 0.3)]
        assert k == l and k, (k, l)
        assert {str(s) for _, s, _ in k} == {"10.6.0.1"}
        assert kern.stats()["filtered"] == 0 and lib.stats()["filtered"] == 24 - len(l)
        with pytest.raises(NfqError) as e:
            kern.set_kernel_filter(src="10.0.0.0/8", family=socket.AF_INET6)
        assert "family" in str(e.value)
        kern.set_kernel_filter()

        # Overflow: a tiny buffer, nobody reading; counted, taken once, resync from a dump.
        kern.set_rcvbuf(4096)
        kern.set_stop_on_overflow(True)
        for i in range(300):
            t.create(A, B, "udp", 10000 + i, 53, timeout=60)
        kern.run(0, 2.0)
        assert kern.stats()["overflows"] >= 1
        assert kern.take_overflows() >= 1 and kern.take_overflows() == 0
        kern.set_filter(sport=10005, negate=("sport",))
        view = kern.resync(t)
        assert len(view) == 299 and 10005 not in {e.orig.sport for e in view}
