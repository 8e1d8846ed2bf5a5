/*
 * nflog_native_consumer: NFLOG consumer on the nfq-rs native C API (make bench).
 *
 *   nflog_native_consumer --group G [--range BYTES] [--nlbufsiz BYTES] [--qthresh N]
 *                         [--timeout CS] [--rcvbuf BYTES] [--batch N] [--warmup S] [--seconds S]
 *                         [--go FILE]
 *
 * The same group settings and the same per-message work as bench/lnflog_consumer.c (read the
 * prefix and the payload, count the message), through nfq_rs_log_open, a batch callback and
 * nfq_rs_log_run; the
 * meter's stop calls nfq_rs_log_stop.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <nfq_rs.h>

static unsigned long long g_bytes;

/* The messages of a receive batch come in one call, each as a record of its fields
 * (nfq_rs_log_set_batch_callback): the native API's way for a consumer that reads every
 * message. */
static void on_batch(const nfq_rs_log_packet_info *infos, size_t n, void *user)
{
    (void)user;
    for (size_t i = 0; i < n; i++)
        g_bytes += (unsigned long long)infos[i].payload_len + (infos[i].prefix ? (unsigned char)infos[i].prefix[0] : 0);
    meter_add(n);
}

static void stop_log(void *arg)
{
    nfq_rs_log_stop((nfq_rs_log *)arg);
}

int main(int argc, char **argv)
{
    struct copts o;
    struct nflog_opts n;
    copts_default(&o);
    o.batch = 16;
    if (nflog_opts_parse("nflog_native_consumer", &n, &o, argc, argv)) return 2;
    unsigned range = n.range, nlbufsiz = n.nlbufsiz, qthresh = n.qthresh, timeout = n.timeout;
    /* The kernel's maximum range is 65531 (libnetfilter_log users pass 0xffff, which the kernel
     * clamps; the native API refuses what would be clamped). */
    if (range > 65531) range = 0;

    nfq_rs_log_config *cfg = nfq_rs_log_config_new((uint16_t)o.q_first);
    if (!cfg || nfq_rs_log_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, range) < 0 ||
        nfq_rs_log_config_set_nlbufsiz(cfg, nlbufsiz) < 0 || nfq_rs_log_config_set_threshold(cfg, qthresh) < 0 ||
        nfq_rs_log_config_set_timeout(cfg, timeout) < 0 || nfq_rs_log_config_set_rcvbuf(cfg, o.rcvbuf) < 0 ||
        nfq_rs_log_config_set_batch(cfg, o.batch) < 0) {
        fprintf(stderr, "nflog_native_consumer: config failed\n");
        return 1;
    }
    nfq_rs_log *log = NULL;
    int rc = nfq_rs_log_open(cfg, NULL, NULL, &log);
    nfq_rs_log_config_free(cfg);
    if (rc >= 0) rc = nfq_rs_log_set_batch_callback(log, on_batch, NULL);
    if (rc < 0) {
        char msg[512];
        nfq_rs_log_last_error(NULL, msg, sizeof msg);
        fprintf(stderr, "nflog_native_consumer: open: %s\n", msg);
        return 1;
    }
    if (o.go) {
        struct drain d;
        uint64_t enobufs = 0;
        printf("ready group %u batch %u (drain)\n", o.q_first, o.batch);
        fflush(stdout);
        drain_wait_go(o.go);
        drain_start(&d);
        for (;;) {
            rc = nfq_rs_log_dispatch(log, 100);
            if (rc > 0) {
                drain_mark(&d);
            } else if (rc == NFQ_RS_E_NOBUFS) {
                enobufs++;
            } else {
                break;
            }
        }
        drain_report(&d);
        printf("enobufs=%llu bytes=%llu\n", (unsigned long long)enobufs, g_bytes);
        nfq_rs_log_close(log);
        return rc < 0;
    }

    struct meter m = {.first_wait = o.first_wait, .warmup = o.warmup, .window = o.window,
                      .q_first = 70000, .q_last = 70000, .stop = stop_log, .stop_arg = log};
    printf("ready group %u batch %u\n", o.q_first, o.batch);
    fflush(stdout);
    if (meter_start(&m)) return 1;
    rc = nfq_rs_log_run(log);
    meter_join(&m);
    uint64_t enobufs = 0, drops = 0;
    nfq_rs_log_stat(log, NFQ_RS_LOG_STAT_ENOBUFS, &enobufs);
    nfq_rs_log_kernel_drops(log, &drops);
    printf("enobufs=%llu kernel_drops=%llu bytes=%llu run=%d\n", (unsigned long long)enobufs,
           (unsigned long long)drops, g_bytes, rc);
    nfq_rs_log_close(log);
    return rc < 0;
}
