/*
 * native_consumer: accept-all NFQUEUE consumer on the nfq-rs native C API (make bench).
 *
 *   native_consumer --queue N [--batch 64] [--rcvbuf BYTES] [--warmup S] [--seconds S]
 *   native_consumer --pool A:B ...     one receiving thread per queue (nfq_rs_pool_start)
 *
 * Copy mode packet (whole packet), the given batch (datagrams per recvmmsg) and receive
 * buffer. The callback counts the packet and answers NFQ_RS_ACCEPT; nfq_rs_run receives. The
 * meter (common.h) prints the packets/s of a fixed window, then stops the queue.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <nfq_rs.h>

static int32_t on_packet(nfq_rs_packet *pkt, void *user)
{
    (void)pkt;
    (void)user;
    meter_add(1);
    return NFQ_RS_ACCEPT;
}

static void stop_queue(void *arg)
{
    nfq_rs_stop(arg);
}

static void stop_pool(void *arg)
{
    nfq_rs_pool_stop(arg);
}

static void fail(const char *what, int rc, const nfq_rs_queue *q)
{
    char detail[512];
    nfq_rs_last_error(q, detail, sizeof detail);
    fprintf(stderr, "native_consumer: %s: %s (%d): %s\n", what, nfq_rs_strerror(rc), rc, detail);
    exit(1);
}

static void print_stats(const nfq_rs_queue *q, unsigned num)
{
    uint64_t rx = 0, msgs = 0, enobufs = 0;
    nfq_rs_stat(q, NFQ_RS_STAT_PACKETS_RECEIVED, &rx);
    nfq_rs_stat(q, NFQ_RS_STAT_VERDICT_MESSAGES, &msgs);
    nfq_rs_stat(q, NFQ_RS_STAT_ENOBUFS, &enobufs);
    printf("queue %u: packets=%llu verdict_messages=%llu enobufs=%llu\n", num, (unsigned long long)rx,
           (unsigned long long)msgs, (unsigned long long)enobufs);
}

int main(int argc, char **argv)
{
    struct copts o;
    int pool_mode = 0;
    copts_default(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pool") && i + 1 < argc) {
            if (parse_range(argv[++i], &o.q_first, &o.q_last)) goto usage;
            pool_mode = 1;
        } else if (!copts_parse(&o, argc, argv, &i)) {
            goto usage;
        }
    }

    nfq_rs_config *cfg = nfq_rs_config_new((uint16_t)o.q_first);
    if (!cfg) return 1;
    if (nfq_rs_config_set_batch(cfg, o.batch) || nfq_rs_config_set_rcvbuf(cfg, o.rcvbuf) ||
        nfq_rs_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, 0xffff))
        fail("config", NFQ_RS_E_INVAL, NULL);

    struct meter m = {.first_wait = o.first_wait, .warmup = o.warmup, .window = o.window,
                      .q_first = o.q_first, .q_last = o.q_last};
    int rc;
    if (pool_mode) {
        nfq_rs_pool *pool = NULL;
        rc = nfq_rs_pool_start(cfg, (uint16_t)o.q_first, (uint16_t)o.q_last, on_packet, NULL, 0, &pool);
        nfq_rs_config_free(cfg);
        if (rc) fail("nfq_rs_pool_start", rc, NULL);
        m.stop = stop_pool;
        m.stop_arg = pool;
        printf("ready pool %u:%u (%d threads) batch=%u rcvbuf=%lu\n", o.q_first, o.q_last, nfq_rs_pool_size(pool),
               o.batch, o.rcvbuf);
        fflush(stdout);
        if (meter_start(&m)) return 1;
        meter_join(&m);
        rc = nfq_rs_pool_join(pool);
        for (int i = 0; i < nfq_rs_pool_size(pool); i++) print_stats(nfq_rs_pool_queue(pool, (uint32_t)i), o.q_first + (unsigned)i);
        nfq_rs_pool_free(pool);
        return rc ? 1 : 0;
    }

    nfq_rs_queue *q = NULL;
    rc = nfq_rs_open(cfg, &q);
    nfq_rs_config_free(cfg);
    if (rc) fail("nfq_rs_open", rc, NULL);
    nfq_rs_set_callback(q, on_packet, NULL);
    m.stop = stop_queue;
    m.stop_arg = q;
    printf("ready queue %u batch=%u rcvbuf=%lu\n", o.q_first, o.batch, o.rcvbuf);
    fflush(stdout);
    if (meter_start(&m)) return 1;
    rc = nfq_rs_run(q);
    meter_join(&m);
    if (rc) fail("nfq_rs_run", rc, q);
    print_stats(q, o.q_first);
    nfq_rs_close(q);
    return 0;

usage:
    fprintf(stderr, "usage: native_consumer (--queue N | --pool A:B) [--batch B] [--rcvbuf BYTES] [--warmup S] "
                    "[--seconds S] [--first-wait S]\n");
    return 2;
}
