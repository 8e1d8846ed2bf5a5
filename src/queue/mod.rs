//! The NFQUEUE protocol on the nfnetlink core: constants from the kernel UAPI
//! (`linux/netfilter/nfnetlink_queue.h`), the packet view, config and verdict messages, and the
//! queue handle with its receive/dispatch loop.

mod handle;
pub(crate) mod msgs;
mod packet;
mod pool;

pub use handle::{Config, CopyMode, Decision, KernelStats, PacketCtx, Queue, Stats};
pub use msgs::{
    ConfigOp, PLAIN_VERDICT_MAX, VerdictOpts, encode_config, encode_plain_verdict, encode_verdict, encode_verdict_batch,
};
pub use packet::{Packet, PacketHeader, Vlan};
pub use pool::{Pool, PoolCallback};

/// nfnetlink subsystem id of NFQUEUE (`NFNL_SUBSYS_QUEUE`).
pub const NFNL_SUBSYS_QUEUE: u8 = 3;

/// `NFQNL_MSG_PACKET`: kernel → user, a queued packet.
pub const NFQNL_MSG_PACKET: u8 = 0;
/// `NFQNL_MSG_VERDICT`: user → kernel, a verdict for one packet.
pub const NFQNL_MSG_VERDICT: u8 = 1;
/// `NFQNL_MSG_CONFIG`: user → kernel, queue configuration.
pub const NFQNL_MSG_CONFIG: u8 = 2;
/// `NFQNL_MSG_VERDICT_BATCH`: user → kernel, one verdict for all ids up to a maximum.
pub const NFQNL_MSG_VERDICT_BATCH: u8 = 3;

/// Packet attributes (`enum nfqnl_attr_type`).
pub mod attr {
    #![allow(missing_docs)]
    pub const PACKET_HDR: u16 = 1;
    pub const VERDICT_HDR: u16 = 2;
    pub const MARK: u16 = 3;
    pub const TIMESTAMP: u16 = 4;
    pub const IFINDEX_INDEV: u16 = 5;
    pub const IFINDEX_OUTDEV: u16 = 6;
    pub const IFINDEX_PHYSINDEV: u16 = 7;
    pub const IFINDEX_PHYSOUTDEV: u16 = 8;
    pub const HWADDR: u16 = 9;
    pub const PAYLOAD: u16 = 10;
    pub const CT: u16 = 11;
    pub const CT_INFO: u16 = 12;
    pub const CAP_LEN: u16 = 13;
    pub const SKB_INFO: u16 = 14;
    pub const EXP: u16 = 15;
    pub const UID: u16 = 16;
    pub const GID: u16 = 17;
    pub const SECCTX: u16 = 18;
    pub const VLAN: u16 = 19;
    pub const L2HDR: u16 = 20;
    pub const PRIORITY: u16 = 21;
    pub const CGROUP_CLASSID: u16 = 22;
    /// Inside NFQA_VLAN.
    pub const VLAN_PROTO: u16 = 1;
    /// Inside NFQA_VLAN.
    pub const VLAN_TCI: u16 = 2;
}

/// Config attributes (`enum nfqnl_attr_config`) and commands.
pub mod cfg {
    #![allow(missing_docs)]
    pub const CMD: u16 = 1;
    pub const PARAMS: u16 = 2;
    pub const QUEUE_MAXLEN: u16 = 3;
    pub const MASK: u16 = 4;
    pub const FLAGS: u16 = 5;
    pub const CMD_NONE: u8 = 0;
    pub const CMD_BIND: u8 = 1;
    pub const CMD_UNBIND: u8 = 2;
    pub const CMD_PF_BIND: u8 = 3;
    pub const CMD_PF_UNBIND: u8 = 4;
}

