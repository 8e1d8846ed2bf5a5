//! The nfnetlink core: the AF_NETLINK socket, zero-copy views of netlink messages and
//! attributes, a message builder and the error type. Nothing here knows about NFQUEUE, so the
//! same core can serve ctnetlink or nflog.

mod builder;
mod endpoint;
mod error;
mod msg;
mod request;
mod socket;

pub use builder::{MsgBuilder, NestToken};
pub use endpoint::{Claim, Endpoint, OpenOptions, WAKE_SEQ, has_cap_net_admin, read_proc, socket_drops};
pub use error::{Error, ErrorKind, ParseError, Result, errno_name, kind_of_errno};
pub use msg::{Attr, Attrs, ErrorMsg, Messages, Msg, NfGenMsg, Vlan, attr_header_at};
pub use request::{DumpEnd, Event, Failure, dump, transact};
pub use socket::{EventFd, Netns, RecvBatch, RecvInfo, Socket};

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Length of `struct nfgenmsg`.
pub const NFGENMSG_LEN: usize = 4;
/// Length of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;

/// `NETLINK_NETFILTER`, the netlink protocol of every nfnetlink subsystem.
pub const NETLINK_NETFILTER: i32 = 12;

/// Standard netlink message types.
pub const NLMSG_NOOP: u16 = 1;
/// An error or an acknowledgement (`error == 0`).
pub const NLMSG_ERROR: u16 = 2;
/// End of a multipart dump.
pub const NLMSG_DONE: u16 = 3;
/// Data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// Message flags.
pub const NLM_F_REQUEST: u16 = 0x1;
/// Part of a multipart message.
pub const NLM_F_MULTI: u16 = 0x2;
/// Ask for an acknowledgement.
pub const NLM_F_ACK: u16 = 0x4;
/// Dump request (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// Create if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// Fail if it exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// Set on the messages of a dump whose table changed while it was read (`NLM_F_DUMP_INTR`).
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// ACK flag: the extended ACK carries TLVs (`NLM_F_ACK_TLVS`).
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// ACK flag: the echoed request was cut to its header (`NLM_F_CAPPED`).
pub const NLM_F_CAPPED: u16 = 0x100;

/// Attribute type flag: nested attribute.
pub const NLA_F_NESTED: u16 = 0x8000;
/// Attribute type flag: payload in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Mask for the attribute type proper.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// `NFNETLINK_V0`, the only nfgenmsg version.
pub const NFNETLINK_V0: u8 = 0;

/// Round up to the netlink alignment of 4 bytes.
#[inline]
pub const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Builds an nfnetlink message type from a subsystem id and a message number.
#[inline]
pub const fn nfnl_msg_type(subsys: u8, msg: u8) -> u16 {
    ((subsys as u16) << 8) | msg as u16
}
