/*
 * nflog_ceiling_consumer: the practical ceiling of the NFLOG path (make bench-nflog). Raw
 * netlink, no library: it binds the group and sets copy mode packet, the group buffer, the
 * threshold and the timeout itself (one NFULNL_MSG_CONFIG per setting, each acknowledged, as
 * libnetfilter_log sends them), then recv() into one static buffer, walks every message of the
 * datagram and, for each NFULNL_MSG_PACKET, the attributes up to NFULA_PREFIX and NFULA_PAYLOAD.
 * The per-message work is that of the other NFLOG consumers (read the prefix and the payload,
 * count the message); nothing else is checked beyond staying inside the datagram. What is left
 * is the kernel's share of the work, which no library can remove.
 *
 *   nflog_ceiling_consumer --group G [--range BYTES] [--nlbufsiz BYTES] [--qthresh N]
 *                          [--timeout CS] [--rcvbuf BYTES] [--warmup S] [--seconds S] [--go FILE]
 *
 * Live mode (the meter, a 100 ms SO_RCVTIMEO so the loop can end) and drain mode (--go FILE,
 * ending at the first receive that waited 100 ms for nothing) as in bench/lnflog_consumer.c.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#define NFGEN_LEN 4 /* struct nfgenmsg */

static int g_fd;
static uint32_t g_seq;
static unsigned long long g_bytes;

static void stop_nothing(void *arg)
{
    (void)arg; /* the receive loop polls meter_done; SO_RCVTIMEO bounds each wait */
}

/* Sends one NFULNL_MSG_CONFIG for `group` with one attribute and waits for its ACK; exits with
 * the kernel's errno if the kernel refused it. */
static void config(uint16_t group, uint16_t attr, const void *data, uint16_t len, const char *what)
{
    uint8_t req[64] __attribute__((aligned(4)));
    uint32_t seq = ++g_seq;
    struct nlmsghdr nh = {.nlmsg_type = (uint16_t)(NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG),
                          .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = seq};
    struct nfgenmsg g = {.nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(group)};
    struct nlattr a = {.nla_len = (uint16_t)(NLA_HDRLEN + len), .nla_type = attr};
    size_t at = NLMSG_HDRLEN + NFGEN_LEN, total = at + NLA_ALIGN(NLA_HDRLEN + len);
    memset(req, 0, sizeof req);
    nh.nlmsg_len = (uint32_t)total;
    memcpy(req, &nh, sizeof nh);
    memcpy(req + NLMSG_HDRLEN, &g, sizeof g);
    memcpy(req + at, &a, sizeof a);
    memcpy(req + at + NLA_HDRLEN, data, len);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(g_fd, req, total, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)total)
        die("nflog_ceiling", what);

    for (int tries = 0; tries < 100; tries++) {
        static uint8_t ack[8192] __attribute__((aligned(4)));
        ssize_t r = recv(g_fd, ack, sizeof ack, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("nflog_ceiling", "receive the ACK");
        }
        for (size_t off = 0, left = (size_t)r; left >= NLMSG_HDRLEN;) {
            struct nlmsghdr h;
            memcpy(&h, ack + off, sizeof h);
            if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > left) break;
            if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_seq == seq && h.nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
                int err;
                memcpy(&err, ack + off + NLMSG_HDRLEN, sizeof err);
                if (err) {
                    errno = -err;
                    die("nflog_ceiling", what);
                }
                return;
            }
            size_t step = NLMSG_ALIGN(h.nlmsg_len);
            if (step >= left) break;
            off += step;
            left -= step;
        }
    }
    fprintf(stderr, "nflog_ceiling: %s: no ACK from the kernel\n", what);
    exit(1);
}

/* One NFULNL_MSG_PACKET: its attributes start after the nfgenmsg; the kernel puts the prefix
 * before the payload, so the walk ends at the payload. */
static inline void on_packet(const uint8_t *p, size_t len)
{
    const uint8_t *prefix = NULL;
    size_t payload_len = 0;
    int payload = 0;
    while (len >= NLA_HDRLEN) {
        struct nlattr a;
        memcpy(&a, p, sizeof a);
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len) break;
        uint16_t type = a.nla_type & NLA_TYPE_MASK;
        if (type == NFULA_PREFIX && a.nla_len > NLA_HDRLEN) {
            prefix = p + NLA_HDRLEN;
        } else if (type == NFULA_PAYLOAD) {
            payload_len = a.nla_len - NLA_HDRLEN;
            payload = 1;
        }
        if (payload && prefix) break;
        size_t step = NLA_ALIGN(a.nla_len);
        if (step >= len) break;
        p += step;
        len -= step;
    }
    g_bytes += (unsigned long long)payload_len + (prefix ? *prefix : 0);
    meter_add(1);
}

