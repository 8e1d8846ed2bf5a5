/*
 * ct_test: exercises the conntrack part of the native C API (nfq_rs_ct_*) against the
 * installed library: decoding of CTA_* bytes laid out as the kernel UAPI describes them
 * (every prefix of them too), argument checks, and ctnetlink requests and events on the
 * conntrack table of a network namespace made for it by scripts/test-c.sh.
 *
 *   ct_test NSNAME        (the namespace /var/run/netns/NSNAME exists)
 *
 * Prints "ok N - name" / "not ok N - name" per case and exits 1 if any check failed. Every
 * wait is bounded.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE
#include <nfq_rs.h>

#include "nstest.h"

static char g_ns_path[300];

/* ---------------------------------------------------------------------------------------- */
/* Building CTA_* attributes as the kernel lays them out: struct nlattr { u16 len; u16 type; }
 * in host order, payload, padding to 4 bytes; nested attributes carry NLA_F_NESTED. */

struct buf {
    uint8_t b[1024];
    size_t len;
};

static void put(struct buf *b, uint16_t type, const void *data, size_t n)
{
    uint16_t len = (uint16_t)(4 + n);
    memcpy(b->b + b->len, &len, 2);
    memcpy(b->b + b->len + 2, &type, 2);
    memcpy(b->b + b->len + 4, data, n);
    b->len += 4 + n;
    while (b->len % 4)
        b->b[b->len++] = 0;
}

static void put_u8(struct buf *b, uint16_t type, uint8_t v) { put(b, type, &v, 1); }

static void put_be16(struct buf *b, uint16_t type, uint16_t v)
{
    uint16_t n = htons(v);
    put(b, type, &n, 2);
}

static void put_be32(struct buf *b, uint16_t type, uint32_t v)
{
    uint32_t n = htonl(v);
    put(b, type, &n, 4);
}

static void put_be64(struct buf *b, uint16_t type, uint64_t v)
{
    uint32_t hi = htonl((uint32_t)(v >> 32)), lo = htonl((uint32_t)v);
    uint8_t n[8];
    memcpy(n, &hi, 4);
    memcpy(n + 4, &lo, 4);
    put(b, type, n, 8);
}

static size_t nest_start(struct buf *b, uint16_t type)
{
    size_t at = b->len;
    uint16_t t = type | 0x8000, len = 0;
    memcpy(b->b + at, &len, 2);
    memcpy(b->b + at + 2, &t, 2);
    b->len += 4;
    return at;
}

static void nest_end(struct buf *b, size_t at)
{
    uint16_t len = (uint16_t)(b->len - at);
    memcpy(b->b + at, &len, 2);
}

/* CTA_TUPLE_* { CTA_TUPLE_IP { V4_SRC, V4_DST }, CTA_TUPLE_PROTO { NUM, SRC_PORT, DST_PORT } } */
static void put_tuple(struct buf *b, uint16_t type, const char *src, const char *dst, uint8_t proto, uint16_t sport,
                      uint16_t dport)
{
    struct in_addr s, d;
    inet_pton(AF_INET, src, &s);
    inet_pton(AF_INET, dst, &d);
    size_t t = nest_start(b, type);
    size_t ip = nest_start(b, 1);
    put(b, 1, &s, 4);
    put(b, 2, &d, 4);
    nest_end(b, ip);
    size_t p = nest_start(b, 2);
    put_u8(b, 1, proto);
    put_be16(b, 2, sport);
    put_be16(b, 3, dport);
    nest_end(b, p);
    nest_end(b, t);
}

/* A TCP connection with every common attribute. */
static void tcp_entry(struct buf *b)
{
    b->len = 0;
    put_tuple(b, 1, "10.0.0.1", "10.0.0.2", 6, 40000, 80);   /* CTA_TUPLE_ORIG */
    put_tuple(b, 2, "10.0.0.2", "10.0.0.1", 6, 80, 40000);   /* CTA_TUPLE_REPLY */
    put_be32(b, 3, NFQ_RS_CT_STATUS_SEEN_REPLY | NFQ_RS_CT_STATUS_ASSURED | NFQ_RS_CT_STATUS_CONFIRMED);
    size_t pi = nest_start(b, 4);                             /* CTA_PROTOINFO */
    size_t tcp = nest_start(b, 1);                            /* CTA_PROTOINFO_TCP */
    put_u8(b, 1, NFQ_RS_CT_TCP_ESTABLISHED);
    put_u8(b, 2, 7);
    put_u8(b, 3, 9);
    uint8_t fl[2] = {0x23, 0};
    put(b, 4, fl, 2);
    nest_end(b, tcp);
    nest_end(b, pi);
    put_be32(b, 7, 431999);                                   /* CTA_TIMEOUT */
    put_be32(b, 8, 0xbeef);                                   /* CTA_MARK */
    size_t c = nest_start(b, 9);                              /* CTA_COUNTERS_ORIG */
    put_be64(b, 1, 5);
    put_be64(b, 2, 300);
    nest_end(b, c);
    put_be32(b, 11, 1);                                       /* CTA_USE */
    put_be32(b, 12, 0x12345678);                              /* CTA_ID */
    put_be16(b, 18, 3);                                       /* CTA_ZONE */
    size_t h = nest_start(b, 5);                              /* CTA_HELP */
    put(b, 1, "ftp", 4);
    nest_end(b, h);
    uint8_t labels[16] = {0};
    uint32_t word = 1u << 5;
    memcpy(labels, &word, 4);
    put(b, 22, labels, 16);                                   /* CTA_LABELS */
    put(b, 99, "\1\2\3", 3);                                  /* unknown: skipped */
}

