/*
 * Hostile use of every C entry point, run under AddressSanitizer (scripts/test-hostile.sh):
 *
 *   - every nfq_rs_* export with NULL handles and NULL pointers;
 *   - every export taking a handle, given a live handle of each other kind (a config where a
 *     queue is expected, a pool where a conntrack entry is expected, a log handle where a queue
 *     is expected, ...), and a zeroed heap
 *     block: refused by the handle magic, never misused;
 *   - out-of-range enums, counters, directions and verdicts; an oversize payload (> 65531);
 *   - a callback answering nonsense (not a verdict, stray flag bits, NFQ_RS_FAILED): the
 *     fallback verdict is given and counted, nothing is delivered, nothing stays queued;
 *   - NFLOG (nfq_rs_log_*): out-of-range copy modes, ranges, buffer sizes, flags, counters; a
 *     log callback answering non-zero values (each counted as a callback error);
 *   - the libnetfilter_queue drop-in: nfq_* getters with a NULL nfq_data, pktb_* and the
 *     protocol helpers with NULL, nfq_handle_packet with truncated and garbage buffers on an
 *     nfq_open handle, nfq_nlmsg_* with NULL;
 *   - the libnetfilter_log drop-in: every nflog_* export with NULL handles and pointers, and
 *     nflog_handle_packet on a bound group with truncated, malformed and garbage datagrams, the
 *     callback reading every getter (also with NULL result pointers) and the XML.
 *
 * Each failing call must return its documented failure value (a negative code and a last-error
 * message; NULL; or 0 where the header documents 0 "on error", as for nfq_rs_ct_family).
 * Usage (inside a namespace whose OUTPUT chain queues UDP port PORT to queue QUEUE and logs UDP
 * port PORT+1 to NFLOG group QUEUE):
 *   hostile_test QUEUE PORT
 * Packet and tuple handles are plain pointers into a callback's stack or an entry (no magic):
 * only NULL is tried for those.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE
#include <nfq_rs.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnetfilter_queue/libnetfilter_queue_icmp.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv4.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv6.h>
#include <libnetfilter_queue/libnetfilter_queue_tcp.h>
#include <libnetfilter_queue/libnetfilter_queue_udp.h>
#include <libnetfilter_queue/pktbuff.h>
#include <libnetfilter_log/libnetfilter_log.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nstest.h"

static char d_buf[512] __attribute__((aligned(16)));
static void *d_ptr;
static int g_calls = 0;

/* The last-error message of this thread must say something after a refused call. */
static void check_last_error(const char *expr, const char *tag)
{
    char msg[256];
    int n = nfq_rs_last_error(NULL, msg, sizeof msg);
    if (n <= 0)
        fprintf(stderr, "  FAIL %s (%s): no last-error message\n", expr, tag), g_failures++;
}

