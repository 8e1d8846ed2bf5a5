/*
 * A plugin (think of a Python or Ruby extension module) that uses libnetfilter_queue together
 * with the libnfnetlink calls programs make around it, and is linked with ONLY
 * -lnetfilter_queue: nfnl_open, nfnl_subsys_open, nfnl_rcvbufsiz, nfnl_fd, nfnl_portid and
 * nfnl_close reach it
 * through libnetfilter_queue.so.1's own NEEDED libnfnetlink.so.0, as they do with upstream.
 * Built against the real library; tests/compat/plugin_host.c dlopens it and calls
 * nfq_plugin_run, under the real library, our libnetfilter_queue.so.1 (LD_LIBRARY_PATH and
 * LD_PRELOAD) and LD_PRELOAD=libnfq_rs.so: stdout must be the same each time. Which library
 * served each call goes to stderr as "served-by: NAME PATH".
 *
 * nfq_plugin_run(qnum, port, npkt) must run as root in a network namespace whose OUTPUT chain
 * queues UDP to 127.0.0.1:port to queue qnum (the test script sets this up).
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <libnfnetlink/libnfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define MAXPKT 16

static int seen;
static char payloads[MAXPKT][64];

static void served_by(const char *name, void *fn)
{
	Dl_info info;
	fprintf(stderr, "served-by: %s %s\n", name, dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "?");
}

/* Accepts every packet but the second (dropped) and the third (accepted with a new payload). */
static int cb(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg, struct nfq_data *nfa, void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *p = NULL;
	int len = nfq_get_payload(nfa, &p);
	int k = seen++;
	uint32_t id = ph ? ntohl(ph->packet_id) : 0;

	(void)nfmsg;
	(void)data;
	printf("pkt %d: len=%d data=%.*s\n", k, len, len > 28 ? len - 28 : 0, p && len > 28 ? (char *)p + 28 : "");
	if (k == 1)
		return nfq_set_verdict(qh, id, NF_DROP, 0, NULL) > 0 ? 0 : -1;
	if (k == 2 && p && len > 28 && len < 256) {
		unsigned char copy[256];
		memcpy(copy, p, len);
		memcpy(copy + 28, "CHANGED", len - 28 < 7 ? len - 28 : 7);
		copy[26] = copy[27] = 0; /* UDP checksum 0: none */
		return nfq_set_verdict(qh, id, NF_ACCEPT, len, copy) > 0 ? 0 : -1;
	}
	return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL) > 0 ? 0 : -1;
}

/* Runs the legacy API on a handle adopted from libnfnetlink's own nfnl_open; 0 on success. */
int nfq_plugin_run(int qnum, int port, int npkt)
{
	served_by("nfq_open_nfnl", (void *)nfq_open_nfnl);
	served_by("nfnl_open", (void *)nfnl_open);
	served_by("nfnl_fd", (void *)nfnl_fd);
	served_by("nfnl_rcvbufsiz", (void *)nfnl_rcvbufsiz);
	served_by("nfnl_close", (void *)nfnl_close);
	if (npkt > MAXPKT)
		npkt = MAXPKT;

	/* 1. a handle made by libnfnetlink, adopted by nfq_open_nfnl, read by nfnl_* */
	struct nfnl_handle *nh = nfnl_open();
	if (!nh) {
		perror("nfnl_open");
		return 1;
	}
	struct nfq_handle *h = nfq_open_nfnl(nh);
	printf("open_nfnl=%s nfnlh-same=%d\n", h ? "ok" : "NULL", h && nfq_nfnlh(h) == nh);
	if (!h)
		return 1;
	errno = 0;
	struct nfq_handle *again = nfq_open_nfnl(nh);
	printf("open_nfnl-again=%s errno=%s\n", again ? "ok" : "NULL", strerror(errno));
	printf("nfnl_fd-same=%d\n", nfnl_fd(nfq_nfnlh(h)) == nfq_fd(h) && nfq_fd(h) >= 0);
	printf("nfnl_rcvbufsiz=%d\n", nfnl_rcvbufsiz(nfq_nfnlh(h), 1 << 20) >= (1 << 20));
	printf("nfnl_portid-set=%d\n", nfnl_portid(nfq_nfnlh(h)) != 0);
	/* another subsystem on the same handle, as programs sharing one nfnl handle for queue and
	 * conntrack do: only libnfnetlink's own nfnl_close (called by nfq_close) frees it */
	struct nfnl_subsys_handle *ct = nfnl_subsys_open(nh, NFNL_SUBSYS_CTNETLINK, 1, 0);
	printf("subsys_open=%s\n", ct ? "ok" : "NULL");

	struct nfq_q_handle *qh = nfq_create_queue(h, qnum, cb, NULL);
	printf("create=%s\n", qh ? "ok" : "NULL");
	if (!qh)
		return 1;
	printf("set_mode=%d\n", nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff));

	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("udp socket");
		return 1;
	}
	for (int i = 0; i < npkt; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof msg, "plugin-%d", i);
		if (sendto(tx, msg, n, 0, (struct sockaddr *)&a, sizeof a) != n)
			perror("sendto");
	}
	/* bounded: at most 100 polls of 50 ms */
	int fd = nfnl_fd(nfq_nfnlh(h));
	char buf[65536] __attribute__((aligned));
	for (int i = 0; i < 100 && seen < npkt; i++) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, 50) <= 0)
			continue;
		int n = recv(fd, buf, sizeof buf, 0);
		if (n > 0 && nfq_handle_packet(h, buf, n) != 0)
			printf("handle_packet failed\n");
	}
	printf("seen=%d\n", seen);
	int got = 0;
	struct pollfd pr = { .fd = rx, .events = POLLIN };
	while (got < npkt && poll(&pr, 1, 300) > 0) {
		int n = recv(rx, payloads[got], sizeof payloads[got] - 1, 0);
		if (n <= 0)
			break;
		payloads[got][n] = 0;
		printf("received: %s\n", payloads[got]);
		got++;
	}
	close(rx);
	close(tx);
	printf("destroy=%d\n", nfq_destroy_queue(qh));
	/* as upstream, nfq_close releases the adopted handle with nfnl_close */
	printf("close=%d\n", nfq_close(h));

	/* 2. our own handle read by the nfnl_* calls */
	struct nfq_handle *o = nfq_open();
	printf("open=%s\n", o ? "ok" : "NULL");
	if (!o)
		return 1;
	printf("own nfnl_fd-same=%d nfnl_rcvbufsiz=%d\n", nfnl_fd(nfq_nfnlh(o)) == nfq_fd(o),
	       nfnl_rcvbufsiz(nfq_nfnlh(o), 1 << 20) >= (1 << 20));
	printf("own close=%d\n", nfq_close(o));

	/* 3. libnfnetlink alone */
	struct nfnl_handle *n2 = nfnl_open();
	printf("nfnl_open=%s nfnl_close=%d\n", n2 ? "ok" : "NULL", n2 ? nfnl_close(n2) : -1);
	fflush(stdout);
	return seen == npkt && got == npkt - 1 ? 0 : 1;
}
