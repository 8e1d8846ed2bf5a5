/*
 * api_test: exercises the native C API (nfq_rs.h) against the installed library, on real
 * traffic inside a network namespace made for it by scripts/test-c.sh.
 *
 *   api_test NSNAME        (the namespace /var/run/netns/NSNAME exists, lo is up)
 *
 * The test runs in the host namespace; it adds its iptables rules inside NSNAME (never in the
 * host's), opens its queues there by path or by descriptor, and creates its UDP sockets there
 * (setns on the calling thread and back). Prints "ok N - name" / "not ok N - name" per case
 * and exits 1 if any check failed. Every wait is bounded.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/wait.h>

#include <nfq_rs.h>

#include "nstest.h"

#ifndef NFQ_RS_EXPECTED_VERSION
#define NFQ_RS_EXPECTED_VERSION "0.1.0"
#endif

/* Generous for valgrind; each wait ends as soon as its condition holds. */
#define WAIT_MS 5000

static const char *g_ns_name;
static char g_ns_path[300];

/* ---------------------------------------------------------------------------------------- */
/* Small helpers */

static void thread_error(char *buf, size_t len)
{
    nfq_rs_last_error(NULL, buf, len);
}

static int thread_error_has(const char *needle)
{
    char buf[1024];
    thread_error(buf, sizeof buf);
    return strstr(buf, needle) != NULL;
}

static int handle_error_has(const nfq_rs_queue *q, const char *needle)
{
    char buf[1024];
    nfq_rs_last_error(q, buf, sizeof buf);
    return strstr(buf, needle) != NULL;
}

/* Runs "ip netns exec NS iptables -w 5 ARGS" (inside the test namespace only). */
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

/* Packet counter of rule `pos` (1-based) of table/chain inside the test namespace, or -1. */
static long long rule_packets(const char *table, const char *chain, int pos)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof cmd,
             "timeout 20 ip netns exec '%s' iptables -w 5 -t %s -L %s -v -n -x --line-numbers",
             g_ns_name, table, chain);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    long long v = -1;
    while (fgets(line, sizeof line, f)) {
        int n;
        long long pk;
        if (sscanf(line, "%d %lld", &n, &pk) == 2 && n == pos) v = pk;
    }
    pclose(f);
    return v;
}

static nfq_rs_config *config_for(uint16_t queue)
{
    nfq_rs_config *cfg = nfq_rs_config_new(queue);
    if (!cfg) {
        fprintf(stderr, "nfq_rs_config_new: out of memory\n");
        exit(2);
    }
    CHECK_RC(nfq_rs_config_set_netns_path(cfg, g_ns_path), NFQ_RS_OK);
    return cfg;
}

/* Opens a handle on `queue` in the test namespace (by path); NULL on failure. */
static nfq_rs_queue *open_queue(nfq_rs_config *cfg)
{
    nfq_rs_queue *q = NULL;
    int rc = nfq_rs_open(cfg, &q);
    if (rc != NFQ_RS_OK) {
        char buf[512];
        thread_error(buf, sizeof buf);
        CHECK(rc == NFQ_RS_OK, "nfq_rs_open: %s: %s", nfq_rs_strerror(rc), buf);
        return NULL;
    }
    CHECK(q != NULL, "nfq_rs_open returned 0 but no handle");
    return q;
}

/*
 * Dispatches on q (may be NULL: only receive) and collects datagrams arriving on rx until
 * `want` arrived (want < 0: until the deadline) or timeout_ms passed. Stores up to 16
 * payloads in msgs. Returns the number of datagrams received.
 */
static int pump(nfq_rs_queue *q, int rx, int want, char msgs[][128], int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    int got = 0;
    while (now_ms() < end && (want < 0 || got < want)) {
        if (q) {
            int rc = nfq_rs_dispatch(q, 10);
            if (rc < 0) {
                char buf[512];
                nfq_rs_last_error(q, buf, sizeof buf);
                CHECK(rc >= 0, "nfq_rs_dispatch: %s: %s", nfq_rs_strerror(rc), buf);
                return got;
            }
        }
        char b[2048];
        int n;
        while ((n = udp_recv(rx, b, sizeof b - 1, q ? 0 : 10)) >= 0) {
            b[n] = 0;
            if (msgs && got < 16) {
                size_t k = (size_t)n < 127 ? (size_t)n : 127;
                memcpy(msgs[got], b, k);
                msgs[got][k] = 0;
            }
            got++;
        }
    }
    return got;
}

static void send_n(int tx, uint16_t port, int n, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char m[64];
        int len = snprintf(m, sizeof m, "%s-%d", prefix, i);
        CHECK(udp_send(tx, port, m, (size_t)len) == 0, "send to %u", port);
    }
}

static uint64_t stat_of(const nfq_rs_queue *q, int which)
{
    uint64_t v = UINT64_MAX;
    CHECK_RC(nfq_rs_stat(q, which, &v), NFQ_RS_OK);
    return v;
}

static uint64_t kstat_of(const nfq_rs_queue *q, uint16_t queue, int which)
{
    uint64_t v = UINT64_MAX;
    CHECK_RC(nfq_rs_kernel_stat(q, queue, which, &v), NFQ_RS_OK);
    return v;
}

/* ---------------------------------------------------------------------------------------- */
/* 1. Version, strerror, last_error */

static void test_static(void)
{
    const char *v = nfq_rs_version();
    CHECK(v && strcmp(v, NFQ_RS_EXPECTED_VERSION) == 0, "nfq_rs_version() = %s, pkg-config says %s",
          v ? v : "(null)", NFQ_RS_EXPECTED_VERSION);

    const char *msgs[14];
    const char *unknown = nfq_rs_strerror(-1000);
    CHECK(unknown && strstr(unknown, "unknown"), "strerror(-1000) = %s", unknown ? unknown : "(null)");
    for (int code = 0; code >= NFQ_RS_E_EXIST; code--) {
        const char *m = nfq_rs_strerror(code);
        msgs[-code] = m;
        CHECK(m && *m, "strerror(%d) is empty", code);
        if (!m) continue;
        CHECK(strcmp(m, unknown) != 0, "strerror(%d) says unknown", code);
        for (int other = 0; other > code; other--)
            CHECK(msgs[-other] && strcmp(msgs[-other], m) != 0, "strerror(%d) == strerror(%d)", code, other);
    }
    CHECK(strstr(nfq_rs_strerror(NFQ_RS_OK), "success") != NULL, "strerror(0) = %s", nfq_rs_strerror(0));
    CHECK(strstr(nfq_rs_strerror(NFQ_RS_E_PERM), "permission") != NULL, "strerror(PERM)");
    CHECK(strcmp(nfq_rs_strerror(NFQ_RS_E_EXIST - 1), unknown) == 0, "strerror(%d) is not 'unknown'",
          NFQ_RS_E_EXIST - 1);
    CHECK(strcmp(nfq_rs_strerror(1), unknown) == 0, "strerror(1) is not 'unknown'");
    CHECK(strcmp(nfq_rs_strerror(INT_MIN), unknown) == 0, "strerror(INT_MIN) is not 'unknown'");
    CHECK(strcmp(nfq_rs_strerror(INT_MAX), unknown) == 0, "strerror(INT_MAX) is not 'unknown'");

    /* last_error: full length returned, copy cut and NUL-terminated. */
    CHECK_RC(nfq_rs_bind(NULL, 1), NFQ_RS_E_INVAL);
    char full[256], small[6];
    int n = nfq_rs_last_error(NULL, full, sizeof full);
    CHECK(n > 5 && (size_t)n == strlen(full), "last_error length %d vs '%s'", n, full);
    memset(small, 'x', sizeof small);
    int n2 = nfq_rs_last_error(NULL, small, sizeof small);
    CHECK(n2 == n, "last_error with a small buffer returned %d, want %d", n2, n);
    CHECK(small[5] == 0 && strncmp(small, full, 5) == 0, "small buffer not cut/terminated: %.6s", small);
    CHECK(nfq_rs_last_error(NULL, NULL, 0) == n, "last_error(NULL, NULL, 0)");
    CHECK(nfq_rs_last_error(NULL, small, 0) == n && small[0] == full[0], "len 0 must not write");
}

