//! The NFLOG protocol on the nfnetlink core (`NFNL_SUBSYS_ULOG`, the iptables/nft `NFLOG`
//! target): constants from the kernel UAPI (`linux/netfilter/nfnetlink_log.h`), the config
//! messages, the zero-copy view of one logged packet, and the group handle with its receive
//! loop over datagrams that carry many log messages.
//!
//! How the kernel delivers: each bound group has a buffer (`NLBUFSIZ`, one page by default);
//! logged packets are appended to it as `NFULNL_MSG_PACKET` messages and the buffer is sent as
//! one datagram when `QTHRESH` messages are in it (or a rule's lower `--nflog-threshold`), when
//! the next message would not fit, or `TIMEOUT` hundredths of a second after the first one.
//! A datagram with more than one message ends with an `NLMSG_DONE`. Nothing is ever answered:
//! logging has no verdicts.
//!
//! ```no_run
//! use nfq_rs::nflog::{Config, Log};
//! let mut cfg = Config::new(100);
//! cfg.threshold(8).timeout_cs(10);
//! let log = Log::open(&cfg).expect("bind group 100 (needs CAP_NET_ADMIN)");
//! log.run(&mut |p| {
//!     println!("{} {} bytes", p.prefix().unwrap_or(""), p.payload().map_or(0, |d| d.len()));
//! }).unwrap();
//! ```

mod handle;
pub(crate) mod msgs;
mod packet;

pub(crate) use handle::RecordDecode;
pub use handle::{Config, KernelStats, Log, Stats};
pub use msgs::{ConfigOp, encode_config};
pub use packet::{LogPacket, Vlan};
pub(crate) use packet::{Store, decode_attrs, slot, span};

/// nfnetlink subsystem id of NFLOG (`NFNL_SUBSYS_ULOG`).
pub const NFNL_SUBSYS_ULOG: u8 = 4;

/// `NFULNL_MSG_PACKET`: kernel → user, a logged packet.
pub const NFULNL_MSG_PACKET: u8 = 0;
/// `NFULNL_MSG_CONFIG`: user → kernel, group configuration.
pub const NFULNL_MSG_CONFIG: u8 = 1;

/// Log message attributes (`enum nfulnl_attr_type`).
pub mod attr {
    #![allow(missing_docs)]
    pub const PACKET_HDR: u16 = 1;
    pub const MARK: u16 = 2;
    pub const TIMESTAMP: u16 = 3;
    pub const IFINDEX_INDEV: u16 = 4;
    pub const IFINDEX_OUTDEV: u16 = 5;
    pub const IFINDEX_PHYSINDEV: u16 = 6;
    pub const IFINDEX_PHYSOUTDEV: u16 = 7;
    pub const HWADDR: u16 = 8;
    pub const PAYLOAD: u16 = 9;
    pub const PREFIX: u16 = 10;
    pub const UID: u16 = 11;
    pub const SEQ: u16 = 12;
    pub const SEQ_GLOBAL: u16 = 13;
    pub const GID: u16 = 14;
    pub const HWTYPE: u16 = 15;
    pub const HWHEADER: u16 = 16;
    pub const HWLEN: u16 = 17;
    pub const CT: u16 = 18;
    pub const CT_INFO: u16 = 19;
    pub const VLAN: u16 = 20;
    pub const L2HDR: u16 = 21;
    /// Inside NFULA_VLAN.
    pub const VLAN_PROTO: u16 = 1;
    /// Inside NFULA_VLAN.
    pub const VLAN_TCI: u16 = 2;
}

/// Config attributes (`enum nfulnl_attr_config`) and commands (`enum nfulnl_msg_config_cmds`).
pub mod cfg {
    #![allow(missing_docs)]
    pub const CMD: u16 = 1;
    pub const MODE: u16 = 2;
    pub const NLBUFSIZ: u16 = 3;
    pub const TIMEOUT: u16 = 4;
    pub const QTHRESH: u16 = 5;
    pub const FLAGS: u16 = 6;
    pub const CMD_NONE: u8 = 0;
    pub const CMD_BIND: u8 = 1;
    pub const CMD_UNBIND: u8 = 2;
    pub const CMD_PF_BIND: u8 = 3;
    pub const CMD_PF_UNBIND: u8 = 4;
}

/// Copy modes (`NFULNL_COPY_*`).
pub mod copy {
    /// No packet is logged at all (the kernel skips the group).
    pub const NONE: u8 = 0;
    /// Metadata only.
    pub const META: u8 = 1;
    /// Metadata and up to the copy range of the packet.
    pub const PACKET: u8 = 2;
}

/// Group flags (`NFULNL_CFG_F_*`).
pub mod flags {
    /// Number the group's messages (`NFULA_SEQ`).
    pub const SEQ: u16 = 1;
    /// Number messages across all groups of the namespace (`NFULA_SEQ_GLOBAL`).
    pub const SEQ_GLOBAL: u16 = 2;
    /// Attach conntrack info (`NFULA_CT`, `NFULA_CT_INFO`; needs CONFIG_NETFILTER_NETLINK_GLUE_CT).
    pub const CONNTRACK: u16 = 4;
}

/// Largest copy range (`NFULNL_COPY_RANGE_MAX`, `0xffff - NLA_HDRLEN`); larger ranges and 0
/// are clamped to it by the kernel.
pub const MAX_COPY_RANGE: u32 = 65531;
/// Largest group buffer the kernel accepts (`NLBUFSIZ`); it silently ignores larger values.
pub const MAX_NLBUFSIZ: u32 = 131072;
/// The kernel's default threshold (`NFULNL_QTHRESH_DEFAULT`).
pub const DEFAULT_QTHRESH: u32 = 100;
/// The kernel's default flush timeout in hundredths of a second (`NFULNL_TIMEOUT_DEFAULT`).
pub const DEFAULT_TIMEOUT_CS: u32 = 100;

/// The smallest group buffer the kernel accepts: `NLMSG_GOODSIZE`, which depends on the page
/// size and the kernel's `struct skb_shared_info`; the kernel silently ignores smaller values.
/// We accept from one page up, which every kernel takes.
pub fn min_nlbufsiz() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 { (page as u32).min(MAX_NLBUFSIZ) } else { 4096 }
}
