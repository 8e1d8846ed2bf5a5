/*
 * libnetfilter_queue_ipv6.h: IPv6 helpers of the libnetfilter_queue API, served by nfq-rs.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_IPV6_H
#define NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_IPV6_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pkt_buff;
struct ip6_hdr;

struct ip6_hdr *nfq_ip6_get_hdr(struct pkt_buff *pktb);
int nfq_ip6_set_transport_header(struct pkt_buff *pktb, struct ip6_hdr *iph, uint8_t target);
int nfq_ip6_mangle(struct pkt_buff *pktb, unsigned int dataoff, unsigned int match_offset,
                   unsigned int match_len, const char *rep_buffer, unsigned int rep_len);
int nfq_ip6_snprintf(char *buf, size_t size, const struct ip6_hdr *ip6h);

#ifdef __cplusplus
}
#endif

#endif
