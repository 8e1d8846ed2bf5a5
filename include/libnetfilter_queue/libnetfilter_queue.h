/*
 * libnetfilter_queue.h: source-compatible declarations of the libnetfilter_queue API,
 * served by nfq-rs (libnfq_rs). Written for nfq-rs; not derived from the upstream header.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_H
#define NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

/* Programs written for libnetfilter_queue expect the libnfnetlink declarations
 * (nfnl_rcvbufsiz, nfnl_fd, struct nfnl_handle, struct nlif_handle) to come with this header. */
#if defined(__has_include)
#  if __has_include(<libnfnetlink/libnfnetlink.h>)
#    include <libnfnetlink/libnfnetlink.h>
#    define NFQ_RS_HAVE_LIBNFNETLINK_H 1
#  endif
#endif
#ifndef NFQ_RS_HAVE_LIBNFNETLINK_H
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
struct nfnl_handle;
struct nlif_handle;
#ifdef __cplusplus
extern "C" {
#endif
/* Served by libnfq_rs: these read only the socket and port id of the handle. */
int nfnl_fd(struct nfnl_handle *h);
unsigned int nfnl_portid(const struct nfnl_handle *h);
unsigned int nfnl_rcvbufsiz(const struct nfnl_handle *h, unsigned int size);
#ifdef __cplusplus
}
#endif
#endif

#include <libnetfilter_queue/linux_nfnetlink_queue.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nfq_handle;
struct nfq_q_handle;
struct nfq_data;
struct nlmsghdr;
struct nlattr;

/* Set by nfq_open_nfnl() and nfq_create_queue() on failure. */
extern int nfq_errno;

/* Called for each packet of a queue; a negative return makes nfq_handle_packet() return -1. */
typedef int nfq_callback(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg,
                         struct nfq_data *nfad, void *data);

/* Handles and queues */
struct nfq_handle *nfq_open(void);
struct nfq_handle *nfq_open_nfnl(struct nfnl_handle *nfnlh);
int nfq_close(struct nfq_handle *h);
struct nfnl_handle *nfq_nfnlh(struct nfq_handle *h);
int nfq_fd(struct nfq_handle *h);
int nfq_bind_pf(struct nfq_handle *h, uint16_t pf);
int nfq_unbind_pf(struct nfq_handle *h, uint16_t pf);
struct nfq_q_handle *nfq_create_queue(struct nfq_handle *h, uint16_t num,
                                      nfq_callback *cb, void *data);
int nfq_destroy_queue(struct nfq_q_handle *qh);
int nfq_handle_packet(struct nfq_handle *h, char *buf, int len);
int nfq_set_mode(struct nfq_q_handle *qh, uint8_t mode, unsigned int len);
int nfq_set_queue_maxlen(struct nfq_q_handle *qh, uint32_t queuelen);
int nfq_set_queue_flags(struct nfq_q_handle *qh, uint32_t mask, uint32_t flags);

/* Verdicts: these return the number of bytes sent, or -1 with errno. */
int nfq_set_verdict(struct nfq_q_handle *qh, uint32_t id, uint32_t verdict,
                    uint32_t data_len, const unsigned char *buf);
int nfq_set_verdict2(struct nfq_q_handle *qh, uint32_t id, uint32_t verdict,
                     uint32_t mark, uint32_t data_len, const unsigned char *buf);
int nfq_set_verdict_batch(struct nfq_q_handle *qh, uint32_t id, uint32_t verdict);
int nfq_set_verdict_batch2(struct nfq_q_handle *qh, uint32_t id, uint32_t verdict,
                           uint32_t mark);
/* Deprecated: the mark must already be in network byte order. */
__attribute__((deprecated))
int nfq_set_verdict_mark(struct nfq_q_handle *qh, uint32_t id, uint32_t verdict,
                         uint32_t mark, uint32_t data_len, const unsigned char *buf);

/* Packet attributes (pointers point into the buffer given to nfq_handle_packet) */
struct nfqnl_msg_packet_hdr *nfq_get_msg_packet_hdr(struct nfq_data *nfad);
uint32_t nfq_get_nfmark(struct nfq_data *nfad);
int nfq_get_timestamp(struct nfq_data *nfad, struct timeval *tv);
uint32_t nfq_get_indev(struct nfq_data *nfad);
uint32_t nfq_get_physindev(struct nfq_data *nfad);
uint32_t nfq_get_outdev(struct nfq_data *nfad);
uint32_t nfq_get_physoutdev(struct nfq_data *nfad);
uint32_t nfq_get_skbinfo(struct nfq_data *nfad);
int nfq_get_uid(struct nfq_data *nfad, uint32_t *uid);
int nfq_get_gid(struct nfq_data *nfad, uint32_t *gid);
int nfq_get_secctx(struct nfq_data *nfad, unsigned char **secdata);
/* The nlif handle may be NULL with nfq-rs: names come from the kernel directly. */
int nfq_get_indev_name(struct nlif_handle *nlif_handle, struct nfq_data *nfad, char *name);
int nfq_get_physindev_name(struct nlif_handle *nlif_handle, struct nfq_data *nfad, char *name);
int nfq_get_outdev_name(struct nlif_handle *nlif_handle, struct nfq_data *nfad, char *name);
int nfq_get_physoutdev_name(struct nlif_handle *nlif_handle, struct nfq_data *nfad, char *name);
struct nfqnl_msg_packet_hw *nfq_get_packet_hw(struct nfq_data *nfad);
int nfq_get_payload(struct nfq_data *nfad, unsigned char **data);

/* Flags of nfq_snprintf_xml() */
enum {
	NFQ_XML_HW      = (1 << 0),
	NFQ_XML_MARK    = (1 << 1),
	NFQ_XML_DEV     = (1 << 2),
	NFQ_XML_PHYSDEV = (1 << 3),
	NFQ_XML_PAYLOAD = (1 << 4),
	NFQ_XML_TIME    = (1 << 5),
	NFQ_XML_UID     = (1 << 6),
	NFQ_XML_GID     = (1 << 7),
	NFQ_XML_SECCTX  = (1 << 8),
	NFQ_XML_ALL     = ~0U,
};
int nfq_snprintf_xml(char *buf, size_t len, struct nfq_data *tb, int flags);

/* libmnl-based helpers: build messages in a caller's buffer, parse received ones */
void nfq_nlmsg_cfg_put_cmd(struct nlmsghdr *nlh, uint16_t pf, uint8_t cmd);
void nfq_nlmsg_cfg_put_params(struct nlmsghdr *nlh, uint8_t mode, int range);
void nfq_nlmsg_cfg_put_qmaxlen(struct nlmsghdr *nlh, uint32_t qmaxlen);
void nfq_nlmsg_verdict_put(struct nlmsghdr *nlh, int id, int verdict);
void nfq_nlmsg_verdict_put_mark(struct nlmsghdr *nlh, uint32_t mark);
void nfq_nlmsg_verdict_put_pkt(struct nlmsghdr *nlh, const void *pkt, uint32_t pktlen);
/* Fills attr[0..18] (size the array NFQA_MAX + 1); returns 1, or -1 with errno ERANGE. */
int nfq_nlmsg_parse(const struct nlmsghdr *nlh, struct nlattr **attr);
struct nlmsghdr *nfq_nlmsg_put(char *buf, int type, uint32_t queue_num);
struct nlmsghdr *nfq_nlmsg_put2(char *buf, int type, uint32_t queue_num, uint16_t flags);

#ifdef __cplusplus
}
#endif

#endif
