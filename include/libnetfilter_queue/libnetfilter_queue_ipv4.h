/*
 * libnetfilter_queue_ipv4.h: IPv4 helpers of the libnetfilter_queue API, served by nfq-rs.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_IPV4_H
#define NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_IPV4_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pkt_buff;
struct iphdr;

struct iphdr *nfq_ip_get_hdr(struct pkt_buff *pktb);
int nfq_ip_set_transport_header(struct pkt_buff *pktb, struct iphdr *iph);
void nfq_ip_set_checksum(struct iphdr *iph);
int nfq_ip_mangle(struct pkt_buff *pktb, unsigned int dataoff, unsigned int match_offset,
                  unsigned int match_len, const char *rep_buffer, unsigned int rep_len);
int nfq_ip_snprintf(char *buf, size_t size, const struct iphdr *iph);

#ifdef __cplusplus
}
#endif

#endif
