/*
 * lnfq_consumer: accept-all NFQUEUE consumer written for libnetfilter_queue's classic API
 * (make bench). One source, built twice: against the real library (pkg-config
 * libnetfilter_queue) and against the nfq-rs drop-in (PKG_CONFIG_PATH=.../nfq_rs/compat/pkgconfig).
 *
 *   lnfq_consumer --queue N [--rcvbuf BYTES] [--warmup S] [--seconds S]
 *
 * The pattern of libnetfilter_queue's own example: nfq_open, nfq_create_queue with a
 * callback, nfq_set_mode(COPY_PACKET, 0xffff), nfnl_rcvbufsiz, then recv() into a buffer and
 * nfq_handle_packet(); the callback reads the packet id and calls nfq_set_verdict(NF_ACCEPT).
 * The only addition is the meter (common.h) and a 100 ms SO_RCVTIMEO so the loop can end.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <arpa/inet.h>
#include <linux/netfilter.h> /* NF_ACCEPT */
#include <sys/socket.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg, struct nfq_data *nfa, void *data)
{
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    uint32_t id = ph ? ntohl(ph->packet_id) : 0;
    (void)nfmsg;
    (void)data;
    meter_add(1);
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
}

static void stop_nothing(void *arg)
{
    (void)arg; /* the receive loop polls meter_done */
}

int main(int argc, char **argv)
{
    struct copts o;
    copts_default(&o);
    for (int i = 1; i < argc; i++) {
        if (!copts_parse(&o, argc, argv, &i)) {
            fprintf(stderr, "usage: lnfq_consumer --queue N [--rcvbuf BYTES] [--warmup S] [--seconds S]\n");
            return 2;
        }
    }

    struct nfq_handle *h = nfq_open();
    if (!h) die("lnfq_consumer", "nfq_open");
    struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)o.q_first, &on_packet, NULL);
    if (!qh) die("lnfq_consumer", "nfq_create_queue");
    if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) die("lnfq_consumer", "nfq_set_mode");
    unsigned got = nfnl_rcvbufsiz(nfq_nfnlh(h), (unsigned)o.rcvbuf);
    int fd = nfq_fd(h);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    struct meter m = {.first_wait = o.first_wait, .warmup = o.warmup, .window = o.window,
                      .q_first = o.q_first, .q_last = o.q_first, .stop = stop_nothing};
    printf("ready queue %u rcvbuf=%u\n", o.q_first, got);
    fflush(stdout);
    if (meter_start(&m)) return 1;

    static char buf[65536 + 4096] __attribute__((aligned(8)));
    unsigned long long enobufs = 0;
    while (!meter_done) {
        int rv = (int)recv(fd, buf, sizeof buf, 0);
        if (rv >= 0) {
            nfq_handle_packet(h, buf, rv);
            continue;
        }
        if (errno == ENOBUFS) {
            enobufs++;
            continue;
        }
        if (errno == EAGAIN || errno == EINTR) continue;
        die("lnfq_consumer", "recv");
    }
    meter_join(&m);
    printf("enobufs=%llu\n", enobufs);
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 0;
}
