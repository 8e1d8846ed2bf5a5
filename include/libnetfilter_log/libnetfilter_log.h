/*
 * libnetfilter_log.h: source-compatible declarations of the libnetfilter_log API, served by
 * nfq-rs (libnfq_rs). Written for nfq-rs; not derived from the upstream header.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LIBNETFILTER_LOG_H
#define NFQ_RS_COMPAT_LIBNETFILTER_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <linux/netlink.h>
#include <libnetfilter_log/linux_nfnetlink_log.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nfnl_handle;
struct nflog_handle;
struct nflog_g_handle;
struct nflog_data;

/* Exported for programs that read it; nfq-rs never sets it. */
extern int nflog_errno;

/* Called for each logged packet of a group; a negative return makes nflog_handle_packet()
 * return -1 and skip the rest of the datagram. */
typedef int nflog_callback(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg,
                           struct nflog_data *nfd, void *data);

/* Handles and groups */
struct nflog_handle *nflog_open(void);
struct nflog_handle *nflog_open_nfnl(struct nfnl_handle *nfnlh);
int nflog_close(struct nflog_handle *h);
struct nfnl_handle *nflog_nfnlh(struct nflog_handle *h);
int nflog_fd(struct nflog_handle *h);
int nflog_bind_pf(struct nflog_handle *h, uint16_t pf);
int nflog_unbind_pf(struct nflog_handle *h, uint16_t pf);
struct nflog_g_handle *nflog_bind_group(struct nflog_handle *h, uint16_t num);
int nflog_unbind_group(struct nflog_g_handle *gh);

/* Group settings: 0, or -1 with errno */
int nflog_set_mode(struct nflog_g_handle *gh, uint8_t mode, unsigned int len);
int nflog_set_timeout(struct nflog_g_handle *gh, uint32_t timeout);
int nflog_set_flags(struct nflog_g_handle *gh, uint16_t flags);
int nflog_set_qthresh(struct nflog_g_handle *gh, uint32_t qthresh);
int nflog_set_nlbufsiz(struct nflog_g_handle *gh, uint32_t nlbufsiz);

/* Receiving: hand each datagram read from nflog_fd() to nflog_handle_packet() */
int nflog_callback_register(struct nflog_g_handle *gh, nflog_callback *cb, void *data);
int nflog_handle_packet(struct nflog_handle *h, char *buf, int len);

/* Message attributes (pointers point into the buffer given to nflog_handle_packet) */
struct nfulnl_msg_packet_hdr *nflog_get_msg_packet_hdr(struct nflog_data *nfad);
uint16_t nflog_get_hwtype(struct nflog_data *nfad);
uint16_t nflog_get_msg_packet_hwhdrlen(struct nflog_data *nfad);
char *nflog_get_msg_packet_hwhdr(struct nflog_data *nfad);
uint32_t nflog_get_nfmark(struct nflog_data *nfad);
int nflog_get_timestamp(struct nflog_data *nfad, struct timeval *tv);
uint32_t nflog_get_indev(struct nflog_data *nfad);
uint32_t nflog_get_physindev(struct nflog_data *nfad);
uint32_t nflog_get_outdev(struct nflog_data *nfad);
uint32_t nflog_get_physoutdev(struct nflog_data *nfad);
struct nfulnl_msg_packet_hw *nflog_get_packet_hw(struct nflog_data *nfad);
int nflog_get_payload(struct nflog_data *nfad, char **data);
char *nflog_get_prefix(struct nflog_data *nfad);
int nflog_get_uid(struct nflog_data *nfad, uint32_t *uid);
int nflog_get_gid(struct nflog_data *nfad, uint32_t *gid);
int nflog_get_seq(struct nflog_data *nfad, uint32_t *seq);
int nflog_get_seq_global(struct nflog_data *nfad, uint32_t *seq);
int nflog_get_ctid(struct nflog_data *nfad, uint32_t *id);

/* Flags of nflog_snprintf_xml() and nflog_nlmsg_snprintf() */
enum {
	NFLOG_XML_PREFIX  = (1 << 0),
	NFLOG_XML_HW      = (1 << 1),
	NFLOG_XML_MARK    = (1 << 2),
	NFLOG_XML_DEV     = (1 << 3),
	NFLOG_XML_PHYSDEV = (1 << 4),
	NFLOG_XML_PAYLOAD = (1 << 5),
	NFLOG_XML_TIME    = (1 << 6),
	NFLOG_XML_CTID    = (1 << 7),
	NFLOG_XML_ALL     = ~0U,
};
int nflog_snprintf_xml(char *buf, size_t len, struct nflog_data *tb, int flags);

/* libmnl-based helpers: build messages in a caller's buffer, parse received ones */
struct nlmsghdr *nflog_nlmsg_put_header(char *buf, uint8_t type, uint8_t family, uint16_t gnum);
int nflog_attr_put_cfg_mode(struct nlmsghdr *nlh, uint8_t mode, uint32_t range);
int nflog_attr_put_cfg_cmd(struct nlmsghdr *nlh, uint8_t cmd);
/* Fills attr[0..19] (size the array NFULA_MAX + 1); returns 1, or -1 with errno. */
int nflog_nlmsg_parse(const struct nlmsghdr *nlh, struct nlattr **attr);

enum nflog_output_type {
	NFLOG_OUTPUT_XML = 0,
};
int nflog_nlmsg_snprintf(char *buf, size_t bufsiz, const struct nlmsghdr *nlh,
                         struct nlattr **attr, enum nflog_output_type type, uint32_t flags);

#ifdef __cplusplus
}
#endif

#endif