/* ---------------------------------------------------------------------------------------- */
/* 2. NULL handles and pointers: NFQ_RS_E_INVAL (or a neutral value), never a crash */

#define NULLCHK(expr, name)                                                                  \
    do {                                                                                     \
        CHECK_RC(expr, NFQ_RS_E_INVAL);                                                      \
        CHECK(thread_error_has(name), "last error after %s does not name it", #expr);        \
    } while (0)

static void test_null(void)
{
    uint32_t u32;
    uint64_t u64, u64b;
    uint16_t u16a, u16b;
    size_t sz;
    const uint8_t *ptr;
    char buf[16];

    /* void functions accept NULL */
    nfq_rs_config_free(NULL);
    nfq_rs_close(NULL);
    nfq_rs_stop(NULL);
    CHECK(nfq_rs_last_error(NULL, buf, sizeof buf) >= 0, "last_error(NULL handle)");

    /* config */
    NULLCHK(nfq_rs_config_add_queue(NULL, 1), "nfq_rs_config_add_queue");
    NULLCHK(nfq_rs_config_set_copy_mode(NULL, NFQ_RS_COPY_PACKET, 0), "nfq_rs_config_set_copy_mode");
    NULLCHK(nfq_rs_config_set_max_len(NULL, 10), "nfq_rs_config_set_max_len");
    NULLCHK(nfq_rs_config_set_flags(NULL, 1, 1), "nfq_rs_config_set_flags");
    NULLCHK(nfq_rs_config_set_rcvbuf(NULL, 1 << 20), "nfq_rs_config_set_rcvbuf");
    NULLCHK(nfq_rs_config_set_no_enobufs(NULL, 1), "nfq_rs_config_set_no_enobufs");
    NULLCHK(nfq_rs_config_set_batch(NULL, 8), "nfq_rs_config_set_batch");
    NULLCHK(nfq_rs_config_set_fallback_verdict(NULL, NFQ_RS_ACCEPT), "nfq_rs_config_set_fallback_verdict");
    NULLCHK(nfq_rs_config_set_netns_path(NULL, "/x"), "nfq_rs_config_set_netns_path");
    NULLCHK(nfq_rs_config_set_netns_fd(NULL, -1), "nfq_rs_config_set_netns_fd");

    /* open */
    nfq_rs_queue *q = (nfq_rs_queue *)&u64; /* must be overwritten with NULL */
    NULLCHK(nfq_rs_open(NULL, &q), "nfq_rs_open");
    CHECK(q == NULL, "nfq_rs_open(NULL, &q) left *out unchanged");
    nfq_rs_config *cfg = nfq_rs_config_new(1);
    CHECK(cfg != NULL, "config_new");
    NULLCHK(nfq_rs_open(cfg, NULL), "nfq_rs_open");
    nfq_rs_config_free(cfg);

    /* queue handle */
    NULLCHK(nfq_rs_fd(NULL), "nfq_rs_fd");
    NULLCHK(nfq_rs_set_callback(NULL, NULL, NULL), "nfq_rs_set_callback");
    NULLCHK(nfq_rs_bind(NULL, 1), "nfq_rs_bind");
    NULLCHK(nfq_rs_unbind(NULL, 1), "nfq_rs_unbind");
    NULLCHK(nfq_rs_set_copy_mode(NULL, 1, NFQ_RS_COPY_META, 0), "nfq_rs_set_copy_mode");
    NULLCHK(nfq_rs_set_max_len(NULL, 1, 10), "nfq_rs_set_max_len");
    NULLCHK(nfq_rs_set_flags(NULL, 1, 1, 1), "nfq_rs_set_flags");
    NULLCHK(nfq_rs_set_rcvbuf(NULL, 1 << 20), "nfq_rs_set_rcvbuf");
    NULLCHK(nfq_rs_set_no_enobufs(NULL, 1), "nfq_rs_set_no_enobufs");
    NULLCHK(nfq_rs_dispatch(NULL, 0), "nfq_rs_dispatch");
    NULLCHK(nfq_rs_run(NULL), "nfq_rs_run");

    /* verdicts */
    NULLCHK(nfq_rs_verdict(NULL, 1, 1, NFQ_RS_ACCEPT), "nfq_rs_verdict");
    NULLCHK(nfq_rs_verdict_mark(NULL, 1, 1, NFQ_RS_ACCEPT, 1), "nfq_rs_verdict_mark");
    NULLCHK(nfq_rs_verdict_ex(NULL, 1, 1, NFQ_RS_ACCEPT, 0, 0, 0, 0, NULL, 0), "nfq_rs_verdict_ex");
    NULLCHK(nfq_rs_verdict_batch(NULL, 1, 1, NFQ_RS_ACCEPT), "nfq_rs_verdict_batch");
    NULLCHK(nfq_rs_verdict_batch_mark(NULL, 1, 1, NFQ_RS_ACCEPT, 1), "nfq_rs_verdict_batch_mark");

    /* counters */
    NULLCHK(nfq_rs_stat(NULL, NFQ_RS_STAT_PACKETS_RECEIVED, &u64), "nfq_rs_stat");
    NULLCHK(nfq_rs_kernel_stat(NULL, 1, NFQ_RS_KSTAT_QUEUE_TOTAL, &u64), "nfq_rs_kernel_stat");

    /* packet accessors: the int ones give INVAL, the value ones a neutral 0/NULL */
    CHECK(nfq_rs_packet_id(NULL) == 0, "packet_id(NULL)");
    CHECK(nfq_rs_packet_queue(NULL) == 0, "packet_queue(NULL)");
    CHECK(nfq_rs_packet_family(NULL) == 0, "packet_family(NULL)");
    CHECK(nfq_rs_packet_hw_protocol(NULL) == 0, "packet_hw_protocol(NULL)");
    CHECK(nfq_rs_packet_hook(NULL) == 0, "packet_hook(NULL)");
    sz = 99;
    CHECK(nfq_rs_packet_payload(NULL, &sz) == NULL, "packet_payload(NULL)");
    CHECK(nfq_rs_packet_payload(NULL, NULL) == NULL, "packet_payload(NULL, NULL)");
    CHECK(nfq_rs_packet_orig_len(NULL) == 0, "packet_orig_len(NULL)");
    CHECK(nfq_rs_packet_is_truncated(NULL) == 0, "packet_is_truncated(NULL)");
    NULLCHK(nfq_rs_packet_cap_len(NULL, &u32), "nfq_rs_packet_cap_len");
    NULLCHK(nfq_rs_packet_mark(NULL, &u32), "nfq_rs_packet_mark");
    NULLCHK(nfq_rs_packet_indev(NULL, &u32), "nfq_rs_packet_indev");
    NULLCHK(nfq_rs_packet_outdev(NULL, &u32), "nfq_rs_packet_outdev");
    NULLCHK(nfq_rs_packet_physindev(NULL, &u32), "nfq_rs_packet_physindev");
    NULLCHK(nfq_rs_packet_physoutdev(NULL, &u32), "nfq_rs_packet_physoutdev");
    NULLCHK(nfq_rs_packet_uid(NULL, &u32), "nfq_rs_packet_uid");
    NULLCHK(nfq_rs_packet_gid(NULL, &u32), "nfq_rs_packet_gid");
    NULLCHK(nfq_rs_packet_skb_info(NULL, &u32), "nfq_rs_packet_skb_info");
    NULLCHK(nfq_rs_packet_priority(NULL, &u32), "nfq_rs_packet_priority");
    NULLCHK(nfq_rs_packet_cgroup_classid(NULL, &u32), "nfq_rs_packet_cgroup_classid");
    NULLCHK(nfq_rs_packet_ct_info(NULL, &u32), "nfq_rs_packet_ct_info");
    NULLCHK(nfq_rs_packet_timestamp(NULL, &u64, &u64b), "nfq_rs_packet_timestamp");
    NULLCHK(nfq_rs_packet_vlan(NULL, &u16a, &u16b), "nfq_rs_packet_vlan");
    NULLCHK(nfq_rs_packet_hwaddr(NULL, &ptr, &sz), "nfq_rs_packet_hwaddr");
    NULLCHK(nfq_rs_packet_secctx(NULL, &ptr, &sz), "nfq_rs_packet_secctx");
    NULLCHK(nfq_rs_packet_ct(NULL, &ptr, &sz), "nfq_rs_packet_ct");
    NULLCHK(nfq_rs_packet_exp(NULL, &ptr, &sz), "nfq_rs_packet_exp");
    NULLCHK(nfq_rs_packet_l2hdr(NULL, &ptr, &sz), "nfq_rs_packet_l2hdr");
    NULLCHK(nfq_rs_packet_set_mark(NULL, 1), "nfq_rs_packet_set_mark");
    NULLCHK(nfq_rs_packet_set_connmark(NULL, 1), "nfq_rs_packet_set_connmark");
    NULLCHK(nfq_rs_packet_set_priority(NULL, 1), "nfq_rs_packet_set_priority");
    NULLCHK(nfq_rs_packet_set_payload(NULL, buf, 4), "nfq_rs_packet_set_payload");
}

/* ---------------------------------------------------------------------------------------- */
/* 3. Config setters with invalid values; open failures */

static void test_config(void)
{
    nfq_rs_config *cfg = nfq_rs_config_new(30);
    CHECK(cfg != NULL, "config_new");
    if (!cfg) return;

    CHECK_RC(nfq_rs_config_set_copy_mode(cfg, 3, 0), NFQ_RS_E_INVAL);
    CHECK(thread_error_has("nfq_rs_config_set_copy_mode"), "copy mode error text");
    CHECK_RC(nfq_rs_config_set_copy_mode(cfg, -1, 0), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_config_set_copy_mode(cfg, NFQ_RS_COPY_META, 0), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, 100000), NFQ_RS_OK);

    CHECK_RC(nfq_rs_config_set_batch(cfg, 0), NFQ_RS_E_INVAL);
    CHECK(thread_error_has("nfq_rs_config_set_batch"), "batch error text");
    CHECK_RC(nfq_rs_config_set_batch(cfg, 1025), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_config_set_batch(cfg, 1), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_batch(cfg, 1024), NFQ_RS_OK);

    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, 99), NFQ_RS_E_INVAL);
    CHECK(thread_error_has("not a verdict"), "fallback error text");
    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, 0xffffffffu), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, NFQ_RS_LATER), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, 2 /* NF_STOLEN */), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, NFQ_RS_ACCEPT), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, (uint32_t)NFQ_RS_QUEUE(7)), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, NFQ_RS_DROP), NFQ_RS_OK);

    CHECK_RC(nfq_rs_config_set_netns_fd(cfg, -5), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_config_set_netns_path(cfg, ""), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_config_set_netns_fd(cfg, -1), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_netns_path(cfg, NULL), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_rcvbuf(cfg, 0), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_max_len(cfg, 64), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_add_queue(cfg, 31), NFQ_RS_OK);

    /* A namespace that does not exist: a clean error naming it. */
    CHECK_RC(nfq_rs_config_set_netns_path(cfg, "/var/run/netns/nfqrs-does-not-exist"), NFQ_RS_OK);
    nfq_rs_queue *q = (nfq_rs_queue *)cfg;
    int rc = nfq_rs_open(cfg, &q);
    CHECK(rc < 0, "open in a missing namespace returned %d", rc);
    CHECK(q == NULL, "failed open left a handle");
    CHECK(thread_error_has("nfqrs-does-not-exist"), "open error does not name the namespace");
    if (rc == NFQ_RS_OK) nfq_rs_close(q);
    nfq_rs_config_free(cfg);
}

