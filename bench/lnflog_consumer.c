/*
 * lnflog_consumer: NFLOG consumer written for libnetfilter_log's classic API (make bench).
 * One source, built twice: against the real library (pkg-config libnetfilter_log) and against
 * the nfq-rs drop-in (PKG_CONFIG_PATH=.../nfq_rs/compat/pkgconfig).
 *
 *   lnflog_consumer --group G [--range BYTES] [--nlbufsiz BYTES] [--qthresh N] [--timeout CS]
 *                   [--rcvbuf BYTES] [--warmup S] [--seconds S] [--go FILE]
 *
 * The pattern of libnetfilter_log's own example (and ulogd's NFLOG input): nflog_open,
 * nflog_bind_group, nflog_set_mode(COPY_PACKET), the buffer, threshold and timeout setters,
 * nflog_callback_register, nfnl_rcvbufsiz, then recv() into a buffer and nflog_handle_packet().
 * The callback reads the prefix and the payload (as every logger does) and counts the message.
 * The additions are the meter (common.h), an ENOBUFS count and a 100 ms SO_RCVTIMEO so the loop
 * can end.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <libnfnetlink/libnfnetlink.h>
#include <libnetfilter_log/libnetfilter_log.h>

static unsigned long long g_bytes;

static int on_log(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfa, void *data)
{
    char *payload = NULL;
    int len = nflog_get_payload(nfa, &payload);
    const char *prefix = nflog_get_prefix(nfa);
    (void)gh;
    (void)nfmsg;
    (void)data;
    g_bytes += (unsigned long long)(len > 0 ? len : 0) + (prefix ? (unsigned char)prefix[0] : 0);
    meter_add(1);
    return 0;
}

static void stop_nothing(void *arg)
{
    (void)arg; /* the receive loop polls meter_done */
}

int main(int argc, char **argv)
{
    struct copts o;
    struct nflog_opts n;
    copts_default(&o);
    if (nflog_opts_parse("lnflog_consumer", &n, &o, argc, argv)) return 2;
    unsigned range = n.range, nlbufsiz = n.nlbufsiz, qthresh = n.qthresh, timeout = n.timeout;

    struct nflog_handle *h = nflog_open();
    if (!h) die("lnflog_consumer", "nflog_open");
    struct nflog_g_handle *gh = nflog_bind_group(h, (uint16_t)o.q_first);
    if (!gh) die("lnflog_consumer", "nflog_bind_group");
    if (nflog_set_mode(gh, NFULNL_COPY_PACKET, range) < 0) die("lnflog_consumer", "nflog_set_mode");
    if (nflog_set_nlbufsiz(gh, nlbufsiz) < 0) die("lnflog_consumer", "nflog_set_nlbufsiz");
    if (nflog_set_qthresh(gh, qthresh) < 0) die("lnflog_consumer", "nflog_set_qthresh");
    if (nflog_set_timeout(gh, timeout) < 0) die("lnflog_consumer", "nflog_set_timeout");
    nflog_callback_register(gh, &on_log, NULL);
    unsigned got = nfnl_rcvbufsiz(nflog_nfnlh(h), (unsigned)o.rcvbuf);
    int fd = nflog_fd(h);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    static char buf[131072 + 65536] __attribute__((aligned(8)));
    unsigned long long enobufs = 0;
    if (o.go) {
        struct drain d;
        printf("ready group %u rcvbuf=%u (drain)\n", o.q_first, got);
        fflush(stdout);
        drain_wait_go(o.go);
        drain_start(&d);
        for (;;) {
            int rv = (int)recv(fd, buf, sizeof buf, 0);
            if (rv >= 0) {
                nflog_handle_packet(h, buf, rv);
                drain_mark(&d);
            } else if (errno == ENOBUFS) {
                enobufs++;
            } else if (errno == EAGAIN) {
                break;
            } else if (errno != EINTR) {
                die("lnflog_consumer", "recv");
            }
        }
        drain_report(&d);
        printf("enobufs=%llu bytes=%llu\n", enobufs, g_bytes);
        nflog_close(h);
        return 0;
    }

    struct meter m = {.first_wait = o.first_wait, .warmup = o.warmup, .window = o.window,
                      .q_first = 70000, .q_last = 70000, .stop = stop_nothing};
    printf("ready group %u rcvbuf=%u\n", o.q_first, got);
    fflush(stdout);
    if (meter_start(&m)) return 1;

    while (!meter_done) {
        int rv = (int)recv(fd, buf, sizeof buf, 0);
        if (rv >= 0) {
            nflog_handle_packet(h, buf, rv);
            continue;
        }
        if (errno == ENOBUFS) {
            enobufs++;
            continue;
        }
        if (errno == EAGAIN || errno == EINTR) continue;
        die("lnflog_consumer", "recv");
    }
    meter_join(&m);
    printf("enobufs=%llu bytes=%llu\n", enobufs, g_bytes);
    nflog_unbind_group(gh);
    nflog_close(h);
    return 0;
}