/// Queue flags (`NFQA_CFG_F_*`).
pub mod flags {
    /// Accept packets instead of dropping them when the queue is full.
    pub const FAIL_OPEN: u32 = 1;
    /// Attach conntrack info (needs CONFIG_NETFILTER_NETLINK_GLUE_CT).
    pub const CONNTRACK: u32 = 2;
    /// Deliver GSO packets unsegmented.
    pub const GSO: u32 = 4;
    /// Attach the socket owner's uid and gid.
    pub const UID_GID: u32 = 8;
    /// Attach the security context.
    pub const SECCTX: u32 = 16;
    /// First unknown flag bit.
    pub const MAX: u32 = 32;
}

/// `NFQA_SKB_INFO` bits.
pub mod skbinfo {
    /// Checksum not yet computed (`NFQA_SKB_CSUMNOTREADY`).
    pub const CSUM_NOT_READY: u32 = 1;
    /// A GSO packet (`NFQA_SKB_GSO`).
    pub const GSO: u32 = 2;
    /// Checksum not verified (`NFQA_SKB_CSUM_NOTVERIFIED`).
    pub const CSUM_NOT_VERIFIED: u32 = 4;
}

/// Largest copy range the kernel accepts (`0xffff - NLA_HDRLEN`).
pub const MAX_COPY_RANGE: u32 = 65531;
/// Largest replacement payload a verdict can carry.
pub const MAX_PAYLOAD: usize = 65531;

/// `NF_VERDICT_FLAG_QUEUE_BYPASS`: with a queue verdict, continue if the target queue is gone.
pub const VERDICT_FLAG_QUEUE_BYPASS: u32 = 0x8000;

/// A verdict for a queued packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `NF_DROP`.
    Drop,
    /// `NF_ACCEPT`: continue with the next hook.
    Accept,
    /// `NF_QUEUE` to another queue number; with `bypass`, accept if nobody listens there.
    Queue {
        /// Target queue.
        num: u16,
        /// `NF_VERDICT_FLAG_QUEUE_BYPASS`.
        bypass: bool,
    },
    /// `NF_REPEAT`: run the same hook again (rules see the new mark).
    Repeat,
    /// `NF_STOP`: accept without running the remaining hooks.
    Stop,
}

impl Verdict {
    /// The kernel's 32-bit encoding.
    #[inline]
    pub const fn raw(self) -> u32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Queue { num, bypass } => {
                ((num as u32) << 16) | 3 | if bypass { VERDICT_FLAG_QUEUE_BYPASS } else { 0 }
            }
            Verdict::Repeat => 4,
            Verdict::Stop => 5,
        }
    }

    /// Decodes a kernel verdict; `None` for what the kernel would reject (NF_STOLEN, unknown
    /// codes, stray flag bits, a queue number on a non-queue verdict).
    pub const fn from_raw(v: u32) -> Option<Verdict> {
        let code = v & 0xff;
        let flags = v & 0xff00;
        let num = (v >> 16) as u16;
        if code == 3 {
            if flags & !VERDICT_FLAG_QUEUE_BYPASS != 0 {
                return None;
            }
            return Some(Verdict::Queue { num, bypass: flags != 0 });
        }
        if flags != 0 || num != 0 {
            return None;
        }
        match code {
            0 => Some(Verdict::Drop),
            1 => Some(Verdict::Accept),
            4 => Some(Verdict::Repeat),
            5 => Some(Verdict::Stop),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_encoding_round_trips_and_rejects_stolen() {
        for v in [
            Verdict::Drop,
            Verdict::Accept,
            Verdict::Repeat,
            Verdict::Stop,
            Verdict::Queue { num: 0, bypass: false },
            Verdict::Queue { num: 65535, bypass: true },
        ] {
            assert_eq!(Verdict::from_raw(v.raw()), Some(v));
        }
        assert_eq!(Verdict::Queue { num: 7, bypass: true }.raw(), 0x0007_8003);
        assert_eq!(Verdict::from_raw(2), None);
        assert_eq!(Verdict::from_raw(6), None);
        assert_eq!(Verdict::from_raw(0x101), None);
        assert_eq!(Verdict::from_raw(0x10001), None);
    }
}
