"""nfq_rs.conntrack: decoding CTA_* bytes (built here as the kernel UAPI lays them out, since
this kernel's NFQUEUE sends no NFQA_CT), Packet integration, and the ctnetlink Table on a
UDP flow in a network namespace."""

from __future__ import annotations

import ipaddress
import pickle
import socket
import struct
import sys

import pytest
from conftest import recv_or_none

import nfq_rs
from nfq_rs import NfqError, Queue
from nfq_rs.conntrack import Conntrack, Counters, CtInfo, CtTuple, Status, Table, ct_info

# --- CTA_* numbers from /usr/include/linux/netfilter/nfnetlink_conntrack.h --------------------

CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO, CTA_HELP = 1, 2, 3, 4, 5
CTA_TIMEOUT, CTA_MARK, CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY, CTA_USE, CTA_ID = 7, 8, 9, 10, 11, 12
CTA_ZONE, CTA_TIMESTAMP, CTA_LABELS = 18, 20, 22
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST, CTA_IP_V6_SRC, CTA_IP_V6_DST = 1, 2, 3, 4
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_PROTO_ICMPV6_ID, CTA_PROTO_ICMPV6_TYPE, CTA_PROTO_ICMPV6_CODE = 7, 8, 9
CTA_PROTOINFO_TCP, CTA_PROTOINFO_SCTP = 1, 3
CTA_PROTOINFO_TCP_STATE, CTA_PROTOINFO_SCTP_STATE = 1, 1
CTA_COUNTERS_PACKETS, CTA_COUNTERS_BYTES = 1, 2
CTA_TIMESTAMP_START, CTA_TIMESTAMP_STOP = 1, 2
CTA_HELP_NAME = 1
NLA_F_NESTED = 0x8000

TCP_CONNTRACK_ESTABLISHED = 3
SCTP_CONNTRACK_COOKIE_ECHOED = 3


def attr(t: int, payload: bytes) -> bytes:
    """struct nlattr {u16 len; u16 type} in host order, the payload, padding to 4 bytes."""
    b = struct.pack("=HH", 4 + len(payload), t) + payload
    return b + b"\0" * (-len(b) % 4)


def nest(t: int, *parts: bytes) -> bytes:
    return attr(t | NLA_F_NESTED, b"".join(parts))


def u8(t, v):
    return attr(t, bytes([v]))


def be16(t, v):
    return attr(t, struct.pack(">H", v))


def be32(t, v):
    return attr(t, struct.pack(">I", v))


def be64(t, v):
    return attr(t, struct.pack(">Q", v))


def tuple4(t, src, dst, proto, sport, dport):
    return nest(
        t,
        nest(CTA_TUPLE_IP, attr(CTA_IP_V4_SRC, socket.inet_aton(src)), attr(CTA_IP_V4_DST, socket.inet_aton(dst))),
        nest(CTA_TUPLE_PROTO, u8(CTA_PROTO_NUM, proto), be16(CTA_PROTO_SRC_PORT, sport), be16(CTA_PROTO_DST_PORT, dport)),
    )


