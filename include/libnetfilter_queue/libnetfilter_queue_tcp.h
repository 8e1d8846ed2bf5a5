/*
 * libnetfilter_queue_tcp.h: TCP helpers of the libnetfilter_queue API, served by nfq-rs.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_TCP_H
#define NFQ_RS_COMPAT_LIBNETFILTER_QUEUE_TCP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pkt_buff;
struct tcphdr;
struct iphdr;
struct ip6_hdr;

struct tcphdr *nfq_tcp_get_hdr(struct pkt_buff *pktb);
void *nfq_tcp_get_payload(struct tcphdr *tcph, struct pkt_buff *pktb);
unsigned int nfq_tcp_get_payload_len(struct tcphdr *tcph, struct pkt_buff *pktb);
void nfq_tcp_compute_checksum_ipv4(struct tcphdr *tcph, struct iphdr *iph);
void nfq_tcp_compute_checksum_ipv6(struct tcphdr *tcph, struct ip6_hdr *ip6h);
/* Offsets are relative to the TCP payload; IP length and both checksums are fixed up. */
int nfq_tcp_mangle_ipv4(struct pkt_buff *pktb, unsigned int match_offset, unsigned int match_len,
                        const char *rep_buffer, unsigned int rep_len);
int nfq_tcp_mangle_ipv6(struct pkt_buff *pktb, unsigned int match_offset, unsigned int match_len,
                        const char *rep_buffer, unsigned int rep_len);
int nfq_tcp_snprintf(char *buf, size_t size, const struct tcphdr *tcp);

#ifdef __cplusplus
}
#endif

#endif
