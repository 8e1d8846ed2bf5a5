"""One script, run once with the PyPI netfilterqueue and once with nfq_rs.compat (see
test_compat_differential.py), that prints as JSON what a script can observe. Run inside a
network namespace whose OUTPUT chain queues UDP to 127.0.0.1:9999 on queue 1.

    python netfilterqueue_scenario.py orig|shim
"""

import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
import warnings

if sys.argv[1] == "orig":
    import netfilterqueue as mod
else:
    import nfq_rs.compat as mod

NetfilterQueue = mod.NetfilterQueue
PORT = 9999
PORT_IN = 9998  # queued on the input hook
out = {}


def err(f):
    try:
        f()
    except BaseException as e:  # noqa: B902
        return [type(e).__name__, str(e)]
    return None


rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", PORT))
rx.settimeout(0.5)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# A socket asking for receive timestamps makes the kernel stamp incoming packets (and so send
# NFQA_TIMESTAMP with them). The kernel turns stamping on a moment later (deferred work), so
# this comes first; the input-hook part below is seconds away.
rx_in = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx_in.bind(("127.0.0.1", PORT_IN))
rx_in.setsockopt(socket.SOL_SOCKET, 29, 1)  # SO_TIMESTAMP (not in the socket module)


def send(*msgs):
    for m in msgs:
        tx.sendto(m, ("127.0.0.1", PORT))
    time.sleep(0.05)


def received():
    got = []
    rx.settimeout(0.2)
    while True:
        try:
            got.append(rx.recv(2048))
        except socket.timeout:
            return sorted(got)


