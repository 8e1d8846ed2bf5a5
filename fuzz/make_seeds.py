#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Packet messages are built the way the kernel's nfqnl_build_packet_message builds them
(attribute order and sizes), around real IPv4/IPv6 UDP, TCP and ICMP packets; a few are
deliberately malformed (cut short, zero-length or overlong attributes, a bad VLAN nest).
Run it again after changing it; the files are committed."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(proto, l4, src=b"\x7f\0\0\x01", dst=b"\x7f\0\0\x01", opts=b""):
    ihl = (20 + len(opts)) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(opts) + len(l4), 1, 0x4000, 64, proto, 0, src, dst) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def udp(sport, dport, data, src=b"\x7f\0\0\x01", dst=b"\x7f\0\0\x01"):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(u))
    return u[:6] + struct.pack("!H", csum(pseudo + u) or 0xFFFF) + u[8:]


def tcp(sport, dport, data, flags=0x18, opts=b""):
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, doff << 4, flags, 65535, 0, 0) + opts + data


def ipv6(nxt, l4, ext=b""):
    src = b"\0" * 15 + b"\x01"
    return struct.pack("!IHBB16s16s", 0x60000000, len(ext) + len(l4), nxt, 64, src, src) + ext + l4


def attr(t, data):
    a = struct.pack("=HH", 4 + len(data), t) + data
    return a + b"\0" * ((4 - len(a) % 4) % 4)


def nest(t, inner):
    return attr(t | 0x8000, inner)


def nlmsg(ty, payload, flags=0, seq=0, pid=0):
    return struct.pack("=IHHII", 16 + len(payload), ty, flags, seq, pid) + payload


def be32(v):
    return struct.pack("!I", v)


def packet_msg(queue, pid, payload, family=2, hook=3, proto=0x0800, extra=(), ts=False, hw=False):
    a = attr(1, struct.pack("!IHB", pid, proto, hook))  # NFQA_PACKET_HDR (7 bytes)
    a += attr(6, be32(1))  # NFQA_IFINDEX_OUTDEV (lo)
    for t, d in extra:
        a += attr(t, d)
    if hw:
        a += attr(9, struct.pack("!HH8s", 6, 0, b"\x02\0\0\0\0\x01\0\0"))
    if ts:
        a += attr(4, struct.pack("!QQ", 1_700_000_000, 123456))
    a += attr(10, payload)  # NFQA_PAYLOAD last, as the kernel does
    return nlmsg(0x300, struct.pack("!BBH", family, 0, queue) + a)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


