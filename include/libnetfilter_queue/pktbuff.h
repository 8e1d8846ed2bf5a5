/*
 * pktbuff.h: packet buffer helpers of the libnetfilter_queue API, served by nfq-rs.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_PKTBUFF_H
#define NFQ_RS_COMPAT_PKTBUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pkt_buff;

struct pkt_buff *pktb_alloc(int family, void *data, size_t len, size_t extra);
/* Uses `data` in place (`extra` bytes must follow it); `mem` holds pktb_head_size() bytes.
 * Never pass the result to pktb_free(). */
struct pkt_buff *pktb_setup_raw(void *mem, int family, void *data, size_t len, size_t extra);
size_t pktb_head_size(void);
void pktb_free(struct pkt_buff *pktb);
uint8_t *pktb_data(struct pkt_buff *pktb);
uint32_t pktb_len(struct pkt_buff *pktb);
void pktb_push(struct pkt_buff *pktb, unsigned int len);
void pktb_pull(struct pkt_buff *pktb, unsigned int len);
void pktb_put(struct pkt_buff *pktb, unsigned int len);
void pktb_trim(struct pkt_buff *pktb, unsigned int len);
unsigned int pktb_tailroom(struct pkt_buff *pktb);
uint8_t *pktb_mac_header(struct pkt_buff *pktb);
uint8_t *pktb_network_header(struct pkt_buff *pktb);
uint8_t *pktb_transport_header(struct pkt_buff *pktb);
/* Replaces match_len bytes at network header + dataoff + match_offset with rep_len bytes;
 * 1 on success, 0 if the packet cannot grow that much. Checksums are not updated. */
int pktb_mangle(struct pkt_buff *pktb, int dataoff, unsigned int match_offset,
                unsigned int match_len, const char *rep_buffer, unsigned int rep_len);
bool pktb_mangled(const struct pkt_buff *pktb);

#ifdef __cplusplus
}
#endif

#endif