def bind(nfq, cb, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nfq.bind(1, cb, **kw)


out["protocols"] = sorted(mod.PROTOCOLS.items())
out["constants"] = [mod.COPY_NONE, mod.COPY_META, mod.COPY_PACKET]
out["bad_sockfd"] = err(lambda: NetfilterQueue(sockfd=987))

nfq = NetfilterQueue()
out["fd_before_bind"] = nfq.get_fd() >= 0
out["bind_mode_256"] = err(lambda: nfq.bind(1, print, mode=256))
out["bind_neg_max_len"] = err(lambda: nfq.bind(1, print, max_len=-1))
out["bind_bad_mode"] = err(lambda: bind(nfq, print, mode=3))
nfq.unbind()

# Attributes, str(), a verdict inside the callback, the payload after it.
seen = []
kept = []


def cb(pkt):
    seen.append(
        [str(pkt), pkt.hook, pkt.hw_protocol, pkt.mark, pkt.indev, pkt.outdev > 0, pkt.physindev, pkt.physoutdev,
         pkt.get_payload_len(), pkt.get_payload()[28:].decode(), pkt.get_hw(), pkt.get_timestamp(), pkt.get_mark(),
         err(lambda: pkt.set_mark(-1)), err(lambda: pkt.set_payload(bytearray(b"x"))), isinstance(pkt.id, int)]
    )
    kept.append(pkt)
    if pkt.get_payload().endswith(b"keep"):
        return
    if pkt.get_payload().endswith(b"ret"):
        pkt.retain()
        return
    pkt.accept()
    seen.append(err(pkt.drop))


bind(nfq, cb)
send(b"one", b"keep", b"ret")
nfq.run(block=False)
out["packets"] = seen
out["received_1"] = [m.decode() for m in received()]
out["after_cb_payload"] = [err(p.get_payload) for p in kept]
out["after_cb_str"] = [str(p) for p in kept]
kept[1].accept()
kept[2].drop()
out["late_verdicts"] = [m.decode() for m in received()]
out["late_second_verdict"] = err(kept[1].accept)

# An exception from the callback: run() raises; the packets after it come with the next run().
order = []


def raising(pkt):
    order.append(pkt.get_payload()[28:].decode())
    if pkt.get_payload().endswith(b"boom"):
        raise ValueError("boom")
    pkt.accept()


nfq.unbind()
bind(nfq, raising)
send(b"boom", b"b", b"c")
out["raise"] = err(lambda: nfq.run(block=False))
out["raise_then"] = err(lambda: nfq.run(block=False))
out["raise_order"] = order
out["raise_received"] = [m.decode() for m in received()]

# set_mark + repeat: the rule in front queues only unmarked packets.
marks = []


def rep(pkt):
    marks.append(pkt.mark)
    pkt.set_mark(7)
    pkt.repeat()


nfq.unbind()
bind(nfq, rep)
send(b"rep")
nfq.run(block=False)
out["repeat_marks"] = marks
out["repeat_received"] = [m.decode() for m in received()]

# COPY_META: no payload, but the metadata (and a timestamp if the kernel stamped one).
meta = []


def metacb(pkt):
    meta.append([str(pkt), pkt.get_payload_len(), err(pkt.get_payload), pkt.get_timestamp() == 0.0, pkt.hook])
    pkt.accept()


nfq.unbind()
bind(nfq, metacb, mode=mod.COPY_META)
send(b"meta")
nfq.run(block=False)
out["meta"] = meta
out["meta_received"] = [m.decode() for m in received()]

# The input hook (rule on port 9998): COPY_META packets with a kernel timestamp and an indev.
inp = []


def incb(pkt):
    ts = pkt.get_timestamp()
    hw = pkt.get_hw()
    inp.append([str(pkt), pkt.hook, ts > 0, abs(ts - time.time()) < 60, pkt.indev > 0, pkt.outdev,
                None if hw is None else hw.hex(), pkt.get_payload_len()])
    pkt.accept()


nfq.unbind()
bind(nfq, incb, mode=mod.COPY_META)
tx.sendto(b"in", ("127.0.0.1", PORT_IN))
time.sleep(0.05)
nfq.run(block=False)
out["input_meta"] = inp
rx_in.settimeout(0.5)
out["input_received"] = rx_in.recv(100).decode()

# run_socket(): a non-blocking socket handles what waits and returns; a timeout raises.
rs = []
nfq.unbind()
bind(nfq, lambda p: (rs.append(p.get_payload()[28:].decode()), p.accept()))
s = socket.fromfd(nfq.get_fd(), socket.AF_NETLINK, socket.SOCK_RAW)
send(b"s1", b"s2")
s.setblocking(False)
out["run_socket_nonblocking"] = err(lambda: nfq.run_socket(s))
out["run_socket_seen"] = list(rs)
s.settimeout(0.2)
out["run_socket_timeout"] = err(lambda: nfq.run_socket(s))
# s shares its file description with get_fd(): netfilterqueue's run() would now return when
# the queue is empty (O_NONBLOCK), the shim's would not (see python/README.md). Back to blocking.
s.setblocking(True)
s.close()
out["run_socket_received"] = [m.decode() for m in received()]

# unbind() with packets outstanding: the kernel drops them; late verdicts raise.
held = []
nfq.unbind()
bind(nfq, held.append)
send(b"x1", b"x2")
nfq.run(block=False)
nfq.unbind()
out["unbind_outstanding"] = [err(p.accept) for p in held]
out["unbind_received"] = [m.decode() for m in received()]
out["fd_after_unbind"] = nfq.get_fd() >= 0

# A signal handler's exception while run() waits: out of run(), with run in the traceback.


class Alarm(Exception):
    pass


def on_alarm(sig, frame):
    raise Alarm("ring")


old = signal.signal(signal.SIGALRM, on_alarm)
bind(nfq, lambda p: p.accept())
for traffic in (False, True):
    stop = []

    def flood():
        while not stop:
            tx.sendto(b"f", ("127.0.0.1", PORT))
            time.sleep(0.0005)

    if traffic:
        threading.Thread(target=flood, daemon=True).start()
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        nfq.run()
        out["signal_%s" % traffic] = "returned"
    except Alarm as e:
        names = [f.name for f in traceback.extract_tb(e.__traceback__)]
        out["signal_%s" % traffic] = ["Alarm", any(n == "run" or n.endswith(".run") for n in names)]
    finally:
        stop.append(1)
        signal.setitimer(signal.ITIMER_REAL, 0)
signal.signal(signal.SIGALRM, old)
nfq.unbind()
received()

print(json.dumps(out))
sys.stdout.flush()
os._exit(0)