#define EXPECT_FAIL(expr, tag)                                                                 \
    do {                                                                                       \
        nfq_rs_last_error(NULL, NULL, 0);                                                      \
        int rc_ = (int)(expr);                                                                 \
        g_calls++;                                                                             \
        if (rc_ >= 0) {                                                                        \
            fprintf(stderr, "  FAIL %s (%s): returned %d, want a negative code\n", #expr, tag, \
                    rc_);                                                                      \
            g_failures++;                                                                      \
        } else {                                                                               \
            check_last_error(#expr, tag);                                                      \
        }                                                                                      \
    } while (0)
#define EXPECT_NULL(expr, tag)                                                                 \
    do {                                                                                       \
        const void *p_ = (const void *)(expr);                                                 \
        g_calls++;                                                                             \
        CHECK(p_ == NULL, "%s: %s returned non-NULL", tag, #expr);                             \
    } while (0)
#define EXPECT_ZERO(expr, tag)                                                                 \
    do {                                                                                       \
        long long v_ = (long long)(expr);                                                      \
        g_calls++;                                                                             \
        CHECK(v_ == 0, "%s: %s returned %lld, want 0", tag, #expr, v_);                        \
    } while (0)
#define EXPECT_NONNEG(expr, tag)                                                               \
    do {                                                                                       \
        int v_ = (int)(expr);                                                                  \
        g_calls++;                                                                             \
        CHECK(v_ >= 0, "%s: %s returned %d", tag, #expr, v_);                                  \
    } while (0)

/* The live handles of every kind, used as "foreign" handles for each other. */
enum { K_CFG, K_Q, K_POOL, K_CT, K_EV, K_ENT, K_EXP, K_LCFG, K_LOG, K_JUNK, K_COUNT };
static void *g_handles[K_COUNT];
static const char *g_names[K_COUNT] = {"config", "queue", "pool", "ct", "ct_events", "ct_entry", "ct_exp",
                                       "log_config", "log", "zeroed block"};

static const char *foreign_name(const void *h)
{
    for (int i = 0; i < K_COUNT; i++)
        if (g_handles[i] == h) return g_names[i];
    return "?";
}

/* Runs STMT with F bound to every live handle that is not of kind K. */
#define FOREIGN(K, ...)                                                                        \
    do {                                                                                       \
        for (int k_ = 0; k_ < K_COUNT; k_++) {                                                 \
            if (k_ == (K)) continue;                                                           \
            void *F = g_handles[k_];                                                           \
            __VA_ARGS__                                                                        \
        }                                                                                      \
    } while (0)

static void null_everywhere(void)
{
    EXPECT_NONNEG(nfq_rs_last_error(NULL, NULL, 0), "NULL");
    nfq_rs_config_free(NULL);
    EXPECT_FAIL(nfq_rs_config_add_queue(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_copy_mode(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_max_len(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_flags(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_rcvbuf(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_no_enobufs(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_batch(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_fallback_verdict(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_coalesce(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_netns_path(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_netns_fd(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_config_set_socket_fd(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_open(NULL, NULL), "NULL");
    nfq_rs_close(NULL);
    EXPECT_FAIL(nfq_rs_fd(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_set_callback(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_set_batch_callback(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_bind(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_unbind(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_set_copy_mode(NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_set_max_len(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_set_flags(NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_set_rcvbuf(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_set_no_enobufs(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_dispatch(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_run(NULL), "NULL");
    nfq_rs_stop(NULL);
    EXPECT_FAIL(nfq_rs_verdict(NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_verdict_mark(NULL, 0, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_verdict_ex(NULL, 0, 0, 0, 0, 0, 0, 0, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_verdict_ct_labels(NULL, 0, 0, 0, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_verdict_batch(NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_verdict_batch_mark(NULL, 0, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_stat(NULL, 0, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_kernel_stat(NULL, 0, 0, NULL), "NULL");
    EXPECT_ZERO(nfq_rs_packet_id(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_packet_queue(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_packet_family(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_packet_hw_protocol(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_packet_hook(NULL), "NULL");
    EXPECT_NULL(nfq_rs_packet_payload(NULL, NULL), "NULL");
    EXPECT_ZERO(nfq_rs_packet_orig_len(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_packet_is_truncated(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_cap_len(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_mark(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_indev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_outdev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_physindev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_physoutdev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_uid(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_gid(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_skb_info(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_priority(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_cgroup_classid(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_ct_info(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_timestamp(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_vlan(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_hwaddr(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_secctx(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_ct(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_exp(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_l2hdr(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_set_mark(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_packet_set_connmark(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_packet_set_ct_labels(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_set_priority(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_packet_set_payload(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_pool_start(NULL, 0, 0, NULL, NULL, 0, NULL), "NULL");
    nfq_rs_pool_stop(NULL);
    EXPECT_FAIL(nfq_rs_pool_join(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_pool_size(NULL), "NULL");
    EXPECT_NULL(nfq_rs_pool_queue(NULL, 0), "NULL");
    nfq_rs_pool_free(NULL);
    nfq_rs_ct_entry_free(NULL);
    EXPECT_NULL(nfq_rs_ct_entry_clone(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_decode(NULL, 0, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_packet_ct_entry(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_packet_ct_exp(NULL, NULL), "NULL");
    EXPECT_ZERO(nfq_rs_ct_family(NULL), "NULL");
    EXPECT_NULL(nfq_rs_ct_entry_tuple(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_raw(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_status(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_mark(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_zone(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_id(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_use(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_timeout(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_secmark(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_l4proto(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_proto_state(NULL, NULL), "NULL");
    EXPECT_NULL(nfq_rs_ct_proto_state_name(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_counters(NULL, 0, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_timestamp(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tcp_info(NULL, NULL, NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_sctp_vtags(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_dccp_info(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_labels(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_has_label(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_helper_name(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_secctx(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_nat(NULL, 0, NULL, NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_seq_adj(NULL, 0, NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_synproxy(NULL, NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_snprintf(NULL, NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_tuple(NULL, 0, 0, NULL, NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_tuple_icmp(NULL, 0, 0, NULL, NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_mark(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_timeout(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_status(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_zone(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_id(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_tcp_state(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_labels(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tuple_src(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tuple_dst(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tuple_l4proto(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tuple_ports(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tuple_icmp(NULL, NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tuple_zone(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_tuple_snprintf(NULL, NULL, 0), "NULL");
    nfq_rs_ct_exp_free(NULL);
    EXPECT_NULL(nfq_rs_ct_exp_clone(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_decode(NULL, 0, NULL, 0), "NULL");
    EXPECT_NULL(nfq_rs_ct_exp_tuple(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_timeout(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_id(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_zone(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_flags(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_class(NULL, NULL), "NULL");
    EXPECT_ZERO(nfq_rs_ct_exp_family(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_helper_name(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_snprintf(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_open(NULL, NULL), "NULL");
    nfq_rs_ct_close(NULL);
    EXPECT_NONNEG(nfq_rs_ct_last_error(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_dump(NULL, 0, 0, 0, 0, 0, 0, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_dump_expect(NULL, 0, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_get(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_create(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_update(NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_delete(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_flush(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_flush_expect(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_stats(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_stats_cpu(NULL, 0, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_stats_cpu(NULL, 0, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_open(NULL, 0, NULL), "NULL");
    nfq_rs_ct_events_close(NULL);
    EXPECT_FAIL(nfq_rs_ct_events_fd(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_set_rcvbuf(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_set_filter(NULL, 0, 0, 0, 0, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_run(NULL, NULL, NULL, 0, 0), "NULL");
    nfq_rs_ct_events_stop(NULL);
    EXPECT_FAIL(nfq_rs_ct_events_stat(NULL, 0, NULL), "NULL");
    EXPECT_NONNEG(nfq_rs_ct_events_last_error(NULL, NULL, 0), "NULL");
    /* NFLOG */
    nfq_rs_log_config_free(NULL);
    EXPECT_FAIL(nfq_rs_log_config_add_group(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_copy_mode(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_nlbufsiz(NULL, 4096), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_timeout(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_threshold(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_flags(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_rcvbuf(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_no_enobufs(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_batch(NULL, 1), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_netns_path(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_config_set_netns_fd(NULL, -1), "NULL");
    EXPECT_FAIL(nfq_rs_log_open(NULL, NULL, NULL, NULL), "NULL");
    nfq_rs_log *none = (nfq_rs_log *)d_buf;
    EXPECT_FAIL(nfq_rs_log_open(NULL, NULL, NULL, &none), "NULL config");
    CHECK(none == NULL, "nfq_rs_log_open clears *out on failure");
    nfq_rs_log_close(NULL);
    EXPECT_NONNEG(nfq_rs_log_last_error(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_fd(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_callback(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_bind(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_unbind(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_bind_pf(NULL, 2), "NULL");
    EXPECT_FAIL(nfq_rs_log_unbind_pf(NULL, 2), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_copy_mode(NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_nlbufsiz(NULL, 0, 4096), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_timeout(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_threshold(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_flags(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_rcvbuf(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_set_no_enobufs(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_dispatch(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_log_run(NULL), "NULL");
    nfq_rs_log_stop(NULL);
    EXPECT_FAIL(nfq_rs_log_stat(NULL, 0, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_kernel_drops(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_kernel_stat(NULL, 0, 0, NULL), "NULL");
    EXPECT_ZERO(nfq_rs_log_packet_family(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_log_packet_group(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_log_packet_hw_protocol(NULL), "NULL");
    EXPECT_ZERO(nfq_rs_log_packet_hook(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_prefix(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_payload(NULL, NULL, NULL), "NULL");
    {
        nfq_rs_log_packet_info info;
        EXPECT_FAIL(nfq_rs_log_packet_get_info(NULL, &info, sizeof info), "NULL");
        EXPECT_FAIL(nfq_rs_log_packet_get_info(NULL, NULL, 0), "NULL");
        EXPECT_FAIL(nfq_rs_log_set_batch_callback(NULL, NULL, NULL), "NULL");
    }
    EXPECT_FAIL(nfq_rs_log_packet_mark(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_timestamp(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_indev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_outdev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_physindev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_physoutdev(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_hwaddr(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_hwtype(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_hwlen(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_hwheader(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_uid(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_gid(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_seq(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_seq_global(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_ct(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_ct_entry(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_ct_info(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_vlan(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_log_packet_l2hdr(NULL, NULL, NULL), "NULL");
    /* The expectation table, the other tables, kernel filters, overflow. */
    EXPECT_FAIL(nfq_rs_ct_dump_table(NULL, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_last_dump_report(NULL, NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_kernel_has_tuple_filter(NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_entry_set_helper(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_tuple(NULL, 0, 0, NULL, NULL, 0, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_timeout(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_zone(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_flags(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_class(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_id(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_nat_dir(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_helper(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_exp_set_function(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_get_expect(NULL, NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_create_expect(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_update_expect_timeout(NULL, NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_delete_expect(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_delete_expect_id(NULL, 0, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_delete_expect_helper(NULL, 0, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_set_filter_ex(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_set_kernel_filter(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_take_overflows(NULL, NULL), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_set_stop_on_overflow(NULL, 0), "NULL");
    EXPECT_FAIL(nfq_rs_ct_events_resync(NULL, NULL, 0, NULL, NULL), "NULL");
}

static void foreign_handles(void)
{
    FOREIGN(K_Q, EXPECT_NONNEG(nfq_rs_last_error((const nfq_rs_queue *)F, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_CFG, nfq_rs_config_free((nfq_rs_config *)F););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_add_queue((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_copy_mode((nfq_rs_config *)F, 0, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_max_len((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_flags((nfq_rs_config *)F, 0, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_rcvbuf((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_no_enobufs((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_batch((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_fallback_verdict((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_coalesce((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_netns_path((nfq_rs_config *)F, d_buf), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_netns_fd((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_config_set_socket_fd((nfq_rs_config *)F, 0), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_open((const nfq_rs_config *)F, NULL), foreign_name(F)););
    FOREIGN(K_Q, nfq_rs_close((nfq_rs_queue *)F););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_fd((const nfq_rs_queue *)F), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_set_callback((nfq_rs_queue *)F, NULL, d_buf), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_set_batch_callback((nfq_rs_queue *)F, NULL, d_buf), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_bind((nfq_rs_queue *)F, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_unbind((nfq_rs_queue *)F, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_set_copy_mode((nfq_rs_queue *)F, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_set_max_len((nfq_rs_queue *)F, 0, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_set_flags((nfq_rs_queue *)F, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_set_rcvbuf((nfq_rs_queue *)F, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_set_no_enobufs((nfq_rs_queue *)F, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_dispatch((nfq_rs_queue *)F, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_run((nfq_rs_queue *)F), foreign_name(F)););
    FOREIGN(K_Q, nfq_rs_stop((nfq_rs_queue *)F););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_verdict((const nfq_rs_queue *)F, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_verdict_mark((const nfq_rs_queue *)F, 0, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_verdict_ex((const nfq_rs_queue *)F, 0, 0, 0, 0, 0, 0, 0, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_verdict_ct_labels((const nfq_rs_queue *)F, 0, 0, 0, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_verdict_batch((const nfq_rs_queue *)F, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_verdict_batch_mark((const nfq_rs_queue *)F, 0, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_stat((const nfq_rs_queue *)F, 0, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_Q, EXPECT_FAIL(nfq_rs_kernel_stat((const nfq_rs_queue *)F, 0, 0, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_CFG, EXPECT_FAIL(nfq_rs_pool_start((const nfq_rs_config *)F, 0, 0, NULL, d_buf, 0, NULL), foreign_name(F)););
    FOREIGN(K_POOL, nfq_rs_pool_stop((const nfq_rs_pool *)F););
    FOREIGN(K_POOL, EXPECT_FAIL(nfq_rs_pool_join((nfq_rs_pool *)F), foreign_name(F)););
    FOREIGN(K_POOL, EXPECT_FAIL(nfq_rs_pool_size((const nfq_rs_pool *)F), foreign_name(F)););
    FOREIGN(K_POOL, EXPECT_NULL(nfq_rs_pool_queue((const nfq_rs_pool *)F, 0), foreign_name(F)););
    FOREIGN(K_POOL, nfq_rs_pool_free((nfq_rs_pool *)F););
    FOREIGN(K_ENT, nfq_rs_ct_entry_free((nfq_rs_ct_entry *)F););
    FOREIGN(K_ENT, EXPECT_NULL(nfq_rs_ct_entry_clone((const nfq_rs_ct_entry *)F), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_decode((nfq_rs_ct_entry *)F, 0, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_packet_ct_entry(NULL, (nfq_rs_ct_entry *)F), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_packet_ct_exp(NULL, (nfq_rs_ct_exp *)F), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_ZERO(nfq_rs_ct_family((const nfq_rs_ct_entry *)F), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_NULL(nfq_rs_ct_entry_tuple((const nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_raw((const nfq_rs_ct_entry *)F, (void *)&d_ptr, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_status((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_mark((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_zone((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_id((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_use((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_timeout((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_secmark((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_l4proto((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_proto_state((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_NULL(nfq_rs_ct_proto_state_name((const nfq_rs_ct_entry *)F), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_counters((const nfq_rs_ct_entry *)F, 0, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_timestamp((const nfq_rs_ct_entry *)F, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_tcp_info((const nfq_rs_ct_entry *)F, (void *)d_buf, (void *)d_buf, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_sctp_vtags((const nfq_rs_ct_entry *)F, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_dccp_info((const nfq_rs_ct_entry *)F, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_labels((const nfq_rs_ct_entry *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_has_label((const nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_helper_name((const nfq_rs_ct_entry *)F, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_secctx((const nfq_rs_ct_entry *)F, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_nat((const nfq_rs_ct_entry *)F, 0, (void *)d_buf, (void *)d_buf, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_seq_adj((const nfq_rs_ct_entry *)F, 0, (void *)d_buf, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_synproxy((const nfq_rs_ct_entry *)F, (void *)d_buf, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_snprintf((const nfq_rs_ct_entry *)F, d_buf, sizeof d_buf, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_tuple((nfq_rs_ct_entry *)F, 0, 0, d_buf, d_buf, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_tuple_icmp((nfq_rs_ct_entry *)F, 0, 0, d_buf, d_buf, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_mark((nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_timeout((nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_status((nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_zone((nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_id((nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_tcp_state((nfq_rs_ct_entry *)F, 0), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_labels((nfq_rs_ct_entry *)F, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EXP, nfq_rs_ct_exp_free((nfq_rs_ct_exp *)F););
    FOREIGN(K_EXP, EXPECT_NULL(nfq_rs_ct_exp_clone((const nfq_rs_ct_exp *)F), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_decode((nfq_rs_ct_exp *)F, 0, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_NULL(nfq_rs_ct_exp_tuple((const nfq_rs_ct_exp *)F, 0), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_timeout((const nfq_rs_ct_exp *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_id((const nfq_rs_ct_exp *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_zone((const nfq_rs_ct_exp *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_flags((const nfq_rs_ct_exp *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_class((const nfq_rs_ct_exp *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_ZERO(nfq_rs_ct_exp_family((const nfq_rs_ct_exp *)F), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_helper_name((const nfq_rs_ct_exp *)F, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_snprintf((const nfq_rs_ct_exp *)F, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_CT, nfq_rs_ct_close((nfq_rs_ct *)F););
    FOREIGN(K_CT, EXPECT_NONNEG(nfq_rs_ct_last_error((const nfq_rs_ct *)F, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_dump((const nfq_rs_ct *)F, 0, 0, 0, 0, 0, 0, NULL, d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_dump_expect((const nfq_rs_ct *)F, 0, NULL, d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_get((const nfq_rs_ct *)F, NULL, NULL), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_create((const nfq_rs_ct *)F, NULL), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_update((const nfq_rs_ct *)F, NULL, 0, 0, 0, 0, 0, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_delete((const nfq_rs_ct *)F, NULL), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_flush((const nfq_rs_ct *)F, 0), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_flush_expect((const nfq_rs_ct *)F, 0), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_stats((const nfq_rs_ct *)F, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_stats_cpu((const nfq_rs_ct *)F, 0, (void *)d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_exp_stats_cpu((const nfq_rs_ct *)F, 0, (void *)d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_EV, nfq_rs_ct_events_close((nfq_rs_ct_events *)F););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_fd((const nfq_rs_ct_events *)F), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_set_rcvbuf((const nfq_rs_ct_events *)F, 0), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_set_filter((const nfq_rs_ct_events *)F, 0, 0, 0, 0, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_run((const nfq_rs_ct_events *)F, NULL, d_buf, 0, 0), foreign_name(F)););
    FOREIGN(K_EV, nfq_rs_ct_events_stop((const nfq_rs_ct_events *)F););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_stat((const nfq_rs_ct_events *)F, 0, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_NONNEG(nfq_rs_ct_events_last_error((const nfq_rs_ct_events *)F, d_buf, sizeof d_buf), foreign_name(F)););
    /* NFLOG */
    FOREIGN(K_LCFG, nfq_rs_log_config_free((nfq_rs_log_config *)F););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_add_group((nfq_rs_log_config *)F, 0), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_copy_mode((nfq_rs_log_config *)F, 0, 0), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_nlbufsiz((nfq_rs_log_config *)F, 4096), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_timeout((nfq_rs_log_config *)F, 0), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_threshold((nfq_rs_log_config *)F, 0), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_flags((nfq_rs_log_config *)F, 0), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_rcvbuf((nfq_rs_log_config *)F, 0), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_no_enobufs((nfq_rs_log_config *)F, 0), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_batch((nfq_rs_log_config *)F, 1), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_netns_path((nfq_rs_log_config *)F, d_buf), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_config_set_netns_fd((nfq_rs_log_config *)F, -1), foreign_name(F)););
    FOREIGN(K_LCFG, EXPECT_FAIL(nfq_rs_log_open((const nfq_rs_log_config *)F, NULL, d_buf, (void *)&d_ptr), foreign_name(F)););
    FOREIGN(K_LOG, nfq_rs_log_close((nfq_rs_log *)F););
    FOREIGN(K_LOG, EXPECT_NONNEG(nfq_rs_log_last_error((const nfq_rs_log *)F, d_buf, sizeof d_buf), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_fd((const nfq_rs_log *)F), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_callback((nfq_rs_log *)F, NULL, d_buf), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_bind((nfq_rs_log *)F, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_unbind((nfq_rs_log *)F, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_bind_pf((nfq_rs_log *)F, 2), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_unbind_pf((nfq_rs_log *)F, 2), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_copy_mode((nfq_rs_log *)F, 0, 0, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_nlbufsiz((nfq_rs_log *)F, 0, 4096), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_timeout((nfq_rs_log *)F, 0, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_threshold((nfq_rs_log *)F, 0, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_flags((nfq_rs_log *)F, 0, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_rcvbuf((nfq_rs_log *)F, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_set_no_enobufs((nfq_rs_log *)F, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_dispatch((nfq_rs_log *)F, 0), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_run((nfq_rs_log *)F), foreign_name(F)););
    FOREIGN(K_LOG, nfq_rs_log_stop((nfq_rs_log *)F););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_stat((const nfq_rs_log *)F, 0, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_kernel_drops((const nfq_rs_log *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_LOG, EXPECT_FAIL(nfq_rs_log_kernel_stat((const nfq_rs_log *)F, 0, 0, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_log_packet_ct_entry(NULL, (nfq_rs_ct_entry *)F), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_dump_table((const nfq_rs_ct *)F, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_last_dump_report((const nfq_rs_ct *)F, (void *)d_buf, (void *)d_buf, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_kernel_has_tuple_filter((const nfq_rs_ct *)F), foreign_name(F)););
    FOREIGN(K_ENT, EXPECT_FAIL(nfq_rs_ct_entry_set_helper((nfq_rs_ct_entry *)F, "ftp"), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_tuple((nfq_rs_ct_exp *)F, 0, 2, d_buf, d_buf, 6, 1, 2), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_timeout((nfq_rs_ct_exp *)F, 1), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_zone((nfq_rs_ct_exp *)F, 1), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_flags((nfq_rs_ct_exp *)F, 1), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_class((nfq_rs_ct_exp *)F, 1), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_id((nfq_rs_ct_exp *)F, 1), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_nat_dir((nfq_rs_ct_exp *)F, 1), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_helper((nfq_rs_ct_exp *)F, "ftp"), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_exp_set_function((nfq_rs_ct_exp *)F, "x"), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_get_expect((const nfq_rs_ct *)F, g_handles[K_EXP], g_handles[K_EXP]), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_get_expect(g_handles[K_CT], (const nfq_rs_ct_exp *)F, g_handles[K_EXP]), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_create_expect((const nfq_rs_ct *)F, g_handles[K_EXP]), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_create_expect(g_handles[K_CT], (const nfq_rs_ct_exp *)F), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_update_expect_timeout((const nfq_rs_ct *)F, g_handles[K_EXP], 1), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_update_expect_timeout(g_handles[K_CT], (const nfq_rs_ct_exp *)F, 1), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_delete_expect((const nfq_rs_ct *)F, g_handles[K_EXP]), foreign_name(F)););
    FOREIGN(K_EXP, EXPECT_FAIL(nfq_rs_ct_delete_expect(g_handles[K_CT], (const nfq_rs_ct_exp *)F), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_delete_expect_id((const nfq_rs_ct *)F, 0, 1), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_delete_expect_helper((const nfq_rs_ct *)F, 0, "ftp"), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_set_filter_ex((const nfq_rs_ct_events *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_set_kernel_filter((const nfq_rs_ct_events *)F, NULL), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_take_overflows((const nfq_rs_ct_events *)F, (void *)d_buf), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_set_stop_on_overflow((const nfq_rs_ct_events *)F, 1), foreign_name(F)););
    FOREIGN(K_EV, EXPECT_FAIL(nfq_rs_ct_events_resync((const nfq_rs_ct_events *)F, g_handles[K_CT], 0, NULL, NULL), foreign_name(F)););
    FOREIGN(K_CT, EXPECT_FAIL(nfq_rs_ct_events_resync(g_handles[K_EV], (const nfq_rs_ct *)F, 0, NULL, NULL), foreign_name(F)););
}

/* NFLOG: out-of-range values on a config and an open handle. */
static void log_bad_values(nfq_rs_log_config *lcfg, nfq_rs_log *log, uint16_t group)
{
    uint64_t v = 0;
    nfq_rs_log_config *unbound = nfq_rs_log_config_new_unbound();
    EXPECT_FAIL(nfq_rs_log_config_set_copy_mode(unbound, 99, 0), "copy mode 99 on an unbound log config");
    nfq_rs_log_config_free(unbound);
    EXPECT_FAIL(nfq_rs_log_config_set_copy_mode(lcfg, 3, 0), "log copy mode 3");
    EXPECT_FAIL(nfq_rs_log_config_set_copy_mode(lcfg, INT32_MIN, 0), "log copy mode INT32_MIN");
    EXPECT_FAIL(nfq_rs_log_config_set_copy_mode(lcfg, NFQ_RS_COPY_PACKET, UINT32_MAX), "log copy range UINT32_MAX");
    EXPECT_FAIL(nfq_rs_log_config_set_nlbufsiz(lcfg, 0), "nlbufsiz 0");
    EXPECT_FAIL(nfq_rs_log_config_set_nlbufsiz(lcfg, UINT32_MAX), "nlbufsiz UINT32_MAX");
    EXPECT_FAIL(nfq_rs_log_config_set_flags(lcfg, 0xffff), "log flags 0xffff");
    EXPECT_FAIL(nfq_rs_log_config_set_batch(lcfg, 0), "log batch 0");
    EXPECT_FAIL(nfq_rs_log_config_set_batch(lcfg, UINT32_MAX), "log batch UINT32_MAX");
    EXPECT_FAIL(nfq_rs_log_config_set_netns_fd(lcfg, INT32_MIN), "log netns fd INT32_MIN");
    EXPECT_FAIL(nfq_rs_log_config_set_netns_path(lcfg, ""), "empty log netns path");
    EXPECT_FAIL(nfq_rs_log_open(lcfg, NULL, NULL, NULL), "log open with NULL out");
    EXPECT_FAIL(nfq_rs_log_set_copy_mode(log, group, 7, 0), "log copy mode 7");
    EXPECT_FAIL(nfq_rs_log_set_copy_mode(log, group, NFQ_RS_COPY_PACKET, 65532), "log copy range 65532");
    EXPECT_FAIL(nfq_rs_log_set_nlbufsiz(log, group, 0), "handle nlbufsiz 0");
    EXPECT_FAIL(nfq_rs_log_set_nlbufsiz(log, group, 131073), "handle nlbufsiz 131073");
    EXPECT_FAIL(nfq_rs_log_set_flags(log, group, 0x8000), "handle flags 0x8000");
    EXPECT_FAIL(nfq_rs_log_stat(log, 99, &v), "log counter 99");
    EXPECT_FAIL(nfq_rs_log_stat(log, -1, &v), "log counter -1");
    EXPECT_FAIL(nfq_rs_log_stat(log, 0, NULL), "log counter into NULL");
    EXPECT_FAIL(nfq_rs_log_kernel_stat(log, group, 42, &v), "log kernel value 42");
    EXPECT_FAIL(nfq_rs_log_kernel_stat(log, group, 0, NULL), "log kernel value into NULL");
    EXPECT_FAIL(nfq_rs_log_kernel_stat(log, (uint16_t)(group + 7), 0, &v), "kernel value of an unbound group");
    EXPECT_FAIL(nfq_rs_log_kernel_drops(log, NULL), "kernel drops into NULL");
    EXPECT_FAIL(nfq_rs_log_unbind(log, (uint16_t)(group + 7)), "unbinding a group never bound");
    EXPECT_FAIL(nfq_rs_log_set_timeout(log, (uint16_t)(group + 7), 1), "timeout of an unbound group");
    EXPECT_FAIL(nfq_rs_log_bind(log, group), "binding the same group twice");
    EXPECT_FAIL(nfq_rs_log_bind_pf(log, 255), "bind_pf of family 255");
    EXPECT_FAIL(nfq_rs_log_set_callback(log, NULL, NULL) == 0 ? nfq_rs_log_dispatch(log, 0) : 0, "dispatch without a callback");
    char msg[512];
    nfq_rs_log_last_error(log, msg, sizeof msg);
    CHECK(strstr(msg, "no callback") != NULL, "the log handle's last error explains: %s", msg);
    CHECK(nfq_rs_log_fd(log) >= 0, "log handle intact");
}

/* NFLOG callback answers other than 0, and hostile use inside the callback. */
static const int LOG_NONSENSE[] = {1, -1, 12345, INT32_MIN, 0x7fffffff};
#define N_LOG_NONSENSE ((int)(sizeof LOG_NONSENSE / sizeof LOG_NONSENSE[0]))
static int g_log_seen = 0;

static int log_nonsense_cb(const nfq_rs_log_packet *pkt, void *user)
{
    (void)user;
    CHECK(nfq_rs_log_packet_prefix(pkt, NULL, NULL) >= 0, "NULL outs are allowed");
    CHECK(nfq_rs_log_packet_payload(pkt, NULL, NULL) == 1, "payload present, NULL outs");
    CHECK(nfq_rs_log_packet_timestamp(pkt, NULL, NULL) >= 0 && nfq_rs_log_packet_vlan(pkt, NULL, NULL) >= 0,
          "NULL outs");
    CHECK(nfq_rs_log_packet_hwaddr(pkt, NULL, NULL) >= 0 && nfq_rs_log_packet_hwheader(pkt, NULL, NULL) >= 0,
          "NULL outs");
    CHECK(nfq_rs_log_packet_ct_entry(pkt, NULL) < 0, "ct entry into NULL");
    CHECK(nfq_rs_log_packet_ct_entry(pkt, (nfq_rs_ct_entry *)g_handles[K_LCFG]) < 0, "ct entry into a log config");
    CHECK(nfq_rs_log_packet_ct_entry(pkt, (nfq_rs_ct_entry *)g_handles[K_JUNK]) < 0, "ct entry into a zeroed block");
    return LOG_NONSENSE[g_log_seen++ % N_LOG_NONSENSE];
}

static void log_nonsense_answers(nfq_rs_log *log, uint16_t port)
{
    int tx = ns_udp_socket(NULL, 0);
    CHECK(tx >= 0, "udp socket");
    CHECK_RC(nfq_rs_log_set_callback(log, log_nonsense_cb, NULL), 0);
    for (int i = 0; i < N_LOG_NONSENSE; i++) udp_send(tx, port, "nonsense", 8);
    long long end = now_ms() + 3000;
    while (g_log_seen < N_LOG_NONSENSE && now_ms() < end) nfq_rs_log_dispatch(log, 50);
    uint64_t received = 0, cb_errors = 0;
    nfq_rs_log_stat(log, NFQ_RS_LOG_STAT_PACKETS_RECEIVED, &received);
    nfq_rs_log_stat(log, NFQ_RS_LOG_STAT_CALLBACK_ERRORS, &cb_errors);
    CHECK(g_log_seen == N_LOG_NONSENSE, "log callback ran %d times", g_log_seen);
    CHECK(received == (uint64_t)N_LOG_NONSENSE, "log messages %llu", (unsigned long long)received);
    CHECK(cb_errors == (uint64_t)N_LOG_NONSENSE, "log callback errors %llu", (unsigned long long)cb_errors);
    char msg[512];
    nfq_rs_log_last_error(log, msg, sizeof msg);
    CHECK(strstr(msg, "callback reported a failure") != NULL, "last error explains: %s", msg);
    close(tx);
}

static void bad_values(nfq_rs_config *cfg, nfq_rs_queue *q, uint16_t queue)
{
    uint64_t v = 0;
    CHECK(nfq_rs_version() != NULL && nfq_rs_version()[0] != 0, "version");
    nfq_rs_config *unbound = nfq_rs_config_new_unbound();
    EXPECT_FAIL(nfq_rs_config_set_copy_mode(unbound, 99, 0), "copy mode 99 on an unbound config");
    nfq_rs_config_free(unbound);
    CHECK(strcmp(nfq_rs_strerror(-9999), "unknown error code") == 0, "strerror of an unknown code");
    CHECK(nfq_rs_strerror(12345) != NULL && nfq_rs_strerror(NFQ_RS_E_INTERNAL) != NULL, "strerror");
    CHECK(nfq_rs_ct_l4proto_name(250) != NULL && nfq_rs_ct_tcp_state_name(200) != NULL, "names of unknown values");
    CHECK(nfq_rs_ctinfo_name(0xffffffffu) != NULL && nfq_rs_ctinfo_name(0) != NULL, "ctinfo names");
    EXPECT_FAIL(nfq_rs_config_set_copy_mode(cfg, 3, 0), "copy mode 3");
    EXPECT_FAIL(nfq_rs_config_set_copy_mode(cfg, -1, 0), "copy mode -1");
    EXPECT_FAIL(nfq_rs_config_set_fallback_verdict(cfg, 2), "fallback NF_STOLEN");
    EXPECT_FAIL(nfq_rs_config_set_fallback_verdict(cfg, 0x99), "fallback 0x99");
    EXPECT_FAIL(nfq_rs_config_set_fallback_verdict(cfg, 0x10001), "fallback accept with a queue number");
    EXPECT_FAIL(nfq_rs_config_set_batch(cfg, 0), "batch 0");
    EXPECT_FAIL(nfq_rs_config_set_batch(cfg, 1025), "batch 1025");
    EXPECT_FAIL(nfq_rs_config_set_netns_fd(cfg, -2), "netns fd -2");
    EXPECT_FAIL(nfq_rs_config_set_socket_fd(cfg, -2), "socket fd -2");
    CHECK(nfq_rs_packet_info_size() == sizeof(nfq_rs_packet_info), "nfq_rs_packet_info_size %zu",
          nfq_rs_packet_info_size());
    {
        /* Sockets that cannot be adopted: a closed descriptor, a UDP socket, a netlink socket
         * of another protocol. Each open fails and leaves the descriptor to its owner. */
        nfq_rs_config *c = nfq_rs_config_new_unbound();
        int udp = socket(AF_INET, SOCK_DGRAM, 0), route = socket(AF_NETLINK, SOCK_RAW, 0);
        int bad[] = {987654, udp, route};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            nfq_rs_queue *h = NULL;
            CHECK_RC(nfq_rs_config_set_socket_fd(c, bad[i]), 0);
            EXPECT_FAIL(nfq_rs_open(c, &h), "adopting a socket that is not NETLINK_NETFILTER");
            CHECK(h == NULL, "no handle from a failed open");
        }
        CHECK(fcntl(udp, F_GETFD) >= 0 && fcntl(route, F_GETFD) >= 0, "the caller's descriptors stay open");
        CHECK_RC(nfq_rs_config_set_socket_fd(c, -1), 0);
        close(udp);
        close(route);
        nfq_rs_config_free(c);
    }
    EXPECT_FAIL(nfq_rs_config_set_netns_path(cfg, ""), "empty netns path");
    EXPECT_FAIL(nfq_rs_set_copy_mode(q, queue, 7, 0), "copy mode 7");
    EXPECT_FAIL(nfq_rs_stat(q, 99, &v), "counter 99");
    EXPECT_FAIL(nfq_rs_stat(q, -1, &v), "counter -1");
    EXPECT_FAIL(nfq_rs_kernel_stat(q, queue, 42, &v), "kernel counter 42");
    EXPECT_FAIL(nfq_rs_kernel_stat(q, 999, NFQ_RS_KSTAT_QUEUE_TOTAL, &v), "kernel counter of an unbound queue");
    EXPECT_FAIL(nfq_rs_verdict(q, queue, 1, 0x1234), "verdict 0x1234");
    EXPECT_FAIL(nfq_rs_verdict(q, queue, 1, 2), "verdict NF_STOLEN");
    EXPECT_FAIL(nfq_rs_verdict_batch(q, queue, 1, 6), "batch verdict 6");
    EXPECT_FAIL(nfq_rs_verdict_ex(q, queue, 1, NFQ_RS_ACCEPT, 0x80, 0, 0, 0, NULL, 0), "unknown set bits");
    EXPECT_FAIL(nfq_rs_verdict_ex(q, queue, 1, NFQ_RS_ACCEPT, 0, 0, 0, 0, NULL, 10), "NULL payload, len 10");
    EXPECT_FAIL(nfq_rs_verdict_ct_labels(q, queue, 1, NFQ_RS_ACCEPT, NULL, NULL), "NULL labels");
    /* Oversize payloads: refused before anything is sent or read. */
    size_t big = 70000;
    unsigned char *payload = calloc(1, big);
    EXPECT_FAIL(nfq_rs_verdict_ex(q, queue, 1, NFQ_RS_ACCEPT, 0, 0, 0, 0, payload, big), "70000-byte payload");
    EXPECT_FAIL(nfq_rs_verdict_ex(q, queue, 1, NFQ_RS_ACCEPT, 0, 0, 0, 0, payload, 65532), "65532-byte payload");
    EXPECT_FAIL(nfq_rs_verdict_ex(q, queue, 1, NFQ_RS_ACCEPT, 0, 0, 0, 0, payload, SIZE_MAX), "SIZE_MAX payload");
    free(payload);
    char msg[512];
    nfq_rs_last_error(q, msg, sizeof msg);
    CHECK(strstr(msg, "65531") != NULL, "the handle's last error names the limit: %s", msg);
    /* Conntrack entries and expectations: directions and selectors out of range. */
    nfq_rs_ct_entry *ent = nfq_rs_ct_entry_new();
    nfq_rs_ct_exp *exp = nfq_rs_ct_exp_new();
    uint64_t a = 0, b = 0;
    EXPECT_NULL(nfq_rs_ct_entry_tuple(ent, 7), "direction 7");
    EXPECT_NULL(nfq_rs_ct_entry_tuple(ent, -1), "direction -1");
    EXPECT_NULL(nfq_rs_ct_exp_tuple(exp, 9), "expectation tuple 9");
    CHECK(nfq_rs_ct_counters(ent, 5, &a, &b) <= 0, "counters of direction 5");
    CHECK(nfq_rs_ct_nat(ent, 9, NULL, NULL, NULL, NULL) <= 0, "nat selector 9");
    CHECK(nfq_rs_ct_seq_adj(ent, 4, NULL, NULL, NULL) <= 0, "seq adj direction 4");
    EXPECT_FAIL(nfq_rs_ct_entry_set_tuple(ent, 5, 2, d_buf, d_buf, 6, 1, 2), "set tuple direction 5");
    EXPECT_FAIL(nfq_rs_ct_entry_set_tuple(ent, NFQ_RS_CT_DIR_ORIG, 99, d_buf, d_buf, 6, 1, 2), "family 99");
    EXPECT_FAIL(nfq_rs_ct_entry_decode(ent, 2, NULL, 10), "decode NULL with a length");
    /* Garbage attributes decode to an error or an entry, never a crash. */
    for (int i = 0; i < 256; i++) {
        unsigned char junk[64];
        for (size_t j = 0; j < sizeof junk; j++) junk[j] = (unsigned char)(i * 31 + j * 7);
        junk[0] = (unsigned char)(i % 64);
        junk[1] = 0;
        if (nfq_rs_ct_entry_decode(ent, 2, junk, (size_t)(i % 65)) == 0) {
            char line[256];
            nfq_rs_ct_snprintf(ent, line, sizeof line, 3);
        }
        nfq_rs_ct_exp_decode(exp, 10, junk, (size_t)(i % 65));
    }
    /* Tables, tuple filters, event filters and expectation setters out of range. */
    nfq_rs_ct *ct = g_handles[K_CT];
    nfq_rs_ct_events *ev = g_handles[K_EV];
    EXPECT_FAIL(nfq_rs_ct_dump_table(ct, 3, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL), "table 3");
    EXPECT_FAIL(nfq_rs_ct_dump_table(ct, -1, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL), "table -1");
    nfq_rs_ct_tuple_filter tf;
    memset(&tf, 0xff, sizeof tf);
    EXPECT_FAIL(nfq_rs_ct_dump_table(ct, 0, 0, 0, 0, 0, 0, 0, &tf, NULL, NULL, NULL), "all-ones tuple filter");
    tf.flags = NFQ_RS_CT_TF_SRC;
    tf.family = 77;
    EXPECT_FAIL(nfq_rs_ct_dump_table(ct, 0, 0, 0, 0, 0, 0, 0, NULL, &tf, NULL, NULL), "tuple filter family 77");
    tf.flags = NFQ_RS_CT_TF_SPORT;
    EXPECT_FAIL(nfq_rs_ct_dump_table(ct, 0, 0, 0, 0, 0, 0, 0, &tf, NULL, NULL, NULL), "port without protocol");
    nfq_rs_ct_event_filter ef;
    memset(&ef, 0xff, sizeof ef);
    EXPECT_FAIL(nfq_rs_ct_events_set_filter_ex(ev, &ef), "all-ones event filter");
    EXPECT_FAIL(nfq_rs_ct_events_set_kernel_filter(ev, &ef), "all-ones kernel filter");
    memset(&ef, 0, sizeof ef);
    ef.fields = NFQ_RS_CT_FILTER_DST;
    ef.addr_family = AF_INET6;
    ef.dst_prefix = 200;
    EXPECT_FAIL(nfq_rs_ct_events_set_kernel_filter(ev, &ef), "/200 prefix");
    ef.fields = 0;
    ef.negate = 0xffffffffu;
    EXPECT_FAIL(nfq_rs_ct_events_set_kernel_filter(ev, &ef), "negation of nothing");
    ef.negate = 0;
    ef.kinds = 0x80000000u;
    EXPECT_FAIL(nfq_rs_ct_events_set_kernel_filter(ev, &ef), "unknown kinds");
    EXPECT_FAIL(nfq_rs_ct_exp_set_tuple(exp, 4, 2, d_buf, d_buf, 6, 1, 2), "expectation tuple 4");
    EXPECT_FAIL(nfq_rs_ct_exp_set_tuple(exp, 1, 0, d_buf, d_buf, 6, 1, 2), "expectation family 0");
    char longname[64];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    EXPECT_FAIL(nfq_rs_ct_exp_set_helper(exp, longname), "63-byte helper name");
    EXPECT_FAIL(nfq_rs_ct_exp_set_helper(exp, ""), "empty helper name");
    EXPECT_FAIL(nfq_rs_ct_entry_set_helper(ent, longname), "63-byte helper name");
    EXPECT_FAIL(nfq_rs_ct_delete_expect_helper(ct, 0, longname), "63-byte helper name");
    EXPECT_FAIL(nfq_rs_ct_create_expect(ct, exp), "empty expectation");
    EXPECT_FAIL(nfq_rs_ct_get_expect(ct, exp, exp), "expectation without a tuple");
    nfq_rs_ct_exp_free(exp);
    nfq_rs_ct_entry_free(ent);
}

/* Callback answers that are not verdicts: each must become the fallback verdict. */
static const int NONSENSE[] = {12345, -7, 0x10001, 0x8001, 2, NFQ_RS_FAILED, 0x7fffffff, INT32_MIN};
#define N_NONSENSE ((int)(sizeof NONSENSE / sizeof NONSENSE[0]))
static int g_seen = 0;

static int nonsense_cb(nfq_rs_packet *pkt, void *user)
{
    (void)user;
    /* Hostile use inside the callback too. */
    static unsigned char big[70000];
    CHECK(nfq_rs_packet_set_payload(pkt, big, sizeof big) == NFQ_RS_E_INVAL, "oversize payload in the callback");
    CHECK(nfq_rs_packet_set_payload(pkt, NULL, 5) == NFQ_RS_E_INVAL, "NULL payload in the callback");
    CHECK(nfq_rs_packet_set_ct_labels(pkt, NULL, big) == NFQ_RS_E_INVAL, "NULL labels in the callback");
    CHECK(nfq_rs_packet_mark(pkt, NULL) >= 0, "NULL out pointers are allowed");
    CHECK(nfq_rs_packet_payload(pkt, NULL) != NULL, "payload without a length pointer");
    CHECK(nfq_rs_packet_timestamp(pkt, NULL, NULL) >= 0 && nfq_rs_packet_vlan(pkt, NULL, NULL) >= 0, "NULL outs");
    CHECK(nfq_rs_packet_hwaddr(pkt, NULL, NULL) >= 0 && nfq_rs_packet_ct_entry(pkt, NULL) < 0, "NULL outs");
    return NONSENSE[g_seen++ % N_NONSENSE];
}

static void nonsense_answers(nfq_rs_queue *q, uint16_t queue, uint16_t port)
{
    int rx = ns_udp_socket(NULL, port), tx = ns_udp_socket(NULL, 0);
    CHECK(rx >= 0 && tx >= 0, "udp sockets");
    CHECK_RC(nfq_rs_set_callback(q, nonsense_cb, NULL), 0);
    for (int i = 0; i < N_NONSENSE; i++) udp_send(tx, port, "nonsense", 8);
    long long end = now_ms() + 3000;
    while (g_seen < N_NONSENSE && now_ms() < end) nfq_rs_dispatch(q, 50);
    nfq_rs_dispatch(q, 50); /* any late kernel error */
    uint64_t fallback = 0, cb_errors = 0, verdict_errors = 0, total = 1;
    nfq_rs_stat(q, NFQ_RS_STAT_FALLBACK_VERDICTS, &fallback);
    nfq_rs_stat(q, NFQ_RS_STAT_CALLBACK_ERRORS, &cb_errors);
    nfq_rs_stat(q, NFQ_RS_STAT_VERDICT_ERRORS, &verdict_errors);
    nfq_rs_kernel_stat(q, queue, NFQ_RS_KSTAT_QUEUE_TOTAL, &total);
    char buf[64];
    CHECK(g_seen == N_NONSENSE, "callback ran %d times", g_seen);
    CHECK(fallback == (uint64_t)N_NONSENSE, "fallback verdicts %llu", (unsigned long long)fallback);
    CHECK(cb_errors == (uint64_t)N_NONSENSE, "callback errors %llu", (unsigned long long)cb_errors);
    CHECK(verdict_errors == 0 && total == 0, "verdict errors %llu, still queued %llu",
          (unsigned long long)verdict_errors, (unsigned long long)total);
    CHECK(udp_recv(rx, buf, sizeof buf, 200) < 0, "the fallback verdict (drop) delivered nothing");
    char msg[512];
    nfq_rs_last_error(q, msg, sizeof msg);
    CHECK(strstr(msg, "fallback") != NULL, "last error explains: %s", msg);
    close(rx);
    close(tx);
}

/* The same nonsense through the batch callback: one answer slot per packet. */
static int g_bseen = 0;

static void nonsense_batch_cb(nfq_rs_packet *const *pkts, const nfq_rs_packet_info *info, size_t n, int32_t *answers,
                              void *user)
{
    (void)user;
    for (size_t i = 0; i < n; i++) {
        CHECK(answers[i] == NFQ_RS_FAILED, "answer slots start as NFQ_RS_FAILED");
        CHECK(info[i].id == nfq_rs_packet_id(pkts[i]) && info[i].queue == nfq_rs_packet_queue(pkts[i]),
              "record and handle describe the same packet");
        CHECK((info[i].present & NFQ_RS_INFO_PAYLOAD) && info[i].payload != NULL && info[i].payload_len >= 28,
              "the record has the payload");
        CHECK(nfq_rs_packet_set_payload(pkts[i], NULL, 5) == NFQ_RS_E_INVAL, "NULL payload in the batch callback");
        answers[i] = NONSENSE[g_bseen++ % N_NONSENSE];
    }
}

static void nonsense_batch_answers(nfq_rs_queue *q, uint16_t port)
{
    int rx = ns_udp_socket(NULL, port), tx = ns_udp_socket(NULL, 0);
    CHECK(rx >= 0 && tx >= 0, "udp sockets");
    uint64_t fallback0 = 0, fallback = 0;
    nfq_rs_stat(q, NFQ_RS_STAT_FALLBACK_VERDICTS, &fallback0);
    CHECK_RC(nfq_rs_set_batch_callback(q, nonsense_batch_cb, NULL), 0);
    for (int i = 0; i < N_NONSENSE; i++) udp_send(tx, port, "nonsense", 8);
    long long end = now_ms() + 3000;
    while (g_bseen < N_NONSENSE && now_ms() < end) nfq_rs_dispatch(q, 50);
    nfq_rs_stat(q, NFQ_RS_STAT_FALLBACK_VERDICTS, &fallback);
    char buf[64];
    CHECK(g_bseen == N_NONSENSE, "batch callback answered for %d packets", g_bseen);
    CHECK(fallback - fallback0 == (uint64_t)N_NONSENSE, "fallback verdicts %llu",
          (unsigned long long)(fallback - fallback0));
    CHECK(udp_recv(rx, buf, sizeof buf, 200) < 0, "the fallback verdict (drop) delivered nothing");
    CHECK_RC(nfq_rs_set_batch_callback(q, NULL, NULL), 0);
    EXPECT_FAIL(nfq_rs_dispatch(q, 0), "no callback of either kind");
    close(rx);
    close(tx);
}

static void compat_nulls(void)
{
    struct timeval tv;
    uint32_t id = 0;
    unsigned char *p = NULL;
    char name[64];
    CHECK(nfq_close(NULL) == -1 && nfq_fd(NULL) == -1 && nfq_nfnlh(NULL) == NULL, "nfq handle NULL");
    CHECK(nfq_bind_pf(NULL, 2) == -1 && nfq_unbind_pf(NULL, 2) == -1, "bind_pf NULL");
    CHECK(nfq_create_queue(NULL, 0, NULL, NULL) == NULL && nfq_destroy_queue(NULL) == -1, "queue NULL");
    CHECK(nfq_set_mode(NULL, 2, 0xffff) == -1 && nfq_set_queue_maxlen(NULL, 1) == -1, "config NULL");
    CHECK(nfq_set_queue_flags(NULL, 1, 1) == -1, "flags NULL");
    CHECK(nfq_handle_packet(NULL, d_buf, 20) == -1, "handle_packet NULL handle");
    CHECK(nfq_set_verdict(NULL, 1, 1, 0, NULL) == -1 && nfq_set_verdict2(NULL, 1, 1, 1, 0, NULL) == -1, "v NULL");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CHECK(nfq_set_verdict_mark(NULL, 1, 1, 1, 0, NULL) == -1 && nfq_set_verdict_batch(NULL, 1, 1) == -1, "v NULL");
#pragma GCC diagnostic pop
    CHECK(nfq_set_verdict_batch2(NULL, 1, 1, 1) == -1, "batch2 NULL");
    CHECK(nfq_get_msg_packet_hdr(NULL) == NULL && nfq_get_packet_hw(NULL) == NULL, "getters NULL");
    CHECK(nfq_get_nfmark(NULL) == 0 && nfq_get_indev(NULL) == 0 && nfq_get_outdev(NULL) == 0, "getters NULL");
    CHECK(nfq_get_physindev(NULL) == 0 && nfq_get_physoutdev(NULL) == 0 && nfq_get_skbinfo(NULL) == 0, "NULL");
    CHECK(nfq_get_timestamp(NULL, &tv) == -1 && nfq_get_payload(NULL, &p) == -1 && p == NULL, "NULL nfad");
    CHECK(nfq_get_uid(NULL, &id) == 0 && nfq_get_gid(NULL, &id) == 0 && nfq_get_secctx(NULL, &p) == -1, "NULL");
    CHECK(nfq_get_indev_name(NULL, NULL, name) == 1 && strcmp(name, "*") == 0, "no interface is \"*\"");
    nfq_get_outdev_name(NULL, NULL, name);
    CHECK(nfq_get_physindev_name(NULL, NULL, NULL) == -1, "name getter with a NULL buffer");
    CHECK(nfq_snprintf_xml(NULL, 0, NULL, 0xff) >= 0, "xml of nothing");
    CHECK(nfq_nlmsg_parse(NULL, NULL) == -1, "nlmsg_parse NULL");
    CHECK(nfq_nlmsg_put(NULL, 0, 0) == NULL && nfq_nlmsg_put2(NULL, 0, 0, 0) == NULL, "nlmsg_put NULL");
    nfq_nlmsg_cfg_put_cmd(NULL, 2, 1);
    nfq_nlmsg_cfg_put_params(NULL, 2, 0xffff);
    nfq_nlmsg_cfg_put_qmaxlen(NULL, 1);
    nfq_nlmsg_verdict_put(NULL, 1, 1);
    nfq_nlmsg_verdict_put_mark(NULL, 1);
    nfq_nlmsg_verdict_put_pkt(NULL, NULL, 10);
    CHECK(nfnl_fd(NULL) == -1 && nfnl_portid(NULL) == 0 && nfnl_rcvbufsiz(NULL, 1000) == 0, "nfnl NULL");
    /* pktb_* and the protocol helpers */
    CHECK(pktb_alloc(AF_INET, NULL, 5, 0) == NULL, "pktb_alloc NULL data");
    CHECK(pktb_setup_raw(NULL, AF_INET, d_buf, 5, 0) == NULL, "setup_raw NULL mem");
    CHECK(pktb_data(NULL) == NULL && pktb_len(NULL) == 0 && pktb_tailroom(NULL) == 0, "pktb NULL");
    CHECK(pktb_mac_header(NULL) == NULL && pktb_network_header(NULL) == NULL, "pktb NULL");
    CHECK(pktb_transport_header(NULL) == NULL && !pktb_mangled(NULL), "pktb NULL");
    pktb_push(NULL, 1);
    pktb_pull(NULL, 1);
    pktb_put(NULL, 1);
    pktb_trim(NULL, 1);
    pktb_free(NULL);
    CHECK(pktb_mangle(NULL, 0, 0, 0, NULL, 0) == 0, "mangle NULL");
    CHECK(nfq_ip_get_hdr(NULL) == NULL && nfq_ip_set_transport_header(NULL, NULL) == -1, "ip NULL");
    nfq_ip_set_checksum(NULL);
    CHECK(nfq_ip_mangle(NULL, 0, 0, 0, NULL, 0) == 0 && nfq_ip_snprintf(NULL, 10, NULL) == -1, "ip NULL");
    CHECK(nfq_ip6_get_hdr(NULL) == NULL && nfq_ip6_set_transport_header(NULL, NULL, 6) == 0, "ip6 NULL");
    CHECK(nfq_ip6_mangle(NULL, 0, 0, 0, NULL, 0) == 0 && nfq_ip6_snprintf(NULL, 10, NULL) == -1, "ip6 NULL");
    CHECK(nfq_tcp_get_hdr(NULL) == NULL && nfq_tcp_get_payload(NULL, NULL) == NULL, "tcp NULL");
    CHECK(nfq_tcp_get_payload_len(NULL, NULL) == 0 && nfq_tcp_snprintf(NULL, 10, NULL) == -1, "tcp NULL");
    nfq_tcp_compute_checksum_ipv4(NULL, NULL);
    nfq_tcp_compute_checksum_ipv6(NULL, NULL);
    CHECK(nfq_tcp_mangle_ipv4(NULL, 0, 0, NULL, 0) == 0 && nfq_tcp_mangle_ipv6(NULL, 0, 0, NULL, 0) == 0, "NULL");
    CHECK(nfq_udp_get_hdr(NULL) == NULL && nfq_udp_get_payload(NULL, NULL) == NULL, "udp NULL");
    CHECK(nfq_udp_get_payload_len(NULL, NULL) == 0 && nfq_udp_snprintf(NULL, 10, NULL) == -1, "udp NULL");
    nfq_udp_compute_checksum_ipv4(NULL, NULL);
    nfq_udp_compute_checksum_ipv6(NULL, NULL);
    CHECK(nfq_udp_mangle_ipv4(NULL, 0, 0, NULL, 0) == 0 && nfq_udp_mangle_ipv6(NULL, 0, 0, NULL, 0) == 0, "NULL");
    CHECK(nfq_icmp_get_hdr(NULL) == NULL, "icmp NULL");
}

/* nfq_handle_packet on a real nfq_open handle with truncated and garbage datagrams. */
static void compat_garbage(void)
{
    struct nfq_handle *h = nfq_open();
    CHECK(h != NULL, "nfq_open: %s", strerror(errno));
    if (!h) return;
    /* A well-formed packet message for queue 3 (no queue handle: -1), cut at every length. */
    unsigned char msg[64] __attribute__((aligned(4)));
    memset(msg, 0, sizeof msg);
    uint32_t len = 44;
    uint16_t type = 0x300, alen = 11, atype = 1, plen = 16, ptype = 10;
    memcpy(msg, &len, 4);
    memcpy(msg + 4, &type, 2);
    msg[16] = 2;
    msg[19] = 3;
    memcpy(msg + 20, &alen, 2);
    memcpy(msg + 22, &atype, 2);
    msg[27] = 1;
    memcpy(msg + 32, &plen, 2);
    memcpy(msg + 34, &ptype, 2);
    msg[36] = 0x45;
    for (int cut = 0; cut <= 44; cut++) {
        int r = nfq_handle_packet(h, (char *)msg, cut);
        CHECK(r == 0 || r == -1, "cut %d returned %d", cut, r);
    }
    CHECK(nfq_handle_packet(h, (char *)msg, -5) == -1, "negative length");
    CHECK(nfq_handle_packet(h, NULL, 10) == -1, "NULL buffer");
    /* nlmsg_len larger than the buffer, smaller than a header, zero. */
    uint32_t lens[] = {4096, 15, 0, 0xffffffffu, 17};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(msg, &lens[i], 4);
        CHECK(nfq_handle_packet(h, (char *)msg, 44) == -1, "nlmsg_len %u accepted", lens[i]);
    }
    /* Pseudo-random garbage. */
    unsigned int seed = 12345;
    unsigned char junk[512] __attribute__((aligned(4)));
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof junk);
        for (size_t j = 0; j < n; j++) junk[j] = (unsigned char)rand_r(&seed);
        if (n >= 4 && round % 2) {
            uint32_t l = (uint32_t)(rand_r(&seed) % (int)(n + 8));
            memcpy(junk, &l, 4);
        }
        int r = nfq_handle_packet(h, (char *)junk, (int)n);
        CHECK(r == 0 || r == -1, "garbage returned %d", r);
        void *table[19] = {0};
        if (n >= 16) {
            uint32_t l;
            memcpy(&l, junk, 4);
            if (l <= n) nfq_nlmsg_parse((const struct nlmsghdr *)junk, (struct nlattr **)table);
        }
    }
    CHECK(nfq_close(h) == 0, "nfq_close");
}

static void nflog_nulls(void)
{
    struct timeval tv;
    uint32_t v = 0;
    char *p = (char *)1, buf[64];
    CHECK(nflog_close(NULL) == -1 && nflog_fd(NULL) == -1 && nflog_nfnlh(NULL) == NULL, "nflog handle NULL");
    CHECK(nflog_open_nfnl(NULL) == NULL, "open_nfnl NULL");
    CHECK(nflog_bind_pf(NULL, 2) == -1 && nflog_unbind_pf(NULL, 2) == -1, "nflog bind_pf NULL");
    CHECK(nflog_bind_group(NULL, 1) == NULL && nflog_unbind_group(NULL) == -1, "group NULL");
    CHECK(nflog_set_mode(NULL, 2, 0xffff) == -1 && nflog_set_timeout(NULL, 1) == -1, "nflog config NULL");
    CHECK(nflog_set_qthresh(NULL, 1) == -1 && nflog_set_nlbufsiz(NULL, 4096) == -1, "nflog config NULL");
    CHECK(nflog_set_flags(NULL, 1) == -1 && nflog_callback_register(NULL, NULL, NULL) == -1, "nflog NULL");
    CHECK(nflog_handle_packet(NULL, d_buf, 20) == -1, "nflog_handle_packet NULL handle");
    CHECK(nflog_get_msg_packet_hdr(NULL) == NULL && nflog_get_packet_hw(NULL) == NULL, "nflog getters NULL");
    CHECK(nflog_get_hwtype(NULL) == 0 && nflog_get_msg_packet_hwhdrlen(NULL) == 0, "nflog getters NULL");
    CHECK(nflog_get_msg_packet_hwhdr(NULL) == NULL && nflog_get_prefix(NULL) == NULL, "nflog getters NULL");
    CHECK(nflog_get_nfmark(NULL) == 0 && nflog_get_indev(NULL) == 0 && nflog_get_outdev(NULL) == 0, "NULL");
    CHECK(nflog_get_physindev(NULL) == 0 && nflog_get_physoutdev(NULL) == 0, "nflog getters NULL");
    CHECK(nflog_get_timestamp(NULL, &tv) == -1 && nflog_get_payload(NULL, &p) == -1 && p == NULL, "NULL");
    CHECK(nflog_get_payload(NULL, NULL) == -1, "payload into NULL");
    CHECK(nflog_get_uid(NULL, &v) == -1 && nflog_get_gid(NULL, &v) == -1, "nflog uid/gid NULL");
    CHECK(nflog_get_seq(NULL, &v) == -1 && nflog_get_seq_global(NULL, &v) == -1, "nflog seq NULL");
    CHECK(nflog_get_ctid(NULL, &v) == -1, "nflog ctid NULL");
    CHECK(nflog_snprintf_xml(NULL, 0, NULL, (int)NFLOG_XML_ALL) >= 0, "nflog xml of nothing");
    CHECK(nflog_snprintf_xml(NULL, 10, NULL, 0) == -1, "nflog xml into NULL with a size");
    CHECK(nflog_nlmsg_put_header(NULL, 1, 2, 3) == NULL, "put_header NULL");
    CHECK(nflog_attr_put_cfg_mode(NULL, 2, 1) == -1 && nflog_attr_put_cfg_cmd(NULL, 1) == -1, "put_cfg NULL");
    CHECK(nflog_nlmsg_parse(NULL, NULL) == -1, "nflog_nlmsg_parse NULL");
    CHECK(nflog_nlmsg_snprintf(NULL, 0, NULL, NULL, NFLOG_OUTPUT_XML, 0) == -1, "nlmsg_snprintf NULL");
    CHECK(nflog_nlmsg_snprintf(buf, sizeof buf, NULL, NULL, (enum nflog_output_type)5, 0) == -1 &&
              errno == EOPNOTSUPP, "nlmsg_snprintf type 5");
    CHECK(nflog_errno == 0, "nflog_errno untouched");
}

static int nflog_cb_calls;

/* Reads everything a callback can, with good and NULL result pointers. */
static int nflog_hostile_cb(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfad, void *data)
{
    struct timeval tv;
    uint32_t v;
    char *p = NULL, xml[128];
    volatile unsigned sum = 0;
    (void)gh, (void)data;
    nflog_cb_calls++;
    sum += nfmsg->nfgen_family;
    struct nfulnl_msg_packet_hdr *ph = nflog_get_msg_packet_hdr(nfad);
    if (ph) sum += ph->hook + ph->hw_protocol;
    struct nfulnl_msg_packet_hw *hw = nflog_get_packet_hw(nfad);
    if (hw) for (int i = 0; i < 8; i++) sum += hw->hw_addr[i];
    sum += nflog_get_hwtype(nfad) + nflog_get_msg_packet_hwhdrlen(nfad) + nflog_get_nfmark(nfad);
    sum += nflog_get_indev(nfad) + nflog_get_outdev(nfad) + nflog_get_physindev(nfad) + nflog_get_physoutdev(nfad);
    sum += (unsigned)nflog_get_timestamp(nfad, &tv) + (unsigned)nflog_get_timestamp(nfad, NULL);
    int n = nflog_get_payload(nfad, &p);
    CHECK((n < 0) == (p == NULL), "payload %d with pointer %p", n, (void *)p);
    for (int i = 0; i < n; i++) sum += (unsigned char)p[i];
    CHECK(nflog_get_payload(nfad, NULL) == -1, "payload into NULL");
    int (*u32g[5])(struct nflog_data *, uint32_t *) = {nflog_get_uid, nflog_get_gid, nflog_get_seq,
                                                        nflog_get_seq_global, nflog_get_ctid};
    for (int i = 0; i < 5; i++) {
        int r = u32g[i](nfad, &v);
        CHECK(r == 0 || r == -1, "u32 getter %d returned %d", i, r);
        CHECK(u32g[i](nfad, NULL) == -1, "u32 getter %d into NULL", i);
    }
    (void)nflog_get_prefix(nfad);
    (void)nflog_get_msg_packet_hwhdr(nfad);
    int full = nflog_snprintf_xml(xml, sizeof xml, nfad, (int)(NFLOG_XML_ALL & ~NFLOG_XML_TIME));
    CHECK(full >= 0 && strlen(xml) < sizeof xml, "xml %d", full);
    CHECK(nflog_snprintf_xml(NULL, 0, nfad, (int)NFLOG_XML_ALL) >= 0, "xml length only");
    return nflog_cb_calls % 3 == 0 ? -1 : nflog_cb_calls % 3;
}

/* nflog_handle_packet on a bound group with truncated, malformed and garbage datagrams. */
static void nflog_garbage(void)
{
    struct nflog_handle *h = nflog_open();
    CHECK(h != NULL, "nflog_open: %s", strerror(errno));
    if (!h) return;
    struct nflog_g_handle *g = nflog_bind_group(h, 96);
    CHECK(g != NULL, "nflog_bind_group 96: %s", strerror(errno));
    if (!g) {
        nflog_close(h);
        return;
    }
    CHECK(nflog_callback_register(g, nflog_hostile_cb, NULL) == 0, "callback_register");
    /* A log message for group 96: PACKET_HDR, PREFIX, MARK, HWADDR (length 200), CT, PAYLOAD,
     * then an NLMSG_DONE; cut at every length. */
    unsigned char msg[160] __attribute__((aligned(4)));
    memset(msg, 0, sizeof msg);
    size_t off = 20;
#define NFLOG_ATTR(t, l, fill)                                                                   \
    do {                                                                                         \
        uint16_t al_ = 4 + (l), at_ = (t);                                                       \
        memcpy(msg + off, &al_, 2);                                                              \
        memcpy(msg + off + 2, &at_, 2);                                                          \
        memset(msg + off + 4, (fill), (l));                                                      \
        off += (al_ + 3u) & ~3u;                                                                 \
    } while (0)
    NFLOG_ATTR(NFULA_PACKET_HDR, 4, 8);
    NFLOG_ATTR(NFULA_PREFIX, 6, 'p'); /* no NUL */
    NFLOG_ATTR(NFULA_MARK, 2, 1);     /* too short */
    NFLOG_ATTR(NFULA_HWADDR, 12, 0xc8);
    NFLOG_ATTR(NFULA_CT | 0x8000, 8, 0xff);
    NFLOG_ATTR(NFULA_TIMESTAMP, 15, 3);
    NFLOG_ATTR(NFULA_PAYLOAD, 9, 0x45);
    uint32_t len = (uint32_t)off - 3;
    uint16_t type = 0x400;
    memcpy(msg, &len, 4);
    memcpy(msg + 4, &type, 2);
    msg[16] = 2;
    msg[19] = 96;
    uint32_t dlen = 20;
    uint16_t dtype = NLMSG_DONE;
    memcpy(msg + off, &dlen, 4);
    memcpy(msg + off + 4, &dtype, 2);
    size_t total = off + 20;
    for (size_t cut = 0; cut <= total; cut++) {
        int r = nflog_handle_packet(h, (char *)msg, (int)cut);
        CHECK(r == 0 || r == -1, "cut %zu returned %d", cut, r);
    }
    CHECK(nflog_cb_calls > 0, "the callback ran");
    CHECK(nflog_handle_packet(h, (char *)msg, -5) == -1, "negative length");
    CHECK(nflog_handle_packet(h, NULL, 10) == 0 && nflog_handle_packet(h, NULL, 40) == -1, "NULL buffer");
    uint32_t lens[] = {4096, 15, 0, 0xffffffffu, 17};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(msg, &lens[i], 4);
        CHECK(nflog_handle_packet(h, (char *)msg, (int)total) == -1, "nlmsg_len %u accepted", lens[i]);
    }
    /* Pseudo-random garbage, half of it addressed to group 96. */
    unsigned int seed = 4242;
    unsigned char junk[512] __attribute__((aligned(4)));
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof junk);
        for (size_t j = 0; j < n; j++) junk[j] = (unsigned char)rand_r(&seed);
        if (n >= 20 && round % 2) {
            uint32_t l = (uint32_t)(rand_r(&seed) % (int)(n + 8));
            uint16_t t = 0x400;
            memcpy(junk, &l, 4);
            memcpy(junk + 4, &t, 2);
            junk[18] = 0;
            junk[19] = 96;
        }
        int r = nflog_handle_packet(h, (char *)junk, (int)n);
        CHECK(r == 0 || r == -1, "garbage returned %d", r);
        void *table[NFULA_MAX + 1] = {0};
        if (n >= 16) {
            uint32_t l;
            memcpy(&l, junk, 4);
            if (l <= n && nflog_nlmsg_parse((const struct nlmsghdr *)junk, (struct nlattr **)table) >= -1) {
                char out[96];
                int x = nflog_nlmsg_snprintf(out, sizeof out, (const struct nlmsghdr *)junk,
                                             (struct nlattr **)table, NFLOG_OUTPUT_XML, 0xbf);
                CHECK(x >= 0, "nlmsg_snprintf %d", x);
            }
        }
    }
    /* Builders into a buffer of the documented size. */
    char b[64];
    struct nlmsghdr *nlh = nflog_nlmsg_put_header(b, NFULNL_MSG_CONFIG, AF_INET, 96);
    CHECK(nlh == (struct nlmsghdr *)b && nlh->nlmsg_len == 20, "put_header");
    CHECK(nflog_attr_put_cfg_cmd(nlh, 250) == 0 && nflog_attr_put_cfg_mode(nlh, 9, 0xffffffffu) == 0, "put_cfg");
    CHECK(nlh->nlmsg_len == 40, "put_cfg grew the message to %u", nlh->nlmsg_len);
    CHECK(nflog_unbind_group(g) == 0, "unbind 96");
    CHECK(nflog_close(h) == 0, "nflog_close");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s QUEUE PORT (inside a test namespace)\n", argv[0]);
        return 2;
    }
    uint16_t queue = (uint16_t)atoi(argv[1]), port = (uint16_t)atoi(argv[2]);
    nfq_rs_config *cfg = nfq_rs_config_new(queue);
    nfq_rs_queue *q = NULL;
    CHECK_RC(nfq_rs_open(cfg, &q), 0);
    nfq_rs_config *pool_cfg = nfq_rs_config_new(0);
    nfq_rs_pool *pool = NULL;
    CHECK_RC(nfq_rs_pool_start(pool_cfg, (uint16_t)(queue + 1), (uint16_t)(queue + 2), nonsense_cb, NULL, 0, &pool),
             0);
    nfq_rs_ct *ct = NULL;
    CHECK_RC(nfq_rs_ct_open(NULL, &ct), 0);
    nfq_rs_ct_events *ev = NULL;
    CHECK_RC(nfq_rs_ct_events_open(NULL, NFQ_RS_CT_EV_NEW, &ev), 0);
    void *junk = calloc(1, 256);
    /* NFLOG: group QUEUE, logging UDP to PORT+1 (the script adds the rule). */
    nfq_rs_log_config *lcfg = nfq_rs_log_config_new(queue);
    nfq_rs_log *log = NULL;
    CHECK_RC(nfq_rs_log_config_set_threshold(lcfg, 1), 0);
    CHECK_RC(nfq_rs_log_open(lcfg, NULL, NULL, &log), 0);
    void *hs[K_COUNT] = {cfg, q, pool, ct, ev, nfq_rs_ct_entry_new(), nfq_rs_ct_exp_new(), lcfg, log, junk};
    memcpy(g_handles, hs, sizeof hs);
    for (int i = 0; i < K_COUNT; i++)
        if (!g_handles[i]) {
            fprintf(stderr, "could not make a %s handle; giving up\n", g_names[i]);
            return 1;
        }

    null_everywhere();
    foreign_handles();
    bad_values(cfg, q, queue);
    nonsense_answers(q, queue, port);
    log_bad_values(lcfg, log, queue);
    log_nonsense_answers(log, (uint16_t)(port + 1));
    nonsense_batch_answers(q, port);
    compat_nulls();
    compat_garbage();
    nflog_nulls();
    nflog_garbage();

    /* Every handle still works after all that. */
    CHECK(nfq_rs_fd(q) >= 0 && nfq_rs_pool_size(pool) == 2 && nfq_rs_ct_events_fd(ev) >= 0, "handles intact");
    CHECK(nfq_rs_log_fd(log) >= 0, "log handle intact");
    nfq_rs_log_close(log);
    nfq_rs_log_config_free(lcfg);
    uint32_t entries = 0, max_entries = 0;
    CHECK_RC(nfq_rs_ct_stats(ct, &entries, &max_entries), 0);
    nfq_rs_pool_free(pool);
    nfq_rs_ct_events_close(ev);
    nfq_rs_ct_close(ct);
    nfq_rs_ct_exp_free(g_handles[K_EXP]);
    nfq_rs_ct_entry_free(g_handles[K_ENT]);
    nfq_rs_close(q);
    nfq_rs_config_free(pool_cfg);
    nfq_rs_config_free(cfg);
    free(junk);
    printf("hostile: %d calls checked, %d failures\n", g_calls, g_failures);
    return g_failures ? 1 : 0;
}
