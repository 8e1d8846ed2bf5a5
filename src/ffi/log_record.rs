//! The C API's record of a log message (`nfq_rs_log_packet_info`): the fields most programs
//! read, as plain values and pointers into the receive buffer. The receive loop's batch path
//! decodes each message straight into its record with the log view's one attribute pass
//! (`nflog::decode_attrs`), so a batch of records costs no view, no copy of one and no call per
//! message; the per-packet path builds the same record from a view (`of`).

use crate::netlink::{NFGENMSG_LEN, ParseError};
use crate::nflog::{LogPacket, RecordDecode, Store, attr, decode_attrs, slot, span};
use std::ffi::c_char;

/// The `present` bits a record carries: `1 << NFULA_*` of the attribute each field comes from.
pub(crate) const INFO_BITS: u32 = (1 << attr::MARK)
    | (1 << attr::TIMESTAMP)
    | (1 << attr::IFINDEX_INDEV)
    | (1 << attr::IFINDEX_OUTDEV)
    | (1 << attr::IFINDEX_PHYSINDEV)
    | (1 << attr::IFINDEX_PHYSOUTDEV)
    | (1 << attr::PAYLOAD)
    | (1 << attr::PREFIX)
    | (1 << attr::UID)
    | (1 << attr::SEQ)
    | (1 << attr::SEQ_GLOBAL)
    | (1 << attr::GID);

/// The fields of a log message that most programs read, filled by one call
/// (`nfq_rs_log_packet_get_info`) or handed out a batch at a time
/// (`nfq_rs_log_set_batch_callback`), instead of one call per field. Its layout is part of the
/// ABI: fields are only ever appended, and callers pass the size they were built with. An
/// absent field is 0 (NULL for the pointers) and its `present` bit is clear. The pointers point
/// into the receive buffer and are valid until the callback returns.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct nfq_rs_log_packet_info {
    /// `NFQ_RS_LOG_INFO_*` bits: which of the optional fields the kernel sent.
    pub present: u32,
    /// Packet mark.
    pub mark: u32,
    /// Input interface index.
    pub indev: u32,
    /// Output interface index.
    pub outdev: u32,
    /// Physical input interface index (bridge port).
    pub physindev: u32,
    /// Physical output interface index (bridge port).
    pub physoutdev: u32,
    /// Owner uid of the local socket.
    pub uid: u32,
    /// Owner gid of the local socket.
    pub gid: u32,
    /// The group's sequence number.
    pub seq: u32,
    /// The namespace-wide sequence number.
    pub seq_global: u32,
    /// Link-layer protocol in host order.
    pub hw_protocol: u16,
    /// The NFLOG group.
    pub group: u16,
    /// Address family of the hook.
    pub family: u8,
    /// Netfilter hook.
    pub hook: u8,
    /// Arrival time, seconds.
    pub timestamp_sec: u64,
    /// Arrival time, microseconds.
    pub timestamp_usec: u64,
    /// The rule's prefix, NUL-terminated.
    pub prefix: *const c_char,
    /// Its length without the NUL.
    pub prefix_len: usize,
    /// The logged bytes of the packet, from its network header.
    pub payload: *const u8,
    /// Their length.
    pub payload_len: usize,
}

// The nine 32-bit fields follow `present` in the order of the view's slots, so the decoder
// stores slot `s` at `mark + s` (checked here, at compile time).
const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(nfq_rs_log_packet_info, mark) == 4 + 4 * slot::MARK);
    assert!(offset_of!(nfq_rs_log_packet_info, indev) == 4 + 4 * slot::INDEV);
    assert!(offset_of!(nfq_rs_log_packet_info, outdev) == 4 + 4 * slot::OUTDEV);
    assert!(offset_of!(nfq_rs_log_packet_info, physindev) == 4 + 4 * slot::PHYSINDEV);
    assert!(offset_of!(nfq_rs_log_packet_info, physoutdev) == 4 + 4 * slot::PHYSOUTDEV);
    assert!(offset_of!(nfq_rs_log_packet_info, uid) == 4 + 4 * slot::UID);
    assert!(offset_of!(nfq_rs_log_packet_info, gid) == 4 + 4 * slot::GID);
    assert!(offset_of!(nfq_rs_log_packet_info, seq) == 4 + 4 * slot::SEQ);
    assert!(offset_of!(nfq_rs_log_packet_info, seq_global) == 4 + 4 * slot::SEQ_GLOBAL);
    assert!(slot::CT_INFO == slot::SEQ_GLOBAL + 1);
};

