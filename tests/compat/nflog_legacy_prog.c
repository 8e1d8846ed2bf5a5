/*
 * Exercises every call of libnetfilter_log's handle API on live NFLOG groups and prints
 * deterministic results. Built once against the real library; run with the real library,
 * with LD_PRELOAD=libnfq_rs.so, with our libnetfilter_log.so.1 on LD_LIBRARY_PATH, and rebuilt
 * against our compat headers: the outputs must be identical. Which library served nflog_open
 * goes to stderr ("served-by: ...").
 *
 * Must run as root inside a network namespace set up by scripts/test-compat.sh:
 *   OUTPUT udp dport 40100 -> NFLOG group 31, prefix "lc-one",   threshold 1
 *   OUTPUT udp dport 40101 -> NFLOG group 31, prefix "lc-batch", threshold 4
 *   OUTPUT udp dport 40102 -> MARK 42, then NFLOG group 32, prefix "lc-mark", threshold 1
 *   OUTPUT icmp echo-request/echo-reply -> NFLOG group 33, prefix "ping-out", threshold 1
 *   INPUT  icmp echo-request/echo-reply -> NFLOG group 33, prefix "ping-in",  threshold 1
 *   ip6tables OUTPUT udp dport 40103    -> NFLOG group 31, prefix "lc-v6",    threshold 1
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <linux/netlink.h>
#include <libnetfilter_log/libnetfilter_log.h>

/* The one libnfnetlink call programs make on nflog_nfnlh(), and the adoption path. */
struct nfnl_handle *nfnl_open(void);
int nfnl_close(struct nfnl_handle *h);
int nfnl_fd(struct nfnl_handle *h);
unsigned int nfnl_rcvbufsiz(const struct nfnl_handle *h, unsigned int size);
/* Exported by libnetfilter_log 1.0.2, but missing from its header. */
int nflog_get_ctid(struct nflog_data *nfad, uint32_t *id);

static int cb_calls, cb_stop_at = -1, in_config;

static const char *ename(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOENT: return "ENOENT";
	case ERANGE: return "ERANGE";
	default: return "other";
	}
}

static void send_udp(int port, const char *msg)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a) < 0)
		perror("sendto");
	close(s);
}

static void send_udp6(int port, const char *msg)
{
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	if (s < 0 || sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a) < 0)
		perror("sendto6");
	close(s);
}

static void send_ping(void)
{
	int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	unsigned char pkt[16] = { ICMP_ECHO, 0, 0, 0, 0x12, 0x34, 0, 1, 'n', 'f', 'l', 'o', 'g', 0, 0, 0 };
	uint32_t sum = 0;
	for (int i = 0; i < 16; i += 2)
		sum += (pkt[i] << 8) | pkt[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	pkt[2] = sum >> 8;
	pkt[3] = sum & 0xff;
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&a, sizeof a) < 0)
		perror("ping");
	close(s);
}

static int cb(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfa, void *data)
{
	struct nfulnl_msg_packet_hdr *ph = nflog_get_msg_packet_hdr(nfa);
	struct nfulnl_msg_packet_hw *hw = nflog_get_packet_hw(nfa);
	struct timeval tv = { 0, 0 };
	char *payload = NULL, *prefix = nflog_get_prefix(nfa), *hwhdr = nflog_get_msg_packet_hwhdr(nfa);
	char xml[4096];
	uint32_t v;
	int k = cb_calls++;

	(void)gh;
	printf("  msg %d [%s%s]: family=%u group=%u hook=%u proto=0x%04x prefix=%s\n", k, (const char *)data,
	       in_config ? ", inside a config call" : "", nfmsg->nfgen_family, ntohs(nfmsg->res_id),
	       ph ? ph->hook : 99, ph ? ntohs(ph->hw_protocol) : 0, prefix ? prefix : "(none)");
	printf("    mark=%u indev=%u outdev=%u physin=%u physout=%u hwtype=%u hwhdrlen=%u hwhdr=%s\n",
	       nflog_get_nfmark(nfa), nflog_get_indev(nfa), nflog_get_outdev(nfa), nflog_get_physindev(nfa),
	       nflog_get_physoutdev(nfa), nflog_get_hwtype(nfa), nflog_get_msg_packet_hwhdrlen(nfa),
	       hwhdr ? "yes" : "no");
	if (hw) {
		printf("    hwaddr len=%u:", ntohs(hw->hw_addrlen));
		for (int i = 0; i < ntohs(hw->hw_addrlen) && i < 8; i++)
			printf("%02x", hw->hw_addr[i]);
		printf("\n");
	}
	v = 777;
	printf("    timestamp=%d", nflog_get_timestamp(nfa, &tv));
	int r = nflog_get_uid(nfa, &v);
	printf(" uid=%d/%u", r, r == 0 ? v : 777);
	v = 777;
	r = nflog_get_gid(nfa, &v);
	printf(" gid=%d/%u", r, r == 0 ? v : 777);
	v = 777;
	r = nflog_get_seq(nfa, &v);
	printf(" seq=%d/%u", r, v);
	v = 777;
	r = nflog_get_seq_global(nfa, &v);
	printf(" seq_global=%d/%u", r, v);
	v = 777;
	r = nflog_get_ctid(nfa, &v);
	printf(" ctid=%d\n", r);
	int plen = nflog_get_payload(nfa, &payload);
	printf("    payload=%d", plen);
	if (plen >= 20 && (payload[0] >> 4) == 4) {
		struct iphdr *ip = (struct iphdr *)payload;
		int ihl = ip->ihl * 4;
		printf(" proto=%u", ip->protocol);
		if (ip->protocol == IPPROTO_UDP && plen >= ihl + 8)
			printf(" dport=%u data=%.*s", ntohs(*(uint16_t *)(payload + ihl + 2)), plen - ihl - 8,
			       payload + ihl + 8);
		if (ip->protocol == IPPROTO_ICMP && plen >= ihl + 8)
			printf(" icmp-type=%u", (unsigned char)payload[ihl]);
	} else if (plen < 20) {
		printf(" ptr=%s", payload ? "set" : "NULL");
	}
	if (plen >= 48 && (payload[0] >> 4) == 6 && payload[6] == IPPROTO_UDP)
		printf(" v6 dport=%u data=%.*s", ntohs(*(uint16_t *)(payload + 42)), plen - 48, payload + 48);
	printf("\n");
	r = nflog_snprintf_xml(xml, sizeof xml, nfa, NFLOG_XML_ALL & ~(NFLOG_XML_TIME | NFLOG_XML_PAYLOAD));
	printf("    xml=%d %s\n", r, xml);
	r = nflog_snprintf_xml(xml, 20, nfa, NFLOG_XML_PREFIX | NFLOG_XML_HW);
	printf("    xml20=%d %s\n", r, xml);
	if (in_config)
		return 1;
	return k == cb_stop_at ? -1 : 0;
}