/* ---------------------------------------------------------------------------------------- */
/* 4. Open by path; packet accessors; counters; handle errors */

struct basic_ctx {
    int seen;
    int bad;
};

static int32_t basic_cb(nfq_rs_packet *pkt, void *user)
{
    struct basic_ctx *c = (struct basic_ctx *)user;
    size_t len = 0;
    const uint8_t *p = nfq_rs_packet_payload(pkt, &len);
    uint32_t v = 12345;
    c->seen++;
    CHECK(nfq_rs_packet_queue(pkt) == 10, "queue %u", nfq_rs_packet_queue(pkt));
    CHECK(nfq_rs_packet_family(pkt) == AF_INET, "family %u", nfq_rs_packet_family(pkt));
    CHECK(nfq_rs_packet_hw_protocol(pkt) == 0x0800, "hw 0x%x", nfq_rs_packet_hw_protocol(pkt));
    CHECK(nfq_rs_packet_hook(pkt) == 3, "hook %u (want OUTPUT)", nfq_rs_packet_hook(pkt));
    CHECK(nfq_rs_packet_id(pkt) >= 1, "id %u", nfq_rs_packet_id(pkt));
    CHECK(p != NULL && len >= 28, "payload %p len %zu", (const void *)p, len);
    CHECK(len == nfq_rs_packet_orig_len(pkt), "len %zu orig %zu", len, nfq_rs_packet_orig_len(pkt));
    CHECK(nfq_rs_packet_is_truncated(pkt) == 0, "truncated");
    CHECK(nfq_rs_packet_cap_len(pkt, &v) == 0, "cap_len present on a whole packet");
    if (p && len >= 28) {
        CHECK(p[0] == 0x45 && p[9] == IPPROTO_UDP, "not IPv4/UDP: %02x %02x", p[0], p[9]);
        CHECK((p[22] << 8 | p[23]) == 9010, "dport %d", p[22] << 8 | p[23]);
        CHECK(memcmp(p + 28, "basic-", 6) == 0, "UDP data not as sent");
    }
    CHECK(nfq_rs_packet_outdev(pkt, &v) == 1 && v == 1, "outdev %u (want lo = 1)", v);
    CHECK(nfq_rs_packet_indev(pkt, &v) == 0, "indev present on OUTPUT");
    v = 777;
    CHECK(nfq_rs_packet_uid(pkt, &v) == 1 && v == geteuid(), "uid %u", v);
    CHECK(nfq_rs_packet_gid(pkt, &v) == 1 && v == getegid(), "gid %u", v);
    CHECK(nfq_rs_packet_uid(pkt, NULL) == 1, "uid with NULL out");
    CHECK(nfq_rs_packet_mark(pkt, &v) == 0, "mark present without a mark");
    CHECK(nfq_rs_packet_physindev(pkt, &v) == 0, "physindev present");
    CHECK(nfq_rs_packet_vlan(pkt, NULL, NULL) == 0, "vlan present");
    CHECK(nfq_rs_packet_ct(pkt, NULL, NULL) == 0, "ct present without the flag");
    CHECK(nfq_rs_packet_l2hdr(pkt, NULL, NULL) == 0, "l2hdr present");
    /* Too-large replacement payloads are refused, and the verdict is still ours to give. */
    static uint8_t big[70000];
    CHECK_RC(nfq_rs_packet_set_payload(pkt, big, sizeof big), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_packet_set_payload(pkt, NULL, 4), NFQ_RS_E_INVAL);
    return NFQ_RS_ACCEPT;
}

