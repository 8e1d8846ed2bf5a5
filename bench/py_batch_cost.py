"""py_batch_cost.py: the Python work per packet of the batch callback, without a kernel.

    python bench/py_batch_cost.py queue|compat|floor|floor-new [N] [BATCHES] [--quiet]

Calls the batch callback of nfq_rs.Queue (queue) or of the netfilterqueue shim (compat) with N
made-up packet records (64 B UDP payloads), BATCHES times, with the bench's callback (count
and accept), then checks that every answer is ACCEPT. For scale, floor calls the same callback
on one prebuilt object whose accept() does nothing, and floor-new also builds a minimal object
(two slots) per packet, in a plain loop: what any pure-Python design pays at least. Without --quiet it prints the best of 7
timings in ns per packet. Under callgrind, with --quiet, run it twice with different BATCHES
and divide the difference of the instruction counts by the difference of the packets:

    PY=$(python3 -c 'import sys; print(sys.executable)')   # the interpreter, not a wrapper
    valgrind --tool=callgrind $PY bench/py_batch_cost.py queue 256 1 --quiet
    valgrind --tool=callgrind $PY bench/py_batch_cost.py queue 256 101 --quiet

Needs target/release/libnfq_rs.so (or NFQ_RS_LIBRARY), no privileges and no socket.
SPDX-License-Identifier: MIT OR Apache-2.0
"""

import collections
import ctypes
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from nfq_rs import _lib, compat  # noqa: E402
from nfq_rs import queue as qm  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quiet = "--quiet" in sys.argv
    kind = args[0] if args else "queue"
    n = int(args[1]) if len(args) > 1 else 256
    batches = int(args[2]) if len(args) > 2 else 2000

    info = struct.Struct(_lib.PACKET_INFO_FORMAT)
    payload = ctypes.create_string_buffer(b"E" + b"\0" * 8 + b"\x11" + b"\0" * 54)
    recs = b"".join(
        info.pack(i + 1, _lib.NFQ_RS_INFO_PAYLOAD, 0, 0, 1, 0, 0, 64, 0, 64, 0, 0, 0, 0, 0, 0,
                  0, 0x800, 2, 3, 0, 0, b"\0" * 8, 0, 0, ctypes.addressof(payload))
        for i in range(n)
    )
    infos = ctypes.create_string_buffer(recs, len(recs))
    # Handles are never dereferenced by an accept-all callback: dummy values.
    pkts = (ctypes.c_void_p * n)(*[0x1000 + 8 * i for i in range(n)])
    answers = (ctypes.c_int32 * n)()
    count = [0]

    def cb(pkt):
        count[0] += 1
        pkt.accept()

    if kind.startswith("floor"):
        class Minimal:
            __slots__ = ("_b", "_i", "__dict__")

            def accept(self):
                pass

        if kind == "floor":
            def one():
                p = Minimal()
                for _ in range(n):
                    cb(p)
        else:
            def one():
                for i in range(n):
                    p = Minimal()
                    p._b = None
                    p._i = i
                    cb(p)
        run(one, kind, n, batches, quiet)
        return

    # A queue object without a socket: only what the batch callback reads.
    cls = qm.Queue if kind == "queue" else compat._CompatQueue
    q = cls.__new__(cls)
    q.__dict__.update(
        _h=None, _lock=threading.RLock(), _plock=threading.Lock(), _exc=None, _pending=collections.deque(),
        _fallback=0, _default_verdict=1, _callback=None, _recv_thread=threading.get_ident(), _stop_flag=False,
        _closing=False, _nfq_bound=True,
    )
    if kind == "queue":
        q._handler = cb
    else:
        nfq = compat.NetfilterQueue.__new__(compat.NetfilterQueue)
        nfq.user_callback = cb
        nfq._held = collections.deque()
        q._handler = nfq
    f = q._on_batch
    a_pkts, a_infos, a_answers = ctypes.addressof(pkts), ctypes.addressof(infos), ctypes.addressof(answers)

    def one():
        f(a_pkts, a_infos, n, a_answers, None)

    run(one, kind, n, batches, quiet)
    if list(answers) != [_lib.NFQ_RS_ACCEPT] * n or count[0] == 0:
        sys.exit("wrong answers: %r" % list(answers)[:8])


def run(one, kind, n, batches, quiet):
    if quiet:
        for _ in range(batches):
            one()
        return
    best = float("inf")
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(batches):
            one()
        best = min(best, (time.perf_counter() - t) / (batches * n) * 1e9)
    print(f"{kind}, batches of {n}: {best:.1f} ns per packet (best of 7)")


if __name__ == "__main__":
    main()
