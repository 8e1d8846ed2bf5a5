/*
 * nflog_print: prints one line per packet logged to an NFLOG group.
 *
 *   nflog_print [--count N] [GROUP]
 *
 *   GROUP        NFLOG group (default 0)
 *   --count N    exit after N log messages
 *
 * Try it:   iptables -A INPUT -p tcp --syn -j NFLOG --nflog-group 5 --nflog-prefix new-tcp
 *           ./nflog_print 5
 *   new-tcp: in=eth0 out=- 192.0.2.7:51514 -> 192.0.2.1:22 tcp mark=- uid=- len=60
 *
 * Interface names are looked up in the namespace the program runs in: to watch a network
 * namespace, run it there (`ip netns exec NAME ./nflog_print 5`). Stop with Ctrl-C (SIGINT)
 * or SIGTERM; the counters are printed at exit.
 *
 * Build:    cc -std=c11 nflog_print.c $(pkg-config --cflags --libs libnfq_rs) -o nflog_print
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nfq_rs.h>

struct state {
    nfq_rs_log *log;
    unsigned long seen;
    unsigned long limit; /* 0: no limit */
};

/* The handle the signal handler stops; set before the handlers are installed. */
static nfq_rs_log *volatile g_log;

static void on_signal(int sig)
{
    (void)sig;
    nfq_rs_log_stop(g_log); /* async-signal-safe */
}

/* The interface name of an optional index attribute, or "-". */
static const char *ifname(int present, uint32_t index, char buf[IF_NAMESIZE])
{
    if (present != 1) return "-";
    if (!if_indextoname(index, buf)) snprintf(buf, IF_NAMESIZE, "#%u", index);
    return buf;
}

/* "addr:port -> addr:port proto" from the packet's network header (ports for TCP/UDP). */
static void describe(const uint8_t *p, size_t len, char *out, size_t cap)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    const uint8_t *l4;
    size_t l4len;
    uint8_t proto;
    int af;
    if (len >= 20 && p[0] >> 4 == 4 && (size_t)(p[0] & 15) * 4 >= 20 && (size_t)(p[0] & 15) * 4 <= len) {
        af = AF_INET;
        inet_ntop(AF_INET, p + 12, src, sizeof src);
        inet_ntop(AF_INET, p + 16, dst, sizeof dst);
        proto = p[9];
        l4 = p + (p[0] & 15) * 4;
        l4len = len - (size_t)(p[0] & 15) * 4;
    } else if (len >= 40 && p[0] >> 4 == 6) {
        af = AF_INET6;
        inet_ntop(AF_INET6, p + 8, src, sizeof src);
        inet_ntop(AF_INET6, p + 24, dst, sizeof dst);
        proto = p[6]; /* extension headers are not walked: shown as their own protocol */
        l4 = p + 40;
        l4len = len - 40;
    } else {
        snprintf(out, cap, "(not IP, %zu bytes)", len);
        return;
    }
    const char *name = proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 1 ? "icmp" : proto == 58 ? "icmpv6" : NULL;
    char pname[16];
    if (!name) {
        snprintf(pname, sizeof pname, "proto=%u", proto);
        name = pname;
    }
    const char *fmt = af == AF_INET6 ? "[%s]:%u -> [%s]:%u %s" : "%s:%u -> %s:%u %s";
    if ((proto == 6 || proto == 17) && l4len >= 4)
        snprintf(out, cap, fmt, src, (unsigned)(l4[0] << 8 | l4[1]), dst, (unsigned)(l4[2] << 8 | l4[3]), name);
    else
        snprintf(out, cap, "%s -> %s %s", src, dst, name);
}

