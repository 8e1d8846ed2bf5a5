//! Encoders for the messages we send: config requests, verdicts and batch verdicts. They
//! append to a caller's buffer so a batch of verdicts becomes one `sendmsg`.

use super::{NFNL_SUBSYS_QUEUE, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT, NFQNL_MSG_VERDICT_BATCH, attr, cfg};
use crate::netlink::{MsgBuilder, NLM_F_ACK, NLM_F_REQUEST, nfnl_msg_type};

/// `CTA_MARK` inside `NFQA_CT`: the connection mark.
const CTA_MARK: u16 = 8;
/// `CTA_LABELS` inside `NFQA_CT`: the connection's 128 label bits.
const CTA_LABELS: u16 = 22;
/// `CTA_LABELS_MASK` inside `NFQA_CT`: which label bits `CTA_LABELS` changes.
const CTA_LABELS_MASK: u16 = 23;

/// Optional parts of a verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerdictOpts<'a> {
    /// New skb->mark (`NFQA_MARK`).
    pub mark: Option<u32>,
    /// New connection mark (`NFQA_CT` { `CTA_MARK` }); needs conntrack glue in the kernel,
    /// which ignores it otherwise.
    pub connmark: Option<u32>,
    /// New skb->priority (`NFQA_PRIORITY`).
    pub priority: Option<u32>,
    /// Replacement packet, from the network header (`NFQA_PAYLOAD`, at most 65531 bytes).
    pub payload: Option<&'a [u8]>,
    /// New connection labels and the mask of the bits to change (`NFQA_CT` { `CTA_LABELS`,
    /// `CTA_LABELS_MASK` }); like `connmark`, needs conntrack glue in the kernel, and the
    /// connection needs label storage (a connlabel rule in the namespace).
    pub labels: Option<(&'a [u8; 16], &'a [u8; 16])>,
}

/// A config request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigOp {
    /// `NFQA_CFG_CMD` {cmd, pf}.
    Cmd {
        /// `NFQNL_CFG_CMD_*`.
        cmd: u8,
        /// Protocol family (only meaningful for the obsolete PF_(UN)BIND).
        pf: u16,
    },
    /// `NFQA_CFG_PARAMS` {range, mode}.
    Params {
        /// Copy mode (0 none, 1 meta, 2 packet).
        mode: u8,
        /// Bytes of payload to copy.
        range: u32,
    },
    /// `NFQA_CFG_QUEUE_MAXLEN`.
    MaxLen(u32),
    /// `NFQA_CFG_FLAGS` and `NFQA_CFG_MASK` in one message.
    Flags {
        /// Which bits to change.
        mask: u32,
        /// Their new values.
        flags: u32,
    },
}

/// Appends a config request for `queue` asking for an ACK.
pub fn encode_config(buf: &mut Vec<u8>, seq: u32, queue: u16, op: ConfigOp) {
    let mut b =
        MsgBuilder::new(buf, nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_CONFIG), NLM_F_REQUEST | NLM_F_ACK, seq);
    b.nfgen(0, queue);
    match op {
        ConfigOp::Cmd { cmd, pf } => {
            let pf = pf.to_be_bytes();
            b.put(cfg::CMD, &[cmd, 0, pf[0], pf[1]]);
        }
        ConfigOp::Params { mode, range } => {
            let r = range.to_be_bytes();
            b.put(cfg::PARAMS, &[r[0], r[1], r[2], r[3], mode]);
        }
        ConfigOp::MaxLen(n) => {
            b.put_be32(cfg::QUEUE_MAXLEN, n);
        }
        ConfigOp::Flags { mask, flags } => {
            b.put_be32(cfg::FLAGS, flags).put_be32(cfg::MASK, mask);
        }
    }
    b.finish();
}

/// Appends a verdict for packet `id` of `queue`. With `external_payload`, only the payload
/// attribute's header is written and the caller sends `opts.payload` as the next iovec
/// (followed by padding to 4 bytes); otherwise the payload is copied in.
/// Returns the message's (offset, length in `buf`).
pub fn encode_verdict(
    buf: &mut Vec<u8>,
    seq: u32,
    queue: u16,
    id: u32,
    verdict: u32,
    opts: &VerdictOpts<'_>,
    external_payload: bool,
) -> (usize, usize) {
    let mut b = MsgBuilder::new(buf, nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_VERDICT), NLM_F_REQUEST, seq);
    b.nfgen(0, queue);
    let mut hdr = [0u8; 8];
    hdr[..4].copy_from_slice(&verdict.to_be_bytes());
    hdr[4..].copy_from_slice(&id.to_be_bytes());
    b.put(attr::VERDICT_HDR, &hdr);
    if let Some(m) = opts.mark {
        b.put_be32(attr::MARK, m);
    }
    if let Some(p) = opts.priority {
        b.put_be32(attr::PRIORITY, p);
    }
    if opts.connmark.is_some() || opts.labels.is_some() {
        let n = b.nest_start(attr::CT);
        if let Some(cm) = opts.connmark {
            b.put_be32(CTA_MARK, cm);
        }
        if let Some((labels, mask)) = opts.labels {
            // The kernel computes (old & !mask) ^ labels: keep the labels inside the mask.
            let mut l = [0u8; 16];
            for (i, x) in l.iter_mut().enumerate() {
                *x = labels[i] & mask[i];
            }
            b.put(CTA_LABELS, &l).put(CTA_LABELS_MASK, mask);
        }
        b.nest_end(n);
    }
    match opts.payload {
        Some(p) if external_payload => {
            b.put_external_header(attr::PAYLOAD, p.len());
            b.finish_external(p.len())
        }
        Some(p) => {
            b.put(attr::PAYLOAD, p);
            b.finish()
        }
        None => b.finish(),
    }
}

