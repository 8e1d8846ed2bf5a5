#!/usr/bin/env python3
"""Prints every packet of a queue and accepts it.

    iptables -I OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0
    python3 print_packets.py --queue 0 [--netns /var/run/netns/NAME] [--count N]

Ctrl-C stops it. Interface names are looked up in this process's network namespace.
"""
import argparse

import nfq_rs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--netns", help="namespace path, e.g. /var/run/netns/NAME")
    ap.add_argument("--count", type=int, default=0, help="stop after N packets (0: never)")
    args = ap.parse_args()

    seen = 0

    def show(pkt):
        nonlocal seen
        p = pkt.payload or b""
        dev = pkt.indev_name or pkt.outdev_name or "-"
        ts = pkt.timestamp.isoformat() if pkt.timestamp else "-"
        print(
            f"#{pkt.id} queue={pkt.queue_num} hook={pkt.hook.name} dev={dev} len={len(p)} "
            f"mark={pkt.mark} uid={pkt.uid} ts={ts} head={p[:20].hex()}",
            flush=True,
        )
        pkt.accept()
        seen += 1
        if args.count and seen >= args.count:
            q.stop()

    with nfq_rs.Queue(args.queue, netns=args.netns, uid_gid=True) as q:
        try:
            q.run(show)
        except KeyboardInterrupt:
            pass
        print("stats:", {k: v for k, v in q.stats().items() if k != "kernel"}, flush=True)


if __name__ == "__main__":
    main()
