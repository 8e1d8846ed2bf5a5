/*
 * filter: a small NFQUEUE filter. It reads the IPv4/IPv6 and TCP/UDP headers of each packet
 * (with bounds checks: the payload comes from the network) and
 *   - drops packets to DROP_PORT,
 *   - accepts packets to MARK_PORT with the packet mark set to MARK (default 0x2a),
 *   - accepts everything else unchanged.
 *
 *   filter [--netns PATH] [--count N] [--mark MARK] QUEUE DROP_PORT MARK_PORT
 *
 * Try it:   iptables -A OUTPUT -p udp -j NFQUEUE --queue-num 1
 *           iptables -t mangle -A POSTROUTING -m mark --mark 0x2a      # counts marked packets
 *           ./filter 1 7001 7002
 *
 * Build:    cc -std=c11 filter.c $(pkg-config --cflags --libs libnfq_rs) -o filter
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nfq_rs.h>

struct filter {
    nfq_rs_queue *q;
    uint16_t drop_port;
    uint16_t mark_port;
    uint32_t mark;
    unsigned long seen, limit;
    unsigned long dropped, marked, accepted;
};

static nfq_rs_queue *volatile g_queue;

static void on_signal(int sig)
{
    (void)sig;
    nfq_rs_stop(g_queue);
}

static void print_error(const char *what, int rc, const nfq_rs_queue *q)
{
    char detail[512];
    nfq_rs_last_error(q, detail, sizeof detail);
    fprintf(stderr, "filter: %s: %s (%d): %s\n", what, nfq_rs_strerror(rc), rc, detail);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* What the headers say; proto 0 when there is no TCP/UDP header to read. */
struct flow {
    int family;
    uint8_t src[16], dst[16];
    uint8_t proto;
    uint16_t sport, dport;
};

/*
 * Parses an IPv4 or IPv6 packet from its network header. Returns 0 when the L3 header is
 * valid (flow->proto and ports are set only if a whole TCP/UDP port pair is present and
 * this is the first fragment), -1 otherwise.
 */
static int parse(const uint8_t *p, size_t len, struct flow *f)
{
    size_t off;
    uint8_t next;

    memset(f, 0, sizeof *f);
    if (len < 1) return -1;
    switch (p[0] >> 4) {
    case 4: {
        if (len < 20) return -1;
        size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > len) return -1;
        f->family = AF_INET;
        memcpy(f->src, p + 12, 4);
        memcpy(f->dst, p + 16, 4);
        if ((be16(p + 6) & 0x1fff) != 0) return 0; /* not the first fragment: no L4 header */
        next = p[9];
        off = ihl;
        break;
    }
    case 6: {
        if (len < 40) return -1;
        f->family = AF_INET6;
        memcpy(f->src, p + 8, 16);
        memcpy(f->dst, p + 24, 16);
        next = p[6];
        off = 40;
        /* Skip extension headers (a bounded number of them). */
        for (int hops = 0; hops < 8; hops++) {
            if (next == 0 || next == 43 || next == 60) { /* hop-by-hop, routing, dest opts */
                if (off + 2 > len) return 0;
                size_t hlen = ((size_t)p[off + 1] + 1) * 8;
                if (off + hlen > len) return 0;
                next = p[off];
                off += hlen;
            } else if (next == 44) { /* fragment */
                if (off + 8 > len) return 0;
                if ((be16(p + off + 2) & 0xfff8) != 0) return 0; /* not the first fragment */
                next = p[off];
                off += 8;
            } else {
                break;
            }
        }
        break;
    }
    default:
        return -1;
    }
    if ((next == IPPROTO_UDP || next == IPPROTO_TCP) && off + 4 <= len) {
        f->proto = next;
        f->sport = be16(p + off);
        f->dport = be16(p + off + 2);
    }
    return 0;
}