impl nfq_rs_log_packet_info {
    /// All fields absent.
    const EMPTY: nfq_rs_log_packet_info = nfq_rs_log_packet_info {
        present: 0,
        mark: 0,
        indev: 0,
        outdev: 0,
        physindev: 0,
        physoutdev: 0,
        uid: 0,
        gid: 0,
        seq: 0,
        seq_global: 0,
        hw_protocol: 0,
        group: 0,
        family: 0,
        hook: 0,
        timestamp_sec: 0,
        timestamp_usec: 0,
        prefix: std::ptr::null(),
        prefix_len: 0,
        payload: std::ptr::null(),
        payload_len: 0,
    };

    /// The record of a decoded view: its presence bits are the record's, and its absent values
    /// are 0.
    #[inline]
    pub(crate) fn of(p: &LogPacket<'_>) -> Self {
        let v = p.u32_slots();
        let mut present = p.present_bits() & INFO_BITS;
        let (mut timestamp_sec, mut timestamp_usec) = (0, 0);
        if present & (1 << attr::TIMESTAMP) != 0 {
            (timestamp_sec, timestamp_usec) = p.timestamp().unwrap_or_default();
        }
        let (mut prefix, mut prefix_len) = (std::ptr::null(), 0);
        if present & (1 << attr::PREFIX) != 0 {
            // Only a prefix with its NUL can be handed out as a C string.
            match (p.raw_prefix(), p.prefix_bytes()) {
                (Some(raw), Some(s)) if s.len() < raw.len() => {
                    (prefix, prefix_len) = (s.as_ptr() as *const c_char, s.len())
                }
                _ => present &= !(1 << attr::PREFIX),
            }
        }
        let (payload, payload_len) = p.payload().map_or((std::ptr::null(), 0), |d| (d.as_ptr(), d.len()));
        nfq_rs_log_packet_info {
            present,
            mark: v[slot::MARK],
            indev: v[slot::INDEV],
            outdev: v[slot::OUTDEV],
            physindev: v[slot::PHYSINDEV],
            physoutdev: v[slot::PHYSOUTDEV],
            uid: v[slot::UID],
            gid: v[slot::GID],
            seq: v[slot::SEQ],
            seq_global: v[slot::SEQ_GLOBAL],
            hw_protocol: p.hw_protocol(),
            group: p.group(),
            family: p.family(),
            hook: p.hook(),
            timestamp_sec,
            timestamp_usec,
            prefix,
            prefix_len,
            payload,
            payload_len,
        }
    }
}

impl RecordDecode for nfq_rs_log_packet_info {
    const EMPTY: nfq_rs_log_packet_info = nfq_rs_log_packet_info::EMPTY;

    /// Decodes a `NFULNL_MSG_PACKET` message's payload (`p`: the bytes after its nlmsghdr)
    /// straight into `rec` (all fields absent on entry): the same checks as
    /// `LogPacket::parse` (the same pass), and the same record as
    /// [`of`](nfq_rs_log_packet_info::of) gives for its view.
    #[inline]
    fn decode_into(p: &[u8], rec: &mut nfq_rs_log_packet_info) -> Result<(), ParseError> {
        if p.len() < NFGENMSG_LEN {
            return Err(ParseError::Truncated { what: "nfgenmsg", need: NFGENMSG_LEN, have: p.len() });
        }
        rec.family = p[0];
        rec.group = u16::from_be_bytes([p[2], p[3]]);
        let mut out = RecordStore { rec, prefix_nul: false };
        let present = decode_attrs(&p[NFGENMSG_LEN..], &mut out)?;
        let prefix_nul = out.prefix_nul;
        rec.present = present & INFO_BITS;
        if rec.present & (1 << attr::PREFIX) != 0 && !prefix_nul {
            rec.present &= !(1 << attr::PREFIX);
            (rec.prefix, rec.prefix_len) = (std::ptr::null(), 0);
        }
        Ok(())
    }
}

