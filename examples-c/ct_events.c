/*
 * ct_events: prints conntrack events the way `conntrack -E` does, one line per event:
 *
 *       [NEW] udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=53 [UNREPLIED] src=10.0.0.2 ...
 *    [UPDATE] tcp      6 60 SYN_RECV src=... dst=... sport=... dport=... src=... ...
 *   [DESTROY] tcp      6 src=... [ASSURED] mark=0
 *
 *   ct_events [--netns PATH] [--count N] [--expect]
 *
 *   --netns PATH listen inside the network namespace at PATH (e.g. /var/run/netns/NAME);
 *                this process stays where it is
 *   --count N    exit after N events
 *   --expect     also print expectation events (helpers such as FTP)
 *
 * Each line is built with the entry accessors (nfq_rs_ct_entry_tuple, nfq_rs_ct_tuple_*,
 * nfq_rs_ct_status, ...); nfq_rs_ct_snprintf gives the same text in one call.
 * Stop with Ctrl-C (SIGINT) or SIGTERM; the event counters are printed to stderr at exit.
 * Needs CAP_NET_ADMIN, and conntrack in use in that namespace (any rule that uses it).
 *
 * Build:    cc -std=c11 ct_events.c $(pkg-config --cflags --libs libnfq_rs) -o ct_events
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nfq_rs.h>

/* The handle the signal handler stops; set before the handlers are installed. */
static nfq_rs_ct_events *volatile g_events;

static void on_signal(int sig)
{
    (void)sig;
    nfq_rs_ct_events_stop(g_events); /* async-signal-safe */
}

static void print_error(const char *what, int rc, const nfq_rs_ct_events *ev)
{
    char detail[512];
    nfq_rs_ct_events_last_error(ev, detail, sizeof detail);
    fprintf(stderr, "ct_events: %s: %s (%d): %s\n", what, nfq_rs_strerror(rc), rc, detail);
}

static const char *tag_of(uint32_t event)
{
    switch (event) {
    case NFQ_RS_CT_EV_NEW:
    case NFQ_RS_CT_EV_EXP_NEW:
        return "[NEW]";
    case NFQ_RS_CT_EV_UPDATE:
    case NFQ_RS_CT_EV_EXP_UPDATE:
        return "[UPDATE]";
    default:
        return "[DESTROY]";
    }
}

/* " src=A dst=B sport=P dport=Q" (or the ICMP fields) */
static void print_tuple(const nfq_rs_ct_tuple *t)
{
    uint8_t addr[16];
    char text[INET6_ADDRSTRLEN];
    int fam;
    uint16_t sport, dport, id;
    uint8_t proto = 0, type, code;

    if ((fam = nfq_rs_ct_tuple_src(t, addr)) > 0)
        printf(" src=%s", inet_ntop(fam, addr, text, sizeof text));
    if ((fam = nfq_rs_ct_tuple_dst(t, addr)) > 0)
        printf(" dst=%s", inet_ntop(fam, addr, text, sizeof text));
    nfq_rs_ct_tuple_l4proto(t, &proto);
    if ((proto == 1 || proto == 58) && nfq_rs_ct_tuple_icmp(t, &type, &code, &id) == 1)
        printf(" type=%u code=%u id=%u", type, code, id);
    else if (nfq_rs_ct_tuple_ports(t, &sport, &dport) == 1)
        printf(" sport=%u dport=%u", sport, dport);
}

static void print_counters(const nfq_rs_ct_entry *ct, int dir)
{
    uint64_t packets, bytes;
    if (nfq_rs_ct_counters(ct, dir, &packets, &bytes) == 1)
        printf(" packets=%llu bytes=%llu", (unsigned long long)packets, (unsigned long long)bytes);
}