static int32_t on_packet(nfq_rs_packet *pkt, void *user)
{
    struct filter *fl = user;
    size_t len = 0;
    const uint8_t *data = nfq_rs_packet_payload(pkt, &len);
    struct flow f;
    char src[INET6_ADDRSTRLEN] = "?", dst[INET6_ADDRSTRLEN] = "?";
    int32_t verdict = NFQ_RS_ACCEPT;
    const char *what = "ACCEPT";
    int marked = 0;

    memset(&f, 0, sizeof f);

    if (data && parse(data, len, &f) == 0) {
        inet_ntop(f.family, f.src, src, sizeof src);
        inet_ntop(f.family, f.dst, dst, sizeof dst);
        if (f.proto && f.dport == fl->drop_port) {
            verdict = NFQ_RS_DROP;
            what = "DROP";
            fl->dropped++;
        } else if (f.proto && f.dport == fl->mark_port) {
            int rc = nfq_rs_packet_set_mark(pkt, fl->mark);
            if (rc != NFQ_RS_OK) print_error("nfq_rs_packet_set_mark", rc, NULL);
            what = "ACCEPT+MARK";
            marked = 1;
            fl->marked++;
        } else {
            fl->accepted++;
        }
    } else {
        fl->accepted++;
    }

    if (f.proto)
        printf("packet id=%u %s %s%s%s:%u -> %s%s%s:%u len=%zu verdict=%s",
               nfq_rs_packet_id(pkt), f.proto == IPPROTO_UDP ? "udp" : "tcp",
               f.family == AF_INET6 ? "[" : "", src, f.family == AF_INET6 ? "]" : "", f.sport,
               f.family == AF_INET6 ? "[" : "", dst, f.family == AF_INET6 ? "]" : "", f.dport, len,
               what);
    else
        printf("packet id=%u %s -> %s len=%zu verdict=%s", nfq_rs_packet_id(pkt), src, dst, len, what);
    if (marked) printf(" mark=0x%x", fl->mark);
    printf("\n");

    fl->seen++;
    if (fl->limit && fl->seen >= fl->limit) nfq_rs_stop(fl->q);
    return verdict;
}

static int usage(void)
{
    fprintf(stderr, "usage: filter [--netns PATH] [--count N] [--mark MARK] QUEUE DROP_PORT MARK_PORT\n");
    return 2;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || end == s || v > max) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *netns = NULL;
    unsigned long limit = 0, mark = 0x2a, nums[3];
    int npos = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--netns") == 0 && i + 1 < argc) {
            netns = argv[++i];
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            if (parse_ulong(argv[++i], 1UL << 31, &limit) || limit == 0) return usage();
        } else if (strcmp(argv[i], "--mark") == 0 && i + 1 < argc) {
            if (parse_ulong(argv[++i], 0xffffffffUL, &mark)) return usage();
        } else if (argv[i][0] != '-' && npos < 3) {
            if (parse_ulong(argv[i], 65535, &nums[npos++])) return usage();
        } else {
            return usage();
        }
    }
    if (npos != 3) return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct filter fl;
    memset(&fl, 0, sizeof fl);
    fl.drop_port = (uint16_t)nums[1];
    fl.mark_port = (uint16_t)nums[2];
    fl.mark = (uint32_t)mark;
    fl.limit = limit;
    uint16_t queue = (uint16_t)nums[0];

    nfq_rs_config *cfg = nfq_rs_config_new(queue);
    if (!cfg) {
        fprintf(stderr, "filter: nfq_rs_config_new: out of memory\n");
        return 1;
    }
    /* Headers are enough: copy only the first 128 bytes of each packet. */
    int rc;
    if ((rc = nfq_rs_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, 128)) != NFQ_RS_OK ||
        (netns && (rc = nfq_rs_config_set_netns_path(cfg, netns)) != NFQ_RS_OK)) {
        print_error("configuring", rc, NULL);
        nfq_rs_config_free(cfg);
        return 1;
    }
    rc = nfq_rs_open(cfg, &fl.q);
    nfq_rs_config_free(cfg);
    if (rc != NFQ_RS_OK) {
        print_error("nfq_rs_open", rc, NULL);
        return 1;
    }
    if ((rc = nfq_rs_set_callback(fl.q, on_packet, &fl)) != NFQ_RS_OK) {
        print_error("nfq_rs_set_callback", rc, fl.q);
        nfq_rs_close(fl.q);
        return 1;
    }

    g_queue = fl.q;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("filter: queue %u open%s%s: drop port %u, mark port %u with 0x%x, accept the rest\n", queue,
           netns ? " in " : "", netns ? netns : "", fl.drop_port, fl.mark_port, fl.mark);

    rc = nfq_rs_run(fl.q);
    int status = 0;
    if (rc != NFQ_RS_OK) {
        print_error("nfq_rs_run", rc, fl.q);
        status = 1;
    }

    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_queue = NULL;

    uint64_t cb_errors = 0, verdict_errors = 0;
    if ((rc = nfq_rs_stat(fl.q, NFQ_RS_STAT_CALLBACK_ERRORS, &cb_errors)) != NFQ_RS_OK ||
        (rc = nfq_rs_stat(fl.q, NFQ_RS_STAT_VERDICT_ERRORS, &verdict_errors)) != NFQ_RS_OK)
        print_error("nfq_rs_stat", rc, NULL);
    printf("filter: %lu packets: %lu dropped, %lu marked, %lu accepted; callback errors %llu, "
           "verdict errors %llu\n",
           fl.seen, fl.dropped, fl.marked, fl.accepted, (unsigned long long)cb_errors,
           (unsigned long long)verdict_errors);
    nfq_rs_close(fl.q);
    return status;
}
