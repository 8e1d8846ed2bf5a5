/*
 * log_test: exercises the native NFLOG C API (nfq_rs_log_* in nfq_rs.h) against the installed
 * library, on real traffic inside a network namespace made for it by scripts/test-c.sh.
 *
 *   log_test NSNAME        (the namespace /var/run/netns/NSNAME exists, lo is up)
 *
 * The test runs in the host namespace; it adds its iptables NFLOG rules inside NSNAME (never
 * in the host's), opens its log handles there by path or by descriptor, and creates its UDP
 * sockets there (setns on the calling thread and back). Every accessor is checked on real
 * log messages from the OUTPUT and INPUT hooks; the error paths (group bound by another
 * socket, bad copy range, bad buffer size, the conntrack flag on a kernel without conntrack
 * glue) must give their code and a clear message; full group buffers arrive whole; an overflow
 * is reported, counted and survived; nfq_rs_log_stop must end nfq_rs_log_run
 * from another thread and from a signal handler. Prints "ok N - name" / "not ok N - name"
 * per case and exits 1 if any check failed. Every wait is bounded.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE
#include <limits.h>
#include <netinet/ip.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/time.h>

#include <nfq_rs.h>

#include "nstest.h"

#define WAIT_MS 5000
#define G_MAIN 41    /* OUTPUT and INPUT rules, threshold 1 */
#define G_BATCH 42   /* OUTPUT rule, threshold 8: many messages per datagram */
#define G_SPARE 43   /* no rule: config calls only */
#define PORT_MAIN 9101
#define PORT_BATCH 9102
#define MARK 0x2a

static const char *g_ns_name;
static char g_ns_path[300];

/* ---------------------------------------------------------------------------------------- */
/* Helpers */

static int error_has(const nfq_rs_log *log, const char *needle)
{
    char buf[1024];
    nfq_rs_log_last_error(log, buf, sizeof buf);
    if (strstr(buf, needle)) return 1;
    fprintf(stderr, "  last error \"%s\" lacks \"%s\"\n", buf, needle);
    return 0;
}

static int ipt(const char *fmt, ...)
{
    char args[512], cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 20 ip netns exec '%s' iptables -w 5 %s", g_ns_name, args);
    int st = system(cmd);
    if (st != 0) fprintf(stderr, "  command failed (%d): %s\n", st, cmd);
    return st == 0 ? 0 : -1;
}

/* What the callback saw of one log message (copied out: the view dies with the callback). */
struct rec {
    uint8_t family, hook;
    uint16_t group, hw_protocol;
    char prefix[64];
    int has_prefix;
    size_t prefix_len;
    int has_payload;
    uint8_t payload[128];
    size_t payload_len;
    int has_mark, has_indev, has_outdev, has_physin, has_physout, has_uid, has_gid;
    uint32_t mark, indev, outdev, uid, gid;
    int has_seq, has_seq_global;
    uint32_t seq, seq_global;
    int has_ts;
    uint64_t sec, usec;
    int has_hwaddr, has_hwtype, has_hwlen, has_hwheader;
    size_t hwaddr_len, hwheader_len;
    uint16_t hwtype, hwlen;
    int has_ct, has_ct_entry, has_ct_info, has_vlan, has_l2hdr;
};

struct sink {
    nfq_rs_log *log;
    struct rec recs[64];
    int n;
    int stop_after; /* > 0: nfq_rs_log_stop once this many arrived */
    int fail_every; /* > 0: return 1 for every message when set */
    nfq_rs_ct_entry *entry;
    int bad_pkt;    /* a NULL/odd packet or user pointer */
};

