/*
 * ceiling_consumer: the practical ceiling of the NFQUEUE path (make bench). Raw netlink, no
 * library: bind the queue with copy mode packet, then per batch one recvmmsg (MSG_WAITFORONE)
 * of up to --batch messages and ONE NFQNL_MSG_VERDICT_BATCH (NF_ACCEPT) for the highest id of
 * the batch. It reads no more of a message than its type and packet id.
 *
 *   ceiling_consumer --queue N [--batch 64] [--rcvbuf BYTES] [--warmup S] [--seconds S]
 *                    [--dump FILE --dump-count K]   also append the first K packet messages
 *                                                   to FILE (u32 length + bytes, each) for
 *                                                   the parse-cost benchmark
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define SLOT (65536 + 1024)

static int g_fd;
static unsigned g_queue;

static void stop_nothing(void *arg)
{
    (void)arg; /* the loop polls meter_done; SO_RCVTIMEO bounds each wait */
}

static size_t put_attr(uint8_t *p, uint16_t type, const void *data, uint16_t len)
{
    struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = type};
    memcpy(p, &a, sizeof a);
    memcpy(p + NLA_HDRLEN, data, len);
    size_t total = NLA_ALIGN(NLA_HDRLEN + len);
    memset(p + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
    return total;
}

/* nlmsghdr + nfgenmsg for queue `queue`; returns the header length. */
static size_t put_hdr(uint8_t *p, uint8_t msg, uint16_t flags, uint16_t queue, uint32_t seq)
{
    struct nlmsghdr nh = {.nlmsg_type = (uint16_t)(NFNL_SUBSYS_QUEUE << 8 | msg),
                          .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags), .nlmsg_seq = seq};
    struct nfgenmsg g = {.nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(queue)};
    memcpy(p, &nh, sizeof nh);
    memcpy(p + NLMSG_HDRLEN, &g, sizeof g);
    return NLMSG_HDRLEN + sizeof g;
}

static void set_len(uint8_t *p, size_t len)
{
    uint32_t l = (uint32_t)len;
    memcpy(p, &l, 4);
}

/* Binds the queue and sets copy mode packet / range 0xffff in one request; waits for the ACK. */
static void bind_queue(unsigned queue)
{
    uint8_t req[256] __attribute__((aligned(4)));
    size_t len = put_hdr(req, NFQNL_MSG_CONFIG, NLM_F_ACK, (uint16_t)queue, 1);
    struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND, .pf = 0};
    struct nfqnl_msg_config_params params = {.copy_range = htonl(0xffff), .copy_mode = NFQNL_COPY_PACKET};
    len += put_attr(req + len, NFQA_CFG_CMD, &cmd, sizeof cmd);
    len += put_attr(req + len, NFQA_CFG_PARAMS, &params, sizeof params);
    set_len(req, len);
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    if (sendto(g_fd, req, len, 0, (struct sockaddr *)&k, sizeof k) != (ssize_t)len) die("ceiling", "send config");
    for (int tries = 0; tries < 100; tries++) {
        uint8_t ack[8192] __attribute__((aligned(4)));
        ssize_t r = recv(g_fd, ack, sizeof ack, 0);
        if (r < 0) die("ceiling", "recv ack");
        struct nlmsghdr *nh = (struct nlmsghdr *)ack;
        if ((size_t)r < sizeof *nh || nh->nlmsg_type != NLMSG_ERROR) continue;
        struct nlmsgerr *e = NLMSG_DATA(nh);
        if (e->error) {
            errno = -e->error;
            die("ceiling", "bind queue");
        }
        return;
    }
    fprintf(stderr, "ceiling: no ACK for the queue config\n");
    exit(1);
}

