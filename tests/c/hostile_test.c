/*
 * Hostile use of every C entry point, run under AddressSanitizer (scripts/test-hostile.sh):
 *
 *   - every nfq_rs_* export with NULL handles and NULL pointers;
 *   - every export taking a handle, given a live handle of each other kind (a config where a
 *     queue is expected, a pool where a conntrack entry is expected, ...), and a zeroed heap
 *     block: refused by the handle magic, never misused;
 *   - out-of-range enums, counters, directions and verdicts; an oversize payload (> 65531);
 *   - a callback answering nonsense (not a verdict, stray flag bits, NFQ_RS_FAILED): the
 *     fallback verdict is given and counted, nothing is delivered, nothing stays queued;
 *   - the libnetfilter_queue drop-in: nfq_* getters with a NULL nfq_data, pktb_* and the
 *     protocol helpers with NULL, nfq_handle_packet with truncated and garbage buffers on an
 *     nfq_open handle, nfq_nlmsg_* with NULL.
 *
 * Each failing call must return its documented failure value (a negative code and a last-error
 * message; NULL; or 0 where the header documents 0 "on error", as for nfq_rs_ct_family).
 * Usage (inside a namespace whose OUTPUT chain queues UDP port PORT to queue QUEUE):
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
enum { K_CFG, K_Q, K_POOL, K_CT, K_EV, K_ENT, K_EXP, K_JUNK, K_COUNT };
static void *g_handles[K_COUNT];
static const char *g_names[K_COUNT] = {"config", "queue", "pool", "ct", "ct_events", "ct_entry", "ct_exp",
                                       "zeroed block"};

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
    void *hs[K_COUNT] = {cfg, q, pool, ct, ev, nfq_rs_ct_entry_new(), nfq_rs_ct_exp_new(), junk};
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
    nonsense_batch_answers(q, port);
    compat_nulls();
    compat_garbage();

    /* Every handle still works after all that. */
    CHECK(nfq_rs_fd(q) >= 0 && nfq_rs_pool_size(pool) == 2 && nfq_rs_ct_events_fd(ev) >= 0, "handles intact");
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