static int on_log(const nfq_rs_log_packet *pkt, void *user)
{
    struct sink *s = user;
    if (!pkt || !s) {
        if (s) s->bad_pkt++;
        return 0;
    }
    if (s->n < (int)(sizeof s->recs / sizeof s->recs[0])) {
        struct rec *r = &s->recs[s->n];
        memset(r, 0, sizeof *r);
        r->family = nfq_rs_log_packet_family(pkt);
        r->group = nfq_rs_log_packet_group(pkt);
        r->hw_protocol = nfq_rs_log_packet_hw_protocol(pkt);
        r->hook = nfq_rs_log_packet_hook(pkt);
        const char *pfx = NULL;
        size_t plen = 0;
        r->has_prefix = nfq_rs_log_packet_prefix(pkt, &pfx, &plen);
        if (r->has_prefix == 1) {
            r->prefix_len = plen;
            /* NUL-terminated as documented: strlen must agree with the length. */
            if (strlen(pfx) != plen) s->bad_pkt++;
            snprintf(r->prefix, sizeof r->prefix, "%s", pfx);
        }
        const uint8_t *d = NULL;
        size_t dl = 0;
        r->has_payload = nfq_rs_log_packet_payload(pkt, &d, &dl);
        if (r->has_payload == 1) {
            r->payload_len = dl;
            memcpy(r->payload, d, dl < sizeof r->payload ? dl : sizeof r->payload);
        }
        r->has_mark = nfq_rs_log_packet_mark(pkt, &r->mark);
        r->has_indev = nfq_rs_log_packet_indev(pkt, &r->indev);
        r->has_outdev = nfq_rs_log_packet_outdev(pkt, &r->outdev);
        uint32_t scratch;
        r->has_physin = nfq_rs_log_packet_physindev(pkt, &scratch);
        r->has_physout = nfq_rs_log_packet_physoutdev(pkt, &scratch);
        r->has_uid = nfq_rs_log_packet_uid(pkt, &r->uid);
        r->has_gid = nfq_rs_log_packet_gid(pkt, &r->gid);
        r->has_seq = nfq_rs_log_packet_seq(pkt, &r->seq);
        r->has_seq_global = nfq_rs_log_packet_seq_global(pkt, &r->seq_global);
        r->has_ts = nfq_rs_log_packet_timestamp(pkt, &r->sec, &r->usec);
        const uint8_t *a = NULL;
        r->has_hwaddr = nfq_rs_log_packet_hwaddr(pkt, &a, &r->hwaddr_len);
        r->has_hwtype = nfq_rs_log_packet_hwtype(pkt, &r->hwtype);
        r->has_hwlen = nfq_rs_log_packet_hwlen(pkt, &r->hwlen);
        r->has_hwheader = nfq_rs_log_packet_hwheader(pkt, &a, &r->hwheader_len);
        r->has_ct = nfq_rs_log_packet_ct(pkt, &a, &dl);
        r->has_ct_entry = s->entry ? nfq_rs_log_packet_ct_entry(pkt, s->entry) : -100;
        r->has_ct_info = nfq_rs_log_packet_ct_info(pkt, &scratch);
        uint16_t p16, t16;
        r->has_vlan = nfq_rs_log_packet_vlan(pkt, &p16, &t16);
        r->has_l2hdr = nfq_rs_log_packet_l2hdr(pkt, &a, &dl);
        /* NULL out-pointers are allowed everywhere. */
        if (nfq_rs_log_packet_mark(pkt, NULL) != r->has_mark) s->bad_pkt++;
        if (nfq_rs_log_packet_prefix(pkt, NULL, NULL) != r->has_prefix) s->bad_pkt++;
        if (nfq_rs_log_packet_timestamp(pkt, NULL, NULL) != r->has_ts) s->bad_pkt++;
    }
    s->n++;
    if (s->stop_after > 0 && s->n >= s->stop_after) nfq_rs_log_stop(s->log);
    return s->fail_every ? 1 : 0;
}

static nfq_rs_log_config *config_for(uint16_t group)
{
    nfq_rs_log_config *cfg = nfq_rs_log_config_new(group);
    if (!cfg) {
        fprintf(stderr, "nfq_rs_log_config_new: out of memory\n");
        exit(2);
    }
    CHECK_RC(nfq_rs_log_config_set_netns_path(cfg, g_ns_path), NFQ_RS_OK);
    return cfg;
}

static nfq_rs_log *open_log(const nfq_rs_log_config *cfg, struct sink *s)
{
    nfq_rs_log *log = NULL;
    int rc = nfq_rs_log_open(cfg, on_log, s, &log);
    if (rc != NFQ_RS_OK) {
        char buf[512];
        nfq_rs_log_last_error(NULL, buf, sizeof buf);
        CHECK(rc == NFQ_RS_OK, "nfq_rs_log_open: %s: %s", nfq_rs_strerror(rc), buf);
        return NULL;
    }
    CHECK(log != NULL, "nfq_rs_log_open returned 0 but no handle");
    if (s) s->log = log;
    return log;
}

/* Dispatches until the sink holds `want` messages or WAIT_MS passed. */
static void pump(nfq_rs_log *log, struct sink *s, int want)
{
    long long end = now_ms() + WAIT_MS;
    while (s->n < want && now_ms() < end) {
        int rc = nfq_rs_log_dispatch(log, 50);
        if (rc < 0) {
            char buf[512];
            nfq_rs_log_last_error(log, buf, sizeof buf);
            CHECK(rc >= 0, "nfq_rs_log_dispatch: %s: %s", nfq_rs_strerror(rc), buf);
            return;
        }
    }
}

static uint64_t stat_of(const nfq_rs_log *log, int which)
{
    uint64_t v = UINT64_MAX;
    CHECK_RC(nfq_rs_log_stat(log, which, &v), NFQ_RS_OK);
    return v;
}

static void send_n(uint16_t port, int n, const char *tag)
{
    int tx = ns_udp_socket(g_ns_path, 0);
    CHECK(tx >= 0, "udp socket in the namespace");
    if (tx < 0) return;
    for (int i = 0; i < n; i++) {
        char m[32];
        int len = snprintf(m, sizeof m, "%s-%02d", tag, i);
        CHECK(udp_send(tx, port, m, (size_t)len) == 0, "send to %u", port);
    }
    close(tx);
}

/* ---------------------------------------------------------------------------------------- */
/* 1. Config setters */