/// Longest message [`encode_plain_verdict`] writes: header, nfgenmsg, `NFQA_VERDICT_HDR` and
/// `NFQA_MARK`.
pub const PLAIN_VERDICT_MAX: usize = 40;

/// Writes a verdict (or, with `batch`, a batch verdict up to `id`) with no options but an
/// optional mark into a fixed buffer: the same bytes as [`encode_verdict`] and
/// [`encode_verdict_batch`] with sequence number 0, without a `Vec` (the drop-in sends one
/// verdict per call and keeps no per-thread buffer on this path). Returns the length.
pub fn encode_plain_verdict(
    out: &mut [u8; PLAIN_VERDICT_MAX],
    batch: bool,
    queue: u16,
    id: u32,
    verdict: u32,
    mark: Option<u32>,
) -> usize {
    let len = if mark.is_some() { PLAIN_VERDICT_MAX } else { 32 };
    let ty = nfnl_msg_type(NFNL_SUBSYS_QUEUE, if batch { NFQNL_MSG_VERDICT_BATCH } else { NFQNL_MSG_VERDICT });
    out[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    out[4..6].copy_from_slice(&ty.to_ne_bytes());
    out[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    out[8..16].fill(0); // sequence number and port id
    let q = queue.to_be_bytes();
    out[16..20].copy_from_slice(&[0, crate::netlink::NFNETLINK_V0, q[0], q[1]]);
    out[20..22].copy_from_slice(&12u16.to_ne_bytes());
    out[22..24].copy_from_slice(&attr::VERDICT_HDR.to_ne_bytes());
    out[24..28].copy_from_slice(&verdict.to_be_bytes());
    out[28..32].copy_from_slice(&id.to_be_bytes());
    if let Some(m) = mark {
        out[32..34].copy_from_slice(&8u16.to_ne_bytes());
        out[34..36].copy_from_slice(&attr::MARK.to_ne_bytes());
        out[36..40].copy_from_slice(&m.to_be_bytes());
    }
    len
}

/// Appends a batch verdict: every queued packet of `queue` with id up to `max_id` (in the
/// kernel's wrap-aware order) gets `verdict`, and `mark` if given.
pub fn encode_verdict_batch(buf: &mut Vec<u8>, seq: u32, queue: u16, max_id: u32, verdict: u32, mark: Option<u32>) {
    let mut b = MsgBuilder::new(buf, nfnl_msg_type(NFNL_SUBSYS_QUEUE, NFQNL_MSG_VERDICT_BATCH), NLM_F_REQUEST, seq);
    b.nfgen(0, queue);
    let mut hdr = [0u8; 8];
    hdr[..4].copy_from_slice(&verdict.to_be_bytes());
    hdr[4..].copy_from_slice(&max_id.to_be_bytes());
    b.put(attr::VERDICT_HDR, &hdr);
    if let Some(m) = mark {
        b.put_be32(attr::MARK, m);
    }
    b.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_verdicts_in_a_fixed_buffer_equal_the_vec_encoders() {
        let mut out = [0xaau8; PLAIN_VERDICT_MAX];
        for (queue, id, verdict, mark) in
            [(0u16, 1u32, 1u32, None), (65535, u32::MAX, 0, Some(0)), (7, 0x01020304, 4, Some(0xdeadbeef))]
        {
            let mut v = Vec::new();
            encode_verdict(&mut v, 0, queue, id, verdict, &VerdictOpts { mark, ..Default::default() }, false);
            let n = encode_plain_verdict(&mut out, false, queue, id, verdict, mark);
            assert_eq!(&out[..n], &v[..]);
            v.clear();
            encode_verdict_batch(&mut v, 0, queue, id, verdict, mark);
            let n = encode_plain_verdict(&mut out, true, queue, id, verdict, mark);
            assert_eq!(&out[..n], &v[..]);
        }
    }

    #[test]
    fn bind_request_bytes_match_the_kernel_layout() {
        let mut buf = Vec::new();
        encode_config(&mut buf, 5, 3, ConfigOp::Cmd { cmd: cfg::CMD_BIND, pf: 0 });
        let mut want = Vec::new();
        want.extend_from_slice(&28u32.to_ne_bytes());
        want.extend_from_slice(&0x302u16.to_ne_bytes());
        want.extend_from_slice(&5u16.to_ne_bytes());
        want.extend_from_slice(&5u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[0, 0, 0, 3]);
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(&[1, 0, 0, 0]);
        assert_eq!(buf, want);
    }

    #[test]
    fn params_are_five_bytes_padded_to_eight() {
        let mut buf = Vec::new();
        encode_config(&mut buf, 1, 0, ConfigOp::Params { mode: 2, range: 0xffff });
        assert_eq!(buf.len(), 32);
        assert_eq!(&buf[20..22], &9u16.to_ne_bytes());
        assert_eq!(&buf[24..29], &[0, 0, 0xff, 0xff, 2]);
        assert_eq!(&buf[29..32], &[0, 0, 0]);
    }

    #[test]
    fn flags_then_mask() {
        let mut buf = Vec::new();
        encode_config(&mut buf, 1, 0, ConfigOp::Flags { mask: 9, flags: 1 });
        assert_eq!(&buf[22..24], &cfg::FLAGS.to_ne_bytes());
        assert_eq!(&buf[24..28], &1u32.to_be_bytes());
        assert_eq!(&buf[30..32], &cfg::MASK.to_ne_bytes());
        assert_eq!(&buf[32..36], &9u32.to_be_bytes());
    }

    #[test]
    fn verdict_sizes_match_libnetfilter_queue() {
        let mut buf = Vec::new();
        encode_verdict(&mut buf, 0, 0, 7, 1, &VerdictOpts::default(), false);
        assert_eq!(buf.len(), 32);
        assert_eq!(&buf[24..32], &[0, 0, 0, 1, 0, 0, 0, 7]);
        buf.clear();
        encode_verdict(&mut buf, 0, 0, 7, 1, &VerdictOpts { mark: Some(0x1234), ..Default::default() }, false);
        assert_eq!(buf.len(), 40);
        assert_eq!(&buf[36..40], &0x1234u32.to_be_bytes());
        buf.clear();
        let p = [1u8, 2, 3, 4, 5];
        let (_, l) =
            encode_verdict(&mut buf, 0, 0, 7, 1, &VerdictOpts { payload: Some(&p), ..Default::default() }, true);
        assert_eq!(l, 36);
        assert_eq!(u32::from_ne_bytes(buf[0..4].try_into().unwrap()), 41);
    }

    #[test]
    fn connmark_is_a_nested_cta_mark() {
        let mut buf = Vec::new();
        encode_verdict(&mut buf, 0, 1, 2, 1, &VerdictOpts { connmark: Some(5), ..Default::default() }, false);
        assert_eq!(&buf[32..34], &12u16.to_ne_bytes());
        assert_eq!(&buf[34..36], &(attr::CT | 0x8000).to_ne_bytes());
        assert_eq!(&buf[38..40], &CTA_MARK.to_ne_bytes());
        assert_eq!(&buf[40..44], &5u32.to_be_bytes());
    }

    #[test]
    fn labels_and_mask_go_in_the_ct_nest_after_the_connmark() {
        let (l, m) = ([0xa5u8; 16], [0x0fu8; 16]);
        let sent = [0x05u8; 16]; // the labels cut to the mask
        let mut buf = Vec::new();
        let opts = VerdictOpts { connmark: Some(5), labels: Some((&l, &m)), ..Default::default() };
        encode_verdict(&mut buf, 0, 1, 2, 1, &opts, false);
        // nest header 4 + CTA_MARK 8 + CTA_LABELS 20 + CTA_LABELS_MASK 20
        assert_eq!(&buf[32..34], &52u16.to_ne_bytes());
        assert_eq!(&buf[44..46], &20u16.to_ne_bytes());
        assert_eq!(&buf[46..48], &CTA_LABELS.to_ne_bytes());
        assert_eq!(&buf[48..64], &sent);
        assert_eq!(&buf[66..68], &CTA_LABELS_MASK.to_ne_bytes());
        assert_eq!(&buf[68..84], &m);
        assert_eq!(buf.len(), 84);
        buf.clear();
        encode_verdict(&mut buf, 0, 1, 2, 1, &VerdictOpts { labels: Some((&l, &m)), ..Default::default() }, false);
        assert_eq!(&buf[32..34], &44u16.to_ne_bytes());
        assert_eq!(&buf[38..40], &CTA_LABELS.to_ne_bytes());
    }

    #[test]
    fn batch_verdict_type() {
        let mut buf = Vec::new();
        encode_verdict_batch(&mut buf, 0, 0, 100, 0, Some(1));
        assert_eq!(&buf[4..6], &0x303u16.to_ne_bytes());
        assert_eq!(buf.len(), 40);
    }
}
