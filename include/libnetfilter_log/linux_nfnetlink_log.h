/*
 * linux_nfnetlink_log.h: the NFLOG kernel interface for libnetfilter_log programs, served by
 * nfq-rs. The definitions are the kernel's own UAPI header; this file only forwards to it.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_RS_COMPAT_LINUX_NFNETLINK_LOG_H
#define NFQ_RS_COMPAT_LINUX_NFNETLINK_LOG_H

#include <linux/types.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#endif