static void test_config(void)
{
    nfq_rs_log_config *cfg = nfq_rs_log_config_new(G_SPARE);
    CHECK(cfg != NULL, "config");
    if (!cfg) return;
    CHECK_RC(nfq_rs_log_config_set_copy_mode(cfg, 3, 0), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_config_set_copy_mode(cfg, -1, 0), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, NFQ_RS_LOG_MAX_COPY_RANGE + 1),
             NFQ_RS_E_INVAL);
    CHECK(error_has(NULL, "65531"), "copy range message names the maximum");
    CHECK_RC(nfq_rs_log_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, NFQ_RS_LOG_MAX_COPY_RANGE), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_copy_mode(cfg, NFQ_RS_COPY_META, 0), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_nlbufsiz(cfg, 100), NFQ_RS_E_INVAL);
    CHECK(error_has(NULL, "buffer size 100"), "nlbufsiz message names the value");
    CHECK_RC(nfq_rs_log_config_set_nlbufsiz(cfg, NFQ_RS_LOG_MAX_NLBUFSIZ + 1), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_config_set_nlbufsiz(cfg, NFQ_RS_LOG_MAX_NLBUFSIZ), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_flags(cfg, 8), NFQ_RS_E_INVAL);
    CHECK(error_has(NULL, "unknown flag bits 0x8"), "flags message");
    CHECK_RC(nfq_rs_log_config_set_flags(cfg, NFQ_RS_LOG_F_SEQ | NFQ_RS_LOG_F_SEQ_GLOBAL), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_batch(cfg, 0), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_config_set_batch(cfg, 1025), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_config_set_batch(cfg, 1024), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_netns_fd(cfg, -2), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_config_set_netns_fd(cfg, -1), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_netns_path(cfg, ""), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_config_set_netns_path(cfg, NULL), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_timeout(cfg, 5), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_threshold(cfg, 5), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_rcvbuf(cfg, 0), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_no_enobufs(cfg, 1), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_add_group(cfg, G_SPARE + 1), NFQ_RS_OK);
    nfq_rs_log_config_free(cfg);
    nfq_rs_log_config_free(NULL);
    nfq_rs_log_close(NULL);

    /* A namespace path that does not exist: a clear error, no handle. */
    cfg = nfq_rs_log_config_new(G_SPARE);
    CHECK_RC(nfq_rs_log_config_set_netns_path(cfg, "/var/run/netns/nfqrs-no-such-namespace"), NFQ_RS_OK);
    nfq_rs_log *log = (nfq_rs_log *)&cfg; /* overwritten with NULL on failure */
    int rc = nfq_rs_log_open(cfg, on_log, NULL, &log);
    CHECK(rc < 0 && log == NULL, "open in a missing namespace gave %d", rc);
    CHECK(error_has(NULL, "nfqrs-no-such-namespace"), "message names the namespace");
    nfq_rs_log_config_free(cfg);
}

/* ---------------------------------------------------------------------------------------- */
/* 2. Every accessor on real messages from OUTPUT and INPUT */

