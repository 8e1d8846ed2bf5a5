/*
 * udptool: traffic generator and receiver for the demo and the C tests. Run it inside the
 * test's network namespace (ip netns exec NAME udptool ...). Only talks to 127.0.0.1.
 *
 *   udptool [--timeout MS] [--tag TEXT] SPEC...
 *
 *   SPEC  PORT:COUNT   bind a UDP receiver on 127.0.0.1:PORT, send COUNT datagrams to it
 *         tcp:PORT     listen on 127.0.0.1:PORT and try one TCP connection to it
 *
 * All receivers are bound before anything is sent. Then it waits until everything arrived
 * or MS milliseconds (default 2000) passed, and prints:
 *
 *   recv port=P len=L data=TEXT        one line per datagram that arrived
 *   port P: R/C received               one line per UDP spec
 *   tcp port P: connected | not connected
 *
 * Exit status 0 when it ran (whatever arrived; the caller judges), 2 on usage/setup errors.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SPECS 32

struct spec {
    int tcp;
    unsigned port;
    unsigned count;
    unsigned got;
    int fd;     /* UDP receiver or TCP listener */
    int cfd;    /* TCP client */
    int connected;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_in lo_addr(unsigned port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int usage(void)
{
    fprintf(stderr, "usage: udptool [--timeout MS] [--tag TEXT] PORT:COUNT|tcp:PORT...\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct spec specs[MAX_SPECS];
    int n = 0;
    long timeout = 2000;
    const char *tag = "nfq-rs";

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = strtol(argv[++i], &end, 10);
            if (*end || timeout < 0) return usage();
        } else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc) {
            tag = argv[++i];
        } else if (n < MAX_SPECS) {
            struct spec *s = &specs[n];
            memset(s, 0, sizeof *s);
            s->fd = s->cfd = -1;
            if (strncmp(argv[i], "tcp:", 4) == 0) {
                s->tcp = 1;
                s->port = (unsigned)strtoul(argv[i] + 4, &end, 10);
                if (*end || s->port == 0 || s->port > 65535) return usage();
            } else {
                s->port = (unsigned)strtoul(argv[i], &end, 10);
                if (*end != ':' || s->port == 0 || s->port > 65535) return usage();
                s->count = (unsigned)strtoul(end + 1, &end, 10);
                if (*end) return usage();
            }
            n++;
        } else {
            return usage();
        }
    }
    if (n == 0) return usage();

    /* Receivers and listeners first. */
    for (int i = 0; i < n; i++) {
        struct spec *s = &specs[i];
        struct sockaddr_in a = lo_addr(s->port);
        int one = 1;
        s->fd = socket(AF_INET, (s->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
        if (s->fd < 0) { perror("socket"); return 2; }
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0) {
            fprintf(stderr, "udptool: bind %u: %s\n", s->port, strerror(errno));
            return 2;
        }
        if (s->tcp && listen(s->fd, 4) != 0) { perror("listen"); return 2; }
    }

    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (tx < 0) { perror("socket"); return 2; }
    for (int i = 0; i < n; i++) {
        struct spec *s = &specs[i];
        if (s->tcp) {
            struct sockaddr_in a = lo_addr(s->port);
            s->cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (s->cfd < 0) { perror("socket"); return 2; }
            if (connect(s->cfd, (struct sockaddr *)&a, sizeof a) == 0) s->connected = 1;
            else if (errno != EINPROGRESS) {
                fprintf(stderr, "udptool: connect %u: %s\n", s->port, strerror(errno));
            }
            continue;
        }
        for (unsigned k = 0; k < s->count; k++) {
            char msg[256];
            int len = snprintf(msg, sizeof msg, "%s port=%u seq=%u", tag, s->port, k);
            struct sockaddr_in a = lo_addr(s->port);
            if (sendto(tx, msg, (size_t)len, 0, (struct sockaddr *)&a, sizeof a) != len) {
                fprintf(stderr, "udptool: sendto %u: %s\n", s->port, strerror(errno));
                return 2;
            }
        }
    }

    long long deadline = now_ms() + timeout;
    for (;;) {
        int pending = 0;
        struct pollfd p[MAX_SPECS];
        int which[MAX_SPECS];
        int np = 0;
        for (int i = 0; i < n; i++) {
            struct spec *s = &specs[i];
            if (s->tcp && !s->connected && s->cfd >= 0) {
                p[np].fd = s->cfd;
                p[np].events = POLLOUT;
                which[np++] = i;
                pending = 1;
            } else if (!s->tcp && s->got < s->count) {
                p[np].fd = s->fd;
                p[np].events = POLLIN;
                which[np++] = i;
                pending = 1;
            }
        }
        long long left = deadline - now_ms();
        if (!pending || left <= 0) break;
        for (int j = 0; j < np; j++) p[j].revents = 0;
        int r = poll(p, (nfds_t)np, (int)left);
        if (r < 0 && errno != EINTR) { perror("poll"); return 2; }
        for (int j = 0; j < np && r > 0; j++) {
            struct spec *s = &specs[which[j]];
            if (!p[j].revents) continue;
            if (s->tcp) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(s->cfd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err == 0) s->connected = 1;
                else { close(s->cfd); s->cfd = -1; }
                continue;
            }
            char buf[2048];
            ssize_t got;
            while ((got = recv(s->fd, buf, sizeof buf - 1, MSG_DONTWAIT)) >= 0) {
                buf[got] = 0;
                for (ssize_t c = 0; c < got; c++)
                    if (buf[c] < 0x20 || buf[c] > 0x7e) buf[c] = '.';
                printf("recv port=%u len=%zd data=%s\n", s->port, got, buf);
                s->got++;
            }
        }
    }

    for (int i = 0; i < n; i++) {
        struct spec *s = &specs[i];
        if (s->tcp) printf("tcp port %u: %s\n", s->port, s->connected ? "connected" : "not connected");
        else printf("port %u: %u/%u received\n", s->port, s->got, s->count);
        if (s->cfd >= 0) close(s->cfd);
        close(s->fd);
    }
    close(tx);
    return 0;
}