static void test_basic(void)
{
    nfq_rs_config *cfg = config_for(10);
    CHECK_RC(nfq_rs_config_set_flags(cfg, NFQ_RS_F_UID_GID, NFQ_RS_F_UID_GID), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_batch(cfg, 4), NFQ_RS_OK);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    int rx = ns_udp_socket(g_ns_path, 9010), tx = ns_udp_socket(g_ns_path, 0);
    CHECK(rx >= 0 && tx >= 0, "sockets");

    CHECK(nfq_rs_fd(q) >= 0, "fd %d", nfq_rs_fd(q));
    /* No callback yet: dispatch refuses, and says why on the handle. */
    CHECK_RC(nfq_rs_dispatch(q, 0), NFQ_RS_E_INVAL);
    CHECK(handle_error_has(q, "nfq_rs_set_callback"), "no-callback error text");

    struct basic_ctx c = {0, 0};
    CHECK_RC(nfq_rs_set_callback(q, basic_cb, &c), NFQ_RS_OK);
    CHECK_RC(nfq_rs_dispatch(q, 0), 0);
    CHECK(nfq_rs_set_rcvbuf(q, 1 << 20) > 0, "set_rcvbuf");
    CHECK_RC(nfq_rs_set_no_enobufs(q, 0), NFQ_RS_OK);
    CHECK_RC(nfq_rs_set_max_len(q, 10, 512), NFQ_RS_OK);

    /* Handle-level errors from the kernel. */
    CHECK_RC(nfq_rs_bind(q, 10), NFQ_RS_E_BUSY);
    CHECK(handle_error_has(q, "already bound"), "EBUSY text");
    CHECK_RC(nfq_rs_unbind(q, 4242), NFQ_RS_E_NODEV);
    CHECK_RC(nfq_rs_set_copy_mode(q, 4242, NFQ_RS_COPY_META, 0), NFQ_RS_E_NODEV);
    CHECK_RC(nfq_rs_set_copy_mode(q, 10, 9, 0), NFQ_RS_E_INVAL);
    /* Argument errors on a live handle. */
    CHECK_RC(nfq_rs_verdict(q, 10, 1, 99), NFQ_RS_E_INVAL);
    CHECK(thread_error_has("nfq_rs_verdict"), "bad verdict text");
    CHECK_RC(nfq_rs_verdict(q, 10, 1, NFQ_RS_LATER), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_verdict_ex(q, 10, 1, NFQ_RS_ACCEPT, 0x80, 0, 0, 0, NULL, 0), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_verdict_ex(q, 10, 1, NFQ_RS_ACCEPT, 0, 0, 0, 0, NULL, 5), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_stat(q, 99, NULL), NFQ_RS_E_INVAL);
    uint64_t v;
    CHECK_RC(nfq_rs_stat(q, 99, &v), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_stat(q, -1, &v), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_kernel_stat(q, 10, 99, &v), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_kernel_stat(q, 10, NFQ_RS_KSTAT_QUEUE_TOTAL, NULL), NFQ_RS_E_INVAL);
    CHECK_RC(nfq_rs_kernel_stat(q, 4242, NFQ_RS_KSTAT_QUEUE_TOTAL, &v), NFQ_RS_E_NODEV);

    send_n(tx, 9010, 3, "basic");
    char msgs[16][128];
    int got = pump(q, rx, 3, msgs, WAIT_MS);
    CHECK(got == 3 && c.seen == 3, "got %d datagrams, callback saw %d (want 3)", got, c.seen);

    CHECK(stat_of(q, NFQ_RS_STAT_PACKETS_RECEIVED) == 3, "packets_received");
    /* One per packet; messages can be fewer when consecutive verdicts were coalesced. */
    uint64_t sent = stat_of(q, NFQ_RS_STAT_VERDICTS_SENT);
    uint64_t msgs_sent = stat_of(q, NFQ_RS_STAT_VERDICT_MESSAGES);
    CHECK(sent == 3, "verdicts_sent %llu (want 3)", (unsigned long long)sent);
    CHECK(msgs_sent >= 1 && msgs_sent <= 3, "verdict_messages %llu", (unsigned long long)msgs_sent);
    printf("  3 accepted packets: verdicts_sent %llu, verdict_messages %llu\n", (unsigned long long)sent,
           (unsigned long long)msgs_sent);
    CHECK(stat_of(q, NFQ_RS_STAT_DEFERRED) == 0, "deferred");
    CHECK(stat_of(q, NFQ_RS_STAT_CALLBACK_ERRORS) == 0, "callback_errors");
    CHECK(stat_of(q, NFQ_RS_STAT_PARSE_ERRORS) == 0, "parse_errors");
    CHECK(stat_of(q, NFQ_RS_STAT_ENOBUFS) == 0, "enobufs");
    CHECK(kstat_of(q, 10, NFQ_RS_KSTAT_ID_SEQUENCE) == 3, "kernel id_sequence");
    CHECK(kstat_of(q, 10, NFQ_RS_KSTAT_QUEUE_TOTAL) == 0, "kernel queue_total");
    CHECK(kstat_of(q, 10, NFQ_RS_KSTAT_DROPPED) == 0, "kernel dropped");
    CHECK(kstat_of(q, 10, NFQ_RS_KSTAT_USER_DROPPED) == 0, "kernel user_dropped");
    CHECK(kstat_of(q, 10, NFQ_RS_KSTAT_PORTID) != 0, "kernel portid");
    CHECK(kstat_of(q, 10, NFQ_RS_KSTAT_COPY_MODE) == 2, "kernel copy mode");
    CHECK(kstat_of(q, 10, NFQ_RS_KSTAT_COPY_RANGE) > 1000, "kernel copy range");

    /* A verdict for an id the kernel does not know: accepted by the call, rejected later. */
    CHECK_RC(nfq_rs_verdict(q, 10, 123456, NFQ_RS_ACCEPT), NFQ_RS_OK);
    long long end = now_ms() + WAIT_MS;
    while (stat_of(q, NFQ_RS_STAT_VERDICT_ERRORS) == 0 && now_ms() < end) nfq_rs_dispatch(q, 20);
    CHECK(stat_of(q, NFQ_RS_STAT_VERDICT_ERRORS) == 1, "verdict_errors after an unknown id: %llu",
          (unsigned long long)stat_of(q, NFQ_RS_STAT_VERDICT_ERRORS));

    /* Unbind: packets then find no listener and are dropped by the kernel. */
    CHECK_RC(nfq_rs_unbind(q, 10), NFQ_RS_OK);
    send_n(tx, 9010, 1, "basic");
    got = pump(q, rx, -1, NULL, 300);
    CHECK(got == 0, "%d datagrams arrived through an unbound queue", got);
    CHECK(c.seen == 3, "callback ran after unbind");
    CHECK_RC(nfq_rs_bind(q, 10), NFQ_RS_OK);

    close(rx);
    close(tx);
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */
/* 5. Open by descriptor; truncated copies */

struct trunc_ctx {
    int seen;
    size_t len, orig;
    int truncated, has_cap;
    uint32_t cap;
};

static int32_t trunc_cb(nfq_rs_packet *pkt, void *user)
{
    struct trunc_ctx *c = (struct trunc_ctx *)user;
    c->seen++;
    nfq_rs_packet_payload(pkt, &c->len);
    c->orig = nfq_rs_packet_orig_len(pkt);
    c->truncated = nfq_rs_packet_is_truncated(pkt);
    c->has_cap = nfq_rs_packet_cap_len(pkt, &c->cap);
    return NFQ_RS_ACCEPT;
}

static void test_fd(void)
{
    int nsfd = open(g_ns_path, O_RDONLY | O_CLOEXEC);
    CHECK(nsfd >= 0, "open %s: %s", g_ns_path, strerror(errno));
    if (nsfd < 0) return;
    nfq_rs_config *cfg = nfq_rs_config_new(11);
    CHECK_RC(nfq_rs_config_set_netns_fd(cfg, nsfd), NFQ_RS_OK);
    CHECK_RC(nfq_rs_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, 24), NFQ_RS_OK);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    close(nsfd);
    if (!q) return;
    int rx = ns_udp_socket(g_ns_path, 9011), tx = ns_udp_socket(g_ns_path, 0);
    struct trunc_ctx c;
    memset(&c, 0, sizeof c);
    CHECK_RC(nfq_rs_set_callback(q, trunc_cb, &c), NFQ_RS_OK);
    send_n(tx, 9011, 2, "truncated-copy-of-a-longer-datagram");
    int got = pump(q, rx, 2, NULL, WAIT_MS);
    CHECK(got == 2 && c.seen == 2, "got %d, seen %d (want 2)", got, c.seen);
    CHECK(c.len == 24, "payload len %zu (want 24)", c.len);
    CHECK(c.orig == 28 + 37, "orig len %zu", c.orig);
    CHECK(c.truncated == 1, "not marked truncated");
    CHECK(c.has_cap == 1 && c.cap == c.orig, "cap_len %d/%u", c.has_cap, c.cap);
    CHECK(kstat_of(q, 11, NFQ_RS_KSTAT_COPY_RANGE) == 24, "kernel copy range");
    close(rx);
    close(tx);
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */
/* 6. NFQ_RS_LATER, verdicts from another thread */

struct later_ctx {
    nfq_rs_queue *q;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t ids[16];
    int n;
    int go;
    int rcs[16];
};

static int32_t later_cb(nfq_rs_packet *pkt, void *user)
{
    struct later_ctx *c = (struct later_ctx *)user;
    pthread_mutex_lock(&c->mu);
    if (c->n < 16) c->ids[c->n++] = nfq_rs_packet_id(pkt);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NFQ_RS_LATER;
}

static void *later_worker(void *arg)
{
    struct later_ctx *c = (struct later_ctx *)arg;
    pthread_mutex_lock(&c->mu);
    while (!c->go) pthread_cond_wait(&c->cv, &c->mu);
    int n = c->n;
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < n; i++) {
        if (i % 2 == 0) c->rcs[i] = nfq_rs_verdict(c->q, 12, c->ids[i], NFQ_RS_ACCEPT);
        else c->rcs[i] = nfq_rs_verdict_mark(c->q, 12, c->ids[i], NFQ_RS_ACCEPT, 0x33);
    }
    return NULL;
}