static void test_accessors(void)
{
    nfq_rs_log_config *cfg = config_for(G_MAIN);
    CHECK_RC(nfq_rs_log_config_set_flags(cfg, NFQ_RS_LOG_F_SEQ | NFQ_RS_LOG_F_SEQ_GLOBAL), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_threshold(cfg, 1), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_timeout(cfg, 7), NFQ_RS_OK);
    struct sink *s = calloc(1, sizeof *s);
    s->entry = nfq_rs_ct_entry_new();
    nfq_rs_log *log = open_log(cfg, s);
    nfq_rs_log_config_free(cfg);
    if (!log) goto out;

    CHECK(nfq_rs_log_fd(log) >= 0, "fd");
    int rx = ns_udp_socket(g_ns_path, PORT_MAIN);
    CHECK(rx >= 0, "receiver");
    const int n = 3;
    send_n(PORT_MAIN, n, "acc");
    pump(log, s, 2 * n);
    CHECK(s->n == 2 * n, "got %d log messages, want %d (OUTPUT and INPUT of %d datagrams)", s->n, 2 * n, n);
    CHECK(s->bad_pkt == 0, "%d inconsistent accessor results", s->bad_pkt);
    if (rx >= 0) close(rx);

    int outs = 0, ins = 0;
    uint32_t last_seq = 0;
    for (int i = 0; i < s->n && i < 64; i++) {
        struct rec *r = &s->recs[i];
        CHECK(r->family == AF_INET, "family %u", r->family);
        CHECK(r->group == G_MAIN, "group %u", r->group);
        CHECK(r->hw_protocol == 0x0800, "hw_protocol 0x%x", r->hw_protocol);
        CHECK(r->has_prefix == 1, "prefix present");
        CHECK(r->has_payload == 1, "payload present (copy mode packet)");
        CHECK(r->payload_len == 20 + 8 + 6, "payload length %zu, want 34", r->payload_len);
        if (r->payload_len >= 28) {
            const struct iphdr *ip = (const void *)r->payload;
            CHECK(ip->version == 4 && ip->protocol == 17, "IPv4/UDP header first");
            CHECK(r->payload[22] == (PORT_MAIN >> 8) && r->payload[23] == (PORT_MAIN & 0xff), "dport");
            CHECK(memcmp(r->payload + 28, "acc-", 4) == 0, "UDP data");
        }
        CHECK(r->has_mark == 1 && r->mark == MARK, "mark %d/0x%x", r->has_mark, r->mark);
        CHECK(r->has_seq == 1, "seq present (flag SEQ)");
        CHECK(r->has_seq_global == 1, "seq_global present (flag SEQ_GLOBAL)");
        if (i > 0) CHECK(r->seq == last_seq + 1, "seq %u follows %u", r->seq, last_seq);
        last_seq = r->seq;
        CHECK(r->has_physin == 0 && r->has_physout == 0, "no bridge ports");
        CHECK(r->has_vlan == 0 && r->has_l2hdr == 0, "no VLAN/L2 header outside the bridge family");
        CHECK(r->has_ct == 0 && r->has_ct_info == 0 && r->has_ct_entry == 0, "no conntrack without the flag");
        if (strcmp(r->prefix, "lt-out") == 0) {
            outs++;
            CHECK(r->prefix_len == 6, "prefix length %zu", r->prefix_len);
            CHECK(r->hook == 3, "OUTPUT hook %u", r->hook);
            CHECK(r->has_outdev == 1 && r->outdev == 1, "outdev lo (%d, %u)", r->has_outdev, r->outdev);
            CHECK(r->has_indev == 0, "no indev on OUTPUT");
            CHECK(r->has_uid == 1 && r->uid == 0, "uid of the sending socket (%d, %u)", r->has_uid, r->uid);
            CHECK(r->has_gid == 1 && r->gid == 0, "gid of the sending socket (%d, %u)", r->has_gid, r->gid);
            CHECK(r->has_ts == 0, "no timestamp on OUTPUT");
            CHECK(r->has_hwaddr == 0 && r->has_hwtype == 0 && r->has_hwlen == 0 && r->has_hwheader == 0,
                  "no link layer on OUTPUT");
        } else if (strcmp(r->prefix, "lt-in") == 0) {
            ins++;
            CHECK(r->hook == 1, "INPUT hook %u", r->hook);
            CHECK(r->has_indev == 1 && r->indev == 1, "indev lo (%d, %u)", r->has_indev, r->indev);
            CHECK(r->has_outdev == 0, "no outdev on INPUT");
            CHECK(r->has_ts == 1 && r->sec > 1600000000ULL && r->usec < 1000000, "timestamp on INPUT (%d, %llu.%06llu)",
                  r->has_ts, (unsigned long long)r->sec, (unsigned long long)r->usec);
            CHECK(r->has_hwtype == 1 && r->hwtype == 772, "hwtype ARPHRD_LOOPBACK (%d, %u)", r->has_hwtype, r->hwtype);
            CHECK(r->has_hwlen == 1 && r->hwlen == 14, "hwlen 14 (%d, %u)", r->has_hwlen, r->hwlen);
            CHECK(r->has_hwheader == 1 && r->hwheader_len == 14, "hwheader (%d, %zu)", r->has_hwheader,
                  r->hwheader_len);
            CHECK(r->has_hwaddr == 1 && r->hwaddr_len == 6, "hwaddr (%d, %zu)", r->has_hwaddr, r->hwaddr_len);
        } else {
            CHECK(0, "unexpected prefix \"%s\"", r->prefix);
        }
    }
    CHECK(outs == n && ins == n, "%d OUTPUT and %d INPUT messages, want %d each", outs, ins, n);

    /* Counters, kernel values and drops. */
    CHECK(stat_of(log, NFQ_RS_LOG_STAT_PACKETS_RECEIVED) == (uint64_t)(2 * n), "packets_received");
    uint64_t dg = stat_of(log, NFQ_RS_LOG_STAT_DATAGRAMS);
    CHECK(dg >= 1 && dg <= (uint64_t)(2 * n), "datagrams %llu", (unsigned long long)dg);
    CHECK(stat_of(log, NFQ_RS_LOG_STAT_ENOBUFS) == 0, "enobufs");
    CHECK(stat_of(log, NFQ_RS_LOG_STAT_TRUNCATED) == 0, "truncated");
    CHECK(stat_of(log, NFQ_RS_LOG_STAT_PARSE_ERRORS) == 0, "parse_errors");
    CHECK(stat_of(log, NFQ_RS_LOG_STAT_CALLBACK_ERRORS) == 0, "callback_errors");
    uint64_t v = 0;
    CHECK_RC(nfq_rs_log_stat(log, 99, &v), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_stat(log, NFQ_RS_LOG_STAT_DATAGRAMS, NULL), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_kernel_drops(log, &v), NFQ_RS_OK);
    CHECK(v == 0, "kernel drops %llu", (unsigned long long)v);
    CHECK_RC(nfq_rs_log_kernel_stat(log, G_MAIN, NFQ_RS_LOG_KSTAT_PORTID, &v), NFQ_RS_OK);
    CHECK(v > 0, "portid %llu", (unsigned long long)v);
    CHECK_RC(nfq_rs_log_kernel_stat(log, G_MAIN, NFQ_RS_LOG_KSTAT_COPY_MODE, &v), NFQ_RS_OK);
    CHECK(v == NFQ_RS_COPY_PACKET, "kernel copy mode %llu", (unsigned long long)v);
    CHECK_RC(nfq_rs_log_kernel_stat(log, G_MAIN, NFQ_RS_LOG_KSTAT_COPY_RANGE, &v), NFQ_RS_OK);
    CHECK(v == NFQ_RS_LOG_MAX_COPY_RANGE, "kernel copy range %llu", (unsigned long long)v);
    CHECK_RC(nfq_rs_log_kernel_stat(log, G_MAIN, NFQ_RS_LOG_KSTAT_FLUSH_TIMEOUT, &v), NFQ_RS_OK);
    CHECK(v == 7, "kernel flush timeout %llu", (unsigned long long)v);
    CHECK_RC(nfq_rs_log_kernel_stat(log, G_MAIN, NFQ_RS_LOG_KSTAT_QLEN, &v), NFQ_RS_OK);
    CHECK(v == 0, "nothing left gathered (qlen %llu)", (unsigned long long)v);
    CHECK_RC(nfq_rs_log_kernel_stat(log, G_MAIN, 99, &v), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_kernel_stat(log, G_SPARE, NFQ_RS_LOG_KSTAT_PORTID, &v), NFQ_RS_E_NODEV);

    /* Settings on the open handle: copy mode meta drops the payload. */
    CHECK_RC(nfq_rs_log_set_copy_mode(log, G_MAIN, NFQ_RS_COPY_META, 0), NFQ_RS_OK);
    int before = s->n;
    send_n(PORT_MAIN, 1, "meta");
    pump(log, s, before + 2);
    CHECK(s->n == before + 2, "meta messages %d", s->n - before);
    for (int i = before; i < s->n && i < 64; i++)
        CHECK(s->recs[i].has_payload == 0 && s->recs[i].has_prefix == 1, "copy mode meta: no payload");
    /* Copy range 10: the payload is cut to 10 bytes. */
    CHECK_RC(nfq_rs_log_set_copy_mode(log, G_MAIN, NFQ_RS_COPY_PACKET, 10), NFQ_RS_OK);
    before = s->n;
    send_n(PORT_MAIN, 1, "cut");
    pump(log, s, before + 2);
    for (int i = before; i < s->n && i < 64; i++)
        CHECK(s->recs[i].has_payload == 1 && s->recs[i].payload_len == 10, "copy range 10: %zu bytes",
              s->recs[i].payload_len);

    /* A callback that returns non-zero is counted and recorded; the loop goes on. */
    s->fail_every = 1;
    before = s->n;
    send_n(PORT_MAIN, 1, "fail");
    pump(log, s, before + 2);
    s->fail_every = 0;
    CHECK(s->n == before + 2, "messages still delivered after a failing callback");
    CHECK(stat_of(log, NFQ_RS_LOG_STAT_CALLBACK_ERRORS) == 2, "callback errors counted");
    CHECK(error_has(log, "callback reported a failure"), "callback failure recorded as the last error");

    /* No callback: dispatch refuses with a clear message; set it back. */
    CHECK_RC(nfq_rs_log_set_callback(log, NULL, NULL), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_dispatch(log, 0), NFQ_RS_E_INVAL);
    CHECK(error_has(log, "no callback"), "no-callback message");
    CHECK_RC(nfq_rs_log_set_callback(log, on_log, s), NFQ_RS_OK);

    /* A dispatch with nothing to receive returns 0 after its timeout. */
    long long t0 = now_ms();
    CHECK_RC(nfq_rs_log_dispatch(log, 100), 0);
    long long dt = now_ms() - t0;
    CHECK(dt >= 80 && dt < 3000, "dispatch(100) took %lld ms", dt);

    int got = nfq_rs_log_set_rcvbuf(log, 1 << 20);
    CHECK(got >= 1 << 20, "rcvbuf %d", got);
    CHECK_RC(nfq_rs_log_set_no_enobufs(log, 1), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_set_no_enobufs(log, 0), NFQ_RS_OK);
    nfq_rs_log_close(log);
out:
    nfq_rs_ct_entry_free(s->entry);
    free(s);
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Many messages per datagram (threshold), two groups on one socket, config by fd */

/* The batch callback: records of a whole receive batch in one call. */
struct batch_sink {
    int calls, n;
    struct {
        uint16_t group;
        uint32_t present, outdev;
        char prefix[64];
        size_t payload_len;
        uint8_t first_payload_byte;
    } recs[64];
};

static void on_batch(const nfq_rs_log_packet_info *infos, size_t n, void *user)
{
    struct batch_sink *b = user;
    b->calls++;
    for (size_t i = 0; i < n && b->n < 64; i++, b->n++) {
        b->recs[b->n].group = infos[i].group;
        b->recs[b->n].present = infos[i].present;
        b->recs[b->n].outdev = infos[i].outdev;
        snprintf(b->recs[b->n].prefix, sizeof b->recs[b->n].prefix, "%s", infos[i].prefix ? infos[i].prefix : "(null)");
        b->recs[b->n].payload_len = infos[i].payload_len;
        b->recs[b->n].first_payload_byte = infos[i].payload_len ? infos[i].payload[0] : 0;
    }
}

static void test_batch(void)
{
    int nsfd = open(g_ns_path, O_RDONLY | O_CLOEXEC);
    CHECK(nsfd >= 0, "open %s", g_ns_path);
    nfq_rs_log_config *cfg = nfq_rs_log_config_new(G_BATCH);
    CHECK_RC(nfq_rs_log_config_set_netns_fd(cfg, nsfd), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_add_group(cfg, G_SPARE), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_threshold(cfg, 8), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_timeout(cfg, 100), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_nlbufsiz(cfg, 65536), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_batch(cfg, 4), NFQ_RS_OK);
    struct sink *s = calloc(1, sizeof *s);
    nfq_rs_log *log = open_log(cfg, s);
    nfq_rs_log_config_free(cfg);
    if (nsfd >= 0) close(nsfd);
    if (log) {
        uint64_t v = 0;
        CHECK_RC(nfq_rs_log_kernel_stat(log, G_SPARE, NFQ_RS_LOG_KSTAT_PORTID, &v), NFQ_RS_OK);
        send_n(PORT_BATCH, 8, "bat");
        pump(log, s, 8);
        CHECK(s->n == 8, "got %d messages, want 8", s->n);
        uint64_t dg = stat_of(log, NFQ_RS_LOG_STAT_DATAGRAMS);
        CHECK(dg >= 1 && dg < 8, "8 messages came in %llu datagrams (threshold 8)", (unsigned long long)dg);
        for (int i = 0; i < s->n && i < 8; i++) {
            CHECK(s->recs[i].group == G_BATCH && strcmp(s->recs[i].prefix, "lt-batch") == 0, "batch message %d", i);
            CHECK(s->recs[i].has_seq == 0, "no seq without the flag");
        }
        /* The same traffic through the batch callback: one call per receive batch, each record
         * what the per-packet accessors said. */
        struct batch_sink *b = calloc(1, sizeof *b);
        CHECK_RC(nfq_rs_log_set_batch_callback(log, on_batch, b), NFQ_RS_OK);
        send_n(PORT_BATCH, 8, "bat");
        for (long long end = now_ms() + WAIT_MS; b->n < 8 && now_ms() < end;)
            CHECK(nfq_rs_log_dispatch(log, 50) >= 0, "dispatch with the batch callback");
        CHECK(b->n == 8, "batch callback got %d records, want 8", b->n);
        CHECK(b->calls >= 1 && b->calls < 8, "8 messages of one datagram in %d calls", b->calls);
        for (int i = 0; i < b->n && i < 8; i++) {
            CHECK(b->recs[i].group == G_BATCH && strcmp(b->recs[i].prefix, "lt-batch") == 0, "record %d: %u %s", i,
                  b->recs[i].group, b->recs[i].prefix);
            CHECK(b->recs[i].present & NFQ_RS_LOG_INFO_PREFIX, "record %d: prefix bit", i);
            CHECK((b->recs[i].present & NFQ_RS_LOG_INFO_PAYLOAD) && b->recs[i].payload_len == s->recs[i].payload_len &&
                      b->recs[i].first_payload_byte == s->recs[i].payload[0],
                  "record %d: payload %zu bytes like the accessor's %zu", i, b->recs[i].payload_len, s->recs[i].payload_len);
            CHECK(!!(b->recs[i].present & NFQ_RS_LOG_INFO_OUTDEV) == s->recs[i].has_outdev &&
                      b->recs[i].outdev == (s->recs[i].has_outdev ? s->recs[i].outdev : 0),
                  "record %d: outdev as the accessor", i);
            CHECK(!(b->recs[i].present & NFQ_RS_LOG_INFO_SEQ), "record %d: no seq without the flag", i);
        }
        CHECK_RC(nfq_rs_log_set_batch_callback(log, NULL, NULL), NFQ_RS_OK);
        free(b);
        /* Unbinding: the group leaves /proc; unbinding again is ENODEV. */
        CHECK_RC(nfq_rs_log_unbind(log, G_SPARE), NFQ_RS_OK);
        CHECK_RC(nfq_rs_log_kernel_stat(log, G_SPARE, NFQ_RS_LOG_KSTAT_PORTID, &v), NFQ_RS_E_NODEV);
        CHECK_RC(nfq_rs_log_unbind(log, G_SPARE), NFQ_RS_E_NODEV);
        CHECK(error_has(log, "not bound"), "ENODEV message");
        CHECK_RC(nfq_rs_log_set_timeout(log, G_SPARE, 5), NFQ_RS_E_NODEV);
        CHECK_RC(nfq_rs_log_bind(log, G_SPARE), NFQ_RS_OK);
        CHECK_RC(nfq_rs_log_bind(log, G_SPARE), NFQ_RS_E_BUSY);
        CHECK(error_has(log, "already bound on this handle"), "EBUSY message");
        CHECK_RC(nfq_rs_log_set_timeout(log, G_SPARE, 5), NFQ_RS_OK);
        CHECK_RC(nfq_rs_log_set_threshold(log, G_SPARE, 3), NFQ_RS_OK);
        CHECK_RC(nfq_rs_log_set_nlbufsiz(log, G_SPARE, 8192), NFQ_RS_OK);
        CHECK_RC(nfq_rs_log_set_flags(log, G_SPARE, NFQ_RS_LOG_F_SEQ), NFQ_RS_OK);
        CHECK_RC(nfq_rs_log_set_flags(log, G_SPARE, 0), NFQ_RS_OK);
        /* The family backend (in the test namespace only). */
        CHECK_RC(nfq_rs_log_bind_pf(log, AF_INET), NFQ_RS_OK);
        CHECK_RC(nfq_rs_log_unbind_pf(log, AF_INET), NFQ_RS_OK);
        nfq_rs_log_close(log);
    }
    free(s);
}

/* ---------------------------------------------------------------------------------------- */
/* 4. Full group buffers: datagrams fill the kernel's real skb tail room, which the allocator
 *    rounds up to nearly twice the buffer size. None may be cut short (messages lost). */

static void test_full_buffers(void)
{
    nfq_rs_log_config *cfg = config_for(G_BATCH);
    CHECK_RC(nfq_rs_log_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, 128), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_nlbufsiz(cfg, 8192), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_threshold(cfg, 10000), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_timeout(cfg, 20), NFQ_RS_OK);
    struct sink *s = calloc(1, sizeof *s);
    nfq_rs_log *log = open_log(cfg, s);
    nfq_rs_log_config_free(cfg);
    if (log) {
        send_n(PORT_BATCH, 300, "fill");
        pump(log, s, 300);
        uint64_t dg = stat_of(log, NFQ_RS_LOG_STAT_DATAGRAMS);
        CHECK(s->n == 300, "got %d of 300 messages through an 8192-byte group buffer", s->n);
        CHECK(stat_of(log, NFQ_RS_LOG_STAT_TRUNCATED) == 0, "no datagram cut short");
        CHECK(dg < 30, "300 messages in %llu datagrams", (unsigned long long)dg);
        nfq_rs_log_close(log);
    }
    free(s);
}

