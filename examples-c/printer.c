/*
 * printer: accepts every packet of an NFQUEUE queue and prints one line per packet.
 *
 *   printer [--netns PATH] [--count N] [QUEUE]
 *
 *   QUEUE        queue number (default 0)
 *   --netns PATH open the queue inside the network namespace at PATH
 *                (e.g. /var/run/netns/NAME); this process stays where it is
 *   --count N    exit after N packets
 *
 * Try it:   iptables -A OUTPUT -p udp --dport 5353 -j NFQUEUE --queue-num 0
 *           ./printer 0
 * Stop with Ctrl-C (SIGINT) or SIGTERM; the library counters are printed at exit.
 *
 * Build:    cc -std=c11 printer.c $(pkg-config --cflags --libs libnfq_rs) -o printer
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nfq_rs.h>

struct state {
    nfq_rs_queue *q;
    unsigned long seen;
    unsigned long limit; /* 0: no limit */
};

/* The handle the signal handler stops; set before the handlers are installed. */
static nfq_rs_queue *volatile g_queue;

static void on_signal(int sig)
{
    (void)sig;
    nfq_rs_stop(g_queue); /* async-signal-safe */
}

static const char *hook_name(uint8_t hook)
{
    static const char *const names[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
    return hook < sizeof names / sizeof names[0] ? names[hook] : "?";
}

static void print_error(const char *what, int rc, const nfq_rs_queue *q)
{
    char detail[512];
    nfq_rs_last_error(q, detail, sizeof detail);
    fprintf(stderr, "printer: %s: %s (%d): %s\n", what, nfq_rs_strerror(rc), rc, detail);
}

static int32_t on_packet(nfq_rs_packet *pkt, void *user)
{
    struct state *st = user;
    uint32_t v = 0;
    char in[16] = "-", out[16] = "-", mark[16] = "-", uid[16] = "-";
    size_t len = 0;

    nfq_rs_packet_payload(pkt, &len);
    if (nfq_rs_packet_indev(pkt, &v) == 1) snprintf(in, sizeof in, "%u", v);
    if (nfq_rs_packet_outdev(pkt, &v) == 1) snprintf(out, sizeof out, "%u", v);
    if (nfq_rs_packet_mark(pkt, &v) == 1) snprintf(mark, sizeof mark, "0x%x", v);
    if (nfq_rs_packet_uid(pkt, &v) == 1) snprintf(uid, sizeof uid, "%u", v);

    printf("packet id=%u queue=%u hook=%s hw=0x%04x len=%zu/%zu%s in=%s out=%s mark=%s uid=%s"
           " verdict=ACCEPT\n",
           nfq_rs_packet_id(pkt), nfq_rs_packet_queue(pkt), hook_name(nfq_rs_packet_hook(pkt)),
           nfq_rs_packet_hw_protocol(pkt), len, nfq_rs_packet_orig_len(pkt),
           nfq_rs_packet_is_truncated(pkt) ? "(truncated)" : "", in, out, mark, uid);

    st->seen++;
    if (st->limit && st->seen >= st->limit) nfq_rs_stop(st->q); /* this verdict is still sent */
    return NFQ_RS_ACCEPT;
}

static void print_counters(const nfq_rs_queue *q, uint16_t queue)
{
    static const struct { int which; const char *name; } stats[] = {
        {NFQ_RS_STAT_PACKETS_RECEIVED, "packets_received"},
        {NFQ_RS_STAT_VERDICTS_SENT, "verdicts_sent"},
        {NFQ_RS_STAT_VERDICT_ERRORS, "verdict_errors"},
        {NFQ_RS_STAT_ENOBUFS, "enobufs"},
        {NFQ_RS_STAT_TRUNCATED, "truncated"},
        {NFQ_RS_STAT_FOREIGN_IGNORED, "foreign_ignored"},
        {NFQ_RS_STAT_PARSE_ERRORS, "parse_errors"},
        {NFQ_RS_STAT_CALLBACK_ERRORS, "callback_errors"},
        {NFQ_RS_STAT_DEFERRED, "deferred"},
        {NFQ_RS_STAT_FALLBACK_VERDICTS, "fallback_verdicts"},
        {NFQ_RS_STAT_VERDICT_MESSAGES, "verdict_messages"},
    };
    static const struct { int which; const char *name; } kstats[] = {
        {NFQ_RS_KSTAT_QUEUE_TOTAL, "queue_total"},
        {NFQ_RS_KSTAT_DROPPED, "dropped"},
        {NFQ_RS_KSTAT_USER_DROPPED, "user_dropped"},
        {NFQ_RS_KSTAT_ID_SEQUENCE, "id_sequence"},
    };
    uint64_t v;
    printf("counters:");
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) {
        int rc = nfq_rs_stat(q, stats[i].which, &v);
        if (rc == NFQ_RS_OK) printf(" %s=%llu", stats[i].name, (unsigned long long)v);
        else print_error("nfq_rs_stat", rc, NULL);
    }
    printf("\nkernel:");
    for (size_t i = 0; i < sizeof kstats / sizeof kstats[0]; i++) {
        int rc = nfq_rs_kernel_stat(q, queue, kstats[i].which, &v);
        if (rc == NFQ_RS_OK) printf(" %s=%llu", kstats[i].name, (unsigned long long)v);
        else if (rc == NFQ_RS_E_NODEV) { printf(" (queue not listed)"); break; }
        else print_error("nfq_rs_kernel_stat", rc, NULL);
    }
    printf("\n");
}

