/*
 * linux_nfnetlink_queue.h: the NFQUEUE kernel interface for libnetfilter_queue programs,
 * served by nfq-rs. The definitions are the kernel's own UAPI header; this file only
 * forwards to it. SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LINUX_NFNETLINK_QUEUE_H
#define NFQ_RS_COMPAT_LINUX_NFNETLINK_QUEUE_H

#include <linux/types.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#endif
