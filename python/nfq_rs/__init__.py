"""nfq_rs: Python bindings (ctypes, no compiler needed) for libnfq_rs, a Linux NFQUEUE library.

    import nfq_rs

    def on_packet(pkt):
        print(pkt.id, pkt.hook.name, len(pkt.payload))
        pkt.accept()

    with nfq_rs.Queue(0) as q:
        q.run(on_packet)          # Ctrl-C or q.stop() from another thread ends it

The library is found through $NFQ_RS_LIBRARY (a full path), then next to this package
(nfq_rs/libnfq_rs.so, or target/release/ of the source checkout), then the system
(ctypes.util.find_library("nfq_rs"), libnfq_rs.so.0). See python/README.md.

Conntrack: ``pkt.conntrack`` decodes a packet's connection; ``nfq_rs.conntrack.Table`` dumps,
reads, changes and deletes entries of the conntrack table (ctnetlink).

NFLOG: ``nfq_rs.Log(group)`` receives what iptables/nft ``NFLOG`` rules log, as ``LogPacket``
objects (prefix, interfaces, mark, uid, payload, ...).

For scripts written for the PyPI ``netfilterqueue`` package: ``from nfq_rs.compat import
NetfilterQueue``.
"""

from ._lib import (
    NFQ_RS_SKB_CSUM_NOT_READY as SKB_CSUM_NOT_READY,
    NFQ_RS_SKB_CSUM_NOT_VERIFIED as SKB_CSUM_NOT_VERIFIED,
    NFQ_RS_SKB_GSO as SKB_GSO,
    LibraryNotFoundError,
    NfqError,
    library_path,
    version as library_version,
)
from ._lib import (
    NFQ_RS_E_BUSY as E_BUSY,
    NFQ_RS_E_INTERNAL as E_INTERNAL,
    NFQ_RS_E_INVAL as E_INVAL,
    NFQ_RS_E_NOBUFS as E_NOBUFS,
    NFQ_RS_E_NODEV as E_NODEV,
    NFQ_RS_E_NOENT as E_NOENT,
    NFQ_RS_E_NOMEM as E_NOMEM,
    NFQ_RS_E_NOTSUP as E_NOTSUP,
    NFQ_RS_E_PERM as E_PERM,
    NFQ_RS_E_PROTO as E_PROTO,
    NFQ_RS_E_SYS as E_SYS,
    NFQ_RS_E_TIMEOUT as E_TIMEOUT,
)
from . import conntrack
from .conntrack import Conntrack, CtInfo
from .log import Log, LogPacket
from .queue import (
    ACCEPT,
    COPY_META,
    COPY_NONE,
    COPY_PACKET,
    DROP,
    POLL_MS,
    REPEAT,
    STOP,
    Hook,
    Packet,
    Pool,
    Queue,
    queue_verdict,
)

__version__ = "0.1.0"

__all__ = [
    "ACCEPT",
    "DROP",
    "REPEAT",
    "STOP",
    "COPY_NONE",
    "COPY_META",
    "COPY_PACKET",
    "POLL_MS",
    "Hook",
    "Packet",
    "Pool",
    "Queue",
    "queue_verdict",
    "Log",
    "LogPacket",
    "conntrack",
    "Conntrack",
    "CtInfo",
    "NfqError",
    "LibraryNotFoundError",
    "library_path",
    "library_version",
    "SKB_CSUM_NOT_READY",
    "SKB_GSO",
    "SKB_CSUM_NOT_VERIFIED",
    "E_INVAL",
    "E_PERM",
    "E_BUSY",
    "E_NOTSUP",
    "E_NOENT",
    "E_NODEV",
    "E_NOBUFS",
    "E_PROTO",
    "E_TIMEOUT",
    "E_SYS",
    "E_NOMEM",
    "E_INTERNAL",
]
