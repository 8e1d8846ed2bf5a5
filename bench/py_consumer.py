"""py_consumer.py: an accept-all Python consumer for the benchmark (scripts/bench-python.sh).

    python bench/py_consumer.py --impl orig|compat|queue --queue N --seconds S --warmup W --rcvbuf B [--batch N]

orig:   PyPI netfilterqueue (``from netfilterqueue import NetfilterQueue``), run() in the main thread
compat: the same script with ``from nfq_rs.compat import NetfilterQueue``
queue:  nfq_rs.Queue(N).run(callback) (--batch: Queue(batch=N), datagrams per receive; default the
        package's)

The callback counts the packet and accepts it. Prints "ready" once bound, then, like the C
consumers (bench/common.h), after the first packet, a warm-up and a fixed window, one line
    result packets=N seconds=S pps=P cpu=C user=U system=Y pps_per_cpu=Q kq_enqueued=E kq_dropped=D kq_empty=K kq_samples=M
where cpu is the process's CPU time in the window (user + system, also given apart: user time is
the interpreter's and the libraries' work, system time the kernel's) and the kq_* values come from
/proc/net/netfilter/nfnetlink_queue (the backlog sampled every 10 ms). Then it exits at once
(os._exit), without unbinding.
SPDX-License-Identifier: MIT OR Apache-2.0
"""

import argparse
import os
import sys
import threading
import time


def kernel_queue(num):
    """(id_sequence, dropped, user_dropped, queue_total) of queue num, or None."""
    try:
        with open("/proc/net/netfilter/nfnetlink_queue") as f:
            for line in f:
                v = line.split()
                if int(v[0]) == num:
                    return int(v[7]), int(v[5]), int(v[6]), int(v[2])
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=("orig", "compat", "queue"), required=True)
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--warmup", type=float, default=0.25)
    ap.add_argument("--rcvbuf", type=int, default=4 << 20)
    ap.add_argument("--first-wait", type=float, default=10.0)
    ap.add_argument("--batch", type=int, default=None)
    a = ap.parse_args()

    count = [0]

    if a.impl == "queue":
        import nfq_rs

        def cb(pkt):
            count[0] += 1
            pkt.accept()

        q = nfq_rs.Queue(a.queue, rcvbuf=a.rcvbuf, batch=a.batch)
        run = lambda: q.run(cb)  # noqa: E731
    else:
        if a.impl == "orig":
            from netfilterqueue import NetfilterQueue
        else:
            from nfq_rs.compat import NetfilterQueue

        def cb(pkt):
            count[0] += 1
            pkt.accept()

        import warnings

        nfq = NetfilterQueue()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # sock_len is what netfilterqueue sets SO_RCVBUF(FORCE) to: the same buffer for all.
            nfq.bind(a.queue, cb, sock_len=a.rcvbuf)
        run = nfq.run

    def meter():
        deadline = time.monotonic() + a.first_wait
        while count[0] == 0:
            if time.monotonic() > deadline:
                print("result packets=0 seconds=0 pps=0 error=no-packets", flush=True)
                os._exit(1)
            time.sleep(0.005)
        time.sleep(a.warmup)
        k0 = kernel_queue(a.queue)
        n0, t0, c0, u0 = count[0], time.monotonic(), time.process_time(), os.times()
        empty = samples = 0
        end = t0 + a.seconds
        while True:
            now = time.monotonic()
            if now >= end:
                break
            time.sleep(min(0.01, end - now))
            k = kernel_queue(a.queue)
            if k is not None:
                samples += 1
                empty += k[3] == 0
        n1, t1, c1, u1 = count[0], time.monotonic(), time.process_time(), os.times()
        k1 = kernel_queue(a.queue)
        n, secs, cpu = n1 - n0, t1 - t0, c1 - c0
        kq = ""
        if k0 and k1:
            kq = " kq_enqueued=%d kq_dropped=%d kq_user_dropped=%d" % (k1[0] - k0[0], k1[1] - k0[1], k1[2] - k0[2])
        print(
            "result packets=%d seconds=%.6f pps=%.1f cpu=%.6f user=%.6f system=%.6f kcpu=0 pps_per_cpu=%.1f%s "
            "kq_empty=%d kq_samples=%d"
            % (n, secs, n / secs, cpu, u1.user - u0.user, u1.system - u0.system, n / cpu if cpu > 0 else 0, kq, empty,
               samples),
            flush=True,
        )
        os._exit(0)

    threading.Thread(target=meter, daemon=True).start()
    print("ready", flush=True)
    run()


if __name__ == "__main__":
    sys.exit(main())