/* Every message of one datagram (a batch ends with NLMSG_DONE, which is skipped). */
static void on_datagram(const uint8_t *p, size_t len)
{
    const uint16_t pkt_type = NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET;
    while (len >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        memcpy(&h, p, sizeof h);
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len) break;
        if (h.nlmsg_type == pkt_type && h.nlmsg_len >= NLMSG_HDRLEN + NFGEN_LEN)
            on_packet(p + NLMSG_HDRLEN + NFGEN_LEN, h.nlmsg_len - NLMSG_HDRLEN - NFGEN_LEN);
        size_t step = NLMSG_ALIGN(h.nlmsg_len);
        if (step >= len) break;
        p += step;
        len -= step;
    }
}

int main(int argc, char **argv)
{
    struct copts o;
    struct nflog_opts n;
    copts_default(&o);
    if (nflog_opts_parse("nflog_ceiling_consumer", &n, &o, argc, argv)) return 2;
    unsigned range = n.range, nlbufsiz = n.nlbufsiz, qthresh = n.qthresh, timeout = n.timeout;

    g_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (g_fd < 0) die("nflog_ceiling", "socket");
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    if (bind(g_fd, (struct sockaddr *)&local, sizeof local) < 0) die("nflog_ceiling", "bind");
    int rb = (int)o.rcvbuf;
    if (setsockopt(g_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb) < 0)
        setsockopt(g_fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    int got = 0;
    socklen_t got_len = sizeof got;
    getsockopt(g_fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len);

    /* The settings the libnetfilter_log consumer sends, in its order; a range of 0xffff is
     * clamped by the kernel to its maximum, as for every libnetfilter_log user. */
    uint16_t group = (uint16_t)o.q_first;
    struct nfulnl_msg_config_cmd cmd = {.command = NFULNL_CFG_CMD_BIND};
    struct nfulnl_msg_config_mode mode = {.copy_range = htonl(range), .copy_mode = NFULNL_COPY_PACKET};
    uint32_t be_nlbufsiz = htonl(nlbufsiz), be_qthresh = htonl(qthresh), be_timeout = htonl(timeout);
    config(group, NFULA_CFG_CMD, &cmd, sizeof cmd, "bind the group");
    config(group, NFULA_CFG_MODE, &mode, sizeof mode, "set copy mode packet");
    config(group, NFULA_CFG_NLBUFSIZ, &be_nlbufsiz, sizeof be_nlbufsiz, "set the group buffer size");
    config(group, NFULA_CFG_QTHRESH, &be_qthresh, sizeof be_qthresh, "set the threshold");
    config(group, NFULA_CFG_TIMEOUT, &be_timeout, sizeof be_timeout, "set the timeout");
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(g_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    /* The size lnflog_consumer receives into: one buffer, cache-hot for every datagram. */
    static uint8_t buf[131072 + 65536] __attribute__((aligned(8)));
    unsigned long long enobufs = 0;
    if (o.go) {
        struct drain d;
        printf("ready group %u rcvbuf=%d (drain)\n", o.q_first, got);
        fflush(stdout);
        drain_wait_go(o.go);
        drain_start(&d);
        for (;;) {
            ssize_t rv = recv(g_fd, buf, sizeof buf, 0);
            if (rv >= 0) {
                on_datagram(buf, (size_t)rv);
                drain_mark(&d);
            } else if (errno == ENOBUFS) {
                enobufs++;
            } else if (errno == EAGAIN) {
                break;
            } else if (errno != EINTR) {
                die("nflog_ceiling", "recv");
            }
        }
        drain_report(&d);
        printf("enobufs=%llu bytes=%llu\n", enobufs, g_bytes);
        close(g_fd);
        return 0;
    }

    struct meter m = {.first_wait = o.first_wait, .warmup = o.warmup, .window = o.window,
                      .q_first = 70000, .q_last = 70000, .stop = stop_nothing};
    printf("ready group %u rcvbuf=%d\n", o.q_first, got);
    fflush(stdout);
    if (meter_start(&m)) return 1;

    while (!meter_done) {
        ssize_t rv = recv(g_fd, buf, sizeof buf, 0);
        if (rv >= 0) {
            on_datagram(buf, (size_t)rv);
            continue;
        }
        if (errno == ENOBUFS) {
            enobufs++;
            continue;
        }
        if (errno == EAGAIN || errno == EINTR) continue;
        die("nflog_ceiling", "recv");
    }
    meter_join(&m);
    printf("enobufs=%llu bytes=%llu\n", enobufs, g_bytes);
    close(g_fd);
    return 0;
}
