/*
 * flood: a bounded UDP generator for the NFQUEUE benchmark (make bench). Sends datagrams of
 * --size payload bytes to --dst:--port on loopback, from --srcs source addresses 127.0.0.1..K
 * (one socket each, rotated per batch, so --queue-balance spreads the flows), until --seconds
 * have passed, --max datagrams were sent, or SIGTERM/SIGINT.
 *
 *   flood --port P --size S [--dst 127.0.0.1] [--seconds T] [--max N] [--srcs K] [--batch B]
 *         [--rate PPS]          paced: one datagram every 1/PPS s (send(), not sendmmsg)
 *         [--stamp]             the payload starts with the CLOCK_MONOTONIC send time (u64 ns)
 *         [--sndbuf BYTES]      send buffer of each socket (default 64 MiB)
 *         [--gso N]             UDP GSO: each send carries N datagrams of --size bytes, which
 *                               the kernel cuts apart before the queue (not with --rate)
 *
 * Saturating mode (no --rate) uses sendmmsg with --batch datagrams per call. A datagram the
 * kernel refuses (NFQUEUE full: EPERM) counts as failed. Queued packets stay charged to the
 * sender's socket until their verdict, so --sndbuf bounds how many wait in the queue: the
 * sender then blocks on its socket instead of overflowing the queue (make bench sizes it for
 * about 600 packets); the default is large enough never to block before the queue is full.
 * With --gso, a send counts as N datagrams; if the queue fills in the middle of one, the kernel
 * queues the first segments and drops the rest without failing the send, so those drops show
 * only in the queue's own counter (the benchmark's kq_dropped), not in failed.
 * Prints: flood sent=N failed=F seconds=T offered_pps=X sent_pps=Y
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SRCS 64
#define MAX_BATCH 256

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: flood --port P --size S [--dst A] [--seconds T] [--max N] [--srcs K] [--batch B] "
                    "[--rate PPS] [--stamp] [--sndbuf BYTES] [--gso N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dst = "127.0.0.1";
    unsigned port = 0, size = 64, srcs = 1, batch = 64;
    double seconds = 5, rate = 0;
    unsigned long long max = 100000000ull;
    int sndbuf = 64 << 20;
    int stamp = 0;
    unsigned gso = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--stamp")) {
            stamp = 1;
            continue;
        }
        if (!v) usage();
        if (!strcmp(a, "--dst")) dst = v;
        else if (!strcmp(a, "--port")) port = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--size")) size = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--max")) max = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--srcs")) srcs = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--batch")) batch = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--sndbuf")) sndbuf = (int)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--gso")) gso = (unsigned)strtoul(v, NULL, 10);
        else usage();
        i++;
    }
    if (!port || port > 65535 || size < 16 || size > 65000 || !srcs || srcs > MAX_SRCS || !batch ||
        batch > MAX_BATCH || seconds <= 0 || seconds > 120 || !gso || gso > 64 || (size_t)size * gso > 65000 ||
        (gso > 1 && rate > 0))
        usage();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    int fds[MAX_SRCS];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, dst, &to.sin_addr) != 1) usage();
    for (unsigned s = 0; s < srcs; s++) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        fds[s] = socket(AF_INET, SOCK_DGRAM, 0);
        if (fds[s] < 0) die("flood", "socket");
        if (setsockopt(fds[s], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
            setsockopt(fds[s], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        from.sin_addr.s_addr = htonl(0x7f000001u + s); /* 127.0.0.1 + s */
        if (bind(fds[s], (struct sockaddr *)&from, sizeof from) < 0) die("flood", "bind");
        if (connect(fds[s], (struct sockaddr *)&to, sizeof to) < 0) die("flood", "connect");
        int seg = (int)size;
        if (gso > 1 && setsockopt(fds[s], SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0) die("flood", "UDP_SEGMENT");
    }

    static uint8_t payload[65536];
    for (unsigned i = 0; i < size * gso; i++) payload[i] = (uint8_t)(i * 7 + 1);

    struct iovec iov = {.iov_base = payload, .iov_len = (size_t)size * gso};
    struct mmsghdr msgs[MAX_BATCH];
    memset(msgs, 0, sizeof msgs);
    for (unsigned i = 0; i < batch; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }

    unsigned long long sent = 0, failed = 0, seq = 0;
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), now = start;
    unsigned s = 0;
    if (rate > 0) {
        double interval = 1e9 / rate;
        while (!g_stop && sent + failed < max) {
            uint64_t due = start + (uint64_t)((double)seq * interval);
            now = now_ns();
            if (now >= end) break;
            if (due > now) {
                struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            }
            if (stamp) {
                uint64_t t = now_ns();
                memcpy(payload, &t, 8);
                memcpy(payload + 8, &seq, 8);
            }
            seq++;
            if (send(fds[s], payload, size, 0) == (ssize_t)size) sent++;
            else failed++;
            if (++s == srcs) s = 0;
        }
    } else {
        while (!g_stop && sent + failed < max) {
            if (stamp) {
                uint64_t t = now_ns();
                memcpy(payload, &t, 8);
            }
            int r = sendmmsg(fds[s], msgs, batch, 0);
            if (r < 0) {
                failed += gso;
            } else {
                sent += (unsigned long long)r * gso;
                if ((unsigned)r < batch) failed += gso; /* the next one was refused */
            }
            if (++s == srcs) s = 0;
            now = now_ns();
            if (now >= end) break;
        }
    }
    now = now_ns();
    double el = (double)(now - start) * 1e-9;
    printf("flood sent=%llu failed=%llu seconds=%.6f offered_pps=%.1f sent_pps=%.1f\n", sent, failed, el,
           (double)(sent + failed) / el, (double)sent / el);
    for (unsigned i = 0; i < srcs; i++) close(fds[i]);
    return 0;
}
