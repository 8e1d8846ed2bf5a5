/*
 * lnflog_consumer: NFLOG consumer written for libnetfilter_log's classic API (make bench).
 * One source, built twice: against the real library (pkg-config libnetfilter_log) and against
 * the nfq-rs drop-in (PKG_CONFIG_PATH=.../nfq_rs/compat/pkgconfig).
 *
 *   lnflog_consumer --group N [--range BYTES] [--nlbufsiz BYTES] [--threshold N]
 *                   [--timeout CS] [--rcvbuf BYTES] [--warmup S] [--seconds S]
 *
 * The pattern of libnetfilter_log's own example: nflog_open, nflog_bind_group,
 * nflog_set_mode(COPY_PACKET, range), nflog_set_nlbufsiz, nflog_set_qthresh,
 * nflog_set_timeout, nflog_callback_register, nfnl_rcvbufsiz, then recv() into a buffer and
 * nflog_handle_packet(); the callback reads the packet header and the payload length and counts
 * the message. The only additions are the meter (common.h; it counts log messages, and its
 * kq_* fields, which describe NFQUEUE queues, stay 0 here) and a 100 ms SO_RCVTIMEO so the loop
 * can end. Settings left out (0) keep the kernel's defaults. nflog_handle_packet returns -1 for
 * every datagram with several messages (they end with NLMSG_DONE): that is not an error.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <libnetfilter_log/libnetfilter_log.h>

/* The one libnfnetlink call the example makes on nflog_nfnlh(). */
unsigned int nfnl_rcvbufsiz(const struct nfnl_handle *h, unsigned int size);

static unsigned long long bytes_seen;

static int on_log(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfa, void *data)
{
    struct nfulnl_msg_packet_hdr *ph = nflog_get_msg_packet_hdr(nfa);
    char *payload = NULL;
    int len = nflog_get_payload(nfa, &payload);
    (void)gh;
    (void)nfmsg;
    (void)data;
    if (ph && len > 0)
        bytes_seen += (unsigned)len;
    meter_add(1);
    return 0;
}

static void stop_nothing(void *arg)
{
    (void)arg; /* the receive loop polls meter_done */
}

static void usage(void)
{
    fprintf(stderr, "usage: lnflog_consumer --group N [--range BYTES] [--nlbufsiz BYTES] [--threshold N]\n"
                    "                       [--timeout CS] [--rcvbuf BYTES] [--warmup S] [--seconds S]\n");
}

int main(int argc, char **argv)
{
    struct copts o;
    copts_default(&o);
    unsigned long range = 0xffff, nlbufsiz = 0, threshold = 0, timeout = 0;
    int have_group = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long *opt = !strcmp(a, "--range")       ? &range
                             : !strcmp(a, "--nlbufsiz")  ? &nlbufsiz
                             : !strcmp(a, "--threshold") ? &threshold
                             : !strcmp(a, "--timeout")   ? &timeout
                                                         : NULL;
        if (opt && i + 1 < argc) {
            *opt = strtoul(argv[++i], NULL, 0);
            continue;
        }
        if (!strcmp(a, "--group") && i + 1 < argc) {
            char *q[] = {"--queue", argv[i + 1]};
            int k = 0;
            if (!copts_parse(&o, 2, q, &k)) {
                usage();
                return 2;
            }
            have_group = 1;
            i++;
            continue;
        }
        if (!copts_parse(&o, argc, argv, &i)) {
            usage();
            return 2;
        }
    }
    if (!have_group) {
        usage();
        return 2;
    }

    struct nflog_handle *h = nflog_open();
    if (!h) die("lnflog_consumer", "nflog_open");
    struct nflog_g_handle *gh = nflog_bind_group(h, (uint16_t)o.q_first);
    if (!gh) die("lnflog_consumer", "nflog_bind_group");
    if (nflog_set_mode(gh, NFULNL_COPY_PACKET, (unsigned)range) < 0) die("lnflog_consumer", "nflog_set_mode");
    if (nlbufsiz && nflog_set_nlbufsiz(gh, (uint32_t)nlbufsiz) < 0) die("lnflog_consumer", "nflog_set_nlbufsiz");
    if (threshold && nflog_set_qthresh(gh, (uint32_t)threshold) < 0) die("lnflog_consumer", "nflog_set_qthresh");
    if (timeout && nflog_set_timeout(gh, (uint32_t)timeout) < 0) die("lnflog_consumer", "nflog_set_timeout");
    nflog_callback_register(gh, &on_log, NULL);
    unsigned got = nfnl_rcvbufsiz(nflog_nfnlh(h), (unsigned)o.rcvbuf);
    int fd = nflog_fd(h);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    struct meter m = {.first_wait = o.first_wait, .warmup = o.warmup, .window = o.window,
                      .q_first = o.q_first, .q_last = o.q_first, .stop = stop_nothing};
    printf("ready group %u range=%lu nlbufsiz=%lu threshold=%lu timeout=%lu rcvbuf=%u\n", o.q_first, range,
           nlbufsiz, threshold, timeout, got);
    fflush(stdout);
    if (meter_start(&m)) return 1;

    /* Room for the largest datagram the kernel sends (NLBUFSIZ is at most 128 KiB). */
    static char buf[131072 + 4096] __attribute__((aligned(8)));
    unsigned long long enobufs = 0, datagrams = 0;
    while (!meter_done) {
        int rv = (int)recv(fd, buf, sizeof buf, 0);
        if (rv >= 0) {
            datagrams++;
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
    printf("enobufs=%llu datagrams=%llu payload_bytes=%llu\n", enobufs, datagrams, bytes_seen);
    nflog_unbind_group(gh);
    nflog_close(h);
    return 0;
}