static void test_later(void)
{
    nfq_rs_config *cfg = config_for(12);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    int rx = ns_udp_socket(g_ns_path, 9012), tx = ns_udp_socket(g_ns_path, 0);
    struct later_ctx c;
    memset(&c, 0, sizeof c);
    c.q = q;
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, later_worker, &c) == 0, "pthread_create");
    CHECK_RC(nfq_rs_set_callback(q, later_cb, &c), NFQ_RS_OK);

    send_n(tx, 9012, 4, "later");
    /* All four are held: the callback saw them, nothing arrived. */
    int got = pump(q, rx, -1, NULL, 300);
    long long end = now_ms() + WAIT_MS;
    while (c.n < 4 && now_ms() < end) got += pump(q, rx, -1, NULL, 50);
    CHECK(c.n == 4, "callback saw %d packets (want 4)", c.n);
    CHECK(got == 0, "%d datagrams arrived before their verdicts", got);
    CHECK(stat_of(q, NFQ_RS_STAT_DEFERRED) == 4, "deferred counter");
    CHECK(kstat_of(q, 12, NFQ_RS_KSTAT_QUEUE_TOTAL) == 4, "kernel queue_total while held");

    pthread_mutex_lock(&c.mu);
    c.go = 1;
    pthread_cond_broadcast(&c.cv);
    pthread_mutex_unlock(&c.mu);
    pthread_join(th, NULL);
    for (int i = 0; i < c.n; i++) CHECK(c.rcs[i] == NFQ_RS_OK, "verdict %d rc %d", i, c.rcs[i]);

    char msgs[16][128];
    got = pump(q, rx, 4, msgs, WAIT_MS);
    CHECK(got == 4, "%d datagrams arrived after the deferred verdicts (want 4)", got);
    CHECK(kstat_of(q, 12, NFQ_RS_KSTAT_QUEUE_TOTAL) == 0, "kernel queue_total after verdicts");
    long long marked = rule_packets("mangle", "POSTROUTING", 1);
    CHECK(marked == 2, "mark rule counted %lld (want 2)", marked);
    CHECK(stat_of(q, NFQ_RS_STAT_VERDICT_ERRORS) == 0, "verdict errors");

    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    close(rx);
    close(tx);
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */
/* 7. Payload replacement: nfq_rs_verdict_ex from another thread and nfq_rs_packet_set_payload */

static uint16_t ip_checksum(const uint8_t *h, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2) s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/*
 * Rewrites an IPv4/UDP packet in place: upper-cases the UDP data, optionally appends `extra`,
 * fixes the IP total length and checksum and the UDP length, zeroes the UDP checksum.
 * Returns the new length (cap is the buffer size) or 0 if it is not IPv4/UDP.
 */