/// The record being filled, and whether its prefix had its NUL.
struct RecordStore<'r> {
    rec: &'r mut nfq_rs_log_packet_info,
    prefix_nul: bool,
}

impl<'a> Store<'a> for RecordStore<'_> {
    #[inline(always)]
    fn u32(&mut self, s: usize, v: u32) {
        if s <= slot::SEQ_GLOBAL {
            // SAFETY: nfq_rs_log_packet_info is repr(C) with the nine u32 fields from `mark` on in slot order
            // (asserted above), and s <= 8: the store stays inside the record.
            unsafe {
                let base = std::ptr::addr_of_mut!(*self.rec).cast::<u8>();
                base.add(std::mem::offset_of!(nfq_rs_log_packet_info, mark) + 4 * s).cast::<u32>().write(v);
            }
        }
    }
    #[inline(always)]
    fn span(&mut self, s: usize, _at: usize, d: &'a [u8]) {
        match s {
            span::PAYLOAD => (self.rec.payload, self.rec.payload_len) = (d.as_ptr(), d.len()),
            span::PREFIX => {
                // A plain scan: prefixes are short (63 bytes with iptables, 127 with nft).
                let n = d.iter().position(|&b| b == 0);
                self.prefix_nul = n.is_some();
                (self.rec.prefix, self.rec.prefix_len) = (d.as_ptr() as *const c_char, n.unwrap_or(0));
            }
            span::TIMESTAMP => {
                // decode_attrs checked the 16 bytes of struct nfulnl_msg_packet_timestamp.
                let w = |i: usize| u64::from_be_bytes(d[i..i + 8].try_into().unwrap_or_default());
                (self.rec.timestamp_sec, self.rec.timestamp_usec) = (w(0), w(8));
            }
            _ => {}
        }
    }
    #[inline(always)]
    fn hdr(&mut self, hw_protocol: u16, hook: u8) {
        self.rec.hw_protocol = hw_protocol;
        self.rec.hook = hook;
    }
    #[inline(always)]
    fn hw16(&mut self, _hwlen: bool, _v: u16) {}
}

/// The record decoder, for the fuzz target (which checks it against [`log_record_of`]).
#[doc(hidden)]
pub fn decode_log_record(payload: &[u8]) -> Result<nfq_rs_log_packet_info, ParseError> {
    let mut rec = nfq_rs_log_packet_info::EMPTY;
    <nfq_rs_log_packet_info as RecordDecode>::decode_into(payload, &mut rec).map(|_| rec)
}

