/*
 * A libmnl-based NFLOG consumer in the style of libnetfilter_log's utils/nf-log.c: the
 * socket is libmnl's, the messages are built with nflog_nlmsg_put_header and
 * nflog_attr_put_cfg_*, received log messages go through mnl_cb_run, nflog_nlmsg_parse and
 * nflog_nlmsg_snprintf. Built once against the real library; run with it, with
 * LD_PRELOAD=libnfq_rs.so, with our libnetfilter_log.so.1 on LD_LIBRARY_PATH, and rebuilt
 * against our compat headers: the outputs must be identical. Runs in the namespace that
 * scripts/test-compat.sh sets up for nflog_legacy_prog.c (group 31: UDP 40100 threshold 1,
 * 40101 threshold 4, IPv6 UDP 40103 threshold 1).
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
#include <libmnl/libmnl.h>
#include <libnetfilter_log/libnetfilter_log.h>

static struct mnl_socket *nl;
static unsigned portid, seq = 100;
static int logs;

static void send_udp(int family, int port, const char *msg)
{
	int s = socket(family, SOCK_DGRAM, 0);
	int r;
	if (family == AF_INET) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a);
	} else {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		r = sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a);
	}
	if (r < 0)
		perror("sendto");
	close(s);
}

/* Sends a config message with NLM_F_ACK and prints the kernel's answer. */
static void config(const char *what, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		perror("mnl_socket_sendto");
		exit(1);
	}
	int n = mnl_socket_recvfrom(nl, buf, sizeof buf);
	errno = 0;
	int r = n < 0 ? -1 : mnl_cb_run(buf, n, seq, portid, NULL, NULL);
	printf("%s: %d errno=%d\n", what, r, r < 0 ? errno : 0);
}

static int log_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFULA_MAX + 1];
	char xml[4096];
	(void)data;
	memset(attr, 0, sizeof attr);
	errno = 0;
	int r = nflog_nlmsg_parse(nlh, attr);
	printf("  log %d: flags=0x%x parse=%d errno=%d present:", logs++, nlh->nlmsg_flags, r, errno);
	for (int i = 0; i <= 19; i++)
		if (attr[i])
			printf(" %d", i);
	printf("\n");
	if (attr[NFULA_PREFIX])
		printf("    prefix=%s\n", mnl_attr_get_str(attr[NFULA_PREFIX]));
	if (attr[NFULA_PAYLOAD])
		printf("    payload=%u bytes\n", mnl_attr_get_payload_len(attr[NFULA_PAYLOAD]));
	r = nflog_nlmsg_snprintf(xml, sizeof xml, nlh, attr, NFLOG_OUTPUT_XML,
				 NFLOG_XML_ALL & ~(NFLOG_XML_TIME | NFLOG_XML_PAYLOAD));
	printf("    xml=%d %s\n", r, xml);
	r = nflog_nlmsg_snprintf(xml, 16, nlh, attr, NFLOG_OUTPUT_XML, NFLOG_XML_PREFIX);
	printf("    xml16=%d %s\n", r, xml);
	return MNL_CB_OK;
}

static void receive(int want, const char *what)
{
	static char buf[262144];
	int start = logs;
	printf("%s:\n", what);
	for (int i = 0; i < 20 && logs - start < want; i++) {
		struct pollfd p = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		if (poll(&p, 1, 3000) <= 0)
			break;
		int n = mnl_socket_recvfrom(nl, buf, sizeof buf);
		if (n < 0) {
			perror("recv");
			break;
		}
		errno = 0;
		int r = mnl_cb_run(buf, n, 0, portid, log_cb, NULL);
		printf(" mnl_cb_run=%d\n", r);
	}
	printf(" log messages: %d of %d\n", logs - start, want);
}

int main(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	Dl_info info;
	if (dladdr((void *)nflog_nlmsg_parse, &info) && info.dli_fname)
		fprintf(stderr, "served-by: %s\n", info.dli_fname);
	setvbuf(stdout, NULL, _IOLBF, 0);

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("mnl socket");
		return 1;
	}
	portid = mnl_socket_get_portid(nl);

	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_INET, 0);
	printf("put_header: len=%u type=0x%x flags=0x%x\n", nlh->nlmsg_len, nlh->nlmsg_type, nlh->nlmsg_flags);
	int r = nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_PF_UNBIND);
	printf("put_cfg_cmd=%d len=%u\n", r, nlh->nlmsg_len);
	config("pf unbind", nlh);
	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_INET, 0);
	nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_PF_BIND);
	config("pf bind", nlh);
	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, 31);
	nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
	config("bind 31", nlh);
	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, 31);
	nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
	config("bind 31 again", nlh);
	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, 31);
	r = nflog_attr_put_cfg_mode(nlh, NFULNL_COPY_PACKET, 0xffff);
	printf("put_cfg_mode=%d len=%u\n", r, nlh->nlmsg_len);
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(50));
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
	config("mode, timeout, flags", nlh);
	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, 31);
	nflog_attr_put_cfg_mode(nlh, 9, 10);
	config("invalid mode", nlh);

	send_udp(AF_INET, 40100, "mnl-one");
	receive(1, "one message");
	for (int i = 0; i < 4; i++) {
		char m[16];
		snprintf(m, sizeof m, "mnl-batch-%d", i);
		send_udp(AF_INET, 40101, m);
	}
	receive(4, "four messages in one datagram");
	send_udp(AF_INET6, 40103, "mnl-v6");
	receive(1, "IPv6");

	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, 31);
	nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_UNBIND);
	config("unbind 31", nlh);
	errno = 0;
	r = nflog_nlmsg_snprintf(buf, sizeof buf, nlh, NULL, 1, 0);
	printf("nlmsg_snprintf type 1: %d errno=%d\n", r, errno);
	mnl_socket_close(nl);
	printf("done: %d log messages\n", logs);
	return 0;
}