/* Overflow: a tiny receive buffer and nobody reading. The next dispatch reports
 * NFQ_RS_E_NOBUFS with the kernel's drop count, the counters show it, and the handle goes on;
 * with NETLINK_NO_ENOBUFS only the kernel's count shows the loss. */
static void overflow_once(int no_enobufs)
{
    nfq_rs_log_config *cfg = config_for(G_MAIN);
    CHECK_RC(nfq_rs_log_config_set_threshold(cfg, 1), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_rcvbuf(cfg, 4096), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_config_set_no_enobufs(cfg, no_enobufs), NFQ_RS_OK);
    struct sink *s = calloc(1, sizeof *s);
    nfq_rs_log *log = open_log(cfg, s);
    nfq_rs_log_config_free(cfg);
    if (log) {
        send_n(PORT_MAIN, 200, "flood");
        int nobufs = 0, rc;
        long long end = now_ms() + WAIT_MS;
        while ((rc = nfq_rs_log_dispatch(log, 100)) != 0 && now_ms() < end)
            if (rc == NFQ_RS_E_NOBUFS) nobufs++;
        uint64_t drops = 0, enobufs = stat_of(log, NFQ_RS_LOG_STAT_ENOBUFS);
        CHECK_RC(nfq_rs_log_kernel_drops(log, &drops), NFQ_RS_OK);
        CHECK(drops > 0, "the kernel counted its drops (%llu)", (unsigned long long)drops);
        CHECK(s->n > 0 && s->n < 400, "%d of 400 messages arrived", s->n);
        if (no_enobufs) {
            CHECK(nobufs == 0 && enobufs == 0, "NO_ENOBUFS: no overflow reported (%d, %llu)", nobufs,
                  (unsigned long long)enobufs);
        } else {
            CHECK(nobufs >= 1 && enobufs == (uint64_t)nobufs, "overflow reported %d times, counted %llu", nobufs,
                  (unsigned long long)enobufs);
            CHECK(error_has(log, "ENOBUFS"), "the last error names ENOBUFS");
            CHECK(error_has(log, "log messages were lost"), "the last error says what it means");
        }
        /* The handle goes on. */
        int before = s->n;
        send_n(PORT_MAIN, 1, "after");
        pump(log, s, before + 2);
        CHECK(s->n == before + 2, "messages after the overflow arrive");
        nfq_rs_log_close(log);
    }
    free(s);
}