udp4 = ipv4(17, udp(40000, 9000, b"hello nfq-rs"))
tcp4 = ipv4(6, tcp(40001, 80, b"GET / HTTP/1.0\r\n\r\n", opts=b"\x02\x04\x05\xb4"), opts=b"\x01\x01\x01\x00")
icmp4 = ipv4(1, struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping" * 4)
udp6 = ipv6(17, struct.pack("!HHHH", 40000, 9000, 12, 0) + b"six!")
tcp6_ext = ipv6(0, tcp(1, 2, b"x"), ext=bytes([6, 0]) + b"\x01\x04\0\0\0\0")  # hop-by-hop then TCP
frag6 = ipv6(44, udp(5, 6, b"frag"), ext=bytes([17, 0, 0, 0, 0, 0, 0, 9]))
l3 = {"udp4": udp4, "tcp4": tcp4, "icmp4": icmp4, "udp6": udp6, "tcp6ext": tcp6_ext, "frag6": frag6}

msgs = {
    "udp4": packet_msg(0, 1, udp4),
    "tcp4_mark_ts": packet_msg(7, 42, tcp4, hook=1, extra=[(3, be32(0x1234)), (5, be32(1)), (21, be32(6))], ts=True, hw=True),
    "icmp4_capped": packet_msg(1, 3, icmp4[:20], extra=[(13, be32(len(icmp4))), (14, be32(1))]),
    "udp6": packet_msg(2, 9, udp6, family=10, proto=0x86DD, extra=[(16, be32(1000)), (17, be32(100))]),
    "ct": packet_msg(3, 5, udp4, extra=[(11, nest(1, nest(1, attr(1, b"\x7f\0\0\x01") + attr(2, b"\x7f\0\0\x01")) + nest(2, attr(1, bytes([17])))) + attr(8, be32(7))), (12, be32(2))]),
    "bridge_vlan": packet_msg(4, 6, udp4, family=7, extra=[(19, attr(1, b"\x81\0") + attr(2, b"\0\x2a")), (20, b"\x02" * 14)]),
    "secctx": packet_msg(5, 8, udp4, extra=[(18, b"system_u:object_r:unlabeled_t:s0\0")]),
}
two = msgs["udp4"] + msgs["udp6"]
bad = {
    "cut_mid_payload": msgs["udp4"][:40],
    "cut_header": msgs["udp4"][:10],
    "zero_attr_len": msgs["udp4"][:20] + b"\0\0\x01\0" + msgs["udp4"][24:],
    "overlong_attr": msgs["udp4"][:20] + b"\xff\x7f\x01\0" + msgs["udp4"][24:],
    "short_mark": packet_msg(0, 1, udp4, extra=[(3, b"\1\2")]),
    "vlan_without_tci": packet_msg(0, 1, udp4, extra=[(19, attr(1, b"\x81\0"))]),
    "no_packet_hdr": nlmsg(0x300, b"\2\0\0\0" + attr(3, be32(1))),
    "nlmsg_len_past_end": struct.pack("=I", 4096) + msgs["udp4"][4:],
}
req = nlmsg(0x302, b"\0\0\0\x03" + attr(1, b"\1\0\0\0"), flags=5, seq=9, pid=1234)
ack = nlmsg(2, struct.pack("=i", 0) + req[:16], flags=0x100, seq=9, pid=1234)
err_ext = nlmsg(2, struct.pack("=i", -1) + req[:16] + attr(1, b"queue is bound by another socket\0"), flags=0x300, seq=9)
err_full = nlmsg(2, struct.pack("=i", -2) + req, seq=9)
verdict_err = nlmsg(2, struct.pack("=i", -2) + nlmsg(0x301, b"\0\0\0\0" + attr(2, be32(1) + be32(77))), seq=0)

for n, m in {**msgs, **bad, "two_messages": two}.items():
    for t in ("queue_packet", "compat_handle_packet", "compat_nlmsg", "netlink_msgs"):
        write(t, n, m)
for n, m in {"ack": ack, "err_ext": err_ext, "err_full": err_full, "verdict_err": verdict_err,
             "ack_then_packet": ack + msgs["udp4"], "done": nlmsg(3, struct.pack("=i", 0), flags=2)}.items():
    write("netlink_msgs", n, m)
    write("compat_handle_packet", n, m)

targets = {"udp4": 17, "tcp4": 6, "icmp4": 1, "udp6": 17, "tcp6ext": 6, "frag6": 17}
for n, p in l3.items():
    write("packet_views", n, bytes([targets[n]]) + p)
    fam = 1 if p[0] >> 4 == 6 else 0
    # [family selector, extra room, packet length, packet..., ops...]: set the transport header,
    # read the headers, mangle the payload longer and shorter, fix the checksums.
    ops = bytes([4, 5, 0, 0, 0, 0, 5, 6, 0, 0, 0, 0, 19, 0, 0, 0, 10, 0, 2, 0, 3, 8, 11, 0, 1, 0, 2, 0, 14, 0, 0, 0])
    for t in ("pktbuf_mangle", "compat_pktb"):
        write(t, n, bytes([fam, 32, len(p)]) + p + ops)
    ops_c = bytes([11, 0, 0, 0, 12, 0, 6, 0, 13, 0, 0, 0, 14, 0, 0, 0, 7, 0, 1, 0, 3, 8, 8, 0, 1, 0, 2, 0, 0x84, 5, 1, 0, 4])
    write("compat_pktb", n + "_helpers", bytes([fam, 32, len(p)]) + p + ops_c)
eth = b"\x02" * 12 + b"\x00\x08" + udp4  # host-order EtherType, as upstream checks it
write("pktbuf_mangle", "bridge", bytes([2, 16, len(eth)]) + eth + bytes([7, 0, 14, 0, 0, 1, 4]))
write("compat_pktb", "bridge", bytes([6, 16, len(eth)]) + eth + bytes([16, 4, 0, 0, 0, 1, 4]))

# conntrack: [family byte] + CTA_* attributes (the NFQA_CT nest or a ctnetlink payload), and
# whole messages (a ctnetlink NEW event, an NFQUEUE packet with NFQA_CT).
def tuple4(src, dst, proto, sp, dp):
    return nest(1, attr(1, src) + attr(2, dst)) + nest(2, attr(1, bytes([proto])) + attr(2, struct.pack("!H", sp)) + attr(3, struct.pack("!H", dp)))


def tuple6(proto, sp, dp):
    a = b"\0" * 15 + b"\1"
    return nest(1, attr(3, a) + attr(4, a)) + nest(2, attr(1, bytes([proto])) + attr(2, struct.pack("!H", sp)) + attr(3, struct.pack("!H", dp)))


lo = b"\x7f\0\0\x01"
tcp_conn = (nest(1, tuple4(lo, lo, 6, 40000, 80)) + nest(2, tuple4(lo, lo, 6, 80, 40000)) + attr(3, be32(0x18e))
            + nest(4, nest(1, attr(1, b"\x03") + attr(2, b"\x07") + attr(3, b"\x07") + attr(4, b"\x23\0") + attr(5, b"\x23\0")))
            + attr(7, be32(431999)) + attr(8, be32(42)) + nest(9, attr(1, struct.pack("!Q", 3)) + attr(2, struct.pack("!Q", 180)))
            + nest(10, attr(1, struct.pack("!Q", 2)) + attr(2, struct.pack("!Q", 120))) + attr(11, be32(1)) + attr(12, be32(0xabcdef))
            + attr(18, b"\0\x05") + attr(22, b"\x01" + b"\0" * 15) + nest(20, attr(1, struct.pack("!Q", 1)) + attr(2, struct.pack("!Q", 0))))
udp6_conn = nest(1, tuple6(17, 5353, 53)) + attr(3, be32(0x8)) + attr(7, be32(30))
icmp_conn = nest(1, nest(1, attr(1, lo) + attr(2, lo)) + nest(2, attr(1, b"\x01") + attr(4, b"\0\x07") + attr(5, b"\x08") + attr(6, b"\0")))
expect_ftp = (nest(1, tuple4(lo, lo, 6, 40000, 21)) + nest(2, tuple4(lo, lo, 6, 0, 50000)) + nest(3, tuple4(b"\xff" * 4, b"\xff" * 4, 6, 0, 0xffff))
              + attr(4, be32(300)) + attr(5, be32(7)) + attr(6, b"ftp\0") + attr(8, be32(0)) + attr(10, be32(0)))
for n, (fam, a) in {"tcp4": (2, tcp_conn), "udp6": (10, udp6_conn), "icmp4": (2, icmp_conn), "expect_ftp": (2, expect_ftp),
                    "tcp4_cut": (2, tcp_conn[:60]), "nest_in_nest": (2, nest(1, nest(1, nest(1, b""))))}.items():
    write("conntrack", n, bytes([fam]) + a)
event = nlmsg(0x100, b"\2\0\0\0" + tcp_conn, flags=0x600)
write("conntrack", "event_new", event)
write("conntrack", "event_destroy", nlmsg(0x102, b"\2\0\0\0" + tcp_conn))
write("conntrack", "exp_event", nlmsg(0x200, b"\2\0\0\0" + expect_ftp, flags=0x600))
write("conntrack", "nfqueue_ct", packet_msg(3, 5, udp4, extra=[(11, tcp_conn), (12, be32(2)), (15, expect_ftp)]))

# nflog_packet: NFULNL_MSG_PACKET messages built the way the kernel's __build_packet_message
# does (attribute order and sizes); datagrams with several messages end with NLMSG_DONE.
def log_msg(group, payload=None, family=2, hook=3, proto=0x0800, prefix=b"", extra=(), multi=False):
    a = attr(1, struct.pack("!HBB", proto, hook, 0))  # NFULA_PACKET_HDR (4 bytes)
    if prefix is not None:
        a += attr(10, prefix + b"\0")  # NFULA_PREFIX, NUL-terminated
    for t, d in extra:
        a += attr(t, d)
    if payload is not None:
        a += attr(9, payload)  # NFULA_PAYLOAD last
    return nlmsg(0x400, struct.pack("!BBH", family, 0, group) + a, flags=2 if multi else 0)


log_in = [(4, be32(1)), (2, be32(0x2a)), (8, struct.pack("!HH8s", 6, 0, b"\0" * 8)), (15, b"\x03\x04"),
          (17, b"\0\x0e"), (16, b"\0" * 12 + b"\x08\x00"), (3, struct.pack("!QQ", 1_700_000_000, 250000)),
          (12, be32(7)), (13, be32(99))]
log_out = [(5, be32(1)), (2, be32(0x2a)), (11, be32(0)), (14, be32(0)), (12, be32(8))]
log_msgs = {
    "out_udp4": log_msg(41, udp4, prefix=b"lt-out", extra=log_out),
    "in_udp4": log_msg(41, udp4, hook=1, prefix=b"lt-in", extra=log_in),
    "meta_only": log_msg(7, None, prefix=b"meta", extra=[(5, be32(2))]),
    "no_prefix_udp6": log_msg(9, udp6, family=10, proto=0x86DD, prefix=None, extra=[(5, be32(1))]),
    "bridge_vlan_l2": log_msg(5, udp4, family=7, hook=0, prefix=b"br", extra=[(6, be32(3)), (7, be32(4)),
                              (20, attr(1, b"\x81\0") + attr(2, b"\0\x2a")), (21, b"\x02" * 14)]),
    "ct": log_msg(3, udp4, prefix=b"ct", extra=[(18, tcp_conn), (19, be32(2))]),
}
multi = b"".join(log_msg(42, udp4, prefix=b"lt-batch", extra=[(5, be32(1))], multi=True) for _ in range(3))
multi += nlmsg(3, struct.pack("=i", 0), flags=2)
log_bad = {
    "prefix_without_nul": log_msg(1, udp4, prefix=None, extra=[(10, b"abc")]),
    "short_hdr": nlmsg(0x400, b"\2\0\0\1" + attr(1, b"\x08\0")),
    "no_hdr": nlmsg(0x400, b"\2\0\0\1" + attr(10, b"x\0")),
    "short_hwaddr": log_msg(1, udp4, extra=[(8, b"\0\6")]),
    "vlan_without_tci": log_msg(1, udp4, extra=[(20, attr(1, b"\x81\0"))]),
    "cut_mid_payload": log_msgs["out_udp4"][:50],
    "queue_type": packet_msg(0, 1, udp4),
}
for n, m in {**log_msgs, **log_bad, "three_and_done": multi}.items():
    write("nflog_packet", n, m)
print("seeds written under", ROOT)