static size_t rewrite_udp(uint8_t *p, size_t len, size_t cap, const char *extra)
{
    if (len < 28 || (p[0] >> 4) != 4 || p[9] != IPPROTO_UDP) return 0;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl + 8 > len) return 0;
    for (size_t i = ihl + 8; i < len; i++) p[i] = (uint8_t)toupper(p[i]);
    size_t elen = extra ? strlen(extra) : 0;
    if (len + elen > cap) return 0;
    memcpy(p + len, extra ? extra : "", elen);
    len += elen;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p[10] = p[11] = 0;
    uint16_t cs = ip_checksum(p, ihl);
    p[10] = (uint8_t)(cs >> 8);
    p[11] = (uint8_t)cs;
    size_t ulen = len - ihl;
    p[ihl + 4] = (uint8_t)(ulen >> 8);
    p[ihl + 5] = (uint8_t)ulen;
    p[ihl + 6] = p[ihl + 7] = 0;
    return len;
}

struct mangle_ctx {
    nfq_rs_queue *q;
    int seen;
    int held;
    uint32_t held_id[8];
    uint8_t held_buf[8][256];
    size_t held_len[8];
    int rcs[8];
    int inline_rc;
};

static int32_t mangle_cb(nfq_rs_packet *pkt, void *user)
{
    struct mangle_ctx *c = (struct mangle_ctx *)user;
    size_t len = 0;
    const uint8_t *p = nfq_rs_packet_payload(pkt, &len);
    int i = c->seen++;
    if (!p || len > 200) return NFQ_RS_DROP;
    if (i % 2 == 0 && c->held < 8) {
        /* Keep a copy; the verdict with the new payload comes from another thread. */
        c->held_id[c->held] = nfq_rs_packet_id(pkt);
        memcpy(c->held_buf[c->held], p, len);
        c->held_len[c->held] = len;
        c->held++;
        return NFQ_RS_LATER;
    }
    uint8_t buf[256];
    memcpy(buf, p, len);
    size_t n = rewrite_udp(buf, len, sizeof buf, i == 3 ? "-LONGER" : NULL);
    int rc = nfq_rs_packet_set_payload(pkt, buf, n);
    int rc2 = nfq_rs_packet_set_mark(pkt, 0x77);
    if (rc != NFQ_RS_OK || rc2 != NFQ_RS_OK) c->inline_rc = rc != NFQ_RS_OK ? rc : rc2;
    return NFQ_RS_ACCEPT;
}

static void *mangle_worker(void *arg)
{
    struct mangle_ctx *c = (struct mangle_ctx *)arg;
    for (int k = 0; k < c->held; k++) {
        size_t n = rewrite_udp(c->held_buf[k], c->held_len[k], sizeof c->held_buf[k], k == 1 ? "-EXTENDED" : NULL);
        c->rcs[k] = nfq_rs_verdict_ex(c->q, 13, c->held_id[k], NFQ_RS_ACCEPT, NFQ_RS_SET_MARK, 0x77, 0, 0,
                                      c->held_buf[k], n);
    }
    return NULL;
}

static int has_msg(char msgs[][128], int n, const char *want)
{
    for (int i = 0; i < n && i < 16; i++)
        if (strcmp(msgs[i], want) == 0) return 1;
    return 0;
}

static void test_payload(void)
{
    nfq_rs_config *cfg = config_for(13);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    int rx = ns_udp_socket(g_ns_path, 9013), tx = ns_udp_socket(g_ns_path, 0);
    struct mangle_ctx c;
    memset(&c, 0, sizeof c);
    c.q = q;
    CHECK_RC(nfq_rs_set_callback(q, mangle_cb, &c), NFQ_RS_OK);

    send_n(tx, 9013, 4, "hello");
    char msgs[16][128];
    int got = 0;
    long long end = now_ms() + WAIT_MS;
    while (c.seen < 4 && now_ms() < end) got += pump(q, rx, -1, msgs + got, 50);
    CHECK(c.seen == 4 && c.held == 2, "seen %d held %d", c.seen, c.held);
    CHECK(c.inline_rc == NFQ_RS_OK, "set_payload/set_mark in the callback: %d", c.inline_rc);

    pthread_t th;
    CHECK(pthread_create(&th, NULL, mangle_worker, &c) == 0, "pthread_create");
    pthread_join(th, NULL);
    for (int k = 0; k < c.held; k++) CHECK(c.rcs[k] == NFQ_RS_OK, "verdict_ex %d rc %d", k, c.rcs[k]);

    got += pump(q, rx, 4 - got, msgs + got, WAIT_MS);
    CHECK(got == 4, "%d rewritten datagrams arrived (want 4)", got);
    CHECK(has_msg(msgs, got, "HELLO-0"), "HELLO-0 missing (verdict_ex, same length)");
    CHECK(has_msg(msgs, got, "HELLO-1"), "HELLO-1 missing (set_payload, same length)");
    CHECK(has_msg(msgs, got, "HELLO-2-EXTENDED"), "HELLO-2-EXTENDED missing (verdict_ex, longer)");
    CHECK(has_msg(msgs, got, "HELLO-3-LONGER"), "HELLO-3-LONGER missing (set_payload, longer)");
    for (int i = 0; i < got && i < 16; i++) printf("  received: %s\n", msgs[i]);
    long long marked = rule_packets("mangle", "POSTROUTING", 2);
    CHECK(marked == 4, "mark rule counted %lld (want 4)", marked);
    CHECK(stat_of(q, NFQ_RS_STAT_VERDICT_ERRORS) == 0, "verdict errors");
    close(rx);
    close(tx);
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */
/* 8. nfq_rs_stop from another thread */

static int32_t accept_cb(nfq_rs_packet *pkt, void *user)
{
    (void)pkt;
    if (user) ++*(int *)user;
    return NFQ_RS_ACCEPT;
}

struct runner {
    nfq_rs_queue *q;
    int use_dispatch;
    int rc;
    long long returned_at;
};

static void *runner_main(void *arg)
{
    struct runner *r = (struct runner *)arg;
    r->rc = r->use_dispatch ? nfq_rs_dispatch(r->q, 20000) : nfq_rs_run(r->q);
    r->returned_at = now_ms();
    return NULL;
}

/* Starts run/dispatch on a thread, stops it after 200 ms; the stop-to-return time in ms. */
static long long stop_after(nfq_rs_queue *q, int use_dispatch, int *rc)
{
    struct runner r = {q, use_dispatch, -999, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, runner_main, &r) != 0) return -1;
    sleep_ms(200);
    long long t0 = now_ms();
    nfq_rs_stop(q);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    if (pthread_timedjoin_np(th, NULL, &dl) != 0) {
        fprintf(stderr, "  FAIL: %s did not return within 10 s of nfq_rs_stop\n",
                use_dispatch ? "nfq_rs_dispatch" : "nfq_rs_run");
        fflush(stderr);
        _exit(1); /* the thread still uses the handle: cannot clean up */
    }
    *rc = r.rc;
    return r.returned_at - t0;
}

