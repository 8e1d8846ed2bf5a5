"""Loading libnfq_rs.so and declaring the C API (include/nfq_rs.h) for ctypes.

Only this module touches ctypes prototypes; everything else calls the functions through
``lib()``. Calls go through ``ctypes.CDLL``, which releases the GIL for the duration of each
C call, so a blocking ``nfq_rs_dispatch`` lets other Python threads run; the packet callback
(a ``CFUNCTYPE``) takes the GIL back while Python code runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

ENV_VAR = "NFQ_RS_LIBRARY"
LIB_NAME = "libnfq_rs.so"
SONAME = "libnfq_rs.so.0"

# --- constants from include/nfq_rs.h -------------------------------------------------------

NFQ_RS_OK = 0
NFQ_RS_E_INVAL = -1
NFQ_RS_E_PERM = -2
NFQ_RS_E_BUSY = -3
NFQ_RS_E_NOTSUP = -4
NFQ_RS_E_NOENT = -5
NFQ_RS_E_NODEV = -6
NFQ_RS_E_NOBUFS = -7
NFQ_RS_E_PROTO = -8
NFQ_RS_E_TIMEOUT = -9
NFQ_RS_E_SYS = -10
NFQ_RS_E_NOMEM = -11
NFQ_RS_E_INTERNAL = -12
NFQ_RS_E_EXIST = -13

ERROR_NAMES = {
    NFQ_RS_E_INVAL: "NFQ_RS_E_INVAL",
    NFQ_RS_E_PERM: "NFQ_RS_E_PERM",
    NFQ_RS_E_BUSY: "NFQ_RS_E_BUSY",
    NFQ_RS_E_NOTSUP: "NFQ_RS_E_NOTSUP",
    NFQ_RS_E_NOENT: "NFQ_RS_E_NOENT",
    NFQ_RS_E_NODEV: "NFQ_RS_E_NODEV",
    NFQ_RS_E_NOBUFS: "NFQ_RS_E_NOBUFS",
    NFQ_RS_E_PROTO: "NFQ_RS_E_PROTO",
    NFQ_RS_E_TIMEOUT: "NFQ_RS_E_TIMEOUT",
    NFQ_RS_E_SYS: "NFQ_RS_E_SYS",
    NFQ_RS_E_NOMEM: "NFQ_RS_E_NOMEM",
    NFQ_RS_E_INTERNAL: "NFQ_RS_E_INTERNAL",
    NFQ_RS_E_EXIST: "NFQ_RS_E_EXIST",
}

NFQ_RS_DROP = 0
NFQ_RS_ACCEPT = 1
NFQ_RS_QUEUE_CODE = 3
NFQ_RS_REPEAT = 4
NFQ_RS_STOP = 5
NFQ_RS_QUEUE_BYPASS = 0x8000
NFQ_RS_LATER = 0x100

NFQ_RS_COPY_NONE = 0
NFQ_RS_COPY_META = 1
NFQ_RS_COPY_PACKET = 2

NFQ_RS_F_FAIL_OPEN = 1
NFQ_RS_F_CONNTRACK = 2
NFQ_RS_F_GSO = 4
NFQ_RS_F_UID_GID = 8
NFQ_RS_F_SECCTX = 16

NFQ_RS_SKB_CSUM_NOT_READY = 1
NFQ_RS_SKB_GSO = 2
NFQ_RS_SKB_CSUM_NOT_VERIFIED = 4

NFQ_RS_SET_MARK = 1
NFQ_RS_SET_CONNMARK = 2
NFQ_RS_SET_PRIORITY = 4

NFQ_RS_CT_DIR_ORIG = 0
NFQ_RS_CT_DIR_REPLY = 1
NFQ_RS_CT_DIR_MASTER = 2

NFQ_RS_CT_FILTER_MARK = 1
NFQ_RS_CT_FILTER_ZONE = 2
NFQ_RS_CT_FILTER_L4PROTO = 4

NFQ_RS_CT_SET_MARK = 1
NFQ_RS_CT_SET_TIMEOUT = 2
NFQ_RS_CT_SET_STATUS = 4
NFQ_RS_CT_SET_LABELS = 8

NFQ_RS_CT_FMT_EXTENDED = 1
NFQ_RS_CT_FMT_ID = 2

# Library counters, in NFQ_RS_STAT_* order.
STAT_NAMES = (
    "packets_received",
    "verdicts_sent",
    "verdict_errors",
    "enobufs",
    "truncated",
    "foreign_ignored",
    "parse_errors",
    "callback_errors",
    "deferred",
    "fallback_verdicts",
)
# Kernel counters, in NFQ_RS_KSTAT_* order.
KSTAT_NAMES = (
    "queue_total",
    "dropped",
    "user_dropped",
    "id_sequence",
    "portid",
    "copy_mode",
    "copy_range",
)

CALLBACK = CFUNCTYPE(c_int32, c_void_p, c_void_p)
# nfq_rs_log_callback(const nfq_rs_log_packet *pkt, void *user)
LOG_CALLBACK = CFUNCTYPE(c_int32, c_void_p, c_void_p)
# nfq_rs_log_batch_callback(const nfq_rs_log_packet_info *infos, size_t n, void *user)
LOG_BATCH_CALLBACK = CFUNCTYPE(None, c_void_p, c_size_t, c_void_p)

NFQ_RS_LOG_F_SEQ = 1
NFQ_RS_LOG_F_SEQ_GLOBAL = 2
NFQ_RS_LOG_F_CONNTRACK = 4
NFQ_RS_LOG_MAX_COPY_RANGE = 65531
NFQ_RS_LOG_MAX_NLBUFSIZ = 131072
# NFLOG library counters, in NFQ_RS_LOG_STAT_* order.
LOG_STAT_NAMES = ("packets_received", "datagrams", "enobufs", "truncated", "parse_errors", "callback_errors")
# NFLOG kernel values of a group, in NFQ_RS_LOG_KSTAT_* order.
LOG_KSTAT_NAMES = ("portid", "qlen", "copy_mode", "copy_range", "flush_timeout")

# nfq_rs_batch_callback(nfq_rs_packet *const *pkts, const nfq_rs_packet_info *info, size_t n,
#                       int32_t *answers, void *user)
BATCH_CALLBACK = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, c_void_p, c_void_p)

# nfq_rs_packet_info, field by field (native alignment, as the C compiler lays it out):
# id present mark indev outdev physindev physoutdev orig_len cap_len payload_len skb_info
# priority uid gid cgroup_classid ct_info (16 x uint32), queue hw_protocol (2 x uint16),
# family hook hwaddr_len truncated (4 x uint8), hwaddr[8], ts_sec ts_usec (2 x uint64),
# payload (pointer).
PACKET_INFO_FORMAT = "@16I2H4B8s2QP"
NFQ_RS_INFO_MARK = 1
NFQ_RS_INFO_INDEV = 2
NFQ_RS_INFO_OUTDEV = 4
NFQ_RS_INFO_PHYSINDEV = 8
NFQ_RS_INFO_PHYSOUTDEV = 16
NFQ_RS_INFO_HWADDR = 32
NFQ_RS_INFO_TIMESTAMP = 64
NFQ_RS_INFO_PAYLOAD = 128
NFQ_RS_INFO_CAP_LEN = 256
NFQ_RS_INFO_SKB_INFO = 512
NFQ_RS_INFO_PRIORITY = 1024
NFQ_RS_INFO_UID = 2048
NFQ_RS_INFO_GID = 4096
NFQ_RS_INFO_CGROUP_CLASSID = 8192
NFQ_RS_INFO_CT_INFO = 16384
# nfq_rs_ct_callback(event, const nfq_rs_ct_entry *ct, const nfq_rs_ct_exp *exp, void *user)
CT_CALLBACK = CFUNCTYPE(c_int32, c_uint32, c_void_p, c_void_p, c_void_p)

_PU32 = POINTER(c_uint32)
_PU64 = POINTER(c_uint64)
_PU16 = POINTER(c_uint16)
_PU8 = POINTER(c_uint8)
_PSIZE = POINTER(c_size_t)
_PPTR = POINTER(c_void_p)

# name: (restype, argtypes)
_PROTOTYPES = {
    "nfq_rs_version": (c_char_p, []),
    "nfq_rs_strerror": (c_char_p, [c_int]),
    "nfq_rs_last_error": (c_int, [c_void_p, c_char_p, c_size_t]),
    "nfq_rs_config_new": (c_void_p, [c_uint16]),
    "nfq_rs_config_free": (None, [c_void_p]),
    "nfq_rs_config_add_queue": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_config_set_copy_mode": (c_int, [c_void_p, c_int, c_uint32]),
    "nfq_rs_config_set_max_len": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_config_set_flags": (c_int, [c_void_p, c_uint32, c_uint32]),
    "nfq_rs_config_set_rcvbuf": (c_int, [c_void_p, c_size_t]),
    "nfq_rs_config_set_no_enobufs": (c_int, [c_void_p, c_int]),
    "nfq_rs_config_set_batch": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_config_set_fallback_verdict": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_config_set_netns_path": (c_int, [c_void_p, c_char_p]),
    "nfq_rs_config_set_netns_fd": (c_int, [c_void_p, c_int]),
    "nfq_rs_open": (c_int, [c_void_p, _PPTR]),
    "nfq_rs_close": (None, [c_void_p]),
    "nfq_rs_fd": (c_int, [c_void_p]),
    "nfq_rs_set_callback": (c_int, [c_void_p, CALLBACK, c_void_p]),
    "nfq_rs_set_batch_callback": (c_int, [c_void_p, BATCH_CALLBACK, c_void_p]),
    "nfq_rs_config_set_socket_fd": (c_int, [c_void_p, c_int]),
    "nfq_rs_config_new_unbound": (c_void_p, []),
    "nfq_rs_packet_info_size": (c_size_t, []),
    "nfq_rs_bind": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_unbind": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_set_copy_mode": (c_int, [c_void_p, c_uint16, c_int, c_uint32]),
    "nfq_rs_set_max_len": (c_int, [c_void_p, c_uint16, c_uint32]),
    "nfq_rs_set_flags": (c_int, [c_void_p, c_uint16, c_uint32, c_uint32]),
    "nfq_rs_set_rcvbuf": (c_int, [c_void_p, c_size_t]),
    "nfq_rs_set_no_enobufs": (c_int, [c_void_p, c_int]),
    "nfq_rs_dispatch": (c_int, [c_void_p, c_int]),
    "nfq_rs_run": (c_int, [c_void_p]),
    "nfq_rs_stop": (None, [c_void_p]),
    "nfq_rs_verdict": (c_int, [c_void_p, c_uint16, c_uint32, c_uint32]),
    "nfq_rs_verdict_mark": (c_int, [c_void_p, c_uint16, c_uint32, c_uint32, c_uint32]),
    "nfq_rs_verdict_ex": (
        c_int,
        [c_void_p, c_uint16, c_uint32, c_uint32, c_uint32, c_uint32, c_uint32, c_uint32, c_char_p, c_size_t],
    ),
    "nfq_rs_verdict_batch": (c_int, [c_void_p, c_uint16, c_uint32, c_uint32]),
    "nfq_rs_verdict_batch_mark": (c_int, [c_void_p, c_uint16, c_uint32, c_uint32, c_uint32]),
    "nfq_rs_stat": (c_int, [c_void_p, c_int, _PU64]),
    "nfq_rs_kernel_stat": (c_int, [c_void_p, c_uint16, c_int, _PU64]),
    "nfq_rs_packet_id": (c_uint32, [c_void_p]),
    "nfq_rs_packet_queue": (c_uint16, [c_void_p]),
    "nfq_rs_packet_family": (c_uint8, [c_void_p]),
    "nfq_rs_packet_hw_protocol": (c_uint16, [c_void_p]),
    "nfq_rs_packet_hook": (c_uint8, [c_void_p]),
    "nfq_rs_packet_payload": (c_void_p, [c_void_p, _PSIZE]),
    "nfq_rs_packet_orig_len": (c_size_t, [c_void_p]),
    "nfq_rs_packet_is_truncated": (c_int, [c_void_p]),
    "nfq_rs_packet_cap_len": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_mark": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_indev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_outdev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_physindev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_physoutdev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_uid": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_gid": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_skb_info": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_priority": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_cgroup_classid": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_ct_info": (c_int, [c_void_p, _PU32]),
    "nfq_rs_packet_timestamp": (c_int, [c_void_p, _PU64, _PU64]),
    "nfq_rs_packet_vlan": (c_int, [c_void_p, _PU16, _PU16]),
    "nfq_rs_packet_hwaddr": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_packet_secctx": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_packet_ct": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_packet_exp": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_packet_l2hdr": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_packet_set_mark": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_packet_set_connmark": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_packet_set_priority": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_packet_set_payload": (c_int, [c_void_p, c_char_p, c_size_t]),
}

# The conntrack part of the C API (nfq_rs_ct_*), declared on first use (ct_lib()) so that a
# library built before it existed still serves Queue/Packet.
_CT_PROTOTYPES = {
    "nfq_rs_packet_set_ct_labels": (c_int, [c_void_p, c_char_p, c_char_p]),
    "nfq_rs_verdict_ct_labels": (c_int, [c_void_p, c_uint16, c_uint32, c_uint32, c_char_p, c_char_p]),
    "nfq_rs_ct_entry_new": (c_void_p, []),
    "nfq_rs_ct_entry_free": (None, [c_void_p]),
    "nfq_rs_ct_entry_decode": (c_int, [c_void_p, c_uint8, c_char_p, c_size_t]),
    "nfq_rs_ct_family": (c_int, [c_void_p]),
    "nfq_rs_ct_entry_tuple": (c_void_p, [c_void_p, c_int]),
    "nfq_rs_ct_raw": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_ct_status": (c_int, [c_void_p, _PU32]),
    "nfq_rs_ct_mark": (c_int, [c_void_p, _PU32]),
    "nfq_rs_ct_zone": (c_int, [c_void_p, _PU16]),
    "nfq_rs_ct_id": (c_int, [c_void_p, _PU32]),
    "nfq_rs_ct_use": (c_int, [c_void_p, _PU32]),
    "nfq_rs_ct_timeout": (c_int, [c_void_p, _PU32]),
    "nfq_rs_ct_secmark": (c_int, [c_void_p, _PU32]),
    "nfq_rs_ct_l4proto": (c_int, [c_void_p, _PU8]),
    "nfq_rs_ct_proto_state": (c_int, [c_void_p, _PU8]),
    "nfq_rs_ct_proto_state_name": (c_char_p, [c_void_p]),
    "nfq_rs_ct_counters": (c_int, [c_void_p, c_int, _PU64, _PU64]),
    "nfq_rs_ct_timestamp": (c_int, [c_void_p, _PU64, _PU64]),
    "nfq_rs_ct_labels": (c_int, [c_void_p, c_char_p]),
    "nfq_rs_ct_helper_name": (c_int, [c_void_p, c_char_p, c_size_t]),
    "nfq_rs_ct_secctx": (c_int, [c_void_p, c_char_p, c_size_t]),
    "nfq_rs_ct_snprintf": (c_int, [c_void_p, c_char_p, c_size_t, c_uint32]),
    "nfq_rs_ct_entry_set_tuple": (
        c_int,
        [c_void_p, c_int, c_uint8, c_char_p, c_char_p, c_uint8, c_uint16, c_uint16],
    ),
    "nfq_rs_ct_entry_set_tuple_icmp": (
        c_int,
        [c_void_p, c_int, c_uint8, c_char_p, c_char_p, c_uint8, c_uint8, c_uint16],
    ),
    "nfq_rs_ct_entry_set_zone": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_ct_entry_set_id": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_ct_tuple_src": (c_int, [c_void_p, c_char_p]),
    "nfq_rs_ct_tuple_dst": (c_int, [c_void_p, c_char_p]),
    "nfq_rs_ct_tuple_l4proto": (c_int, [c_void_p, _PU8]),
    "nfq_rs_ct_tuple_ports": (c_int, [c_void_p, _PU16, _PU16]),
    "nfq_rs_ct_tuple_icmp": (c_int, [c_void_p, _PU8, _PU8, _PU16]),
    "nfq_rs_ct_tuple_zone": (c_int, [c_void_p, _PU16]),
    "nfq_rs_ct_l4proto_name": (c_char_p, [c_uint8]),
    "nfq_rs_ct_open": (c_int, [c_char_p, _PPTR]),
    "nfq_rs_ct_close": (None, [c_void_p]),
    "nfq_rs_ct_last_error": (c_int, [c_void_p, c_char_p, c_size_t]),
    "nfq_rs_ct_dump": (
        c_int,
        [c_void_p, c_uint8, c_uint32, c_uint32, c_uint32, c_uint16, c_uint8, CT_CALLBACK, c_void_p],
    ),
    "nfq_rs_ct_get": (c_int, [c_void_p, c_void_p, c_void_p]),
    "nfq_rs_ct_update": (
        c_int,
        [c_void_p, c_void_p, c_uint32, c_uint32, c_uint32, c_uint32, c_uint32, c_char_p, c_char_p],
    ),
    "nfq_rs_ct_delete": (c_int, [c_void_p, c_void_p]),
    "nfq_rs_ct_flush": (c_int, [c_void_p, c_uint8]),
    "nfq_rs_ct_stats": (c_int, [c_void_p, _PU32, _PU32]),
}

# The NFLOG part of the C API (nfq_rs_log_*), declared on first use (log_lib()).
_LOG_PROTOTYPES = {
    "nfq_rs_log_config_new": (c_void_p, [c_uint16]),
    "nfq_rs_log_config_new_unbound": (c_void_p, []),
    "nfq_rs_log_config_free": (None, [c_void_p]),
    "nfq_rs_log_config_add_group": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_log_config_set_copy_mode": (c_int, [c_void_p, c_int, c_uint32]),
    "nfq_rs_log_config_set_nlbufsiz": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_log_config_set_timeout": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_log_config_set_threshold": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_log_config_set_flags": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_log_config_set_rcvbuf": (c_int, [c_void_p, c_size_t]),
    "nfq_rs_log_config_set_no_enobufs": (c_int, [c_void_p, c_int]),
    "nfq_rs_log_config_set_batch": (c_int, [c_void_p, c_uint32]),
    "nfq_rs_log_config_set_netns_path": (c_int, [c_void_p, c_char_p]),
    "nfq_rs_log_config_set_netns_fd": (c_int, [c_void_p, c_int]),
    "nfq_rs_log_open": (c_int, [c_void_p, LOG_CALLBACK, c_void_p, _PPTR]),
    "nfq_rs_log_close": (None, [c_void_p]),
    "nfq_rs_log_last_error": (c_int, [c_void_p, c_char_p, c_size_t]),
    "nfq_rs_log_fd": (c_int, [c_void_p]),
    "nfq_rs_log_set_callback": (c_int, [c_void_p, LOG_CALLBACK, c_void_p]),
    "nfq_rs_log_bind": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_log_unbind": (c_int, [c_void_p, c_uint16]),
    "nfq_rs_log_bind_pf": (c_int, [c_void_p, c_uint8]),
    "nfq_rs_log_unbind_pf": (c_int, [c_void_p, c_uint8]),
    "nfq_rs_log_set_copy_mode": (c_int, [c_void_p, c_uint16, c_int, c_uint32]),
    "nfq_rs_log_set_nlbufsiz": (c_int, [c_void_p, c_uint16, c_uint32]),
    "nfq_rs_log_set_timeout": (c_int, [c_void_p, c_uint16, c_uint32]),
    "nfq_rs_log_set_threshold": (c_int, [c_void_p, c_uint16, c_uint32]),
    "nfq_rs_log_set_flags": (c_int, [c_void_p, c_uint16, c_uint16]),
    "nfq_rs_log_set_rcvbuf": (c_int, [c_void_p, c_size_t]),
    "nfq_rs_log_set_no_enobufs": (c_int, [c_void_p, c_int]),
    "nfq_rs_log_dispatch": (c_int, [c_void_p, c_int]),
    "nfq_rs_log_run": (c_int, [c_void_p]),
    "nfq_rs_log_stop": (None, [c_void_p]),
    "nfq_rs_log_stat": (c_int, [c_void_p, c_int, _PU64]),
    "nfq_rs_log_kernel_drops": (c_int, [c_void_p, _PU64]),
    "nfq_rs_log_kernel_stat": (c_int, [c_void_p, c_uint16, c_int, _PU64]),
    "nfq_rs_log_packet_family": (c_uint8, [c_void_p]),
    "nfq_rs_log_packet_group": (c_uint16, [c_void_p]),
    "nfq_rs_log_packet_hw_protocol": (c_uint16, [c_void_p]),
    "nfq_rs_log_packet_hook": (c_uint8, [c_void_p]),
    "nfq_rs_log_packet_prefix": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_log_packet_payload": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_log_packet_mark": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_timestamp": (c_int, [c_void_p, _PU64, _PU64]),
    "nfq_rs_log_packet_indev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_outdev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_physindev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_physoutdev": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_hwaddr": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_log_packet_hwtype": (c_int, [c_void_p, _PU16]),
    "nfq_rs_log_packet_hwlen": (c_int, [c_void_p, _PU16]),
    "nfq_rs_log_packet_hwheader": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_log_packet_uid": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_gid": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_seq": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_seq_global": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_ct": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_log_packet_ct_info": (c_int, [c_void_p, _PU32]),
    "nfq_rs_log_packet_vlan": (c_int, [c_void_p, _PU16, _PU16]),
    "nfq_rs_log_packet_l2hdr": (c_int, [c_void_p, _PPTR, _PSIZE]),
    "nfq_rs_log_packet_get_info": (c_int, [c_void_p, c_void_p, c_size_t]),
    "nfq_rs_log_set_batch_callback": (c_int, [c_void_p, LOG_BATCH_CALLBACK, c_void_p]),
}


class LibraryNotFoundError(OSError):
    """libnfq_rs.so could not be loaded; ``.tried`` lists (place, reason) for every place looked at."""

    def __init__(self, tried: Sequence[Tuple[str, str]]):
        self.tried = list(tried)
        lines = [f"  - {place}: {reason}" for place, reason in self.tried]
        msg = (
            "nfq_rs: cannot load libnfq_rs.so. Looked in:\n"
            + "\n".join(lines)
            + f"\nBuild it with `cargo build --release` (target/release/libnfq_rs.so), install it "
            f"(`make install`), or set {ENV_VAR} to its full path."
        )
        super().__init__(msg)


class NfqError(OSError):
    """An error reported by libnfq_rs.

    ``code`` is the negative ``NFQ_RS_E_*`` code, ``name`` its symbolic name, ``message`` the
    library's detailed last-error message (``nfq_rs_last_error``), or its ``nfq_rs_strerror`` text
    when there is none.
    """

    def __init__(self, code: int, message: str, call: str = ""):
        self.code = code
        self.name = ERROR_NAMES.get(code, f"error {code}")
        self.message = message
        self.call = call
        super().__init__(message)

    def __str__(self) -> str:
        where = f"{self.call}: " if self.call and not self.message.startswith(self.call) else ""
        return f"{where}{self.message} [{self.name}]"

    def __reduce__(self):
        return (type(self), (self.code, self.message, self.call))


def package_dir() -> Path:
    return Path(__file__).resolve().parent


def candidates(
    environ=None, pkg_dir: Optional[Path] = None, find_library: Optional[Callable[[str], Optional[str]]] = None
) -> List[Tuple[str, str]]:
    """The places to try, in order, as (description, what to pass to CDLL).

    With NFQ_RS_LIBRARY set, only that path: an explicit choice never silently falls back to
    another copy of the library.
    """
    environ = os.environ if environ is None else environ
    pkg_dir = package_dir() if pkg_dir is None else Path(pkg_dir)
    find_library = ctypes.util.find_library if find_library is None else find_library
    explicit = environ.get(ENV_VAR)
    if explicit:
        return [(f"${ENV_VAR}={explicit}", explicit)]
    out = []
    for name in (LIB_NAME, SONAME):
        p = pkg_dir / name
        out.append((f"next to the package: {p}", str(p)))
    # Running from a source checkout (python/nfq_rs/ with python/pyproject.toml): the cargo build.
    if (pkg_dir.parent / "pyproject.toml").exists():
        checkout = pkg_dir.parent.parent / "target" / "release" / LIB_NAME
        out.append((f"source checkout build: {checkout}", str(checkout)))
    try:
        found = find_library("nfq_rs")
    except Exception as e:  # find_library runs external tools; never let it hide the real error
        found = None
        out.append(("ctypes.util.find_library('nfq_rs')", f"!{e}"))
    if found:
        out.append((f"system: ctypes.util.find_library('nfq_rs') -> {found}", found))
    else:
        out.append(("system: ctypes.util.find_library('nfq_rs')", "!not found"))
    out.append((f"system: dynamic loader search for {SONAME}", SONAME))
    return out


def load(environ=None, pkg_dir=None, find_library=None) -> ctypes.CDLL:
    """Loads the library from the first place that works; LibraryNotFoundError names them all."""
    tried = []
    for place, target in candidates(environ, pkg_dir, find_library):
        if target.startswith("!"):
            tried.append((place, target[1:]))
            continue
        if os.sep in target and not os.path.exists(target):
            tried.append((place, "no such file"))
            continue
        try:
            dll = ctypes.CDLL(target)
        except OSError as e:
            tried.append((place, str(e)))
            continue
        try:
            _declare(dll)
        except AttributeError as e:
            tried.append((place, f"loaded, but it is not libnfq_rs (or too old): {e}"))
            continue
        dll._nfq_rs_path = target
        return dll
    raise LibraryNotFoundError(tried)


def _declare(dll: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in _PROTOTYPES.items():
        f = getattr(dll, name)
        f.restype = restype
        f.argtypes = argtypes


_LIB: Optional[ctypes.CDLL] = None
_LIB_LOCK = threading.Lock()


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _LIB
    if _LIB is None:
        with _LIB_LOCK:
            if _LIB is None:
                _LIB = load()
    return _LIB


_CT_DECLARED = False


def ct_lib() -> ctypes.CDLL:
    """The loaded library with its conntrack functions (nfq_rs_ct_*) declared; an older
    library without them raises NfqError(NFQ_RS_E_NOTSUP) naming the missing symbol."""
    global _CT_DECLARED
    L = lib()
    if not _CT_DECLARED:
        with _LIB_LOCK:
            if not _CT_DECLARED:
                for name, (restype, argtypes) in _CT_PROTOTYPES.items():
                    try:
                        f = getattr(L, name)
                    except AttributeError:
                        raise NfqError(
                            NFQ_RS_E_NOTSUP,
                            f"{L._nfq_rs_path} has no {name}: it predates the conntrack API; rebuild it",
                            name,
                        ) from None
                    f.restype = restype
                    f.argtypes = argtypes
                _CT_DECLARED = True
    return L


_LOG_DECLARED = False


def log_lib() -> ctypes.CDLL:
    """The loaded library with its NFLOG functions (nfq_rs_log_*) declared; an older library
    without them raises NfqError(NFQ_RS_E_NOTSUP) naming the missing symbol."""
    global _LOG_DECLARED
    L = lib()
    if not _LOG_DECLARED:
        with _LIB_LOCK:
            if not _LOG_DECLARED:
                for name, (restype, argtypes) in _LOG_PROTOTYPES.items():
                    try:
                        f = getattr(L, name)
                    except AttributeError:
                        raise NfqError(
                            NFQ_RS_E_NOTSUP,
                            f"{L._nfq_rs_path} has no {name}: it predates the NFLOG API; rebuild it",
                            name,
                        ) from None
                    f.restype = restype
                    f.argtypes = argtypes
                _LOG_DECLARED = True
    return L


def log_last_error(handle=None) -> str:
    """The last error message of a log handle (or of the calling thread, handle None)."""
    L = log_lib()
    buf = ctypes.create_string_buffer(512)
    n = L.nfq_rs_log_last_error(handle, buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        L.nfq_rs_log_last_error(handle, buf, len(buf))
    return buf.value.decode(errors="replace")


def log_error(code: int, call: str = "", handle=None) -> NfqError:
    """Builds the NfqError for a failed nfq_rs_log_* call made on this thread just now."""
    msg = log_last_error(None)
    if not msg and handle is not None:
        msg = log_last_error(handle)
    if not msg:
        msg = strerror(code)
    return NfqError(code, msg, call)


def log_check(rc: int, call: str, handle=None) -> int:
    if rc < 0:
        raise log_error(rc, call, handle)
    return rc


def library_path() -> str:
    """Where the loaded library came from."""
    return lib()._nfq_rs_path


def version() -> str:
    """The library version string, e.g. "0.1.0"."""
    return lib().nfq_rs_version().decode()


def strerror(code: int) -> str:
    return lib().nfq_rs_strerror(code).decode(errors="replace")


def last_error(handle=None) -> str:
    """The last error message: of the calling thread (handle None) or of a handle."""
    L = lib()
    buf = ctypes.create_string_buffer(512)
    n = L.nfq_rs_last_error(handle, buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        L.nfq_rs_last_error(handle, buf, len(buf))
    return buf.value.decode(errors="replace")


def error(code: int, call: str = "", handle=None) -> NfqError:
    """Builds the NfqError for a failed call made on this thread just now."""
    msg = last_error(None)
    if not msg and handle is not None:
        msg = last_error(handle)
    if not msg:
        msg = strerror(code)
    return NfqError(code, msg, call)


def check(rc: int, call: str, handle=None) -> int:
    if rc < 0:
        raise error(rc, call, handle)
    return rc