static int on_log(const nfq_rs_log_packet *pkt, void *user)
{
    struct state *st = user;
    const char *prefix = "";
    const uint8_t *data = NULL;
    size_t len = 0, plen = 0;
    uint32_t in = 0, out = 0, v = 0;
    char inb[IF_NAMESIZE], outb[IF_NAMESIZE], what[160] = "(no payload: copy mode meta)";
    char mark[16] = "-", uid[16] = "-";

    if (nfq_rs_log_packet_prefix(pkt, &prefix, &plen) != 1) prefix = "";
    int has_in = nfq_rs_log_packet_indev(pkt, &in);
    int has_out = nfq_rs_log_packet_outdev(pkt, &out);
    if (nfq_rs_log_packet_payload(pkt, &data, &len) == 1) describe(data, len, what, sizeof what);
    if (nfq_rs_log_packet_mark(pkt, &v) == 1) snprintf(mark, sizeof mark, "0x%x", v);
    if (nfq_rs_log_packet_uid(pkt, &v) == 1) snprintf(uid, sizeof uid, "%u", v);

    printf("%s: in=%s out=%s %s mark=%s uid=%s len=%zu\n", *prefix ? prefix : "(no prefix)",
           ifname(has_in, in, inb), ifname(has_out, out, outb), what, mark, uid, len);

    st->seen++;
    if (st->limit && st->seen >= st->limit) nfq_rs_log_stop(st->log);
    return 0;
}

static void print_error(const char *what, int rc, const nfq_rs_log *log)
{
    char detail[512];
    nfq_rs_log_last_error(log, detail, sizeof detail);
    fprintf(stderr, "nflog_print: %s: %s (%d): %s\n", what, nfq_rs_strerror(rc), rc, detail);
}

static int usage(void)
{
    fprintf(stderr, "usage: nflog_print [--count N] [GROUP]\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned long limit = 0, group = 0;
    char *end;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            errno = 0;
            limit = strtoul(argv[++i], &end, 10);
            if (errno || *end || limit == 0) return usage();
        } else if (argv[i][0] != '-') {
            errno = 0;
            group = strtoul(argv[i], &end, 10);
            if (errno || *end || group > 65535) return usage();
        } else {
            return usage();
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    nfq_rs_log_config *cfg = nfq_rs_log_config_new((uint16_t)group);
    if (!cfg) {
        fprintf(stderr, "nflog_print: nfq_rs_log_config_new: out of memory\n");
        return 1;
    }
    /* Headers are enough for one line; the kernel sends a datagram every 100 messages or
     * after 0.1 s, whichever comes first. */
    nfq_rs_log_config_set_copy_mode(cfg, NFQ_RS_COPY_PACKET, 128);
    nfq_rs_log_config_set_timeout(cfg, 10);

    struct state st = {NULL, 0, limit};
    int rc = nfq_rs_log_open(cfg, on_log, &st, &st.log);
    nfq_rs_log_config_free(cfg);
    if (rc < 0) {
        print_error("opening group", rc, NULL);
        return 1;
    }
    g_log = st.log;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("nflog_print: listening on NFLOG group %lu\n", group);
    rc = nfq_rs_log_run(st.log);
    if (rc < 0) print_error("nfq_rs_log_run", rc, st.log);

    uint64_t msgs = 0, dgrams = 0, cberr = 0, enobufs = 0, drops = 0;
    nfq_rs_log_stat(st.log, NFQ_RS_LOG_STAT_PACKETS_RECEIVED, &msgs);
    nfq_rs_log_stat(st.log, NFQ_RS_LOG_STAT_DATAGRAMS, &dgrams);
    nfq_rs_log_stat(st.log, NFQ_RS_LOG_STAT_CALLBACK_ERRORS, &cberr);
    nfq_rs_log_stat(st.log, NFQ_RS_LOG_STAT_ENOBUFS, &enobufs);
    nfq_rs_log_kernel_drops(st.log, &drops);
    printf("nflog_print: %llu messages in %llu datagrams, callback errors %llu, overflows %llu, kernel drops %llu\n",
           (unsigned long long)msgs, (unsigned long long)dgrams, (unsigned long long)cberr,
           (unsigned long long)enobufs, (unsigned long long)drops);
    g_log = NULL;
    nfq_rs_log_close(st.log);
    return rc < 0;
}