static void test_stop(void)
{
    nfq_rs_config *cfg = config_for(14);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    int n = 0;
    CHECK_RC(nfq_rs_set_callback(q, accept_cb, &n), NFQ_RS_OK);
    int rc;
    long long ms = stop_after(q, 0, &rc);
    CHECK(rc == NFQ_RS_OK, "nfq_rs_run returned %d", rc);
    CHECK(ms >= 0 && ms < 1000, "nfq_rs_run returned %lld ms after nfq_rs_stop", ms);
    printf("  nfq_rs_run returned %lld ms after nfq_rs_stop\n", ms);

    ms = stop_after(q, 1, &rc);
    CHECK(rc == 0, "nfq_rs_dispatch returned %d after a stop", rc);
    CHECK(ms >= 0 && ms < 1000, "nfq_rs_dispatch returned %lld ms after nfq_rs_stop", ms);
    printf("  nfq_rs_dispatch woke %lld ms after nfq_rs_stop\n", ms);

    /*
     * Informational: what a stop that woke nfq_rs_dispatch leaves behind. The library keeps
     * it pending for a later nfq_rs_run; see how the next dispatch and run behave.
     */
    long long t0 = now_ms();
    rc = nfq_rs_dispatch(q, 300);
    printf("  note: the next nfq_rs_dispatch(q, 300) returned %d after %lld ms\n", rc, now_ms() - t0);
    struct runner r = {q, 0, -999, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, runner_main, &r) == 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 300 * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(th, NULL, &dl) == 0) {
            printf("  note: a later nfq_rs_run returned %d at once (the stop was still pending)\n", r.rc);
        } else {
            nfq_rs_stop(q);
            pthread_join(th, NULL);
            printf("  note: a later nfq_rs_run blocked until a new stop (no stale stop)\n");
        }
    }
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */
/* 9. A queue bound by another socket: NFQ_RS_E_PERM */

static void test_perm(void)
{
    nfq_rs_config *cfg = config_for(15);
    nfq_rs_queue *a = open_queue(cfg);
    if (!a) {
        nfq_rs_config_free(cfg);
        return;
    }
    nfq_rs_queue *b = NULL;
    int rc = nfq_rs_open(cfg, &b);
    CHECK(rc == NFQ_RS_E_PERM, "second open returned %d (%s), want NFQ_RS_E_PERM", rc, nfq_rs_strerror(rc));
    CHECK(b == NULL, "failed open left a handle");
    char buf[512];
    thread_error(buf, sizeof buf);
    CHECK(strstr(buf, "bound by another process") != NULL, "error text: %s", buf);
    printf("  second open: %s\n", buf);
    if (rc == NFQ_RS_OK) nfq_rs_close(b);

    /* Once the first handle is closed the queue is free again. */
    nfq_rs_close(a);
    b = open_queue(cfg);
    nfq_rs_close(b);
    nfq_rs_config_free(cfg);
}

/* ---------------------------------------------------------------------------------------- */
/* 10. The conntrack flag without CONFIG_NETFILTER_NETLINK_GLUE_CT: NFQ_RS_E_NOTSUP */

