#!/usr/bin/env python3
"""A script written for the PyPI `netfilterqueue` package; only the import line changed.

    iptables -I INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 1
    python3 netfilterqueue_style.py 1
"""
import sys

from nfq_rs.compat import NetfilterQueue  # was: from netfilterqueue import NetfilterQueue


def print_and_accept(pkt):
    print(pkt, flush=True)
    pkt.accept()


nfqueue = NetfilterQueue()
nfqueue.bind(int(sys.argv[1]) if len(sys.argv) > 1 else 1, print_and_accept)
try:
    nfqueue.run()
except KeyboardInterrupt:
    print("")

nfqueue.unbind()
