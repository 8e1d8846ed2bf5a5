/*
 * libnetfilter_queue_icmp.h: ICMP helper of the libnetfilter_queue API, served by nfq-rs.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_ICMP_H
#define NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_ICMP_H

#ifdef __cplusplus
extern "C" {
#endif

struct pkt_buff;
struct icmphdr;

struct icmphdr *nfq_icmp_get_hdr(struct pkt_buff *pktb);

#ifdef __cplusplus
}
#endif

#endif