static void test_conntrack(void)
{
    nfq_rs_config *cfg = config_for(16);
    CHECK_RC(nfq_rs_config_set_flags(cfg, NFQ_RS_F_CONNTRACK, NFQ_RS_F_CONNTRACK), NFQ_RS_OK);
    nfq_rs_queue *q = NULL;
    int rc = nfq_rs_open(cfg, &q);
    nfq_rs_config_free(cfg);
    char buf[512];
    thread_error(buf, sizeof buf);
    if (rc == NFQ_RS_OK) {
        printf("  note: this kernel has CONFIG_NETFILTER_NETLINK_GLUE_CT; the NOTSUP path is not testable\n");
        nfq_rs_close(q);
        return;
    }
    CHECK(rc == NFQ_RS_E_NOTSUP, "open with the conntrack flag returned %d (%s)", rc, nfq_rs_strerror(rc));
    CHECK(strstr(buf, "CONFIG_NETFILTER_NETLINK_GLUE_CT") != NULL, "error text: %s", buf);
    printf("  open: %s\n", buf);

    /* The same through nfq_rs_set_flags on an open handle; the handle keeps the text. */
    cfg = config_for(16);
    q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    CHECK_RC(nfq_rs_set_flags(q, 16, NFQ_RS_F_CONNTRACK, NFQ_RS_F_CONNTRACK), NFQ_RS_E_NOTSUP);
    CHECK(handle_error_has(q, "CONFIG_NETFILTER_NETLINK_GLUE_CT"), "handle error text");
    CHECK_RC(nfq_rs_set_flags(q, 16, NFQ_RS_F_UID_GID, NFQ_RS_F_UID_GID), NFQ_RS_OK);
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */
/* 11. A callback answering nonsense: the fallback verdict, counted */

static int32_t nonsense_cb(nfq_rs_packet *pkt, void *user)
{
    (void)pkt;
    int *n = (int *)user;
    static const int32_t answers[] = {77, -5, 2 /* NF_STOLEN */, NFQ_RS_LATER + 1};
    return answers[(*n)++ % 4];
}

static void test_nonsense(void)
{
    /* Fallback accept: all four arrive. */
    nfq_rs_config *cfg = config_for(17);
    CHECK_RC(nfq_rs_config_set_fallback_verdict(cfg, NFQ_RS_ACCEPT), NFQ_RS_OK);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    int rx = ns_udp_socket(g_ns_path, 9017), tx = ns_udp_socket(g_ns_path, 0);
    int n = 0;
    CHECK_RC(nfq_rs_set_callback(q, nonsense_cb, &n), NFQ_RS_OK);
    send_n(tx, 9017, 4, "nonsense");
    int got = pump(q, rx, 4, NULL, WAIT_MS);
    CHECK(got == 4 && n == 4, "fallback accept: %d arrived, callback ran %d times (want 4)", got, n);
    CHECK(stat_of(q, NFQ_RS_STAT_CALLBACK_ERRORS) == 4, "callback_errors %llu (want 4)",
          (unsigned long long)stat_of(q, NFQ_RS_STAT_CALLBACK_ERRORS));
    CHECK(handle_error_has(q, "not a verdict"), "handle error text");
    printf("  fallback_verdicts counter after 4 invalid answers: %llu\n",
           (unsigned long long)stat_of(q, NFQ_RS_STAT_FALLBACK_VERDICTS));
    nfq_rs_close(q);

    /* Default fallback (drop): nothing arrives. */
    cfg = config_for(20);
    q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (q) {
        int rx2 = ns_udp_socket(g_ns_path, 9020);
        n = 0;
        CHECK_RC(nfq_rs_set_callback(q, nonsense_cb, &n), NFQ_RS_OK);
        send_n(tx, 9020, 2, "nonsense");
        long long end = now_ms() + WAIT_MS;
        got = 0;
        while (n < 2 && now_ms() < end) got += pump(q, rx2, -1, NULL, 50);
        got += pump(q, rx2, -1, NULL, 300);
        CHECK(n == 2 && got == 0, "fallback drop: callback ran %d times, %d arrived (want 2, 0)", n, got);
        CHECK(stat_of(q, NFQ_RS_STAT_CALLBACK_ERRORS) == 2, "callback_errors");
        close(rx2);
        nfq_rs_close(q);
    }
    close(rx);
    close(tx);
}

/* ---------------------------------------------------------------------------------------- */
/* 12. Two queues on one handle; batch verdicts */

struct batch_ctx {
    int seen[2];
    uint32_t max_id[2];
    int bad_queue;
};

static int32_t batch_cb(nfq_rs_packet *pkt, void *user)
{
    struct batch_ctx *c = (struct batch_ctx *)user;
    uint16_t qn = nfq_rs_packet_queue(pkt);
    if (qn != 18 && qn != 19) {
        c->bad_queue++;
        return NFQ_RS_ACCEPT;
    }
    int k = qn - 18;
    c->seen[k]++;
    if (nfq_rs_packet_id(pkt) > c->max_id[k]) c->max_id[k] = nfq_rs_packet_id(pkt);
    return NFQ_RS_LATER;
}

static void test_batch(void)
{
    nfq_rs_config *cfg = config_for(18);
    CHECK_RC(nfq_rs_config_add_queue(cfg, 19), NFQ_RS_OK);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    int rx18 = ns_udp_socket(g_ns_path, 9018), rx19 = ns_udp_socket(g_ns_path, 9019);
    int tx = ns_udp_socket(g_ns_path, 0);
    struct batch_ctx c;
    memset(&c, 0, sizeof c);
    CHECK_RC(nfq_rs_set_callback(q, batch_cb, &c), NFQ_RS_OK);
    send_n(tx, 9018, 3, "batch");
    send_n(tx, 9019, 3, "batch");
    long long end = now_ms() + WAIT_MS;
    int early = 0;
    while ((c.seen[0] < 3 || c.seen[1] < 3) && now_ms() < end) early += pump(q, rx18, -1, NULL, 50);
    CHECK(c.seen[0] == 3 && c.seen[1] == 3 && c.bad_queue == 0, "seen %d/%d, bad %d", c.seen[0], c.seen[1],
          c.bad_queue);
    CHECK(early == 0, "datagrams arrived before the batch verdict");
    CHECK_RC(nfq_rs_verdict_batch(q, 18, c.max_id[0], NFQ_RS_ACCEPT), NFQ_RS_OK);
    CHECK_RC(nfq_rs_verdict_batch_mark(q, 19, c.max_id[1], NFQ_RS_ACCEPT, 0x55), NFQ_RS_OK);
    int got18 = pump(q, rx18, 3, NULL, WAIT_MS);
    int got19 = pump(NULL, rx19, 3, NULL, WAIT_MS);
    CHECK(got18 == 3 && got19 == 3, "after batch verdicts: %d and %d arrived (want 3 and 3)", got18, got19);
    long long marked = rule_packets("mangle", "POSTROUTING", 3);
    CHECK(marked == 3, "mark rule counted %lld (want 3)", marked);
    close(rx18);
    close(rx19);
    close(tx);
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */
/* 13. Held and immediate verdicts mixed in one receive batch: held packets stay held */

struct mixed_ctx {
    int seen;
    int held;
    uint32_t held_id[16];
};

static int32_t mixed_cb(nfq_rs_packet *pkt, void *user)
{
    struct mixed_ctx *c = (struct mixed_ctx *)user;
    int i = c->seen++;
    if (i % 3 == 1 && c->held < 16) {
        c->held_id[c->held++] = nfq_rs_packet_id(pkt);
        return NFQ_RS_LATER;
    }
    return NFQ_RS_ACCEPT;
}

static void test_mixed(void)
{
    nfq_rs_config *cfg = config_for(21);
    CHECK_RC(nfq_rs_config_set_batch(cfg, 64), NFQ_RS_OK);
    nfq_rs_queue *q = open_queue(cfg);
    nfq_rs_config_free(cfg);
    if (!q) return;
    int rx = ns_udp_socket(g_ns_path, 9021), tx = ns_udp_socket(g_ns_path, 0);
    struct mixed_ctx c;
    memset(&c, 0, sizeof c);
    CHECK_RC(nfq_rs_set_callback(q, mixed_cb, &c), NFQ_RS_OK);
    /* Queued before the first dispatch, so they come in one receive batch. */
    send_n(tx, 9021, 12, "mixed");
    sleep_ms(50);
    char msgs[16][128];
    int got = 0;
    long long end = now_ms() + WAIT_MS;
    while (c.seen < 12 && now_ms() < end) got += pump(q, rx, -1, msgs + (got < 16 ? got : 15), 20);
    got += pump(q, rx, -1, NULL, 300);
    CHECK(c.seen == 12 && c.held == 4, "seen %d held %d (want 12, 4)", c.seen, c.held);
    CHECK(got == 8, "%d arrived before the held packets' verdicts (want 8)", got);
    for (int i = 0; i < got && i < 16; i++) {
        int k = -1;
        sscanf(msgs[i], "mixed-%d", &k);
        CHECK(k % 3 != 1, "held packet %s arrived without a verdict", msgs[i]);
    }
    CHECK(kstat_of(q, 21, NFQ_RS_KSTAT_QUEUE_TOTAL) == 4, "kernel queue_total while held");
    /* Drop the held ones: they never arrive. */
    for (int k = 0; k < c.held; k++) CHECK_RC(nfq_rs_verdict(q, 21, c.held_id[k], NFQ_RS_DROP), NFQ_RS_OK);
    got = pump(q, rx, -1, NULL, 300);
    CHECK(got == 0, "%d dropped packets arrived", got);
    CHECK(kstat_of(q, 21, NFQ_RS_KSTAT_QUEUE_TOTAL) == 0, "kernel queue_total after drops");
    CHECK(stat_of(q, NFQ_RS_STAT_VERDICT_ERRORS) == 0, "verdict errors");
    close(rx);
    close(tx);
    nfq_rs_close(q);
}

/* ---------------------------------------------------------------------------------------- */

static int setup_rules(void)
{
    static const int ports[] = {9010, 9011, 9012, 9013, 9017, 9018, 9019, 9020, 9021};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (ipt("-A OUTPUT -p udp --dport %d -j NFQUEUE --queue-num %d", ports[i], ports[i] - 9000)) return -1;
    /* Counters for marked packets (no target: they only count). Positions 1, 2, 3. */
    if (ipt("-t mangle -A POSTROUTING -p udp --dport 9012 -m mark --mark 0x33")) return -1;
    if (ipt("-t mangle -A POSTROUTING -p udp --dport 9013 -m mark --mark 0x77")) return -1;
    if (ipt("-t mangle -A POSTROUTING -p udp --dport 9019 -m mark --mark 0x55")) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: api_test NSNAME\n");
        return 2;
    }
    g_ns_name = argv[1];
    snprintf(g_ns_path, sizeof g_ns_path, "/var/run/netns/%s", g_ns_name);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (setup_rules() != 0) return 2;

    static const struct { const char *name; void (*fn)(void); } tests[] = {
        {"version, strerror, last_error", test_static},
        {"NULL handles and pointers give NFQ_RS_E_INVAL", test_null},
        {"config setters reject invalid values", test_config},
        {"open by netns path: packet accessors, counters, handle errors", test_basic},
        {"open by netns fd: truncated copies", test_fd},
        {"NFQ_RS_LATER + verdicts from another thread", test_later},
        {"payload replacement (verdict_ex and set_payload)", test_payload},
        {"nfq_rs_stop from another thread", test_stop},
        {"queue bound by another socket: NFQ_RS_E_PERM", test_perm},
        {"conntrack flag: NFQ_RS_E_NOTSUP", test_conntrack},
        {"invalid callback answers: fallback verdict", test_nonsense},
        {"two queues on one handle, batch verdicts", test_batch},
        {"held and immediate verdicts in one batch", test_mixed},
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
    printf("api_test: %d/%d cases passed, %d failed checks\n", n - failed, n, g_failures);
    return g_failures ? 1 : 0;
}