/// The record of a view, for the fuzz target.
#[doc(hidden)]
pub fn log_record_of(p: &LogPacket<'_>) -> nfq_rs_log_packet_info {
    nfq_rs_log_packet_info::of(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{Messages, MsgBuilder, nfnl_msg_type};
    use crate::nflog::{NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET};

    fn msg_with(f: impl FnOnce(&mut MsgBuilder<'_>)) -> Vec<u8> {
        let mut v = Vec::new();
        let mut b = MsgBuilder::new(&mut v, nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET), 0, 0);
        b.nfgen(10, 300);
        f(&mut b);
        b.finish();
        v
    }

    /// The record decoder and the view + `of` agree on `v`: both accept with the same record,
    /// or both refuse with the same error.
    fn agree(v: &[u8]) -> bool {
        let Some(Ok(m)) = Messages::new(v).next() else { return false };
        if m.msg_type() != nfnl_msg_type(NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET) {
            return false; // the receive loop checks the type before either decoder runs
        }
        let a = decode_log_record(m.payload());
        let b = LogPacket::parse(&m).map(|p| log_record_of(&p));
        assert_eq!(a, b, "record decoder and view disagree on {v:02x?}");
        a.is_ok()
    }

    fn every_attribute() -> Vec<u8> {
        msg_with(|b| {
            b.put(attr::PACKET_HDR, &[0x86, 0xdd, 1, 0]);
            b.put_be32(attr::MARK, 7);
            b.put(attr::TIMESTAMP, &[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 3]);
            b.put_be32(attr::IFINDEX_INDEV, 2);
            b.put_be32(attr::IFINDEX_OUTDEV, 3);
            b.put_be32(attr::IFINDEX_PHYSINDEV, 4);
            b.put_be32(attr::IFINDEX_PHYSOUTDEV, 5);
            b.put(attr::HWADDR, &[0, 6, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0]);
            b.put(attr::PAYLOAD, &[0x60, 0, 0, 0, 0, 8, 17, 64]);
            b.put(attr::PREFIX, b"ping\0");
            b.put_be32(attr::UID, 1000);
            b.put_be32(attr::SEQ, 11);
            b.put_be32(attr::SEQ_GLOBAL, 12);
            b.put_be32(attr::GID, 100);
            b.put_be16(attr::HWTYPE, 1);
            b.put(attr::HWHEADER, &[1; 14]);
            b.put_be16(attr::HWLEN, 14);
            b.put(attr::CT, &[4, 0, 1, 0]);
            b.put_be32(attr::CT_INFO, 2);
            let n = b.nest_start(attr::VLAN);
            b.put_be16(attr::VLAN_PROTO, 0x8100);
            b.put_be16(attr::VLAN_TCI, 5);
            b.nest_end(n);
            b.put(attr::L2HDR, &[2; 14]);
            b.put(99, &[1, 2, 3]);
        })
    }

    #[test]
    fn every_field_is_decoded_as_the_view_gives_it() {
        let v = every_attribute();
        let m = Messages::new(&v).next().unwrap().unwrap();
        let r = decode_log_record(m.payload()).unwrap();
        assert_eq!(r, log_record_of(&LogPacket::parse(&m).unwrap()));
        assert_eq!((r.family, r.group, r.hw_protocol, r.hook), (10, 300, 0x86dd, 1));
        assert_eq!((r.mark, r.indev, r.outdev, r.physindev, r.physoutdev), (7, 2, 3, 4, 5));
        assert_eq!((r.uid, r.gid, r.seq, r.seq_global), (1000, 100, 11, 12));
        assert_eq!((r.timestamp_sec, r.timestamp_usec, r.prefix_len, r.payload_len), (9, 3, 4, 8));
        assert_eq!(r.present, INFO_BITS);
    }

    #[test]
    fn every_one_byte_change_gives_the_same_answer_both_ways() {
        let mut accepted = 0;
        let bases = [
            every_attribute(),
            // No NUL in the prefix: the record drops it; a prefix sent twice: the last counts.
            msg_with(|b| {
                b.put(attr::PACKET_HDR, &[8, 0, 3, 0]);
                b.put(attr::PREFIX, b"abc");
                b.put(attr::PAYLOAD, &[0x45; 20]);
            }),
            msg_with(|b| {
                b.put(attr::PREFIX, b"one\0");
                b.put(attr::PACKET_HDR, &[8, 0, 3, 0]);
                b.put(attr::PREFIX, b"second\0");
                b.put_be32(attr::MARK, 1);
                b.put_be32(attr::MARK, 2);
            }),
        ];
        for base in &bases {
            // The header's length stays; every other byte takes every value.
            for i in 4..base.len() {
                for x in 0..=255u8 {
                    let mut v = base.clone();
                    v[i] = x;
                    accepted += agree(&v) as usize;
                }
            }
            // Every cut of the message (its length fixed up).
            for n in 16..base.len() {
                let mut v = base[..n].to_vec();
                v[..4].copy_from_slice(&(n as u32).to_ne_bytes());
                accepted += agree(&v) as usize;
            }
        }
        assert!(accepted > 1000, "the mutations must exercise accepted messages too ({accepted})");
    }
}
