#!/usr/bin/env python3
"""Prints one line per packet logged to an NFLOG group.

    iptables -A INPUT -p tcp --syn -j NFLOG --nflog-group 5 --nflog-prefix new-tcp
    python3 print_log.py --group 5 [--netns /var/run/netns/NAME] [--count N]

Ctrl-C stops it. Interface names are looked up in this process's network namespace.
"""
import argparse
import ipaddress

import nfq_rs

PROTOS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


def describe(p: bytes) -> str:
    """'src:port -> dst:port proto' from the network header (ports for TCP and UDP)."""
    if len(p) >= 20 and p[0] >> 4 == 4:
        hl = (p[0] & 15) * 4
        src, dst, proto, l4 = ipaddress.ip_address(p[12:16]), ipaddress.ip_address(p[16:20]), p[9], p[hl:]
    elif len(p) >= 40 and p[0] >> 4 == 6:
        src, dst, proto, l4 = ipaddress.ip_address(p[8:24]), ipaddress.ip_address(p[24:40]), p[6], p[40:]
    else:
        return f"({len(p)} bytes, not IP)"
    name = PROTOS.get(proto, f"proto={proto}")
    if proto in (6, 17) and len(l4) >= 4:
        return f"{src}:{int.from_bytes(l4[0:2], 'big')} -> {dst}:{int.from_bytes(l4[2:4], 'big')} {name}"
    return f"{src} -> {dst} {name}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--group", type=int, default=0)
    ap.add_argument("--netns", help="namespace path, e.g. /var/run/netns/NAME")
    ap.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    args = ap.parse_args()

    seen = 0

    def show(pkt):
        nonlocal seen
        what = describe(pkt.payload) if pkt.payload is not None else "(no payload)"
        print(
            f"{pkt.prefix or '(no prefix)'}: hook={pkt.hook.name} in={pkt.indev_name or '-'} "
            f"out={pkt.outdev_name or '-'} {what} mark={pkt.mark} uid={pkt.uid}",
            flush=True,
        )
        seen += 1
        if args.count and seen >= args.count:
            log.stop()

    with nfq_rs.Log(args.group, netns=args.netns, copy_range=128, flush_timeout=0.1) as log:
        try:
            log.run(show)
        except KeyboardInterrupt:
            pass
        print("stats:", log.stats(), flush=True)


if __name__ == "__main__":
    main()