/* Counts the log messages and NLMSG_DONE in a datagram, as received. */
static void describe(const char *buf, int len)
{
	int logs = 0, done = 0, other = 0;
	const struct nlmsghdr *n = (const void *)buf;
	int rest = len;
	while (NLMSG_OK(n, rest)) {
		if (n->nlmsg_type == NLMSG_DONE)
			done++;
		else if (n->nlmsg_type == 0x400)
			logs++;
		else
			other++;
		n = NLMSG_NEXT(n, rest);
	}
	printf(" datagram: %d log message(s), %d NLMSG_DONE, %d other\n", logs, done, other);
}

/* Receives and handles datagrams until `want` callbacks ran (or 3 s passed). */
static void receive(struct nflog_handle *h, int want, const char *what)
{
	static char buf[262144];
	int fd = nflog_fd(h), start = cb_calls;
	printf("%s:\n", what);
	for (int i = 0; i < 20 && cb_calls - start < want; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 3000) <= 0)
			break;
		int n = recv(fd, buf, sizeof buf, 0);
		if (n < 0) {
			printf(" recv: %s\n", ename(errno));
			break;
		}
		describe(buf, n);
		errno = 0;
		int r = nflog_handle_packet(h, buf, n);
		printf(" handle_packet=%d errno=%s\n", r, ename(errno));
	}
	printf(" callbacks: %d of %d\n", cb_calls - start, want);
}

static void nothing_pending(struct nflog_handle *h, const char *what)
{
	struct pollfd p = { .fd = nflog_fd(h), .events = POLLIN };
	printf("%s: %s\n", what, poll(&p, 1, 300) == 0 ? "nothing received" : "SOMETHING RECEIVED");
}

#define SHOW(expr) do { errno = 0; int r_ = (expr); printf("%s = %d errno=%s\n", #expr, r_, ename(r_ < 0 ? errno : 0)); } while (0)