static void test_overflow(void)
{
    overflow_once(0);
    overflow_once(1);
}

/* ---------------------------------------------------------------------------------------- */
/* 5. Error paths with clear messages */

static void test_errors(void)
{
    nfq_rs_log_config *cfg = config_for(G_SPARE);
    nfq_rs_log *a = open_log(cfg, NULL);
    if (!a) {
        nfq_rs_log_config_free(cfg);
        return;
    }
    /* Another socket binding the same group: EPERM and what to do. */
    nfq_rs_log *b = NULL;
    CHECK_RC(nfq_rs_log_open(cfg, NULL, NULL, &b), NFQ_RS_E_PERM);
    CHECK(b == NULL, "no handle on failure");
    CHECK(error_has(NULL, "EPERM"), "message names EPERM");
    CHECK(error_has(NULL, "group 43 is bound by another netlink socket"), "message says who holds the group");
    nfq_rs_log_config_free(cfg);

    /* Values the kernel would silently ignore or clamp are refused. */
    CHECK_RC(nfq_rs_log_set_copy_mode(a, G_SPARE, NFQ_RS_COPY_PACKET, 70000), NFQ_RS_E_INVAL);
    CHECK(error_has(a, "copy range 70000"), "copy range message");
    CHECK(error_has(a, "65531"), "copy range message names the maximum");
    CHECK_RC(nfq_rs_log_set_copy_mode(a, G_SPARE, 7, 0), NFQ_RS_E_INVAL);
    CHECK(error_has(a, "mode 7"), "copy mode message");
    CHECK_RC(nfq_rs_log_set_nlbufsiz(a, G_SPARE, 100), NFQ_RS_E_INVAL);
    CHECK(error_has(a, "buffer size 100"), "nlbufsiz message");
    CHECK_RC(nfq_rs_log_set_nlbufsiz(a, G_SPARE, 1 << 20), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_log_set_flags(a, G_SPARE, 0x10), NFQ_RS_E_INVAL);
    CHECK(error_has(a, "unknown bits 0x10"), "flags message");

    /* The conntrack flag on a kernel without NETFILTER_NETLINK_GLUE_CT. */
    CHECK_RC(nfq_rs_log_set_flags(a, G_SPARE, NFQ_RS_LOG_F_CONNTRACK), NFQ_RS_E_NOTSUP);
    CHECK(error_has(a, "EOPNOTSUPP"), "message names EOPNOTSUPP");
    CHECK(error_has(a, "CONFIG_NETFILTER_NETLINK_GLUE_CT"), "message names the kernel option");
    /* ... also at open, reported per thread. */
    cfg = config_for(G_SPARE + 1);
    CHECK_RC(nfq_rs_log_config_set_flags(cfg, NFQ_RS_LOG_F_CONNTRACK), NFQ_RS_OK);
    CHECK_RC(nfq_rs_log_open(cfg, NULL, NULL, &b), NFQ_RS_E_NOTSUP);
    CHECK(b == NULL, "no handle on failure");
    CHECK(error_has(NULL, "CONFIG_NETFILTER_NETLINK_GLUE_CT"), "open: message names the kernel option");
    nfq_rs_log_config_free(cfg);

    /* The handle still works after all that. */
    CHECK_RC(nfq_rs_log_set_timeout(a, G_SPARE, 10), NFQ_RS_OK);
    nfq_rs_log_close(a);
}