static int usage(void)
{
    fprintf(stderr, "usage: printer [--netns PATH] [--count N] [QUEUE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *netns = NULL;
    unsigned long limit = 0, queue = 0;
    char *end;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--netns") == 0 && i + 1 < argc) {
            netns = argv[++i];
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            errno = 0;
            limit = strtoul(argv[++i], &end, 10);
            if (errno || *end || limit == 0) return usage();
        } else if (argv[i][0] != '-') {
            errno = 0;
            queue = strtoul(argv[i], &end, 10);
            if (errno || *end || queue > 65535) return usage();
        } else {
            return usage();
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    nfq_rs_config *cfg = nfq_rs_config_new((uint16_t)queue);
    if (!cfg) {
        fprintf(stderr, "printer: nfq_rs_config_new: out of memory\n");
        return 1;
    }
    int rc;
    if ((rc = nfq_rs_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, 0xffff)) != NFQ_RS_OK ||
        (rc = nfq_rs_config_set_flags(cfg, NFQ_RS_F_UID_GID, NFQ_RS_F_UID_GID)) != NFQ_RS_OK ||
        (netns && (rc = nfq_rs_config_set_netns_path(cfg, netns)) != NFQ_RS_OK)) {
        print_error("configuring", rc, NULL);
        nfq_rs_config_free(cfg);
        return 1;
    }

    struct state st = {NULL, 0, limit};
    rc = nfq_rs_open(cfg, &st.q);
    nfq_rs_config_free(cfg);
    if (rc != NFQ_RS_OK) {
        print_error("nfq_rs_open", rc, NULL);
        return 1;
    }
    if ((rc = nfq_rs_set_callback(st.q, on_packet, &st)) != NFQ_RS_OK) {
        print_error("nfq_rs_set_callback", rc, st.q);
        nfq_rs_close(st.q);
        return 1;
    }

    g_queue = st.q;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("printer: nfq-rs %s, queue %lu open%s%s, waiting for packets\n", nfq_rs_version(), queue,
           netns ? " in " : "", netns ? netns : "");

    rc = nfq_rs_run(st.q);
    int status = 0;
    if (rc != NFQ_RS_OK) {
        print_error("nfq_rs_run", rc, st.q);
        status = 1;
    }

    /* No handler may touch the handle once it is closed. */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_queue = NULL;

    printf("printer: %lu packets\n", st.seen);
    print_counters(st.q, (uint16_t)queue);
    nfq_rs_close(st.q);
    return status;
}