static void print_conn(uint32_t event, const nfq_rs_ct_entry *ct)
{
    const nfq_rs_ct_tuple *orig = nfq_rs_ct_entry_tuple(ct, NFQ_RS_CT_DIR_ORIG);
    const nfq_rs_ct_tuple *reply = nfq_rs_ct_entry_tuple(ct, NFQ_RS_CT_DIR_REPLY);
    uint8_t proto = 0;
    uint32_t status = 0, timeout, mark, use;
    uint16_t zone;
    int have_status = nfq_rs_ct_status(ct, &status) == 1;
    const char *state = nfq_rs_ct_proto_state_name(ct);
    char helper[64];

    nfq_rs_ct_l4proto(ct, &proto);
    printf("%9s %-8s %u", tag_of(event), nfq_rs_ct_l4proto_name(proto), proto);
    if (nfq_rs_ct_timeout(ct, &timeout) == 1)
        printf(" %u", timeout);
    if (state != NULL)
        printf(" %s", state);
    if (orig != NULL) {
        print_tuple(orig);
        print_counters(ct, NFQ_RS_CT_DIR_ORIG);
    }
    if (have_status && !(status & NFQ_RS_CT_STATUS_SEEN_REPLY))
        printf(" [UNREPLIED]");
    if (reply != NULL) {
        print_tuple(reply);
        print_counters(ct, NFQ_RS_CT_DIR_REPLY);
    }
    if (status & NFQ_RS_CT_STATUS_ASSURED)
        printf(" [ASSURED]");
    if (nfq_rs_ct_mark(ct, &mark) == 1)
        printf(" mark=%u", mark);
    if (nfq_rs_ct_zone(ct, &zone) == 1 && zone != 0)
        printf(" zone=%u", zone);
    if (nfq_rs_ct_helper_name(ct, helper, sizeof helper) > 0)
        printf(" helper=%s", helper);
    if (nfq_rs_ct_use(ct, &use) == 1)
        printf(" use=%u", use);
    putchar('\n');
}

struct state {
    unsigned long seen;
};

static int on_event(uint32_t event, const nfq_rs_ct_entry *ct, const nfq_rs_ct_exp *exp, void *user)
{
    struct state *st = user;
    char line[512];

    if (ct != NULL) {
        print_conn(event, ct);
    } else if (exp != NULL) {
        nfq_rs_ct_exp_snprintf(exp, line, sizeof line);
        printf("%9s %s\n", tag_of(event), line);
    }
    fflush(stdout);
    st->seen++;
    return 0; /* go on */
}

static void usage(void)
{
    fprintf(stderr, "usage: ct_events [--netns PATH] [--count N] [--expect]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *netns = NULL;
    unsigned long count = 0;
    uint32_t groups = NFQ_RS_CT_EV_CONNTRACK;
    struct state st = {0};
    nfq_rs_ct_events *ev = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--netns") == 0 && i + 1 < argc)
            netns = argv[++i];
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--expect") == 0)
            groups |= NFQ_RS_CT_EV_EXPECT;
        else
            usage();
    }

    rc = nfq_rs_ct_events_open(netns, groups, &ev);
    if (rc < 0) {
        print_error("subscribing to conntrack events", rc, NULL);
        return 1;
    }
    g_events = ev;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fprintf(stderr, "ct_events: listening%s%s\n", netns ? " in " : "", netns ? netns : "");
    rc = nfq_rs_ct_events_run(ev, on_event, &st, count, -1);
    if (rc < 0)
        print_error("receiving events", rc, ev);

    uint64_t received = 0, filtered = 0, overflows = 0, bad = 0;
    nfq_rs_ct_events_stat(ev, NFQ_RS_CT_EVSTAT_RECEIVED, &received);
    nfq_rs_ct_events_stat(ev, NFQ_RS_CT_EVSTAT_FILTERED, &filtered);
    nfq_rs_ct_events_stat(ev, NFQ_RS_CT_EVSTAT_OVERFLOWS, &overflows);
    nfq_rs_ct_events_stat(ev, NFQ_RS_CT_EVSTAT_PARSE_ERRORS, &bad);
    fprintf(stderr, "ct_events: %lu events (received %llu, filtered %llu, overflows %llu, malformed %llu)\n",
            st.seen, (unsigned long long)received, (unsigned long long)filtered, (unsigned long long)overflows,
            (unsigned long long)bad);
    g_events = NULL;
    nfq_rs_ct_events_close(ev);
    return rc < 0 ? 1 : 0;
}
