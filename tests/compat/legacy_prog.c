/*
 * Exercises every call of libnetfilter_queue's legacy API on a live queue and prints
 * deterministic results. Built once against the real library; run with the real library,
 * with LD_PRELOAD=libnfq_rs.so and with our libnetfilter_queue.so.1 on LD_LIBRARY_PATH:
 * the three outputs must be identical. Which library served nfq_open goes to stderr.
 *
 * Must run as root inside a network namespace whose OUTPUT chain queues UDP to 127.0.0.1
 * ports 40000-40009 to queue 7 (the test script sets this up).
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
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define QNUM 7
#define NPKT 8

static int rx_fd;
static struct nlif_handle *nlif;
static int seen;
static uint32_t ids[NPKT];

static int send_udp(int port, const char *msg)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int r = sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a);
	close(s);
	return r;
}

static int cb(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg, struct nfq_data *nfa, void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload = NULL, *sec = NULL;
	struct timeval tv = { 0, 0 };
	uint32_t uid = 12345, gid = 12345;
	char xml[4096], name[64];
	uint32_t id = ntohl(ph->packet_id);
	int plen = nfq_get_payload(nfa, &payload);
	int k = seen++;

	(void)data;
	ids[k] = id;
	printf("pkt %d: family=%u res_id=%u id=%u hw=0x%04x hook=%u\n", k, nfmsg->nfgen_family,
	       ntohs(nfmsg->res_id), id, ntohs(ph->hw_protocol), ph->hook);
	printf("  mark=%u indev=%u outdev=%u physin=%u physout=%u skbinfo=%u\n", nfq_get_nfmark(nfa),
	       nfq_get_indev(nfa), nfq_get_outdev(nfa) != 0, nfq_get_physindev(nfa), nfq_get_physoutdev(nfa),
	       nfq_get_skbinfo(nfa));
	printf("  ts=%d hw=%s uid=%d:%u gid=%d:%u secctx=%d\n", nfq_get_timestamp(nfa, &tv),
	       nfq_get_packet_hw(nfa) ? "yes" : "no", nfq_get_uid(nfa, &uid), uid, nfq_get_gid(nfa, &gid),
	       gid, nfq_get_secctx(nfa, &sec));
	printf("  payload=%d udp-data=%.*s\n", plen, plen > 28 ? plen - 28 : 0, payload ? (char *)payload + 28 : "");
	name[0] = 0;
	printf("  indev_name=%d:%s", nfq_get_indev_name(nlif, nfa, name), name);
	name[0] = 0;
	printf(" outdev_name=%d:%s\n", nfq_get_outdev_name(nlif, nfa, name), name);
	int xl = nfq_snprintf_xml(xml, sizeof xml, nfa, NFQ_XML_HW | NFQ_XML_MARK | NFQ_XML_PHYSDEV | NFQ_XML_UID | NFQ_XML_GID);
	printf("  xml=%d %s\n", xl, xml);
	xl = nfq_snprintf_xml(xml, 20, nfa, NFQ_XML_ALL & ~NFQ_XML_TIME);
	printf("  xml-short=%d %s\n", xl, xml);

	int r;
	switch (k) {
	case 0:
		r = nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
		break;
	case 1:
		r = nfq_set_verdict2(qh, id, NF_ACCEPT, 0x2a, 0, NULL);
		break;
	case 2: {
		/* replace the UDP payload with one of the same length; UDP checksum 0 = none */
		unsigned char copy[256];
		memcpy(copy, payload, plen);
		memcpy(copy + 28, "REWRITE", 7);
		copy[26] = copy[27] = 0;
		r = nfq_set_verdict(qh, id, NF_ACCEPT, plen, copy);
		break;
	}
	case 3:
		r = nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
		break;
	case 4:
		r = nfq_set_verdict_mark(qh, id, NF_ACCEPT, htonl(0x99), 0, NULL);
		break;
	default:
		r = 0; /* 5..7: left for the batch verdict */
		break;
	}
	printf("  verdict ret=%d\n", r);
	return 0;
}

static void pump(struct nfq_handle *h, int want)
{
	char buf[65536] __attribute__((aligned));
	int fd = nfq_fd(h);
	for (int i = 0; i < 100 && seen < want; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		int n = recv(fd, buf, sizeof buf, 0);
		if (n > 0)
			printf("handle_packet=%d\n", nfq_handle_packet(h, buf, n));
	}
}

static void read_error(struct nfq_handle *h)
{
	char buf[8192];
	struct pollfd p = { .fd = nfq_fd(h), .events = POLLIN };
	if (poll(&p, 1, 1000) > 0) {
		int n = recv(nfq_fd(h), buf, sizeof buf, 0);
		printf("error-message-len=%d handle_packet=%d\n", n, nfq_handle_packet(h, buf, n));
	} else {
		printf("no error message\n");
	}
}

