/*
 * C-path soak of the native API: N packets through accept (id % 3 == 0), mark 7 (1) and a
 * payload rewrite (2), one thread, at most WINDOW packets in flight. Checks that every packet
 * got exactly one verdict (library counters, the kernel's id sequence and queue total, the
 * receiver's count and how many arrived rewritten) and, with --check-rss, that RSS and the
 * number of open descriptors stay flat after a warm-up of N/10 packets. Run under ASan/LSan
 * and valgrind by scripts/test-soak-c.sh (leaks and memory errors fail the run there).
 *
 * Usage (inside a namespace queueing UDP port PORT to QUEUE):
 *   soak_test QUEUE PORT N [--check-rss]
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <nfq_rs.h>

#include "nstest.h"

#define WINDOW 256

static uint64_t g_rewritten_sent = 0;

static int soak_cb(nfq_rs_packet *pkt, void *user)
{
    (void)user;
    uint32_t id = nfq_rs_packet_id(pkt);
    if (id % 3 == 1) {
        nfq_rs_packet_set_mark(pkt, 7);
    } else if (id % 3 == 2) {
        size_t len = 0;
        const uint8_t *p = nfq_rs_packet_payload(pkt, &len);
        uint8_t copy[128];
        if (p && len >= 37 && len <= sizeof copy) {
            memcpy(copy, p, len);
            copy[26] = copy[27] = 0; /* no UDP checksum */
            copy[36] = 1;            /* the body's flag byte */
            if (nfq_rs_packet_set_payload(pkt, copy, len) == 0) g_rewritten_sent++;
        }
    }
    return NFQ_RS_ACCEPT;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d)) n++;
    if (d) closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s QUEUE PORT N [--check-rss]\n", argv[0]);
        return 2;
    }
    uint16_t queue = (uint16_t)atoi(argv[1]), port = (uint16_t)atoi(argv[2]);
    uint64_t n = strtoull(argv[3], NULL, 10);
    int check_rss = argc > 4 && strcmp(argv[4], "--check-rss") == 0;

    nfq_rs_config *cfg = nfq_rs_config_new(queue);
    nfq_rs_config_set_batch(cfg, 64);
    nfq_rs_queue *q = NULL;
    CHECK_RC(nfq_rs_open(cfg, &q), 0);
    nfq_rs_config_free(cfg);
    if (!q) return 1;
    CHECK_RC(nfq_rs_set_callback(q, soak_cb, NULL), 0);
    int rx = ns_udp_socket(NULL, port), tx = ns_udp_socket(NULL, 0);
    int big = 8 << 20;
    setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    fcntl(tx, F_SETFL, O_NONBLOCK);

    uint64_t sent = 0, got = 0, rewritten = 0, warm = n / 10;
    long rss0 = -1;
    int fds0 = -1;
    unsigned char body[16] = {0}, buf[2048];
    long long start = now_ms(), deadline = start + 60000 + (long long)n / 5;
    while (got < n && now_ms() < deadline) {
        while (sent < n && sent - got < WINDOW) {
            memcpy(body, &sent, sizeof sent);
            if (udp_send(tx, port, body, sizeof body) != 0) break;
            sent++;
        }
        int r = nfq_rs_dispatch(q, 1);
        CHECK(r >= 0, "dispatch: %s", nfq_rs_strerror(r));
        ssize_t k;
        while ((k = recv(rx, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            got++;
            if (k > 8 && buf[8] == 1) rewritten++;
        }
        if (rss0 < 0 && got >= warm) {
            rss0 = rss_kib();
            fds0 = fd_count();
        }
    }
    long long ms = now_ms() - start;
    nfq_rs_dispatch(q, 20); /* a late kernel error, if any */
    long rss1 = rss_kib();
    int fds1 = fd_count();
    uint64_t pkts = 0, verdicts = 0, errors = 0, fallback = 0, id_seq = 0, total = 1, dropped = 1, udropped = 1;
    nfq_rs_stat(q, NFQ_RS_STAT_PACKETS_RECEIVED, &pkts);
    nfq_rs_stat(q, NFQ_RS_STAT_VERDICTS_SENT, &verdicts);
    nfq_rs_stat(q, NFQ_RS_STAT_VERDICT_ERRORS, &errors);
    nfq_rs_stat(q, NFQ_RS_STAT_FALLBACK_VERDICTS, &fallback);
    nfq_rs_kernel_stat(q, queue, NFQ_RS_KSTAT_ID_SEQUENCE, &id_seq);
    nfq_rs_kernel_stat(q, queue, NFQ_RS_KSTAT_QUEUE_TOTAL, &total);
    nfq_rs_kernel_stat(q, queue, NFQ_RS_KSTAT_DROPPED, &dropped);
    nfq_rs_kernel_stat(q, queue, NFQ_RS_KSTAT_USER_DROPPED, &udropped);
    printf("soak-c: %llu packets in %lld ms; received %llu (rewritten %llu); library: packets %llu verdicts %llu "
           "errors %llu fallback %llu; kernel: id_sequence %llu queue_total %llu dropped %llu user_dropped %llu; "
           "RSS %ld -> %ld KiB; fds %d -> %d\n",
           (unsigned long long)n, ms, (unsigned long long)got, (unsigned long long)rewritten,
           (unsigned long long)pkts, (unsigned long long)verdicts, (unsigned long long)errors,
           (unsigned long long)fallback, (unsigned long long)id_seq, (unsigned long long)total,
           (unsigned long long)dropped, (unsigned long long)udropped, rss0, rss1, fds0, fds1);
    uint64_t want_rewritten = 0;
    for (uint64_t id = 1; id <= n; id++) want_rewritten += id % 3 == 2;
    CHECK(got == n, "received %llu of %llu", (unsigned long long)got, (unsigned long long)n);
    CHECK(rewritten == want_rewritten && g_rewritten_sent == want_rewritten, "rewritten %llu, want %llu",
          (unsigned long long)rewritten, (unsigned long long)want_rewritten);
    CHECK(pkts == n && verdicts == n && errors == 0 && fallback == 0, "one verdict per packet");
    CHECK(id_seq == n && total == 0 && dropped == 0 && udropped == 0, "kernel counters agree");
    if (check_rss) {
        CHECK(fds1 == fds0, "descriptors %d -> %d", fds0, fds1);
        CHECK(rss1 <= rss0 + 2048, "RSS grew by %ld KiB", rss1 - rss0);
    }
    close(rx);
    close(tx);
    nfq_rs_close(q);
    return g_failures ? 1 : 0;
}
