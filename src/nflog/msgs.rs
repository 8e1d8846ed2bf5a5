//! NFLOG config messages (`NFULNL_MSG_CONFIG`), encoded with the core's builder. Byte layout of
//! a bind of group 100 (family AF_UNSPEC), sequence 1:
//!
//! ```text
//! 1c 00 00 00 01 04 05 00 01 00 00 00 00 00 00 00   nlmsghdr len=28 type=0x401 REQUEST|ACK
//! 00 00 00 64                                        nfgenmsg AF_UNSPEC v0 group 100 (BE)
//! 05 00 01 00 01 00 00 00                            NFULA_CFG_CMD BIND (+3 pad)
//! ```

use super::{NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG, cfg};
use crate::netlink::{MsgBuilder, NLM_F_ACK, NLM_F_REQUEST, nfnl_msg_type};

/// One config change of a group (or of a family's logger, for the `Pf*` commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigOp {
    /// A command (`cfg::CMD_*`).
    Cmd(u8),
    /// Copy mode (`copy::*`) and range (`struct nfulnl_msg_config_mode`).
    Mode {
        /// `copy::NONE`, `META` or `PACKET`.
        mode: u8,
        /// Bytes of each packet to copy.
        range: u32,
    },
    /// The group's buffer size in bytes.
    NlBufSiz(u32),
    /// Flush timeout in hundredths of a second.
    Timeout(u32),
    /// Messages per datagram before a flush.
    QThresh(u32),
    /// Group flags (`flags::*`), all of them (not a mask).
    Flags(u16),
}

/// Appends a config message for `group` (family `family`, AF_UNSPEC for group commands) to
/// `out`; asks for an ACK when `ack`. Returns the message's offset in `out`.
pub fn encode_config(out: &mut Vec<u8>, seq: u32, family: u8, group: u16, op: ConfigOp, ack: bool) -> usize {
    let start = out.len();
    let flags = NLM_F_REQUEST | if ack { NLM_F_ACK } else { 0 };
    let mut b = MsgBuilder::new(out, nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG), flags, seq);
    b.nfgen(family, group);
    match op {
        ConfigOp::Cmd(c) => {
            b.put(cfg::CMD, &[c]);
        }
        ConfigOp::Mode { mode, range } => {
            let mut m = [0u8; 6];
            m[..4].copy_from_slice(&range.to_be_bytes());
            m[4] = mode;
            b.put(cfg::MODE, &m);
        }
        ConfigOp::NlBufSiz(n) => {
            b.put_be32(cfg::NLBUFSIZ, n);
        }
        ConfigOp::Timeout(t) => {
            b.put_be32(cfg::TIMEOUT, t);
        }
        ConfigOp::QThresh(q) => {
            b.put_be32(cfg::QTHRESH, q);
        }
        ConfigOp::Flags(f) => {
            b.put_be16(cfg::FLAGS, f);
        }
    }
    b.finish();
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_message_matches_the_uapi_layout() {
        let mut v = Vec::new();
        encode_config(&mut v, 1, 0, 100, ConfigOp::Cmd(cfg::CMD_BIND), true);
        assert_eq!(
            v,
            [0x1c, 0, 0, 0, 0x01, 0x04, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 5, 0, 1, 0, 1, 0, 0, 0]
        );
    }

    #[test]
    fn mode_message_is_packed_range_then_mode() {
        let mut v = Vec::new();
        encode_config(&mut v, 7, 2, 1, ConfigOp::Mode { mode: 2, range: 0x1234 }, false);
        assert_eq!(v.len(), 16 + 4 + 12);
        assert_eq!(&v[20..30], &[10, 0, 2, 0, 0, 0, 0x12, 0x34, 2, 0]);
        assert_eq!(u16::from_ne_bytes([v[6], v[7]]), NLM_F_REQUEST);
        assert_eq!(v[16], 2);
    }

    #[test]
    fn numeric_options_are_big_endian() {
        for (op, kind, bytes) in [
            (ConfigOp::NlBufSiz(65536), cfg::NLBUFSIZ, vec![0, 1, 0, 0]),
            (ConfigOp::Timeout(5), cfg::TIMEOUT, vec![0, 0, 0, 5]),
            (ConfigOp::QThresh(8), cfg::QTHRESH, vec![0, 0, 0, 8]),
            (ConfigOp::Flags(3), cfg::FLAGS, vec![0, 3]),
        ] {
            let mut v = Vec::new();
            encode_config(&mut v, 1, 0, 9, op, true);
            assert_eq!(u16::from_ne_bytes([v[22], v[23]]), kind);
            assert_eq!(&v[24..24 + bytes.len()], &bytes[..]);
        }
    }
}
