/*
 * latency_rx: the receiving end of the latency benchmark (make bench). Binds UDP --port on
 * 127.0.0.1 and, for each datagram sent by `flood --stamp` (whose payload starts with the
 * CLOCK_MONOTONIC send time in ns), records now - send time: the time from send() through the
 * NFQUEUE consumer's verdict to delivery. Same namespace, same clock.
 *
 *   latency_rx --port P [--seconds S] [--skip S]     skip: ignore the first S seconds
 * Ends after --seconds, or 0.5 s without a datagram once some arrived. Prints
 *   latency samples=N median_us=X p90_us=Y p99_us=Z max_us=W
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SAMPLES (4u << 20)

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    double seconds = 10, skip = 0.5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--skip")) skip = atof(argv[i + 1]);
        else port = 0;
    }
    if (!port || port > 65535 || argc % 2 == 0) {
        fprintf(stderr, "usage: latency_rx --port P [--seconds S] [--skip S]\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("latency_rx", "socket");
    int big = 16 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("latency_rx", "bind");
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    uint64_t *v = malloc(MAX_SAMPLES * sizeof *v);
    if (!v) die("latency_rx", "malloc");
    size_t n = 0;
    unsigned long long seen = 0;
    printf("ready port %u\n", port);
    fflush(stdout);
    uint64_t start = now_ns(), first = 0, last = 0;
    uint64_t end = start + (uint64_t)(seconds * 1e9);
    for (;;) {
        uint8_t buf[2048];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        uint64_t t = now_ns();
        if (t >= end) break;
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR) die("latency_rx", "recv");
            if (first && t - last > 500000000ull) break;
            continue;
        }
        if (r < 8) continue;
        uint64_t sent;
        memcpy(&sent, buf, 8);
        if (!first) first = t;
        last = t;
        seen++;
        if (t - first < (uint64_t)(skip * 1e9) || sent > t || n >= MAX_SAMPLES) continue;
        v[n++] = t - sent;
    }
    if (n == 0) {
        printf("latency samples=0 received=%llu\n", seen);
        return 1;
    }
    qsort(v, n, sizeof *v, cmp_u64);
    printf("latency samples=%zu received=%llu median_us=%.2f p90_us=%.2f p99_us=%.2f max_us=%.2f\n", n, seen,
           pct(v, n, 0.5), pct(v, n, 0.9), pct(v, n, 0.99), (double)v[n - 1] / 1000.0);
    close(fd);
    free(v);
    return 0;
}
