/*
 * parse_harness: calls nfq_nlmsg_parse() ITERS times over every recorded packet message of
 * FILE (u32 length + message bytes, each, as ceiling_consumer --dump writes them). Built twice
 * (make bench): against the real libnetfilter_queue and against the nfq-rs drop-in. Run under
 * callgrind with ITERS = 0 and ITERS = N: (Ir(N) - Ir(0)) / (N * messages) is the cost of one
 * call, startup and file reading cancelled out.
 *
 *   parse_harness FILE ITERS
 *
 * Each call gets a zeroed attribute table (the documented usage: struct nlattr *attr[NFQA_MAX
 * + 1] = {}), of a fixed 32 slots in both builds so the harness does the same work.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include "common.h"

#include <linux/netlink.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#define SLOTS 32

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: parse_harness FILE ITERS\n");
        return 2;
    }
    unsigned long iters = strtoul(argv[2], NULL, 10);
    FILE *f = fopen(argv[1], "rb");
    if (!f) die("parse_harness", argv[1]);
    size_t cap = 1 << 20, used = 0, count = 0;
    uint8_t *buf = aligned_alloc(8, cap);
    size_t *offs = malloc(65536 * sizeof *offs);
    if (!buf || !offs) die("parse_harness", "alloc");
    uint32_t len;
    while (fread(&len, 4, 1, f) == 1) {
        size_t need = (len + 7u) & ~7u;
        if (len < NLMSG_HDRLEN || count == 65536) break;
        while (used + need > cap) {
            uint8_t *nb = aligned_alloc(8, cap * 2);
            if (!nb) die("parse_harness", "alloc");
            memcpy(nb, buf, used);
            free(buf);
            buf = nb;
            cap *= 2;
        }
        if (fread(buf + used, 1, len, f) != len) break;
        offs[count++] = used;
        used += need;
    }
    fclose(f);
    if (!count) {
        fprintf(stderr, "parse_harness: no messages in %s\n", argv[1]);
        return 1;
    }

    uintptr_t sink = 0;
    unsigned long errors = 0;
    for (unsigned long it = 0; it < iters; it++) {
        for (size_t i = 0; i < count; i++) {
            struct nlattr *attr[SLOTS] = {0};
            if (nfq_nlmsg_parse((const struct nlmsghdr *)(buf + offs[i]), attr) < 0) errors++;
            sink += (uintptr_t)attr[NFQA_PACKET_HDR] + (uintptr_t)attr[NFQA_PAYLOAD];
        }
    }
    printf("parse_harness messages=%zu iters=%lu parses=%lu errors=%lu sink=%lu\n", count, iters,
           (unsigned long)count * iters, errors, (unsigned long)(sink & 0xff));
    free(offs);
    free(buf);
    return errors ? 1 : 0;
}