def label_bytes(*bits) -> bytes:
    """16 label bytes as the kernel stores them: four 32-bit words in host order."""
    words = [0, 0, 0, 0]
    for b in bits:
        words[b // 32] |= 1 << (b % 32)
    return b"".join(w.to_bytes(4, sys.byteorder) for w in words)


STATUS = int(Status.SEEN_REPLY | Status.ASSURED | Status.CONFIRMED)


def tcp_entry() -> bytes:
    return b"".join(
        [
            tuple4(CTA_TUPLE_ORIG, "10.0.0.1", "10.0.0.2", 6, 40000, 80),
            tuple4(CTA_TUPLE_REPLY, "10.0.0.2", "10.0.0.1", 6, 80, 40000),
            be32(CTA_STATUS, STATUS),
            nest(CTA_PROTOINFO, nest(CTA_PROTOINFO_TCP, u8(CTA_PROTOINFO_TCP_STATE, TCP_CONNTRACK_ESTABLISHED))),
            be32(CTA_TIMEOUT, 431999),
            be32(CTA_MARK, 0xBEEF),
            nest(CTA_COUNTERS_ORIG, be64(CTA_COUNTERS_PACKETS, 5), be64(CTA_COUNTERS_BYTES, 300)),
            be32(CTA_USE, 1),
            be32(CTA_ID, 0x12345678),
            be16(CTA_ZONE, 3),
            nest(CTA_HELP, attr(CTA_HELP_NAME, b"ftp\0")),
            attr(CTA_LABELS, label_bytes(5, 100)),
            attr(99, b"\1\2\3"),  # unknown attribute: skipped
        ]
    )


# --- decoding ------------------------------------------------------------------------------


def test_decode_tcp_entry():
    ct = Conntrack.decode(tcp_entry(), socket.AF_INET)
    assert ct.family == socket.AF_INET
    o, r = ct.orig, ct.reply
    assert o.src == ipaddress.ip_address("10.0.0.1") and o.dst == ipaddress.ip_address("10.0.0.2")
    assert isinstance(o.src, ipaddress.IPv4Address)
    assert (o.proto, o.sport, o.dport) == (6, 40000, 80)
    assert o.proto_name == "tcp"
    assert (o.icmp_type, o.icmp_code, o.icmp_id, o.zone) == (None, None, None, None)
    assert (str(r.src), str(r.dst), r.sport, r.dport) == ("10.0.0.2", "10.0.0.1", 80, 40000)
    assert ct.master is None

    assert ct.status == STATUS and isinstance(ct.status, Status)
    assert ct.seen_reply and ct.assured and ct.confirmed
    assert not ct.expected and not ct.dying and not ct.src_nat and not ct.dst_nat
    assert ct.mark == 0xBEEF
    assert ct.zone == 3
    assert ct.id == 0x12345678
    assert ct.use == 1
    assert ct.timeout == 431999
    assert ct.secmark is None
    assert ct.proto == 6 and ct.proto_name == "tcp"
    assert ct.proto_state == TCP_CONNTRACK_ESTABLISHED
    assert ct.state == "ESTABLISHED"
    assert ct.counters_orig == Counters(5, 300)
    assert ct.counters_orig.packets == 5 and ct.counters_orig.bytes == 300
    assert ct.counters_reply is None
    assert ct.timestamp is None
    assert ct.labels == label_bytes(5, 100)
    assert ct.has_label(5) and ct.has_label(100) and not ct.has_label(6)
    assert ct.label_bits == {5, 100}
    assert ct.helper == "ftp"
    assert ct.secctx is None
    assert ct.raw == tcp_entry()
    assert str(ct).startswith("tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80")
    assert "[ASSURED]" in str(ct) and "mark=48879" in str(ct)

    # Family from the addresses when not given; a plain value: equal, hashable, picklable.
    again = Conntrack.decode(bytearray(tcp_entry()))
    assert again == ct and hash(again) == hash(ct)
    assert pickle.loads(pickle.dumps(ct)) == ct


def test_decode_ipv6_icmp_counters_timestamp_sctp():
    src, dst = ipaddress.ip_address("2001:db8::1"), ipaddress.ip_address("2001:db8::2")
    orig = nest(
        CTA_TUPLE_ORIG,
        nest(CTA_TUPLE_IP, attr(CTA_IP_V6_SRC, src.packed), attr(CTA_IP_V6_DST, dst.packed)),
        nest(
            CTA_TUPLE_PROTO,
            u8(CTA_PROTO_NUM, 58),
            be16(CTA_PROTO_ICMPV6_ID, 77),
            u8(CTA_PROTO_ICMPV6_TYPE, 128),
            u8(CTA_PROTO_ICMPV6_CODE, 0),
        ),
    )
    data = b"".join(
        [
            orig,
            nest(CTA_COUNTERS_ORIG, be64(CTA_COUNTERS_PACKETS, 1), be64(CTA_COUNTERS_BYTES, 104)),
            nest(CTA_COUNTERS_REPLY, be64(CTA_COUNTERS_PACKETS, 2), be64(CTA_COUNTERS_BYTES, 1 << 40)),
            nest(CTA_TIMESTAMP, be64(CTA_TIMESTAMP_START, 1_700_000_000_000_000_000)),
        ]
    )
    ct = Conntrack.decode(data)
    assert ct.family == socket.AF_INET6
    o = ct.orig
    assert (o.src, o.dst) == (src, dst) and isinstance(o.src, ipaddress.IPv6Address)
    assert (o.proto, o.icmp_type, o.icmp_code, o.icmp_id) == (58, 128, 0, 77)
    assert (o.sport, o.dport) == (None, None)
    assert ct.reply is None and ct.status is None and ct.mark is None and ct.state is None
    assert not ct.assured
    assert ct.counters_orig == (1, 104) and ct.counters_reply == (2, 1 << 40)
    assert ct.timestamp == (1_700_000_000_000_000_000, None)
    assert ct.labels is None and not ct.has_label(0) and ct.label_bits == frozenset()

    sctp = Conntrack.decode(
        tuple4(CTA_TUPLE_ORIG, "10.1.1.1", "10.1.1.2", 132, 5000, 6000)
        + nest(CTA_PROTOINFO, nest(CTA_PROTOINFO_SCTP, u8(CTA_PROTOINFO_SCTP_STATE, SCTP_CONNTRACK_COOKIE_ECHOED)))
    )
    assert sctp.proto == 132 and sctp.state == "COOKIE_ECHOED"


def test_decode_empty_is_an_empty_entry():
    ct = Conntrack.decode(b"")
    assert ct.orig is None and ct.reply is None and ct.status is None and ct.raw == b""
    assert ct.counters_orig is None and ct.helper is None


@pytest.mark.parametrize(
    "data, words",
    [
        (struct.pack("=HH", 2, 1), "bad nlattr length"),  # nla_len below the header size
        (struct.pack("=HH", 200, CTA_STATUS) + b"\0" * 4, "bad nlattr length"),  # runs past the end
        (attr(CTA_STATUS, b"\0\0"), "CTA_STATUS"),  # u32 of 2 bytes
        (nest(CTA_TUPLE_ORIG, nest(CTA_TUPLE_IP, attr(CTA_IP_V4_SRC, b"\1\2\3"))), "CTA_IP_V4_SRC"),
        (nest(CTA_TUPLE_ORIG, nest(CTA_TUPLE_PROTO, attr(CTA_PROTO_SRC_PORT, b"\1"))), "CTA_PROTO_SRC_PORT"),
        (nest(CTA_COUNTERS_ORIG, attr(CTA_COUNTERS_PACKETS, b"\0" * 3)), ""),
    ],
)
def test_malformed_bytes_raise_nfqerror(data, words):
    with pytest.raises(NfqError) as ei:
        Conntrack.decode(data)
    e = ei.value
    assert e.code == nfq_rs.E_PROTO and e.name == "NFQ_RS_E_PROTO"
    assert "nfq_rs_ct_entry_decode" in str(e) and words in str(e)


def test_every_truncation_decodes_or_raises_cleanly():
    data = tcp_entry()
    for n in range(len(data)):
        try:
            ct = Conntrack.decode(data[:n])
        except NfqError as e:
            assert e.code == nfq_rs.E_PROTO
        else:
            assert isinstance(ct, Conntrack)
    with pytest.raises(TypeError):
        Conntrack.decode("not bytes")


# --- ct_info, status, keys -------------------------------------------------------------------


def test_ct_info_matches_the_kernel_enum():
    # enum ip_conntrack_info in linux/netfilter/nf_conntrack_common.h
    assert [int(CtInfo[n]) for n in ("ESTABLISHED", "RELATED", "NEW", "IS_REPLY")] == [0, 1, 2, 3]
    assert CtInfo.ESTABLISHED_REPLY == 3 and CtInfo.RELATED_REPLY == 4 and CtInfo.NEW_REPLY == 5
    assert CtInfo(3) is CtInfo.ESTABLISHED_REPLY and CtInfo.IS_REPLY is CtInfo.ESTABLISHED_REPLY
    assert CtInfo.RELATED_REPLY.is_reply and not CtInfo.NEW.is_reply
    assert CtInfo.RELATED_REPLY.state == "RELATED" and CtInfo.NEW.state == "NEW"
    assert ct_info(None) is None and ct_info(2) is CtInfo.NEW and ct_info(9) == 9
    assert nfq_rs.CtInfo is CtInfo and nfq_rs.Conntrack is Conntrack
    assert Status.ASSURED == 4 and Status.HW_OFFLOAD == 1 << 15


def test_key_entries():
    k = Conntrack.key("10.0.0.1", "10.0.0.2", "udp", 1000, 53, zone=4)
    assert k.family == socket.AF_INET
    assert k.orig == CtTuple(ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("10.0.0.2"), 17, 1000, 53)
    assert k.zone == 4 and k.reply is None and k.status is None
    assert pickle.loads(pickle.dumps(k)) == k
    i = Conntrack.key("::1", "::2", "icmpv6", icmp_type=128, icmp_id=7)
    assert i.family == socket.AF_INET6
    assert (i.orig.proto, i.orig.icmp_type, i.orig.icmp_code, i.orig.icmp_id) == (58, 128, 0, 7)
    assert i.orig.sport is None
    with pytest.raises(ValueError):
        Conntrack.key("10.0.0.1", "::1", "udp", 1, 2)
    with pytest.raises(ValueError):
        Conntrack.key("10.0.0.1", "10.0.0.2", "no-such-proto", 1, 2)


# --- on a queue (no NFQA_CT on this kernel) ----------------------------------------------------

PORT = 9999


def test_packet_conntrack_absent_and_labels_verdict(ns):
    ns.iptables(f"-A OUTPUT -p udp --dport {PORT} -j NFQUEUE --queue-num 0")
    rx, tx = ns.udp_pair(PORT)
    seen = []
    kept = []

    def cb(p):
        seen.append((p.ct, p.conntrack, p.ct_info))
        if len(seen) == 1:
            with pytest.raises(ValueError):
                p.accept(labels=(b"\0" * 15, b"\xff" * 16))
            p.accept(labels=(label_bytes(1), label_bytes(1)))
        else:
            kept.append(p.retain())

    with Queue(0, netns=ns.path) as q:
        tx.sendto(b"one", ("127.0.0.1", PORT))
        q.dispatch(cb, 2)
        assert recv_or_none(rx) == b"one"
        tx.sendto(b"two", ("127.0.0.1", PORT))
        q.dispatch(cb, 2)
        (p,) = kept
        assert p.conntrack is None  # read from the copy after the callback
        with pytest.raises(ValueError, match="cannot be combined"):
            p.accept(mark=1, labels=(label_bytes(2), label_bytes(2)))
        p.accept(labels=(label_bytes(2), label_bytes(2)))  # nfq_rs_verdict_ct_labels
        assert recv_or_none(rx) == b"two"
        assert q.stats()["verdict_errors"] == 0
    assert seen == [(None, None, None), (None, None, None)]


# --- the table (ctnetlink) ---------------------------------------------------------------------


def test_table_dump_get_update_delete_flush(ns):
    # Conntrack only tracks a namespace's traffic once a rule there needs it.
    ns.iptables("-A OUTPUT -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT")
    rx, tx = ns.udp_pair(PORT)
    tx.bind(("127.0.0.1", 40001))
    tx.sendto(b"ping", ("127.0.0.1", PORT))
    assert rx.recvfrom(10) == (b"ping", ("127.0.0.1", 40001))
    rx.sendto(b"pong", ("127.0.0.1", 40001))
    assert tx.recv(10) == b"pong"

    key = Conntrack.key("127.0.0.1", "127.0.0.1", "udp", 40001, PORT)
    with Table(ns.path) as t:
        assert t.count()[0] == 1
        (e,) = [x for x in t.dump(socket.AF_INET) if x.orig.dport == PORT]
        assert e.family == socket.AF_INET and e.proto == 17 and e.proto_name == "udp"
        assert (str(e.orig.src), e.orig.sport, e.orig.dport) == ("127.0.0.1", 40001, PORT)
        assert (e.reply.sport, e.reply.dport) == (PORT, 40001)
        assert e.seen_reply and e.confirmed and not e.assured
        assert e.id is not None and 0 < e.timeout <= 180 and e.mark == 0
        assert e.state is None  # UDP has no protocol state
        assert t.dump(socket.AF_INET6) == []
        assert t.dump(proto=6) == []

        g = t.get(key)
        assert g is not None and g.id == e.id and g.orig == e.orig
        t.update(key, mark=0x42)
        assert t.get(key).mark == 0x42
        assert [x.id for x in t.dump(mark=0x42)] == [e.id]
        t.update(e, mark=0x100, mark_mask=0xF00)  # only the masked bits change
        assert t.get(key).mark == 0x142
        t.update(e, timeout=7)
        assert t.get(key).timeout <= 7
        with pytest.raises(ValueError):
            t.update(e)

        t.delete(e)
        assert t.get(key) is None
        with pytest.raises(NfqError) as ei:
            t.delete(e)
        assert ei.value.code == nfq_rs.E_NOENT
        with pytest.raises(NfqError) as ei:
            t.update(key, mark=1)
        assert ei.value.code == nfq_rs.E_NOENT

        tx.sendto(b"again", ("127.0.0.1", PORT))
        assert rx.recv(10) == b"again"
        assert len(t.dump()) == 1
        t.flush()
        assert t.dump() == []
        with pytest.raises(TypeError):
            t.get(("127.0.0.1", 1))
    assert t.closed
    with pytest.raises(RuntimeError):
        t.dump()


def test_table_open_bad_netns():
    with pytest.raises(NfqError):
        Table("/nonexistent/netns")
