/*
 * libnetfilter_queue_udp.h: UDP helpers of the libnetfilter_queue API, served by nfq-rs.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_UDP_H
#define NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_UDP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pkt_buff;
struct udphdr;
struct iphdr;
struct ip6_hdr;

struct udphdr *nfq_udp_get_hdr(struct pkt_buff *pktb);
void *nfq_udp_get_payload(struct udphdr *udph, struct pkt_buff *pktb);
unsigned int nfq_udp_get_payload_len(struct udphdr *udph, struct pkt_buff *pktb);
void nfq_udp_compute_checksum_ipv4(struct udphdr *udph, struct iphdr *iph);
void nfq_udp_compute_checksum_ipv6(struct udphdr *udph, struct ip6_hdr *ip6h);
/* Offsets are relative to the UDP payload; lengths and checksums are fixed up. */
int nfq_udp_mangle_ipv4(struct pkt_buff *pktb, unsigned int match_offset, unsigned int match_len,
                        const char *rep_buffer, unsigned int rep_len);
int nfq_udp_mangle_ipv6(struct pkt_buff *pktb, unsigned int match_offset, unsigned int match_len,
                        const char *rep_buffer, unsigned int rep_len);
int nfq_udp_snprintf(char *buf, size_t size, const struct udphdr *udp);

#ifdef __cplusplus
}
#endif

#endif
