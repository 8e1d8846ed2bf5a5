#!/usr/bin/env python3
"""Rewrites the payload of IPv4/UDP packets: replaces FROM with TO (any lengths), fixes the IP
length and header checksum, and zeroes the UDP checksum (0 means "none" for UDP over IPv4).

    iptables -I OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0
    python3 rewrite_payload.py --queue 0 --from hello --to HOWDY
"""
import argparse
import struct

import nfq_rs


def ipv4_checksum(header: bytes) -> int:
    s = sum(struct.unpack(f">{len(header) // 2}H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s ^ 0xFFFF


def rewrite_udp(packet: bytes, old: bytes, new: bytes):
    """The packet with its UDP payload rewritten, or None if it is not IPv4/UDP or has no match."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 17:
        return None
    ihl = (packet[0] & 0x0F) * 4
    data = packet[ihl + 8 :]
    if old not in data:
        return None
    data = data.replace(old, new)
    ip = bytearray(packet[:ihl])
    udp = bytearray(packet[ihl : ihl + 8])
    struct.pack_into(">H", ip, 2, ihl + 8 + len(data))
    struct.pack_into(">H", ip, 10, 0)
    struct.pack_into(">H", ip, 10, ipv4_checksum(bytes(ip)))
    struct.pack_into(">HH", udp, 4, 8 + len(data), 0)
    return bytes(ip) + bytes(udp) + data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--netns")
    ap.add_argument("--from", dest="old", default="hello")
    ap.add_argument("--to", dest="new", default="HOWDY")
    ap.add_argument("--count", type=int, default=0, help="stop after N packets (0: never)")
    args = ap.parse_args()
    old, new = args.old.encode(), args.new.encode()
    n = 0

    def on_packet(pkt):
        nonlocal n
        changed = rewrite_udp(pkt.payload, old, new) if pkt.payload else None
        if changed is None:
            pkt.accept()
        else:
            pkt.accept(payload=changed)
            print(f"#{pkt.id}: rewrote {len(pkt.payload)} -> {len(changed)} bytes", flush=True)
        n += 1
        if args.count and n >= args.count:
            q.stop()

    with nfq_rs.Queue(args.queue, netns=args.netns) as q:
        try:
            q.run(on_packet)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