int main(void)
{
	Dl_info info;
	if (dladdr((void *)nflog_open, &info) && info.dli_fname)
		fprintf(stderr, "served-by: %s\n", info.dli_fname);
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct nflog_handle *h = nflog_open();
	printf("open: %s\n", h ? "ok" : "NULL");
	if (!h)
		return 1;
	printf("fd matches nfnl_fd(nflog_nfnlh): %d\n", nflog_fd(h) == nfnl_fd(nflog_nfnlh(h)));
	SHOW(nflog_unbind_pf(h, AF_INET));
	SHOW(nflog_bind_pf(h, AF_INET));

	struct nflog_g_handle *g31 = nflog_bind_group(h, 31), *g32 = nflog_bind_group(h, 32),
			      *g33 = nflog_bind_group(h, 33);
	printf("bind 31/32/33: %d %d %d\n", g31 != NULL, g32 != NULL, g33 != NULL);
	if (!g31 || !g32 || !g33)
		return 1;
	errno = 0;
	struct nflog_g_handle *dup = nflog_bind_group(h, 31);
	printf("bind 31 again: %s errno=%s\n", dup ? "handle" : "NULL", ename(errno));
	struct nflog_handle *h2 = nflog_open();
	errno = 0;
	dup = nflog_bind_group(h2, 31);
	printf("bind 31 from a second handle: %s errno=%s\n", dup ? "handle" : "NULL", ename(errno));
	SHOW(nflog_close(h2));

	SHOW(nflog_set_mode(g31, NFULNL_COPY_PACKET, 0xffff));
	SHOW(nflog_set_mode(g32, NFULNL_COPY_META, 0));
	SHOW(nflog_set_mode(g33, NFULNL_COPY_PACKET, 64));
	SHOW(nflog_set_mode(g33, 7, 64));
	SHOW(nflog_set_timeout(g31, 50));
	SHOW(nflog_set_qthresh(g31, 4));
	SHOW(nflog_set_nlbufsiz(g31, 65536));
	int rb = 0;
	socklen_t rbl = sizeof rb;
	getsockopt(nflog_fd(h), SOL_SOCKET, SO_RCVBUF, &rb, &rbl);
	printf("receive buffer after nflog_set_nlbufsiz(65536): %d\n", rb);
	printf("nfnl_rcvbufsiz(nflog_nfnlh(h), 300000) = %u\n", nfnl_rcvbufsiz(nflog_nfnlh(h), 300000));
	SHOW(nflog_set_flags(g31, NFULNL_CFG_F_SEQ | NFULNL_CFG_F_SEQ_GLOBAL));
	SHOW(nflog_set_flags(g32, NFULNL_CFG_F_CONNTRACK));
	SHOW(nflog_set_flags(g32, 0));
	SHOW(nflog_callback_register(g31, cb, "g31"));
	SHOW(nflog_callback_register(g32, cb, "g32"));
	SHOW(nflog_callback_register(g33, cb, "g33"));
	errno = 0;
	printf("handle_packet(len -1) = %d errno=%s\n", nflog_handle_packet(h, (char *)"", -1), ename(errno));

	send_udp(40100, "one");
	receive(h, 1, "one message (threshold 1)");
	for (int i = 0; i < 4; i++) {
		char m[16];
		snprintf(m, sizeof m, "batch-%d", i);
		send_udp(40101, m);
	}
	receive(h, 4, "four messages (threshold 4, one datagram ending with NLMSG_DONE)");
	send_udp(40101, "late-0");
	send_udp(40101, "late-1");
	receive(h, 2, "two messages flushed by the 0.5 s timeout");
	cb_stop_at = cb_calls + 1;
	for (int i = 0; i < 4; i++) {
		char m[16];
		snprintf(m, sizeof m, "stop-%d", i);
		send_udp(40101, m);
	}
	receive(h, 2, "a callback returning -1 on the second of four messages");
	cb_stop_at = -1;
	nothing_pending(h, "after the -1");
	send_udp6(40103, "over-ipv6");
	receive(h, 1, "IPv6 (group 31)");
	send_udp(40102, "marked");
	receive(h, 1, "group 32: marked, copy mode meta");
	send_ping();
	receive(h, 4, "group 33: ping out, in, reply out, reply in (copy range 64)");

	send_udp(40100, "during-config");
	usleep(100000);
	in_config = 1;
	SHOW(nflog_set_timeout(g31, 100));
	in_config = 0;
	printf("callbacks so far: %d\n", cb_calls);

	SHOW(nflog_unbind_group(g32));
	send_udp(40102, "unbound");
	nothing_pending(h, "group 32 after unbinding");
	SHOW(nflog_unbind_group(g33));
	SHOW(nflog_close(h));

	/* A handle made from the caller's own libnfnetlink handle. */
	struct nfnl_handle *nh = nfnl_open();
	struct nflog_handle *h3 = nh ? nflog_open_nfnl(nh) : NULL;
	printf("open_nfnl: %s\n", h3 ? "ok" : "NULL");
	if (!h3)
		return 1;
	errno = 0;
	struct nflog_handle *h4 = nflog_open_nfnl(nh);
	printf("open_nfnl again on the same nfnl handle: %s errno=%s\n", h4 ? "handle" : "NULL", ename(errno));
	printf("nflog_nfnlh is the caller's: %d\n", nflog_nfnlh(h3) == nh);
	struct nflog_g_handle *g = nflog_bind_group(h3, 31);
	printf("bind 31 on it: %s\n", g ? "ok" : "NULL");
	SHOW(nflog_set_mode(g, NFULNL_COPY_PACKET, 0xffff));
	SHOW(nflog_callback_register(g, cb, "nfnl"));
	send_udp(40100, "adopted");
	receive(h3, 1, "one message on the adopted handle");
	SHOW(nflog_close(h3));
	printf("done: %d callbacks\n", cb_calls);
	return 0;
}
