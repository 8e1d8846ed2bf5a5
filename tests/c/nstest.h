/*
 * Helpers shared by the C and C++ tests: UDP sockets created inside another network
 * namespace (the calling thread enters it with setns(2) and comes back), bounded receives,
 * a monotonic clock, and CHECK macros that count failures instead of aborting.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Include after defining _GNU_SOURCE (setns). Works as C11 and C++17.
 */
#ifndef NFQ_RS_NSTEST_H
#define NFQ_RS_NSTEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_failures = 0;

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            g_failures++;                                                              \
        }                                                                              \
    } while (0)

/* Expect an exact return code. */
#define CHECK_RC(expr, want)                                                           \
    do {                                                                               \
        int rc_ = (int)(expr);                                                         \
        CHECK(rc_ == (want), "%s returned %d (%s), want %d", #expr, rc_,               \
              nfq_rs_strerror(rc_), (int)(want));                                      \
    } while (0)

static inline long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/*
 * A UDP socket bound to 127.0.0.1:port (0: any port) inside the namespace at nspath
 * (NULL: the current one). Returns the descriptor or -1 (with a message on stderr).
 */
static inline int ns_udp_socket(const char *nspath, uint16_t port)
{
    int self = -1, target = -1, fd = -1;
    if (nspath) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        target = open(nspath, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
            fprintf(stderr, "ns_udp_socket: entering %s: %s\n", nspath, strerror(errno));
            if (self >= 0) close(self);
            if (target >= 0) close(target);
            return -1;
        }
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            fprintf(stderr, "ns_udp_socket: bind port %u: %s\n", port, strerror(errno));
            close(fd);
            fd = -1;
        }
    } else {
        fprintf(stderr, "ns_udp_socket: socket: %s\n", strerror(errno));
    }
    if (nspath) {
        if (setns(self, CLONE_NEWNET) != 0) {
            fprintf(stderr, "ns_udp_socket: cannot return to the original namespace: %s\n",
                    strerror(errno));
            abort();
        }
        close(self);
        close(target);
    }
    return fd;
}

/* Sends one datagram to 127.0.0.1:port. 0 on success, -1 on error. */
static inline int udp_send(int fd, uint16_t port, const void *buf, size_t len)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ssize_t n = sendto(fd, buf, len, 0, (const struct sockaddr *)&a, sizeof a);
    if (n < 0 || (size_t)n != len) {
        fprintf(stderr, "udp_send to port %u: %s\n", port, strerror(errno));
        return -1;
    }
    return 0;
}

/* Receives one datagram, waiting at most timeout_ms. Its length, or -1 on timeout/error. */
static inline int udp_recv(int fd, void *buf, size_t cap, int timeout_ms)
{
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) return -1;
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
    return n < 0 ? -1 : (int)n;
}

/* Discards every datagram already waiting. */
static inline void udp_drain(int fd)
{
    char b[2048];
    while (recv(fd, b, sizeof b, MSG_DONTWAIT) >= 0) {
    }
}

#endif /* NFQ_RS_NSTEST_H */