/* ---------------------------------------------------------------------------------------- */

static int g_case = 0;

static void report(const char *name, int before)
{
    g_case++;
    printf("%s %d - %s\n", g_failures == before ? "ok" : "not ok", g_case, name);
    fflush(stdout);
}

static void t_decode(void)
{
    int before = g_failures;
    struct buf b;
    tcp_entry(&b);
    nfq_rs_ct_entry *ct = nfq_rs_ct_entry_new();
    CHECK(ct != NULL, "entry_new");
    CHECK_RC(nfq_rs_ct_entry_decode(ct, AF_INET, b.b, b.len), 0);
    CHECK(nfq_rs_ct_family(ct) == AF_INET, "family %d", nfq_rs_ct_family(ct));

    const nfq_rs_ct_tuple *o = nfq_rs_ct_entry_tuple(ct, NFQ_RS_CT_DIR_ORIG);
    const nfq_rs_ct_tuple *r = nfq_rs_ct_entry_tuple(ct, NFQ_RS_CT_DIR_REPLY);
    CHECK(o && r, "both tuples");
    CHECK(nfq_rs_ct_entry_tuple(ct, NFQ_RS_CT_DIR_MASTER) == NULL, "no master");
    uint8_t a[16];
    char text[64];
    CHECK_RC(nfq_rs_ct_tuple_src(o, a), AF_INET);
    CHECK(strcmp(inet_ntop(AF_INET, a, text, sizeof text), "10.0.0.1") == 0, "src %s", text);
    CHECK_RC(nfq_rs_ct_tuple_dst(r, a), AF_INET);
    CHECK(strcmp(inet_ntop(AF_INET, a, text, sizeof text), "10.0.0.1") == 0, "reply dst %s", text);
    uint16_t sp = 0, dp = 0, z = 0;
    uint8_t p = 0;
    CHECK_RC(nfq_rs_ct_tuple_ports(o, &sp, &dp), 1);
    CHECK(sp == 40000 && dp == 80, "ports %u %u", sp, dp);
    CHECK_RC(nfq_rs_ct_tuple_l4proto(o, &p), 1);
    CHECK(p == 6, "proto %u", p);
    CHECK_RC(nfq_rs_ct_tuple_icmp(o, NULL, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_tuple_zone(o, &z), 0);
    CHECK(nfq_rs_ct_tuple_snprintf(o, text, sizeof text) > 0, "tuple text");
    CHECK(strcmp(text, "src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80") == 0, "tuple text %s", text);

    uint32_t v = 0;
    uint16_t zone = 0;
    uint8_t st = 0, ws_o = 0, ws_r = 0, fl_o = 0, fl_r = 0;
    CHECK_RC(nfq_rs_ct_status(ct, &v), 1);
    CHECK(v == (NFQ_RS_CT_STATUS_SEEN_REPLY | NFQ_RS_CT_STATUS_ASSURED | NFQ_RS_CT_STATUS_CONFIRMED), "status %x", v);
    CHECK_RC(nfq_rs_ct_mark(ct, &v), 1);
    CHECK(v == 0xbeef, "mark %x", v);
    CHECK_RC(nfq_rs_ct_timeout(ct, &v), 1);
    CHECK(v == 431999, "timeout %u", v);
    CHECK_RC(nfq_rs_ct_id(ct, &v), 1);
    CHECK(v == 0x12345678, "id %x", v);
    CHECK_RC(nfq_rs_ct_use(ct, &v), 1);
    CHECK_RC(nfq_rs_ct_zone(ct, &zone), 1);
    CHECK(zone == 3, "zone %u", zone);
    CHECK_RC(nfq_rs_ct_secmark(ct, &v), 0);
    CHECK_RC(nfq_rs_ct_l4proto(ct, &p), 1);
    CHECK_RC(nfq_rs_ct_proto_state(ct, &st), 1);
    CHECK(st == NFQ_RS_CT_TCP_ESTABLISHED, "state %u", st);
    CHECK(strcmp(nfq_rs_ct_proto_state_name(ct), "ESTABLISHED") == 0, "state name");
    CHECK_RC(nfq_rs_ct_tcp_info(ct, &ws_o, &ws_r, &fl_o, &fl_r), 1);
    CHECK(ws_o == 7 && ws_r == 9 && fl_o == 0x23 && fl_r == 0, "tcp %u %u %x %x", ws_o, ws_r, fl_o, fl_r);
    CHECK_RC(nfq_rs_ct_sctp_vtags(ct, NULL, NULL), 0);
    uint64_t pk = 0, by = 0;
    CHECK_RC(nfq_rs_ct_counters(ct, NFQ_RS_CT_DIR_ORIG, &pk, &by), 1);
    CHECK(pk == 5 && by == 300, "counters %llu %llu", (unsigned long long)pk, (unsigned long long)by);
    CHECK_RC(nfq_rs_ct_counters(ct, NFQ_RS_CT_DIR_REPLY, &pk, &by), 0);
    CHECK_RC(nfq_rs_ct_counters(ct, 7, &pk, &by), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_timestamp(ct, NULL, NULL), 0);
    char helper[8];
    CHECK_RC(nfq_rs_ct_helper_name(ct, helper, sizeof helper), 3);
    CHECK(strcmp(helper, "ftp") == 0, "helper %s", helper);
    CHECK_RC(nfq_rs_ct_helper_name(ct, helper, 2), 3); /* cut, still NUL-terminated */
    CHECK(strcmp(helper, "f") == 0, "cut helper %s", helper);
    CHECK_RC(nfq_rs_ct_secctx(ct, helper, sizeof helper), 0);
    uint8_t lab[16];
    CHECK_RC(nfq_rs_ct_labels(ct, lab), 1);
    CHECK_RC(nfq_rs_ct_has_label(ct, 5), 1);
    CHECK_RC(nfq_rs_ct_has_label(ct, 6), 0);
    CHECK_RC(nfq_rs_ct_nat(ct, 0, NULL, NULL, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_seq_adj(ct, NFQ_RS_CT_DIR_ORIG, NULL, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_synproxy(ct, NULL, NULL, NULL), 0);
    char line[512];
    int n = nfq_rs_ct_snprintf(ct, line, sizeof line, NFQ_RS_CT_FMT_EXTENDED | NFQ_RS_CT_FMT_ID);
    CHECK(n > 0 && (size_t)n == strlen(line), "snprintf %d", n);
    CHECK(strcmp(line, "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 "
                       "packets=5 bytes=300 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 [ASSURED] mark=48879 "
                       "zone=3 helper=ftp use=1 id=305419896") == 0,
          "line: %s", line);
    const uint8_t *raw = NULL;
    size_t rawlen = 0;
    CHECK_RC(nfq_rs_ct_raw(ct, &raw, &rawlen), 1);
    CHECK(rawlen == b.len && memcmp(raw, b.b, b.len) == 0, "raw bytes");

    /* A copy outlives the original. */
    nfq_rs_ct_entry *copy = nfq_rs_ct_entry_clone(ct);
    nfq_rs_ct_entry_free(ct);
    CHECK_RC(nfq_rs_ct_mark(copy, &v), 1);
    CHECK(v == 0xbeef, "copy mark");

    /* Every prefix of the bytes decodes or fails cleanly (ASan watches); so does every
     * single-byte change. */
    int errors = 0;
    for (size_t cut = 0; cut <= b.len; cut++) {
        int rc = nfq_rs_ct_entry_decode(copy, AF_INET, b.b, cut);
        CHECK(rc == 0 || rc == NFQ_RS_E_PROTO, "prefix %zu: %d", cut, rc);
        errors += rc != 0;
        nfq_rs_ct_snprintf(copy, line, sizeof line, 0);
    }
    CHECK(errors > 0, "some prefixes are malformed");
    for (size_t at = 0; at < b.len; at++) {
        struct buf x = b;
        x.b[at] ^= 0xa5;
        int rc = nfq_rs_ct_entry_decode(copy, AF_INET, x.b, x.len);
        CHECK(rc == 0 || rc == NFQ_RS_E_PROTO, "flip %zu: %d", at, rc);
        nfq_rs_ct_snprintf(copy, line, sizeof line, NFQ_RS_CT_FMT_EXTENDED);
    }
    /* A wrongly sized CTA_MARK is an error with a message. */
    struct buf bad = {.len = 0};
    put(&bad, 8, "\1\2", 2);
    CHECK_RC(nfq_rs_ct_entry_decode(copy, AF_INET, bad.b, bad.len), NFQ_RS_E_PROTO);
    char err[256];
    nfq_rs_last_error(NULL, err, sizeof err);
    CHECK(strstr(err, "CTA_MARK") != NULL, "error names the attribute: %s", err);
    CHECK_RC(nfq_rs_ct_mark(copy, &v), 0); /* left empty */
    nfq_rs_ct_entry_free(copy);
    report("decode CTA_* bytes", before);
}

static void t_arguments(void)
{
    int before = g_failures;
    uint32_t v;
    CHECK_RC(nfq_rs_ct_mark(NULL, &v), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_tuple_src(NULL, NULL), NFQ_RS_E_INVAL);
    CHECK(nfq_rs_ct_entry_tuple(NULL, 0) == NULL, "tuple of NULL");
    CHECK_RC(nfq_rs_ct_entry_decode(NULL, 2, "", 0), NFQ_RS_E_INVAL);
    /* A handle of another kind is refused, not misused. */
    nfq_rs_config *cfg = nfq_rs_config_new(0);
    CHECK_RC(nfq_rs_ct_mark((const nfq_rs_ct_entry *)(const void *)cfg, &v), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_flush((const nfq_rs_ct *)(const void *)cfg, 0), NFQ_RS_E_INVAL);
    nfq_rs_config_free(cfg);
    nfq_rs_ct_entry *e = nfq_rs_ct_entry_new();
    uint8_t lo[4] = {127, 0, 0, 1};
    CHECK_RC(nfq_rs_ct_entry_set_tuple(e, NFQ_RS_CT_DIR_MASTER, AF_INET, lo, lo, 17, 1, 2), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_entry_set_tuple(e, NFQ_RS_CT_DIR_ORIG, 99, lo, lo, 17, 1, 2), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_entry_set_tuple(e, NFQ_RS_CT_DIR_ORIG, AF_INET, NULL, lo, 17, 1, 2), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_entry_set_tuple_icmp(e, NFQ_RS_CT_DIR_ORIG, AF_INET, lo, lo, 8, 0, 77), 0);
    uint8_t ty = 0, code = 9;
    uint16_t id = 0;
    CHECK_RC(nfq_rs_ct_tuple_icmp(nfq_rs_ct_entry_tuple(e, NFQ_RS_CT_DIR_ORIG), &ty, &code, &id), 1);
    CHECK(ty == 8 && code == 0 && id == 77, "icmp %u %u %u", ty, code, id);
    CHECK(strcmp(nfq_rs_ct_l4proto_name(1), "icmp") == 0, "name");
    CHECK(strcmp(nfq_rs_ct_tcp_state_name(NFQ_RS_CT_TCP_TIME_WAIT), "TIME_WAIT") == 0, "tcp name");
    CHECK(strcmp(nfq_rs_ctinfo_name(NFQ_RS_CTINFO_RELATED_REPLY), "RELATED") == 0, "ctinfo name");
    CHECK(strcmp(nfq_rs_strerror(NFQ_RS_E_EXIST), "exists already") == 0, "strerror");
    nfq_rs_ct_entry_free(e);
    nfq_rs_ct_entry_free(NULL);
    nfq_rs_ct_exp_free(NULL);
    nfq_rs_ct_close(NULL);
    nfq_rs_ct_events_close(NULL);
    nfq_rs_ct_events_stop(NULL);
    report("argument checks", before);
}

struct seen {
    int n;
    uint32_t types[8];
    nfq_rs_ct_entry *kept;
    const nfq_rs_ct *ct;
    int inner_rc;
};

static int on_ct(uint32_t type, const nfq_rs_ct_entry *ct, const nfq_rs_ct_exp *exp, void *user)
{
    struct seen *s = user;
    (void)exp;
    if (s->n < 8)
        s->types[s->n] = type;
    s->n++;
    if (ct != NULL && s->kept == NULL)
        s->kept = nfq_rs_ct_entry_clone(ct);
    if (s->ct != NULL) /* calling back into the handle that is dumping */
        s->inner_rc = nfq_rs_ct_flush(s->ct, 0);
    return 0;
}

static void t_ctnetlink(void)
{
    int before = g_failures;
    nfq_rs_ct *ct = NULL;
    nfq_rs_ct_events *ev = NULL;
    CHECK_RC(nfq_rs_ct_open(g_ns_path, &ct), 0);
    CHECK_RC(nfq_rs_ct_events_open(g_ns_path, NFQ_RS_CT_EV_NEW | NFQ_RS_CT_EV_DESTROY, &ev), 0);
    CHECK_RC(nfq_rs_ct_events_open(g_ns_path, 0, &ev), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_open("/nonexistent/netns", &ct), NFQ_RS_E_NOENT);
    if (ct == NULL || ev == NULL)
        goto out;
    CHECK(nfq_rs_ct_events_fd(ev) >= 0, "fd");

    /* Create a TCP entry 127.0.0.1:5555 -> 127.0.0.2:80. */
    nfq_rs_ct_entry *e = nfq_rs_ct_entry_new();
    uint8_t a[4] = {127, 0, 0, 1}, b[4] = {127, 0, 0, 2};
    CHECK_RC(nfq_rs_ct_entry_set_tuple(e, NFQ_RS_CT_DIR_ORIG, AF_INET, a, b, 6, 5555, 80), 0);
    CHECK_RC(nfq_rs_ct_create(ct, e), NFQ_RS_E_INVAL); /* no timeout yet */
    CHECK_RC(nfq_rs_ct_entry_set_timeout(e, 100), 0);
    CHECK_RC(nfq_rs_ct_entry_set_mark(e, 0x11), 0);
    CHECK_RC(nfq_rs_ct_entry_set_tcp_state(e, NFQ_RS_CT_TCP_ESTABLISHED), 0);
    CHECK_RC(nfq_rs_ct_create(ct, e), 0);
    CHECK_RC(nfq_rs_ct_create(ct, e), NFQ_RS_E_EXIST);
    char err[512];
    nfq_rs_ct_last_error(ct, err, sizeof err);
    CHECK(strstr(err, "EEXIST") != NULL, "handle error: %s", err);

    /* Get it back; update the mark (low byte only) and read it again. */
    nfq_rs_ct_entry *got = nfq_rs_ct_entry_new();
    CHECK_RC(nfq_rs_ct_get(ct, e, got), 0);
    uint32_t v = 0;
    CHECK_RC(nfq_rs_ct_mark(got, &v), 1);
    CHECK(v == 0x11, "mark %x", v);
    CHECK(strcmp(nfq_rs_ct_proto_state_name(got), "ESTABLISHED") == 0, "state");
    CHECK_RC(nfq_rs_ct_update(ct, e, NFQ_RS_CT_SET_MARK, 0x4422, 0xff, 0, 0, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_update(ct, e, NFQ_RS_CT_SET_TIMEOUT, 0, 0, 500, 0, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_update(ct, e, 0, 0, 0, 0, 0, NULL, NULL), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_update(ct, e, NFQ_RS_CT_SET_LABELS, 0, 0, 0, 0, NULL, NULL), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_get(ct, e, e), 0); /* out may be the key */
    CHECK_RC(nfq_rs_ct_mark(e, &v), 1);
    CHECK(v == 0x22, "mark after masked update %x", v);
    CHECK_RC(nfq_rs_ct_timeout(e, &v), 1);
    CHECK(v > 400 && v <= 500, "timeout %u", v);

    /* Dumps: all, by mark, by a mark nobody has; a callback calling back gets BUSY. */
    struct seen s = {0};
    CHECK_RC(nfq_rs_ct_dump(ct, AF_INET, 0, 0, 0, 0, 0, on_ct, &s), 1);
    CHECK(s.kept != NULL, "callback entry cloned");
    char line[512];
    nfq_rs_ct_snprintf(s.kept, line, sizeof line, 0);
    CHECK(strstr(line, "ESTABLISHED src=127.0.0.1 dst=127.0.0.2 sport=5555 dport=80") != NULL, "line: %s", line);
    nfq_rs_ct_entry_free(s.kept);
    CHECK_RC(nfq_rs_ct_dump(ct, AF_INET, NFQ_RS_CT_FILTER_MARK, 0x22, 0xff, 0, 0, NULL, NULL), 1);
    CHECK_RC(nfq_rs_ct_dump(ct, AF_INET, NFQ_RS_CT_FILTER_MARK, 0x23, 0xff, 0, 0, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_dump(ct, AF_INET, NFQ_RS_CT_FILTER_L4PROTO, 0, 0, 0, 17, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_dump(ct, AF_INET6, 0, 0, 0, 0, 0, NULL, NULL), 0);
    struct seen busy = {0};
    busy.ct = ct;
    CHECK_RC(nfq_rs_ct_dump(ct, 0, 0, 0, 0, 0, 0, on_ct, &busy), 1);
    CHECK(busy.inner_rc == NFQ_RS_E_BUSY, "inner call: %d", busy.inner_rc);
    nfq_rs_ct_entry_free(busy.kept);
    CHECK_RC(nfq_rs_ct_dump_expect(ct, 0, on_ct, &s), 0);

    /* Statistics. */
    uint32_t entries = 0, max = 0, cpus[256];
    CHECK_RC(nfq_rs_ct_stats(ct, &entries, &max), 0);
    CHECK(entries == 1 && max > 0, "entries %u max %u", entries, max);
    int ncpu = nfq_rs_ct_stats_cpu(ct, NFQ_RS_CT_STAT_CPU, cpus, 256);
    CHECK(ncpu > 0, "cpus %d", ncpu);
    CHECK_RC(nfq_rs_ct_stats_cpu(ct, 99, cpus, 256), NFQ_RS_E_INVAL);
    CHECK(nfq_rs_ct_exp_stats_cpu(ct, NFQ_RS_CT_EXP_STAT_NEW, NULL, 0) == ncpu, "exp cpus");

    /* Delete it (by the key, with the id from the get), then events: NEW and DESTROY. */
    CHECK_RC(nfq_rs_ct_delete(ct, e), 0);
    CHECK_RC(nfq_rs_ct_delete(ct, e), NFQ_RS_E_NOENT);
    struct seen evs = {0};
    long long t0 = now_ms();
    int got_events = nfq_rs_ct_events_run(ev, on_ct, &evs, 2, 5000);
    CHECK(got_events == 2, "events %d", got_events);
    CHECK(evs.types[0] == NFQ_RS_CT_EV_NEW && evs.types[1] == NFQ_RS_CT_EV_DESTROY, "types %u %u", evs.types[0],
          evs.types[1]);
    CHECK(now_ms() - t0 < 4000, "events arrived at once");
    nfq_rs_ct_entry_free(evs.kept);
    uint64_t delivered = 0;
    CHECK_RC(nfq_rs_ct_events_stat(ev, NFQ_RS_CT_EVSTAT_DELIVERED, &delivered), 0);
    CHECK(delivered == 2, "delivered %llu", (unsigned long long)delivered);
    /* A filter that lets nothing through: a bounded run returns 0 after its timeout. */
    CHECK_RC(nfq_rs_ct_events_set_filter(ev, NFQ_RS_CT_EV_NEW, NFQ_RS_CT_FILTER_L4PROTO, 0, 17, 0, 0, 0), 0);
    CHECK_RC(nfq_rs_ct_create(ct, e), 0);
    CHECK_RC(nfq_rs_ct_events_run(ev, on_ct, &evs, 1, 300), 0);

    /* Flush empties the table. */
    CHECK_RC(nfq_rs_ct_flush(ct, 0), 0);
    CHECK_RC(nfq_rs_ct_dump(ct, 0, 0, 0, 0, 0, 0, NULL, NULL), 0);
    CHECK_RC(nfq_rs_ct_flush_expect(ct, 0), 0);
    nfq_rs_ct_entry_free(got);
    nfq_rs_ct_entry_free(e);
out:
    nfq_rs_ct_events_close(ev);
    nfq_rs_ct_close(ct);
    report("ctnetlink requests and events", before);
}

static int count_cb(uint32_t type, const nfq_rs_ct_entry *ct, const nfq_rs_ct_exp *exp, void *user)
{
    (void)type;
    (void)ct;
    (void)exp;
    (*(int *)user)++;
    return 0;
}

/* The expectation table, the other tables, kernel-side dump and event filters, overflow. */
static void t_tables_and_filters(void)
{
    int before = g_failures;
    nfq_rs_ct *ct = NULL;
    nfq_rs_ct_events *ev = NULL;
    CHECK_RC(nfq_rs_ct_open(g_ns_path, &ct), 0);
    CHECK_RC(nfq_rs_ct_events_open(g_ns_path, NFQ_RS_CT_EV_ALL, &ev), 0);
    if (ct == NULL || ev == NULL)
        goto out;
    uint8_t a[4] = {10, 6, 0, 1}, b[4] = {10, 6, 0, 2}, ones[4] = {255, 255, 255, 255};

    /* A master connection with the FTP helper, then an expectation hanging off it. */
    nfq_rs_ct_entry *m = nfq_rs_ct_entry_new();
    CHECK_RC(nfq_rs_ct_entry_set_tuple(m, NFQ_RS_CT_DIR_ORIG, AF_INET, a, b, 6, 40000, 21), 0);
    CHECK_RC(nfq_rs_ct_entry_set_timeout(m, 100), 0);
    CHECK_RC(nfq_rs_ct_entry_set_tcp_state(m, NFQ_RS_CT_TCP_ESTABLISHED), 0);
    CHECK_RC(nfq_rs_ct_entry_set_helper(m, NULL), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_entry_set_helper(m, "ftp"), 0);
    CHECK_RC(nfq_rs_ct_create(ct, m), 0);

    nfq_rs_ct_exp *x = nfq_rs_ct_exp_new();
    CHECK_RC(nfq_rs_ct_create_expect(ct, x), NFQ_RS_E_INVAL); /* nothing set */
    CHECK_RC(nfq_rs_ct_exp_set_tuple(x, NFQ_RS_CT_EXP_MASTER, AF_INET, a, b, 6, 40000, 21), 0);
    CHECK_RC(nfq_rs_ct_exp_set_tuple(x, NFQ_RS_CT_EXP_TUPLE, AF_INET, a, b, 6, 0, 50100), 0);
    CHECK_RC(nfq_rs_ct_exp_set_tuple(x, NFQ_RS_CT_EXP_MASK, AF_INET, ones, ones, 6, 0, 0xffff), 0);
    CHECK_RC(nfq_rs_ct_exp_set_tuple(x, 9, AF_INET, ones, ones, 6, 0, 0xffff), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_exp_set_tuple(x, NFQ_RS_CT_EXP_MASK, 7, ones, ones, 6, 0, 0xffff), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_create_expect(ct, x), NFQ_RS_E_INVAL); /* no timeout */
    CHECK_RC(nfq_rs_ct_exp_set_timeout(x, 100), 0);
    CHECK_RC(nfq_rs_ct_exp_set_helper(x, "ftp"), 0);
    CHECK_RC(nfq_rs_ct_exp_set_flags(x, 1), 0);
    CHECK_RC(nfq_rs_ct_create_expect(ct, x), 0);
    CHECK_RC(nfq_rs_ct_create_expect(ct, x), NFQ_RS_E_EXIST);
    char err[512];
    nfq_rs_ct_last_error(ct, err, sizeof err);
    CHECK(strstr(err, "expectation exists") != NULL, "error: %s", err);

    nfq_rs_ct_exp *got = nfq_rs_ct_exp_new();
    CHECK_RC(nfq_rs_ct_get_expect(ct, x, got), 0);
    uint32_t v = 0, id = 0;
    CHECK_RC(nfq_rs_ct_exp_flags(got, &v), 1);
    CHECK((v & 1) == 1, "flags %x", v);
    CHECK_RC(nfq_rs_ct_exp_id(got, &id), 1);
    char name[32];
    CHECK(nfq_rs_ct_exp_helper_name(got, name, sizeof name) == 3 && strcmp(name, "ftp") == 0, "helper %s", name);
    const nfq_rs_ct_tuple *mt = nfq_rs_ct_exp_tuple(got, NFQ_RS_CT_EXP_MASTER);
    uint16_t sp = 0, dp = 0;
    CHECK(mt != NULL && nfq_rs_ct_tuple_ports(mt, &sp, &dp) == 1 && sp == 40000 && dp == 21, "master %u %u", sp, dp);
    CHECK_RC(nfq_rs_ct_update_expect_timeout(ct, x, 1000), 0);
    CHECK_RC(nfq_rs_ct_get_expect(ct, x, got), 0);
    CHECK_RC(nfq_rs_ct_exp_timeout(got, &v), 1);
    CHECK(v > 900, "timeout after update %u", v);
    int n = 0;
    CHECK_RC(nfq_rs_ct_dump_expect(ct, 0, count_cb, &n), 1);
    /* Wrong id: not found. Delete by id; then gone. */
    CHECK_RC(nfq_rs_ct_exp_set_id(x, id ^ 1), 0);
    CHECK_RC(nfq_rs_ct_get_expect(ct, x, got), NFQ_RS_E_NOENT);
    CHECK_RC(nfq_rs_ct_delete_expect(ct, x), NFQ_RS_E_NOENT);
    nfq_rs_ct_last_error(ct, err, sizeof err);
    CHECK(strstr(err, "no such expectation") != NULL, "error: %s", err);
    CHECK_RC(nfq_rs_ct_delete_expect_id(ct, 0, id), 0);
    CHECK_RC(nfq_rs_ct_delete_expect_id(ct, 0, id), NFQ_RS_E_NOENT);
    CHECK_RC(nfq_rs_ct_exp_set_id(x, id), 0);
    CHECK_RC(nfq_rs_ct_create_expect(ct, x), 0);
    CHECK_RC(nfq_rs_ct_delete_expect_helper(ct, AF_INET, "ftp"), 0);
    n = 0;
    CHECK_RC(nfq_rs_ct_dump_expect(ct, 0, count_cb, &n), 0);

    /* Dying and unconfirmed lists dump; an unknown table is refused. */
    CHECK(nfq_rs_ct_dump_table(ct, NFQ_RS_CT_TABLE_DYING, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL) >= 0, "dying");
    CHECK(nfq_rs_ct_dump_table(ct, NFQ_RS_CT_TABLE_UNCONFIRMED, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL) >= 0,
          "unconfirmed");
    CHECK_RC(nfq_rs_ct_dump_table(ct, 7, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL), NFQ_RS_E_INVAL);

    /* A tuple filter: by original destination port, in the kernel when it can. */
    nfq_rs_ct_entry *u = nfq_rs_ct_entry_new();
    for (uint16_t i = 0; i < 6; i++) {
        CHECK_RC(nfq_rs_ct_entry_set_tuple(u, NFQ_RS_CT_DIR_ORIG, AF_INET, a, b, 17, 3000 + i, i % 2 ? 53 : 123), 0);
        CHECK_RC(nfq_rs_ct_entry_set_timeout(u, 100), 0);
        CHECK_RC(nfq_rs_ct_create(ct, u), 0);
    }
    nfq_rs_ct_tuple_filter tf;
    memset(&tf, 0, sizeof tf);
    tf.flags = NFQ_RS_CT_TF_PROTO | NFQ_RS_CT_TF_DPORT;
    tf.l4proto = 17;
    tf.dport = 53;
    CHECK_RC(nfq_rs_ct_dump_table(ct, NFQ_RS_CT_TABLE_MAIN, AF_INET, 0, 0, 0, 0, 0, &tf, NULL, NULL, NULL), 3);
    uint64_t received = 0, kept = 0;
    uint32_t kernel = 0;
    CHECK_RC(nfq_rs_ct_last_dump_report(ct, &received, &kept, &kernel), 0);
    int has = nfq_rs_ct_kernel_has_tuple_filter(ct);
    CHECK(has == 0 || has == 1, "probe %d", has);
    CHECK(kept == 3 && (has ? received == 3 && (kernel & NFQ_RS_CT_FILTER_TUPLE) : received == 7), "report %llu %llu %x",
          (unsigned long long)received, (unsigned long long)kept, kernel);
    tf.flags = NFQ_RS_CT_TF_DPORT; /* a port without its protocol: the kernel can't */
    CHECK_RC(nfq_rs_ct_dump_table(ct, NFQ_RS_CT_TABLE_MAIN, AF_INET, 0, 0, 0, 0, 0, &tf, NULL, NULL, NULL),
             NFQ_RS_E_INVAL);
    nfq_rs_ct_last_error(ct, err, sizeof err);
    CHECK(strstr(err, "no protocol") != NULL, "error: %s", err);
    tf.flags = 1u << 20;
    CHECK_RC(nfq_rs_ct_dump_table(ct, NFQ_RS_CT_TABLE_MAIN, AF_INET, 0, 0, 0, 0, 0, &tf, NULL, NULL, NULL),
             NFQ_RS_E_INVAL);

    /* A kernel event filter: only UDP to port 53 reaches the socket. */
    nfq_rs_ct_event_filter ef;
    memset(&ef, 0, sizeof ef);
    ef.fields = NFQ_RS_CT_FILTER_L4PROTO | NFQ_RS_CT_FILTER_DPORT;
    ef.l4proto = 17;
    ef.dport = 53;
    CHECK(nfq_rs_ct_events_set_kernel_filter(ev, &ef) > 0, "attach");
    struct seen drop = {0};
    nfq_rs_ct_events_run(ev, on_ct, &drop, 0, 200); /* what was queued before the filter */
    nfq_rs_ct_entry_free(drop.kept);
    CHECK_RC(nfq_rs_ct_flush(ct, 0), 0);
    n = 0;
    CHECK_RC(nfq_rs_ct_events_run(ev, count_cb, &n, 0, 300), 3);
    ef.fields = NFQ_RS_CT_FILTER_SRC;
    ef.addr_family = AF_INET;
    ef.src_prefix = 40;
    CHECK_RC(nfq_rs_ct_events_set_kernel_filter(ev, &ef), NFQ_RS_E_INVAL);
    nfq_rs_ct_events_last_error(ev, err, sizeof err);
    CHECK(strstr(err, "longer than the address") != NULL, "error: %s", err);
    ef.src_prefix = 8;
    ef.negate = NFQ_RS_CT_NEG_DST;
    CHECK_RC(nfq_rs_ct_events_set_filter_ex(ev, &ef), NFQ_RS_E_INVAL);
    ef.negate = NFQ_RS_CT_NEG_SRC;
    CHECK_RC(nfq_rs_ct_events_set_filter_ex(ev, &ef), 0);
    CHECK_RC(nfq_rs_ct_events_set_kernel_filter(ev, NULL), 0);

    /* Overflow: counted, taken once, resync from a dump. */
    uint64_t ov = 99;
    CHECK_RC(nfq_rs_ct_events_take_overflows(ev, &ov), 0);
    CHECK(ov == 0, "no overflow yet: %llu", (unsigned long long)ov);
    CHECK_RC(nfq_rs_ct_events_set_stop_on_overflow(ev, 1), 0);
    CHECK_RC(nfq_rs_ct_events_set_filter_ex(ev, &(nfq_rs_ct_event_filter){0}), 0);
    CHECK_RC(nfq_rs_ct_create(ct, u), 0);
    n = 0;
    CHECK_RC(nfq_rs_ct_events_resync(ev, ct, 0, count_cb, &n), 1);
    CHECK(n == 1, "resync %d", n);
    CHECK_RC(nfq_rs_ct_events_resync(ev, NULL, 0, count_cb, &n), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_ct_flush(ct, 0), 0);

    nfq_rs_ct_entry_free(u);
    nfq_rs_ct_exp_free(got);
    nfq_rs_ct_exp_free(x);
    nfq_rs_ct_entry_free(m);
out:
    nfq_rs_ct_events_close(ev);
    nfq_rs_ct_close(ct);
    report("expectation table, dying/unconfirmed, kernel filters, overflow", before);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ct_test NSNAME\n");
        return 2;
    }
    snprintf(g_ns_path, sizeof g_ns_path, "/var/run/netns/%s", argv[1]);
    t_decode();
    t_arguments();
    t_ctnetlink();
    t_tables_and_filters();
    printf("%s: %d failed checks\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
