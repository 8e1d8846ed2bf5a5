#!/usr/bin/env python3
"""Writes the seed corpus of the compat_nflog fuzz target into fuzz/corpus/compat_nflog/.

Datagrams are built the way the kernel's nfnetlink_log builds them (__build_packet_message:
attribute order and sizes; several messages of a group in one datagram, NLM_F_MULTI on each
and an NLMSG_DONE at the end), around real IPv4/IPv6 UDP and ICMP packets; a few are
deliberately malformed. Run it again after changing it; the files are committed."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "compat_nflog")


def attr(t, data):
    a = struct.pack("=HH", 4 + len(data), t) + data
    return a + b"\0" * (-len(a) % 4)


def be32(t, v):
    return attr(t, struct.pack("!I", v))


def be16(t, v):
    return attr(t, struct.pack("!H", v))


def ipv4_udp(data, dport=40100):
    udp = struct.pack("!HHHH", 5555, dport, 8 + len(data), 0) + data
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 7, 0x4000, 64, 17, 0,
                       b"\x7f\0\0\x01", b"\x7f\0\0\x01") + udp


def ipv4_icmp():
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"nflog"
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 9, 0, 64, 1, 0,
                       b"\x7f\0\0\x01", b"\x7f\0\0\x01") + icmp


def ipv6_udp(data):
    udp = struct.pack("!HHHH", 5555, 40100, 8 + len(data), 0) + data
    return struct.pack("!IHBB16s16s", 0x60000000, len(udp), 17, 64, b"\0" * 15 + b"\1", b"\0" * 15 + b"\1") + udp


def log_msg(group, family=2, hook=3, prefix=b"lc-one", payload=None, indev=None, outdev=1, mark=None,
            uid=None, seq=None, seq_global=None, hw=False, ts=False, ct=None, multi=False, unpadded=False):
    a = attr(1, struct.pack("!HBB", 0x0800 if family == 2 else 0x86DD, hook, 0))
    if prefix is not None:
        a += attr(10, prefix + b"\0")
    if indev is not None:
        a += be32(4, indev)
    if outdev is not None:
        a += be32(5, outdev)
    if mark is not None:
        a += be32(2, mark)
    if hw:
        a += attr(8, struct.pack("!HH", 6, 0) + b"\x02\0\0\0\0\x01\0\0")
        a += be16(15, 1)
        a += be16(17, 14)
        a += attr(16, b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00")
    if ts:
        a += attr(3, struct.pack("!QQ", 1700000000, 123456))
    if uid is not None:
        a += be32(11, uid) + be32(14, uid)
    if seq is not None:
        a += be32(12, seq)
    if seq_global is not None:
        a += be32(13, seq_global)
    if ct is not None:
        a += attr(18 | 0x8000, ct) + be32(19, 2)
    if payload is not None:
        p = attr(9, payload)
        if unpadded:
            p = p[:4 + len(payload)]
        a += p
    body = struct.pack("!BBH", family, 0, group) + a
    flags = 2 if multi else 0
    return struct.pack("=IHHII", 16 + len(body), 0x400, flags, 0, 0) + body


def done():
    return struct.pack("=IHHII", 20, 3, 2, 0, 0) + struct.pack("!BBH", 0, 0, 0)


def pad(m):
    return m + b"\0" * (-len(m) % 4)


def batch(msgs):
    return b"".join(pad(m) for m in msgs) + done()


def main():
    os.makedirs(ROOT, exist_ok=True)
    ct = attr(12, struct.pack("!I", 0xABCDEF01)) + attr(3, struct.pack("!I", 0x7))
    seeds = {
        "one_udp4": log_msg(31, payload=ipv4_udp(b"one"), uid=0, unpadded=True),
        "meta_mark": log_msg(32, prefix=b"lc-mark", mark=42, uid=0),
        "ping_in_hw_ts": log_msg(33, hook=1, prefix=b"ping-in", indev=1, outdev=None, hw=True, ts=True,
                                 payload=ipv4_icmp()[:64]),
        "udp6_seq_ct": log_msg(31, family=10, payload=ipv6_udp(b"v6"), uid=1000, seq=3, seq_global=9, ct=ct),
        "batch_of_four": batch([log_msg(31, prefix=b"lc-batch", payload=ipv4_udp(b"batch-%d" % i, 40101),
                                        uid=0, seq=i, seq_global=i + 1, multi=True) for i in range(4)]),
        "batch_two_groups": batch([log_msg(31, multi=True, payload=ipv4_udp(b"a")),
                                   log_msg(32, multi=True, mark=1)]),
        "done_only": done(),
        "config_type": struct.pack("=IHHII", 20, 0x401, 0, 0, 0) + b"\0\0\0\x1f",
        "ack": struct.pack("=IHHIIi", 36, 2, 0x100, 1, 0, 0) + struct.pack("=IHHII", 16, 0x401, 5, 1, 0),
        "cut_mid_batch": batch([log_msg(31, payload=ipv4_udp(b"x" * 40), multi=True)] * 2)[:150],
    }
    m = bytearray(log_msg(31, prefix=b"abc"))
    # the prefix attribute "abc\0" at offset 28: drop its NUL by shortening nla_len to 7
    struct.pack_into("=H", m, 28, 7)
    seeds["prefix_no_nul"] = bytes(m)
    m = bytearray(log_msg(31, payload=ipv4_udp(b"zz")))
    struct.pack_into("=H", m, len(m) - 4 - len(ipv4_udp(b"zz")) - 2, 0xFFF0)
    seeds["overlong_attr"] = bytes(m)
    m = log_msg(33, hw=True, indev=1, outdev=None)
    seeds["hwaddr_len_9"] = m.replace(struct.pack("!HH", 6, 0) + b"\x02", struct.pack("!HH", 9, 0) + b"\x02", 1)
    sm = bytearray(log_msg(31, mark=5))
    i = sm.find(struct.pack("=HH", 8, 2))
    struct.pack_into("=H", sm, i, 6)
    seeds["short_mark"] = bytes(sm)
    for name, data in seeds.items():
        with open(os.path.join(ROOT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