/* ---------------------------------------------------------------------------------------- */
/* 6. Stop: before run, from another thread, from a signal handler, from the callback */

struct stopper {
    nfq_rs_log *log;
    int delay_ms;
    volatile int cancel; /* set to end the wait early without stopping */
};

static void *stop_later(void *arg)
{
    struct stopper *st = arg;
    for (int waited = 0; waited < st->delay_ms && !st->cancel; waited += 10) sleep_ms(10);
    if (!st->cancel) nfq_rs_log_stop(st->log);
    return NULL;
}

static nfq_rs_log *volatile g_sig_log;

static void on_alarm(int sig)
{
    (void)sig;
    nfq_rs_log_stop(g_sig_log);
}

static void test_stop(void)
{
    nfq_rs_log_config *cfg = config_for(G_MAIN);
    CHECK_RC(nfq_rs_log_config_set_threshold(cfg, 1), NFQ_RS_OK);
    struct sink *s = calloc(1, sizeof *s);
    nfq_rs_log *log = open_log(cfg, s);
    nfq_rs_log_config_free(cfg);
    if (!log) {
        free(s);
        return;
    }
    /* A stop requested before run makes it return at once. */
    nfq_rs_log_stop(log);
    long long t0 = now_ms();
    CHECK_RC(nfq_rs_log_run(log), NFQ_RS_OK);
    CHECK(now_ms() - t0 < 1000, "run after stop took %lld ms", now_ms() - t0);

    /* From another thread, while run blocks. */
    pthread_t th;
    struct stopper st = {log, 200, 0};
    CHECK(pthread_create(&th, NULL, stop_later, &st) == 0, "thread");
    t0 = now_ms();
    CHECK_RC(nfq_rs_log_run(log), NFQ_RS_OK);
    long long dt = now_ms() - t0;
    CHECK(dt >= 150 && dt < 5000, "run stopped from a thread after %lld ms", dt);
    pthread_join(th, NULL);

    /* A blocked dispatch (-1) is woken and returns 0. */
    st.delay_ms = 150;
    CHECK(pthread_create(&th, NULL, stop_later, &st) == 0, "thread");
    CHECK_RC(nfq_rs_log_dispatch(log, -1), 0);
    pthread_join(th, NULL);

    /* From a signal handler. */
    g_sig_log = log;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 200000;
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
    t0 = now_ms();
    CHECK_RC(nfq_rs_log_run(log), NFQ_RS_OK);
    dt = now_ms() - t0;
    CHECK(dt >= 150 && dt < 5000, "run stopped by a signal after %lld ms", dt);
    signal(SIGALRM, SIG_DFL);

    /* From the callback (after 4 messages: 2 datagrams logged at OUTPUT and INPUT). */
    int rx = ns_udp_socket(g_ns_path, PORT_MAIN);
    s->stop_after = 4;
    send_n(PORT_MAIN, 2, "stop");
    struct stopper safety = {log, WAIT_MS, 0}; /* bounds the run if the callback never stops it */
    CHECK(pthread_create(&th, NULL, stop_later, &safety) == 0, "safety stop");
    CHECK_RC(nfq_rs_log_run(log), NFQ_RS_OK);
    CHECK(s->n == 4, "run returned after %d messages, want 4", s->n);
    safety.cancel = 1;
    pthread_join(th, NULL);
    if (rx >= 0) close(rx);
    nfq_rs_log_close(log);
    free(s);
}