int main(int argc, char **argv)
{
    struct copts o;
    copts_default(&o);
    for (int i = 1; i < argc; i++) {
        if (!copts_parse(&o, argc, argv, &i)) {
            fprintf(stderr, "usage: ceiling_consumer --queue N [--batch B] [--rcvbuf BYTES] [--warmup S] "
                            "[--seconds S] [--dump FILE --dump-count K]\n");
            return 2;
        }
    }
    if (o.batch < 1 || o.batch > MAX_BATCH) o.batch = 64;
    g_queue = o.q_first;

    g_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (g_fd < 0) die("ceiling", "socket");
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    if (bind(g_fd, (struct sockaddr *)&local, sizeof local) < 0) die("ceiling", "bind");
    int rb = (int)o.rcvbuf;
    if (setsockopt(g_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb) < 0)
        setsockopt(g_fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    bind_queue(o.q_first);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(g_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    FILE *dump = NULL;
    unsigned dumped = 0;
    if (o.dump) {
        dump = fopen(o.dump, "ab");
        if (!dump) die("ceiling", o.dump);
    }

    /* Receive buffers and headers, set up once. */
    static struct mmsghdr hdrs[MAX_BATCH];
    static struct iovec iovs[MAX_BATCH];
    uint8_t *bufs = aligned_alloc(4096, (size_t)o.batch * SLOT);
    if (!bufs) die("ceiling", "alloc");
    for (unsigned i = 0; i < o.batch; i++) {
        iovs[i].iov_base = bufs + (size_t)i * SLOT;
        iovs[i].iov_len = SLOT;
        hdrs[i].msg_hdr.msg_iov = &iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }

    /* The batch verdict: fixed but for the id. */
    uint8_t vmsg[64] __attribute__((aligned(4)));
    size_t vlen = put_hdr(vmsg, NFQNL_MSG_VERDICT_BATCH, 0, (uint16_t)o.q_first, 0);
    struct nfqnl_msg_verdict_hdr vh = {.verdict = htonl(NF_ACCEPT), .id = 0};
    size_t id_at = vlen + NLA_HDRLEN + 4;
    vlen += put_attr(vmsg + vlen, NFQA_VERDICT_HDR, &vh, sizeof vh);
    set_len(vmsg, vlen);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

    struct meter m = {.first_wait = o.first_wait, .warmup = o.warmup, .window = o.window,
                      .q_first = o.q_first, .q_last = o.q_first, .stop = stop_nothing};
    printf("ready queue %u batch=%u rcvbuf=%lu\n", o.q_first, o.batch, o.rcvbuf);
    fflush(stdout);
    if (meter_start(&m)) return 1;

    const uint16_t pkt_type = NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET;
    unsigned long long enobufs = 0, batches = 0;
    while (!meter_done) {
        int n = recvmmsg(g_fd, hdrs, o.batch, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == ENOBUFS) {
                enobufs++;
                continue;
            }
            if (errno == EAGAIN || errno == EINTR) continue;
            die("ceiling", "recvmmsg");
        }
        uint32_t max_id = 0;
        unsigned pkts = 0;
        for (int i = 0; i < n; i++) {
            const uint8_t *p = iovs[i].iov_base;
            unsigned len = hdrs[i].msg_len;
            struct nlmsghdr nh;
            if (len < NLMSG_HDRLEN + 4 + NLA_HDRLEN + 4) continue;
            memcpy(&nh, p, sizeof nh);
            if (nh.nlmsg_type != pkt_type) continue;
            /* The kernel puts NFQA_PACKET_HDR first: id at 16 + 4 + 4. */
            uint32_t id;
            memcpy(&id, p + NLMSG_HDRLEN + 4 + NLA_HDRLEN, 4);
            id = ntohl(id);
            if (id > max_id) max_id = id; /* ids of one queue grow; no wrap in a benchmark */
            pkts++;
            if (dump && dumped < o.dump_count && nh.nlmsg_len <= len) {
                uint32_t l = nh.nlmsg_len;
                fwrite(&l, 4, 1, dump);
                fwrite(p, 1, l, dump);
                dumped++;
            }
        }
        if (pkts) {
            uint32_t be = htonl(max_id);
            memcpy(vmsg + id_at, &be, 4);
            if (sendto(g_fd, vmsg, vlen, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)vlen)
                die("ceiling", "send verdict");
            meter_add(pkts);
            batches++;
        }
    }
    meter_join(&m);
    printf("batches=%llu enobufs=%llu dumped=%u\n", batches, enobufs, dumped);
    if (dump) fclose(dump);
    close(g_fd);
    return 0;
}