static void drain_rx(void)
{
	char b[256];
	int n;
	struct pollfd p = { .fd = rx_fd, .events = POLLIN };
	while (poll(&p, 1, 300) > 0 && (n = recv(rx_fd, b, sizeof b - 1, 0)) > 0) {
		b[n] = 0;
		printf("received: %s\n", b);
	}
}

int main(void)
{
	Dl_info info;
	if (dladdr((void *)nfq_open, &info) && info.dli_fname)
		fprintf(stderr, "served-by: %s\n", info.dli_fname);

	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(40000) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(rx_fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("bind");
		return 1;
	}

	/* the real library needs libnfnetlink's interface cache for the *_name getters */
	nlif = nlif_open();
	if (!nlif || nlif_query(nlif) < 0) {
		perror("nlif_open");
		return 1;
	}
	struct nfq_handle *h = nfq_open();
	printf("open=%s nfq_errno=%d\n", h ? "ok" : "NULL", nfq_errno);
	if (!h)
		return 1;
	printf("fd-consistent=%d\n", nfq_fd(h) == nfnl_fd(nfq_nfnlh(h)));
	printf("rcvbufsiz=%d\n", nfnl_rcvbufsiz(nfq_nfnlh(h), 1 << 20) >= (1 << 20));
	printf("unbind_pf=%d bind_pf=%d\n", nfq_unbind_pf(h, AF_INET), nfq_bind_pf(h, AF_INET));

	struct nfq_q_handle *qh = nfq_create_queue(h, QNUM, cb, NULL);
	printf("create=%s\n", qh ? "ok" : "NULL");
	errno = 0;
	struct nfq_q_handle *dup = nfq_create_queue(h, QNUM, cb, NULL);
	printf("create-dup=%s errno=%d\n", dup ? "ok" : "NULL", errno);
	struct nfq_handle *h2 = nfq_open();
	errno = 0;
	struct nfq_q_handle *other = nfq_create_queue(h2, QNUM, cb, NULL);
	printf("create-other-socket=%s errno=%s nfq_errno=%d\n", other ? "ok" : "NULL", strerror(errno), nfq_errno);
	printf("close-other=%d\n", nfq_close(h2));

	printf("set_mode=%d\n", nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff));
	printf("set_maxlen=%d\n", nfq_set_queue_maxlen(qh, 100));
	printf("set_flags_gso=%d\n", nfq_set_queue_flags(qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO));
	printf("set_flags_uidgid=%d\n", nfq_set_queue_flags(qh, NFQA_CFG_F_UID_GID, NFQA_CFG_F_UID_GID));
	errno = 0;
	int r = nfq_set_queue_flags(qh, NFQA_CFG_F_CONNTRACK, NFQA_CFG_F_CONNTRACK);
	printf("set_flags_conntrack=%d errno=%s\n", r, strerror(errno));

	char msg[32];
	for (int i = 0; i < NPKT; i++) {
		snprintf(msg, sizeof msg, "payload-%d", i);
		send_udp(40000, msg);
	}
	pump(h, NPKT);
	printf("seen=%d\n", seen);
	printf("batch=%d\n", nfq_set_verdict_batch2(qh, ids[NPKT - 1], NF_ACCEPT, 0x7));
	/* a verdict for an id that is gone: the kernel answers ENOENT later */
	printf("stale-verdict=%d\n", nfq_set_verdict(qh, ids[0], NF_ACCEPT, 0, NULL));
	read_error(h);
	printf("batch-none=%d\n", nfq_set_verdict_batch(qh, ids[NPKT - 1], NF_ACCEPT));
	/* Read the kernel's ENOENT for that now: libnetfilter_queue would take a stale error still
	 * in the socket as the answer to the next config call (see docs/compat-differences.md). */
	read_error(h);
	drain_rx();

	printf("destroy=%d\n", nfq_destroy_queue(qh));
	printf("close=%d\n", nfq_close(h));

	/* adopting a handle made by libnfnetlink's own nfnl_open(), as Python bindings do */
	struct nfnl_handle *nh = nfnl_open();
	struct nfq_handle *h3 = nfq_open_nfnl(nh);
	printf("open_nfnl=%s same-fd=%d\n", h3 ? "ok" : "NULL", h3 && nfq_fd(h3) == nfnl_fd(nh));
	errno = 0;
	struct nfq_handle *h4 = nfq_open_nfnl(nh);
	printf("open_nfnl-again=%s errno=%s\n", h4 ? "ok" : "NULL", strerror(errno));
	struct nfq_q_handle *q3 = nfq_create_queue(h3, QNUM + 1, cb, NULL);
	printf("create-on-nfnl=%s mode=%d\n", q3 ? "ok" : "NULL", nfq_set_mode(q3, NFQNL_COPY_META, 0));
	printf("destroy-on-nfnl=%d\n", nfq_destroy_queue(q3));
	printf("close-nfnl=%d\n", nfq_close(h3));
	nlif_close(nlif);
	return 0;
}