/* ---------------------------------------------------------------------------------------- */

static int setup_rules(void)
{
    if (ipt("-t mangle -A OUTPUT -p udp --dport %d -j MARK --set-mark %d", PORT_MAIN, MARK) != 0) return -1;
    if (ipt("-A OUTPUT -p udp --dport %d -j NFLOG --nflog-group %d --nflog-prefix lt-out", PORT_MAIN, G_MAIN) != 0)
        return -1;
    if (ipt("-A INPUT -p udp --dport %d -j NFLOG --nflog-group %d --nflog-prefix lt-in", PORT_MAIN, G_MAIN) != 0)
        return -1;
    if (ipt("-A OUTPUT -p udp --dport %d -j NFLOG --nflog-group %d --nflog-prefix lt-batch", PORT_BATCH, G_BATCH) !=
        0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: log_test NSNAME\n");
        return 2;
    }
    g_ns_name = argv[1];
    snprintf(g_ns_path, sizeof g_ns_path, "/var/run/netns/%s", g_ns_name);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (setup_rules() != 0) return 2;

    static const struct { const char *name; void (*fn)(void); } tests[] = {
        {"config setters reject invalid values", test_config},
        {"every accessor on OUTPUT and INPUT messages, counters, kernel values", test_accessors},
        {"many messages per datagram, two groups, open by netns fd, bind/unbind", test_batch},
        {"full 8192-byte group buffers: no datagram cut short", test_full_buffers},
        {"overflow: NFQ_RS_E_NOBUFS, counters, kernel drops, NO_ENOBUFS", test_overflow},
        {"EPERM, bad copy range, bad nlbufsiz, conntrack flag EOPNOTSUPP", test_errors},
        {"stop before run, from a thread, a signal and the callback", test_stop},
    };
    int failed = 0, n = (int)(sizeof tests / sizeof tests[0]);
    printf("1..%d\n", n);
    for (int i = 0; i < n; i++) {
        int before = g_failures;
        long long t0 = now_ms();
        tests[i].fn();
        int ok = g_failures == before;
        failed += !ok;
        printf("%s %d - %s (%lld ms)\n", ok ? "ok" : "not ok", i + 1, tests[i].name, now_ms() - t0);
    }
    printf("log_test: %d/%d cases passed, %d failed checks\n", n - failed, n, g_failures);
    return g_failures ? 1 : 0;
}
