//! The connection view: every `CTA_*` attribute of a conntrack entry decoded in one pass. Fixed
//! size values are decoded; variable ones (labels, helper name, security context) stay slices
//! of the input. [`Conn`] borrows the bytes; [`ConnBuf`] owns them (and doubles as the
//! description of an entry to create, or of the key of one to get, update or delete).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::tuple::Tuple;
use super::{NFNL_SUBSYS_CTNETLINK, cta, msg, status};
use crate::netlink::{Attr, Attrs, Msg, ParseError};

/// Packet and byte counters of one direction (`CTA_COUNTERS_*`, sent when
/// `net.netfilter.nf_conntrack_acct` is on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes (layer 3 and up).
    pub bytes: u64,
}

/// Flags of one TCP direction (`struct nf_ct_tcp_flags`): `tcp_flags::*` bits and the mask of
/// the bits that are meant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// The flag bits.
    pub flags: u8,
    /// Which bits are meant (in requests: which to change).
    pub mask: u8,
}

/// TCP tracking state (`CTA_PROTOINFO_TCP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// `tcp_state::*`.
    pub state: Option<u8>,
    /// Window scale of the original direction.
    pub wscale_orig: Option<u8>,
    /// Window scale of the reply direction.
    pub wscale_reply: Option<u8>,
    /// Flags of the original direction.
    pub flags_orig: Option<TcpFlags>,
    /// Flags of the reply direction.
    pub flags_reply: Option<TcpFlags>,
}

/// SCTP tracking state (`CTA_PROTOINFO_SCTP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SctpInfo {
    /// `sctp_state::*`.
    pub state: Option<u8>,
    /// Verification tag of the original direction.
    pub vtag_orig: Option<u32>,
    /// Verification tag of the reply direction.
    pub vtag_reply: Option<u32>,
}

/// DCCP tracking state (`CTA_PROTOINFO_DCCP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DccpInfo {
    /// `dccp_state::*`.
    pub state: Option<u8>,
    /// Role (0 client, 1 server).
    pub role: Option<u8>,
    /// Handshake sequence number.
    pub handshake_seq: Option<u64>,
}

/// Protocol-specific state (`CTA_PROTOINFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoInfo {
    /// TCP.
    Tcp(TcpInfo),
    /// SCTP.
    Sctp(SctpInfo),
    /// DCCP.
    Dccp(DccpInfo),
}

/// A NAT range (`CTA_NAT_SRC`, `CTA_NAT_DST`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatRange {
    /// Lowest address.
    pub min_ip: Option<IpAddr>,
    /// Highest address.
    pub max_ip: Option<IpAddr>,
    /// Lowest port, host order.
    pub min_port: Option<u16>,
    /// Highest port, host order.
    pub max_port: Option<u16>,
}

/// TCP sequence adjustment of one direction (`CTA_SEQ_ADJ_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqAdj {
    /// Sequence number where the correction starts.
    pub correction_pos: Option<u32>,
    /// Offset before that position.
    pub offset_before: Option<u32>,
    /// Offset after it.
    pub offset_after: Option<u32>,
}

/// SYN proxy state (`CTA_SYNPROXY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synproxy {
    /// Initial sequence number.
    pub isn: Option<u32>,
    /// Initial timestamp.
    pub its: Option<u32>,
    /// Timestamp offset.
    pub tsoff: Option<u32>,
}

/// Where a variable-length value sits in the bytes of a view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    off: u32,
    len: u32,
}

impl Span {
    fn of(base: &[u8], part: &[u8]) -> Span {
        let off = part.as_ptr() as usize - base.as_ptr() as usize;
        Span { off: off as u32, len: part.len() as u32 }
    }
    fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.off as usize..(self.off + self.len) as usize).unwrap_or(&[])
    }
}

/// The decoded part of a connection; the spans point into its bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fields {
    pub family: u8,
    pub orig: Option<Tuple>,
    pub reply: Option<Tuple>,
    pub master: Option<Tuple>,
    pub status: Option<u32>,
    pub status_mask: Option<u32>,
    pub timeout: Option<u32>,
    pub mark: Option<u32>,
    pub mark_mask: Option<u32>,
    pub use_count: Option<u32>,
    pub id: Option<u32>,
    pub secmark: Option<u32>,
    pub zone: Option<u16>,
    pub proto: Option<ProtoInfo>,
    pub counters_orig: Option<Counters>,
    pub counters_reply: Option<Counters>,
    pub ts_start: Option<u64>,
    pub ts_stop: Option<u64>,
    pub labels: Option<Span>,
    pub labels_mask: Option<Span>,
    pub secctx: Option<Span>,
    pub helper_name: Option<Span>,
    pub helper_info: Option<Span>,
    pub nat_src: Option<NatRange>,
    pub nat_dst: Option<NatRange>,
    pub seq_adj_orig: Option<SeqAdj>,
    pub seq_adj_reply: Option<SeqAdj>,
    pub synproxy: Option<Synproxy>,
}

/// A NUL-terminated string attribute without its terminator (and anything after it).
pub(crate) fn c_string<'a>(a: &Attr<'a>) -> &'a [u8] {
    let d = a.data();
    &d[..memchr::memchr(0, d).unwrap_or(d.len())]
}

fn counters(a: &Attr<'_>) -> Result<Counters, ParseError> {
    let mut c = Counters::default();
    for x in a.nested() {
        let x = x?;
        match x.kind() {
            cta::COUNTERS_PACKETS => c.packets = x.be_u64("CTA_COUNTERS_PACKETS")?,
            cta::COUNTERS_BYTES => c.bytes = x.be_u64("CTA_COUNTERS_BYTES")?,
            cta::COUNTERS32_PACKETS => c.packets = x.be_u32("CTA_COUNTERS32_PACKETS")? as u64,
            cta::COUNTERS32_BYTES => c.bytes = x.be_u32("CTA_COUNTERS32_BYTES")? as u64,
            _ => {}
        }
    }
    Ok(c)
}

fn tcp_flags(a: &Attr<'_>, name: &'static str) -> Result<TcpFlags, ParseError> {
    let [flags, mask] = a.array::<2>(name)?;
    Ok(TcpFlags { flags, mask })
}

fn protoinfo(a: &Attr<'_>) -> Result<Option<ProtoInfo>, ParseError> {
    let mut out = None;
    for p in a.nested() {
        let p = p?;
        match p.kind() {
            cta::PROTOINFO_TCP => {
                let mut t = TcpInfo::default();
                for x in p.nested() {
                    let x = x?;
                    match x.kind() {
                        cta::TCP_STATE => t.state = Some(x.u8("CTA_PROTOINFO_TCP_STATE")?),
                        cta::TCP_WSCALE_ORIGINAL => t.wscale_orig = Some(x.u8("CTA_PROTOINFO_TCP_WSCALE_ORIGINAL")?),
                        cta::TCP_WSCALE_REPLY => t.wscale_reply = Some(x.u8("CTA_PROTOINFO_TCP_WSCALE_REPLY")?),
                        cta::TCP_FLAGS_ORIGINAL => {
                            t.flags_orig = Some(tcp_flags(&x, "CTA_PROTOINFO_TCP_FLAGS_ORIGINAL")?)
                        }
                        cta::TCP_FLAGS_REPLY => t.flags_reply = Some(tcp_flags(&x, "CTA_PROTOINFO_TCP_FLAGS_REPLY")?),
                        _ => {}
                    }
                }
                out = Some(ProtoInfo::Tcp(t));
            }
            cta::PROTOINFO_SCTP => {
                let mut s = SctpInfo::default();
                for x in p.nested() {
                    let x = x?;
                    match x.kind() {
                        cta::SCTP_STATE => s.state = Some(x.u8("CTA_PROTOINFO_SCTP_STATE")?),
                        cta::SCTP_VTAG_ORIGINAL => s.vtag_orig = Some(x.be_u32("CTA_PROTOINFO_SCTP_VTAG_ORIGINAL")?),
                        cta::SCTP_VTAG_REPLY => s.vtag_reply = Some(x.be_u32("CTA_PROTOINFO_SCTP_VTAG_REPLY")?),
                        _ => {}
                    }
                }
                out = Some(ProtoInfo::Sctp(s));
            }
            cta::PROTOINFO_DCCP => {
                let mut d = DccpInfo::default();
                for x in p.nested() {
                    let x = x?;
                    match x.kind() {
                        cta::DCCP_STATE => d.state = Some(x.u8("CTA_PROTOINFO_DCCP_STATE")?),
                        cta::DCCP_ROLE => d.role = Some(x.u8("CTA_PROTOINFO_DCCP_ROLE")?),
                        cta::DCCP_HANDSHAKE_SEQ => {
                            d.handshake_seq = Some(x.be_u64("CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ")?)
                        }
                        _ => {}
                    }
                }
                out = Some(ProtoInfo::Dccp(d));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn nat(a: &Attr<'_>) -> Result<NatRange, ParseError> {
    let mut n = NatRange::default();
    for x in a.nested() {
        let x = x?;
        match x.kind() {
            cta::NAT_V4_MINIP => n.min_ip = Some(Ipv4Addr::from(x.array::<4>("CTA_NAT_V4_MINIP")?).into()),
            cta::NAT_V4_MAXIP => n.max_ip = Some(Ipv4Addr::from(x.array::<4>("CTA_NAT_V4_MAXIP")?).into()),
            cta::NAT_V6_MINIP => n.min_ip = Some(Ipv6Addr::from(x.array::<16>("CTA_NAT_V6_MINIP")?).into()),
            cta::NAT_V6_MAXIP => n.max_ip = Some(Ipv6Addr::from(x.array::<16>("CTA_NAT_V6_MAXIP")?).into()),
            cta::NAT_PROTO => {
                for p in x.nested() {
                    let p = p?;
                    match p.kind() {
                        cta::PROTONAT_PORT_MIN => n.min_port = Some(p.be_u16("CTA_PROTONAT_PORT_MIN")?),
                        cta::PROTONAT_PORT_MAX => n.max_port = Some(p.be_u16("CTA_PROTONAT_PORT_MAX")?),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

fn seq_adj(a: &Attr<'_>) -> Result<SeqAdj, ParseError> {
    let mut s = SeqAdj::default();
    for x in a.nested() {
        let x = x?;
        match x.kind() {
            cta::SEQADJ_CORRECTION_POS => s.correction_pos = Some(x.be_u32("CTA_SEQADJ_CORRECTION_POS")?),
            cta::SEQADJ_OFFSET_BEFORE => s.offset_before = Some(x.be_u32("CTA_SEQADJ_OFFSET_BEFORE")?),
            cta::SEQADJ_OFFSET_AFTER => s.offset_after = Some(x.be_u32("CTA_SEQADJ_OFFSET_AFTER")?),
            _ => {}
        }
    }
    Ok(s)
}

fn synproxy(a: &Attr<'_>) -> Result<Synproxy, ParseError> {
    let mut s = Synproxy::default();
    for x in a.nested() {
        let x = x?;
        match x.kind() {
            cta::SYNPROXY_ISN => s.isn = Some(x.be_u32("CTA_SYNPROXY_ISN")?),
            cta::SYNPROXY_ITS => s.its = Some(x.be_u32("CTA_SYNPROXY_ITS")?),
            cta::SYNPROXY_TSOFF => s.tsoff = Some(x.be_u32("CTA_SYNPROXY_TSOFF")?),
            _ => {}
        }
    }
    Ok(s)
}

impl Fields {
    /// Decodes a run of `CTA_*` attributes; spans are relative to `buf`.
    pub(crate) fn parse(family: u8, buf: &[u8]) -> Result<Fields, ParseError> {
        let mut f = Fields { family, ..Default::default() };
        for a in Attrs::new(buf) {
            let a = a?;
            match a.kind() {
                cta::TUPLE_ORIG => f.orig = Some(Tuple::parse(&a)?),
                cta::TUPLE_REPLY => f.reply = Some(Tuple::parse(&a)?),
                cta::TUPLE_MASTER => f.master = Some(Tuple::parse(&a)?),
                cta::STATUS => f.status = Some(a.be_u32("CTA_STATUS")?),
                cta::STATUS_MASK => f.status_mask = Some(a.be_u32("CTA_STATUS_MASK")?),
                cta::TIMEOUT => f.timeout = Some(a.be_u32("CTA_TIMEOUT")?),
                cta::MARK => f.mark = Some(a.be_u32("CTA_MARK")?),
                cta::MARK_MASK => f.mark_mask = Some(a.be_u32("CTA_MARK_MASK")?),
                cta::USE => f.use_count = Some(a.be_u32("CTA_USE")?),
                cta::ID => f.id = Some(a.be_u32("CTA_ID")?),
                cta::SECMARK => f.secmark = Some(a.be_u32("CTA_SECMARK")?),
                cta::ZONE => f.zone = Some(a.be_u16("CTA_ZONE")?),
                cta::PROTOINFO => f.proto = protoinfo(&a)?,
                cta::COUNTERS_ORIG => f.counters_orig = Some(counters(&a)?),
                cta::COUNTERS_REPLY => f.counters_reply = Some(counters(&a)?),
                cta::TIMESTAMP => {
                    for x in a.nested() {
                        let x = x?;
                        match x.kind() {
                            cta::TIMESTAMP_START => f.ts_start = Some(x.be_u64("CTA_TIMESTAMP_START")?),
                            cta::TIMESTAMP_STOP => f.ts_stop = Some(x.be_u64("CTA_TIMESTAMP_STOP")?),
                            _ => {}
                        }
                    }
                }
                cta::LABELS => f.labels = Some(Span::of(buf, a.data())),
                cta::LABELS_MASK => f.labels_mask = Some(Span::of(buf, a.data())),
                cta::SECCTX => {
                    for x in a.nested() {
                        let x = x?;
                        if x.kind() == cta::SECCTX_NAME {
                            f.secctx = Some(Span::of(buf, c_string(&x)));
                        }
                    }
                }
                cta::HELP => {
                    for x in a.nested() {
                        let x = x?;
                        match x.kind() {
                            cta::HELP_NAME => f.helper_name = Some(Span::of(buf, c_string(&x))),
                            cta::HELP_INFO => f.helper_info = Some(Span::of(buf, x.data())),
                            _ => {}
                        }
                    }
                }
                cta::NAT_SRC => f.nat_src = Some(nat(&a)?),
                cta::NAT_DST => f.nat_dst = Some(nat(&a)?),
                cta::SEQ_ADJ_ORIG => f.seq_adj_orig = Some(seq_adj(&a)?),
                cta::SEQ_ADJ_REPLY => f.seq_adj_reply = Some(seq_adj(&a)?),
                cta::SYNPROXY => f.synproxy = Some(synproxy(&a)?),
                _ => {}
            }
        }
        Ok(f)
    }
}

/// A connection, borrowed from the bytes it was decoded from (an `NFQA_CT` nest or a ctnetlink
/// message). Cheap to copy around; [`to_owned`](Self::to_owned) keeps it beyond the buffer.
#[derive(Clone, Copy, Debug)]
pub struct Conn<'a> {
    buf: &'a [u8],
    f: Fields,
}

/// The ctnetlink message types that carry a connection.
fn is_conn_msg(m: &Msg<'_>) -> bool {
    m.subsys() == NFNL_SUBSYS_CTNETLINK && matches!((m.msg_type() & 0xff) as u8, msg::CT_NEW | msg::CT_DELETE)
}

impl<'a> Conn<'a> {
    /// Decodes a run of `CTA_*` attributes (the payload of `NFQA_CT`, or of a ctnetlink message
    /// after its nfgenmsg). `family` is the address family if known (0 otherwise). Unknown
    /// attributes are skipped; a malformed or wrongly sized one is an error.
    pub fn parse(family: u8, attrs: &'a [u8]) -> Result<Conn<'a>, ParseError> {
        Ok(Conn { buf: attrs, f: Fields::parse(family, attrs)? })
    }

    /// Decodes a ctnetlink message that carries a connection (`IPCTNL_MSG_CT_NEW` from dumps,
    /// gets and new/update events, `IPCTNL_MSG_CT_DELETE` from destroy events).
    pub fn from_msg(m: &Msg<'a>) -> Result<Conn<'a>, ParseError> {
        if !is_conn_msg(m) {
            return Err(ParseError::UnexpectedType(m.msg_type()));
        }
        let (g, _) = m.nfgen()?;
        Conn::parse(g.family, &m.payload()[crate::netlink::NFGENMSG_LEN..])
    }

    /// The attribute bytes this view was decoded from.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// An owned copy.
    pub fn to_owned(&self) -> ConnBuf {
        ConnBuf { buf: self.buf.to_vec(), f: self.f }
    }
    /// The address family (AF_INET 2, AF_INET6 10): from the message, else from the addresses.
    pub fn family(&self) -> u8 {
        if self.f.family != 0 {
            return self.f.family;
        }
        self.f.orig.or(self.f.reply).map_or(0, |t| t.family())
    }
    /// The original direction (`CTA_TUPLE_ORIG`).
    pub fn orig(&self) -> Option<&Tuple> {
        self.f.orig.as_ref()
    }
    /// The reply direction (`CTA_TUPLE_REPLY`).
    pub fn reply(&self) -> Option<&Tuple> {
        self.f.reply.as_ref()
    }
    /// The master connection of an expected one (`CTA_TUPLE_MASTER`).
    pub fn master(&self) -> Option<&Tuple> {
        self.f.master.as_ref()
    }
    /// The layer-4 protocol number, from the original (else the reply) tuple.
    pub fn l4proto(&self) -> Option<u8> {
        self.f.orig.and_then(|t| t.proto).or(self.f.reply.and_then(|t| t.proto))
    }
    /// Status bits (`status::*`).
    pub fn status(&self) -> Option<u32> {
        self.f.status
    }
    /// Whether every bit of `bits` is set in the status (false without a status).
    pub fn has_status(&self, bits: u32) -> bool {
        self.f.status.is_some_and(|s| s & bits == bits)
    }
    /// `CTA_STATUS_MASK` (only in requests).
    pub fn status_mask(&self) -> Option<u32> {
        self.f.status_mask
    }
    /// Seconds until the entry expires.
    pub fn timeout(&self) -> Option<u32> {
        self.f.timeout
    }
    /// The connection mark.
    pub fn mark(&self) -> Option<u32> {
        self.f.mark
    }
    /// `CTA_MARK_MASK` (only in requests and dump filters).
    pub fn mark_mask(&self) -> Option<u32> {
        self.f.mark_mask
    }
    /// Reference count.
    pub fn use_count(&self) -> Option<u32> {
        self.f.use_count
    }
    /// The entry's id (stable while it lives).
    pub fn id(&self) -> Option<u32> {
        self.f.id
    }
    /// The security mark (`CTA_SECMARK`, obsolete in favour of the security context).
    pub fn secmark(&self) -> Option<u32> {
        self.f.secmark
    }
    /// The conntrack zone (`CTA_ZONE`).
    pub fn zone(&self) -> Option<u16> {
        self.f.zone
    }
    /// Protocol-specific state.
    pub fn protoinfo(&self) -> Option<&ProtoInfo> {
        self.f.proto.as_ref()
    }
    /// TCP state, window scales and flags.
    pub fn tcp(&self) -> Option<&TcpInfo> {
        match &self.f.proto {
            Some(ProtoInfo::Tcp(t)) => Some(t),
            _ => None,
        }
    }
    /// SCTP state and verification tags.
    pub fn sctp(&self) -> Option<&SctpInfo> {
        match &self.f.proto {
            Some(ProtoInfo::Sctp(s)) => Some(s),
            _ => None,
        }
    }
    /// DCCP state, role and handshake sequence.
    pub fn dccp(&self) -> Option<&DccpInfo> {
        match &self.f.proto {
            Some(ProtoInfo::Dccp(d)) => Some(d),
            _ => None,
        }
    }
    /// The protocol state (TCP, SCTP or DCCP), whichever is present.
    pub fn proto_state(&self) -> Option<u8> {
        match self.f.proto? {
            ProtoInfo::Tcp(t) => t.state,
            ProtoInfo::Sctp(s) => s.state,
            ProtoInfo::Dccp(d) => d.state,
        }
    }
    /// The protocol state's name as `conntrack` prints it ("ESTABLISHED", "SYN_SENT", ...).
    pub fn proto_state_name(&self) -> Option<&'static str> {
        let st = self.proto_state()?;
        Some(match self.f.proto? {
            ProtoInfo::Tcp(_) => super::tcp_state_name(st),
            ProtoInfo::Sctp(_) => super::sctp_state_name(st),
            ProtoInfo::Dccp(_) => super::dccp_state_name(st),
        })
    }
    /// Counters of the original direction.
    pub fn counters_orig(&self) -> Option<Counters> {
        self.f.counters_orig
    }
    /// Counters of the reply direction.
    pub fn counters_reply(&self) -> Option<Counters> {
        self.f.counters_reply
    }
    /// Start time in nanoseconds since the epoch (`net.netfilter.nf_conntrack_timestamp`).
    pub fn timestamp_start(&self) -> Option<u64> {
        self.f.ts_start
    }
    /// Stop time in nanoseconds since the epoch (destroy events).
    pub fn timestamp_stop(&self) -> Option<u64> {
        self.f.ts_stop
    }
    /// The label bits (`CTA_LABELS`, 16 bytes from current kernels, in the kernel's word order).
    pub fn labels(&self) -> Option<&'a [u8]> {
        self.f.labels.map(|s| s.get(self.buf))
    }
    /// Whether label bit `n` (0..127) is set (as the kernel numbers bits of its words of host
    /// byte order).
    pub fn has_label(&self, n: u32) -> bool {
        label_bit(self.labels(), n)
    }
    /// `CTA_LABELS_MASK` (only in requests).
    pub fn labels_mask(&self) -> Option<&'a [u8]> {
        self.f.labels_mask.map(|s| s.get(self.buf))
    }
    /// The security context (`CTA_SECCTX`), without the terminating NUL.
    pub fn secctx(&self) -> Option<&'a [u8]> {
        self.f.secctx.map(|s| s.get(self.buf))
    }
    /// The helper name ("ftp", "sip", ...), without the terminating NUL.
    pub fn helper_name(&self) -> Option<&'a [u8]> {
        self.f.helper_name.map(|s| s.get(self.buf))
    }
    /// The helper's private data (`CTA_HELP_INFO`).
    pub fn helper_info(&self) -> Option<&'a [u8]> {
        self.f.helper_info.map(|s| s.get(self.buf))
    }
    /// Source NAT range.
    pub fn nat_src(&self) -> Option<NatRange> {
        self.f.nat_src
    }
    /// Destination NAT range.
    pub fn nat_dst(&self) -> Option<NatRange> {
        self.f.nat_dst
    }
    /// Sequence adjustment of the original direction.
    pub fn seq_adj_orig(&self) -> Option<SeqAdj> {
        self.f.seq_adj_orig
    }
    /// Sequence adjustment of the reply direction.
    pub fn seq_adj_reply(&self) -> Option<SeqAdj> {
        self.f.seq_adj_reply
    }
    /// SYN proxy state.
    pub fn synproxy(&self) -> Option<Synproxy> {
        self.f.synproxy
    }
    /// Whether no packet was seen in the reply direction (status known, `SEEN_REPLY` clear).
    pub fn is_unreplied(&self) -> bool {
        self.f.status.is_some_and(|s| s & status::SEEN_REPLY == 0)
    }
}

/// Bit `n` of a label set, bits numbered in 32-bit words of host byte order as the kernel
/// stores them.
pub(crate) fn label_bit(labels: Option<&[u8]>, n: u32) -> bool {
    let Some(l) = labels else { return false };
    let (word, bit) = ((n / 32) as usize, n % 32);
    let Some(w) = l.get(word * 4..word * 4 + 4) else { return false };
    u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) & (1 << bit) != 0
}

/// A connection that owns its bytes: a decoded entry kept beyond its buffer, or an entry being
/// described for a request (create; the key of get, update, delete). Reusable: decoding into it
/// again keeps its allocation.
#[derive(Clone, Debug, Default)]
pub struct ConnBuf {
    buf: Vec<u8>,
    f: Fields,
}

impl ConnBuf {
    /// An empty entry for `family` (0: taken from the tuples' addresses).
    pub fn new(family: u8) -> ConnBuf {
        ConnBuf { buf: Vec::new(), f: Fields { family, ..Default::default() } }
    }

    /// The view.
    pub fn view(&self) -> Conn<'_> {
        Conn { buf: &self.buf, f: self.f }
    }

    /// The stored tuple (0 original, 1 reply, 2 master), for the C layer's tuple pointers.
    pub(crate) fn tuple_ref(&self, which: u32) -> Option<&Tuple> {
        match which {
            0 => self.f.orig.as_ref(),
            1 => self.f.reply.as_ref(),
            2 => self.f.master.as_ref(),
            _ => None,
        }
    }

    /// Decodes `attrs` (as [`Conn::parse`]) into this buffer, replacing what it held. On error
    /// the buffer is left empty.
    pub fn decode(&mut self, family: u8, attrs: &[u8]) -> Result<(), ParseError> {
        self.buf.clear();
        self.buf.extend_from_slice(attrs);
        match Fields::parse(family, &self.buf) {
            Ok(f) => {
                self.f = f;
                Ok(())
            }
            Err(e) => {
                self.buf.clear();
                self.f = Fields::default();
                Err(e)
            }
        }
    }

    /// Replaces the contents with a copy of `c`.
    pub fn copy_from(&mut self, c: &Conn<'_>) {
        self.buf.clear();
        self.buf.extend_from_slice(c.buf);
        self.f = c.f;
    }

    /// Sets the address family.
    pub fn set_family(&mut self, family: u8) -> &mut Self {
        self.f.family = family;
        self
    }
    /// Sets the original tuple.
    pub fn set_orig(&mut self, t: Tuple) -> &mut Self {
        self.f.orig = Some(t);
        self
    }
    /// Sets the reply tuple.
    pub fn set_reply(&mut self, t: Tuple) -> &mut Self {
        self.f.reply = Some(t);
        self
    }
    /// Sets the status bits.
    pub fn set_status(&mut self, s: u32) -> &mut Self {
        self.f.status = Some(s);
        self
    }
    /// Sets the timeout in seconds.
    pub fn set_timeout(&mut self, secs: u32) -> &mut Self {
        self.f.timeout = Some(secs);
        self
    }
    /// Sets the mark.
    pub fn set_mark(&mut self, mark: u32) -> &mut Self {
        self.f.mark = Some(mark);
        self
    }
    /// Sets the zone.
    pub fn set_zone(&mut self, zone: u16) -> &mut Self {
        self.f.zone = Some(zone);
        self
    }
    /// Sets the id (a delete then only removes the entry with this id).
    pub fn set_id(&mut self, id: u32) -> &mut Self {
        self.f.id = Some(id);
        self
    }
    /// Sets the protocol state (e.g. `ProtoInfo::Tcp` with a state for a TCP entry to create).
    pub fn set_protoinfo(&mut self, p: ProtoInfo) -> &mut Self {
        self.f.proto = Some(p);
        self
    }
    /// Sets the labels and the mask of the label bits meant.
    pub fn set_labels(&mut self, labels: &[u8; 16], mask: &[u8; 16]) -> &mut Self {
        self.f.labels = Some(self.stash(self.f.labels, labels));
        self.f.labels_mask = Some(self.stash(self.f.labels_mask, mask));
        self
    }

    /// Sets the helper (e.g. `b"ftp"`) a connection to create gets (`CTA_HELP`); the master
    /// of an expectation created from userspace needs one.
    pub fn set_helper(&mut self, name: &[u8]) -> &mut Self {
        let name = &name[..memchr::memchr(0, name).unwrap_or(name.len())];
        self.f.helper_name = Some(self.stash(None, name));
        self
    }

    /// Stores `data` in the buffer, over `old` if it has the same length.
    fn stash(&mut self, old: Option<Span>, data: &[u8]) -> Span {
        if let Some(s) = old {
            if s.len as usize == data.len() && (s.off as usize + data.len()) <= self.buf.len() {
                self.buf[s.off as usize..s.off as usize + data.len()].copy_from_slice(data);
                return s;
            }
        }
        let off = self.buf.len();
        self.buf.extend_from_slice(data);
        Span { off: off as u32, len: data.len() as u32 }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::conntrack::{cta, tcp_state};
    use crate::netlink::{Messages, MsgBuilder};

    pub(crate) fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::from(a)
    }

    /// Every attribute of a TCP connection, in the layout the kernel uses.
    pub(crate) fn full_tcp(b: &mut MsgBuilder<'_>) {
        Tuple::ports(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 6, 40000, 80).put(b, cta::TUPLE_ORIG);
        let mut r = Tuple::ports(v4([10, 0, 0, 2]), v4([10, 0, 0, 1]), 6, 80, 40000);
        r.zone = Some(3);
        r.put(b, cta::TUPLE_REPLY);
        b.put_be32(cta::STATUS, status::SEEN_REPLY | status::ASSURED | status::CONFIRMED);
        let p = b.nest_start(cta::PROTOINFO);
        let t = b.nest_start(cta::PROTOINFO_TCP);
        b.put_u8(cta::TCP_STATE, tcp_state::ESTABLISHED)
            .put_u8(cta::TCP_WSCALE_ORIGINAL, 7)
            .put_u8(cta::TCP_WSCALE_REPLY, 9)
            .put(cta::TCP_FLAGS_ORIGINAL, &[0x23, 0])
            .put(cta::TCP_FLAGS_REPLY, &[0x03, 0]);
        b.nest_end(t);
        b.nest_end(p);
        let n = b.nest_start(cta::NAT_SRC);
        b.put(cta::NAT_V4_MINIP, &[192, 168, 0, 1]).put(cta::NAT_V4_MAXIP, &[192, 168, 0, 9]);
        let pn = b.nest_start(cta::NAT_PROTO);
        b.put_be16(cta::PROTONAT_PORT_MIN, 1024).put_be16(cta::PROTONAT_PORT_MAX, 2048);
        b.nest_end(pn);
        b.nest_end(n);
        b.put_be32(cta::TIMEOUT, 431999).put_be32(cta::MARK, 0xbeef);
        for (kind, p, by) in [(cta::COUNTERS_ORIG, 5u64, 300u64), (cta::COUNTERS_REPLY, 4, 260)] {
            let c = b.nest_start(kind);
            b.put_be64(cta::COUNTERS_PACKETS, p).put_be64(cta::COUNTERS_BYTES, by);
            b.nest_end(c);
        }
        b.put_be32(cta::USE, 1).put_be32(cta::ID, 0x1234_5678).put_be32(cta::SECMARK, 77).put_be16(cta::ZONE, 3);
        let h = b.nest_start(cta::HELP);
        b.put(cta::HELP_NAME, b"ftp\0");
        b.nest_end(h);
        let s = b.nest_start(cta::SECCTX);
        b.put(cta::SECCTX_NAME, b"system_u:object_r:unlabeled_t:s0\0");
        b.nest_end(s);
        let ts = b.nest_start(cta::TIMESTAMP);
        b.put_be64(cta::TIMESTAMP_START, 1_700_000_000_000_000_000)
            .put_be64(cta::TIMESTAMP_STOP, 1_700_000_001_000_000_000);
        b.nest_end(ts);
        let mut labels = [0u8; 16];
        labels[..4].copy_from_slice(&(1u32 << 5).to_ne_bytes());
        b.put(cta::LABELS, &labels);
        for kind in [cta::SEQ_ADJ_ORIG, cta::SEQ_ADJ_REPLY] {
            let s = b.nest_start(kind);
            b.put_be32(cta::SEQADJ_CORRECTION_POS, 1000)
                .put_be32(cta::SEQADJ_OFFSET_BEFORE, 0)
                .put_be32(cta::SEQADJ_OFFSET_AFTER, 12);
            b.nest_end(s);
        }
        let sp = b.nest_start(cta::SYNPROXY);
        b.put_be32(cta::SYNPROXY_ISN, 1).put_be32(cta::SYNPROXY_ITS, 2).put_be32(cta::SYNPROXY_TSOFF, 3);
        b.nest_end(sp);
        b.put(99, &[1, 2, 3]); // unknown: skipped
    }

    /// A ctnetlink message (type `ty` of subsystem 1) built with `attrs`.
    pub(crate) fn ct_msg(ty: u8, flags: u16, family: u8, attrs: impl FnOnce(&mut MsgBuilder<'_>)) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut b = MsgBuilder::new(&mut buf, crate::netlink::nfnl_msg_type(NFNL_SUBSYS_CTNETLINK, ty), flags, 0);
        b.nfgen(family, 0);
        attrs(&mut b);
        b.finish();
        buf
    }

    fn attrs_of(msg: &[u8]) -> &[u8] {
        &msg[20..]
    }

    #[test]
    fn decodes_every_attribute_of_a_tcp_entry() {
        let m = ct_msg(msg::CT_NEW, 0, 2, full_tcp);
        let mm = Messages::new(&m).next().unwrap().unwrap();
        let c = Conn::from_msg(&mm).unwrap();
        assert_eq!(c.family(), 2);
        let o = c.orig().unwrap();
        assert_eq!(o.src, Some(v4([10, 0, 0, 1])));
        assert_eq!(o.dst, Some(v4([10, 0, 0, 2])));
        assert_eq!((o.proto, o.src_port, o.dst_port, o.zone), (Some(6), Some(40000), Some(80), None));
        let r = c.reply().unwrap();
        assert_eq!((r.src_port, r.dst_port, r.zone), (Some(80), Some(40000), Some(3)));
        assert_eq!(*r, o.reversed().with_zone(3));
        assert!(c.has_status(status::ASSURED | status::SEEN_REPLY));
        assert!(!c.is_unreplied());
        let t = c.tcp().unwrap();
        assert_eq!((t.state, t.wscale_orig, t.wscale_reply), (Some(3), Some(7), Some(9)));
        assert_eq!(t.flags_orig, Some(TcpFlags { flags: 0x23, mask: 0 }));
        assert_eq!(t.flags_reply, Some(TcpFlags { flags: 0x03, mask: 0 }));
        assert_eq!(c.proto_state_name(), Some("ESTABLISHED"));
        let n = c.nat_src().unwrap();
        assert_eq!((n.min_ip, n.max_ip), (Some(v4([192, 168, 0, 1])), Some(v4([192, 168, 0, 9]))));
        assert_eq!((n.min_port, n.max_port), (Some(1024), Some(2048)));
        assert_eq!(
            (c.timeout(), c.mark(), c.use_count(), c.id()),
            (Some(431999), Some(0xbeef), Some(1), Some(0x12345678))
        );
        assert_eq!((c.secmark(), c.zone()), (Some(77), Some(3)));
        assert_eq!(c.counters_orig(), Some(Counters { packets: 5, bytes: 300 }));
        assert_eq!(c.counters_reply(), Some(Counters { packets: 4, bytes: 260 }));
        assert_eq!(c.helper_name(), Some(&b"ftp"[..]));
        assert_eq!(c.secctx(), Some(&b"system_u:object_r:unlabeled_t:s0"[..]));
        assert_eq!(c.timestamp_start(), Some(1_700_000_000_000_000_000));
        assert_eq!(c.timestamp_stop(), Some(1_700_000_001_000_000_000));
        assert_eq!(c.labels().unwrap().len(), 16);
        assert!(c.has_label(5) && !c.has_label(4) && !c.has_label(127) && !c.has_label(500));
        let sa = c.seq_adj_orig().unwrap();
        assert_eq!((sa.correction_pos, sa.offset_before, sa.offset_after), (Some(1000), Some(0), Some(12)));
        assert_eq!(c.seq_adj_reply(), Some(sa));
        assert_eq!(c.synproxy(), Some(Synproxy { isn: Some(1), its: Some(2), tsoff: Some(3) }));
        assert!(c.master().is_none() && c.nat_dst().is_none() && c.labels_mask().is_none());
        // The owned copy answers the same.
        let own = c.to_owned();
        let v = own.view();
        assert_eq!(v.helper_name(), Some(&b"ftp"[..]));
        assert_eq!(v.orig(), c.orig());
    }

    #[test]
    fn decodes_ipv6_icmpv6_sctp_and_dccp() {
        let a6: IpAddr = "fe80::1".parse().unwrap();
        let b6: IpAddr = "fe80::2".parse().unwrap();
        let m = ct_msg(msg::CT_NEW, 0, 10, |b| {
            Tuple::icmp(a6, b6, 77, 128, 0).put(b, cta::TUPLE_ORIG);
            Tuple::icmp(b6, a6, 77, 129, 0).put(b, cta::TUPLE_REPLY);
        });
        let c = Conn::parse(10, attrs_of(&m)).unwrap();
        let o = c.orig().unwrap();
        assert_eq!((o.src, o.dst, o.proto), (Some(a6), Some(b6), Some(58)));
        assert_eq!((o.icmp_id, o.icmp_type, o.icmp_code), (Some(77), Some(128), Some(0)));
        assert_eq!(c.reply().unwrap().icmp_type, Some(129));
        // ICMPv6 uses its own attribute numbers.
        let raw = attrs_of(&m);
        assert!(raw.windows(4).any(|w| w == [5, 0, cta::PROTO_ICMPV6_TYPE as u8, 0]));

        let sctp = ct_msg(msg::CT_NEW, 0, 2, |b| {
            let p = b.nest_start(cta::PROTOINFO);
            let s = b.nest_start(cta::PROTOINFO_SCTP);
            b.put_u8(cta::SCTP_STATE, 4).put_be32(cta::SCTP_VTAG_ORIGINAL, 11).put_be32(cta::SCTP_VTAG_REPLY, 22);
            b.nest_end(s);
            b.nest_end(p);
        });
        let c = Conn::parse(2, attrs_of(&sctp)).unwrap();
        assert_eq!(c.sctp(), Some(&SctpInfo { state: Some(4), vtag_orig: Some(11), vtag_reply: Some(22) }));
        assert_eq!(c.proto_state_name(), Some("ESTABLISHED"));
        let dccp = ct_msg(msg::CT_NEW, 0, 2, |b| {
            let p = b.nest_start(cta::PROTOINFO);
            let s = b.nest_start(cta::PROTOINFO_DCCP);
            b.put_u8(cta::DCCP_STATE, 4).put_u8(cta::DCCP_ROLE, 1).put_be64(cta::DCCP_HANDSHAKE_SEQ, 99);
            b.nest_end(s);
            b.nest_end(p);
        });
        let c = Conn::parse(2, attrs_of(&dccp)).unwrap();
        assert_eq!(c.dccp(), Some(&DccpInfo { state: Some(4), role: Some(1), handshake_seq: Some(99) }));
        assert_eq!(c.proto_state_name(), Some("OPEN"));
    }

    #[test]
    fn old_32_bit_counters_and_v6_nat_are_understood() {
        let m = ct_msg(msg::CT_NEW, 0, 10, |b| {
            let c = b.nest_start(cta::COUNTERS_ORIG);
            b.put_be32(cta::COUNTERS32_PACKETS, 3).put_be32(cta::COUNTERS32_BYTES, 180);
            b.nest_end(c);
            let n = b.nest_start(cta::NAT_DST);
            b.put(cta::NAT_V6_MINIP, &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            b.nest_end(n);
        });
        let c = Conn::parse(10, attrs_of(&m)).unwrap();
        assert_eq!(c.counters_orig(), Some(Counters { packets: 3, bytes: 180 }));
        assert_eq!(c.nat_dst().unwrap().min_ip, Some("fe80::1".parse().unwrap()));
    }

    #[test]
    fn wrong_sizes_are_errors_and_unknown_attributes_are_skipped() {
        let bad_mark = ct_msg(msg::CT_NEW, 0, 2, |b| {
            b.put(cta::MARK, &[1, 2]);
        });
        assert!(matches!(Conn::parse(2, attrs_of(&bad_mark)), Err(ParseError::AttrSize { attr: "CTA_MARK", .. })));
        let bad_ip = ct_msg(msg::CT_NEW, 0, 2, |b| {
            let t = b.nest_start(cta::TUPLE_ORIG);
            let i = b.nest_start(cta::TUPLE_IP);
            b.put(cta::IP_V4_SRC, &[1, 2, 3]);
            b.nest_end(i);
            b.nest_end(t);
        });
        assert!(matches!(Conn::parse(2, attrs_of(&bad_ip)), Err(ParseError::AttrSize { .. })));
        let bad_port = ct_msg(msg::CT_NEW, 0, 2, |b| {
            let t = b.nest_start(cta::TUPLE_ORIG);
            let p = b.nest_start(cta::TUPLE_PROTO);
            b.put_be32(cta::PROTO_SRC_PORT, 1);
            b.nest_end(p);
            b.nest_end(t);
        });
        assert!(Conn::parse(2, attrs_of(&bad_port)).is_err());
        let unknown = ct_msg(msg::CT_NEW, 0, 2, |b| {
            b.put(200, &[0; 7]).put_be32(cta::MARK, 5).put(cta::FILTER, &[1]);
        });
        assert_eq!(Conn::parse(2, attrs_of(&unknown)).unwrap().mark(), Some(5));
        // A message of another subsystem is refused.
        let mut q = ct_msg(msg::CT_NEW, 0, 2, |_| {});
        q[5] = 3;
        let mm = Messages::new(&q).next().unwrap().unwrap();
        assert!(matches!(Conn::from_msg(&mm), Err(ParseError::UnexpectedType(0x300))));
    }

    #[test]
    fn a_missing_last_pad_is_tolerated() {
        let m = ct_msg(msg::CT_NEW, 0, 2, |b| {
            b.put_be32(cta::MARK, 9).put(cta::HELP, &[7, 0, 1, 0, b'x', b'y', 0]);
        });
        // Cut the 1-byte pad after CTA_HELP (length 11): the attribute ends exactly at the buffer end.
        let attrs = &attrs_of(&m)[..attrs_of(&m).len() - 1];
        let c = Conn::parse(2, attrs).unwrap();
        assert_eq!(c.mark(), Some(9));
        assert_eq!(c.helper_name(), Some(&b"xy"[..]));
    }

    #[test]
    fn every_prefix_and_every_byte_flip_of_an_entry_is_handled_without_panic() {
        let m = ct_msg(msg::CT_NEW, 0, 2, full_tcp);
        let attrs = attrs_of(&m);
        for cut in 0..attrs.len() {
            let _ = Conn::parse(2, &attrs[..cut]).map(|c| (c.to_string(), c.labels(), c.helper_name()));
            let mut own = ConnBuf::default();
            let _ = own.decode(2, &attrs[..cut]);
        }
        for at in 0..attrs.len() {
            for v in [0u8, 1, 3, 4, 0x7f, 0x80, 0xff] {
                let mut x = attrs.to_vec();
                x[at] = v;
                if let Ok(c) = Conn::parse(2, &x) {
                    let _ = (c.to_string(), c.labels(), c.secctx(), c.proto_state_name());
                }
            }
        }
        // Whole messages cut anywhere, with the length field adjusted as a sender would.
        for cut in 0..m.len() {
            let mut v = m[..cut].to_vec();
            if v.len() >= 4 {
                v[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
            }
            for mm in Messages::new(&v).flatten() {
                let _ = Conn::from_msg(&mm);
            }
        }
    }

    #[test]
    fn conn_buf_setters_and_reuse() {
        let mut c = ConnBuf::new(0);
        let t = Tuple::ports(v4([1, 2, 3, 4]), v4([5, 6, 7, 8]), 17, 1, 2);
        c.set_orig(t).set_reply(t.reversed()).set_mark(7).set_timeout(30).set_zone(2).set_status(status::ASSURED);
        c.set_labels(&[1; 16], &[2; 16]);
        c.set_labels(&[3; 16], &[4; 16]);
        let v = c.view();
        assert_eq!(v.family(), 2);
        assert_eq!((v.mark(), v.timeout(), v.zone(), v.status()), (Some(7), Some(30), Some(2), Some(status::ASSURED)));
        assert_eq!(v.labels(), Some(&[3u8; 16][..]));
        assert_eq!(v.labels_mask(), Some(&[4u8; 16][..]));
        assert_eq!(v.bytes().len(), 32, "a second set_labels reuses the space");
        let m = ct_msg(msg::CT_NEW, 0, 2, full_tcp);
        c.decode(2, attrs_of(&m)).unwrap();
        assert_eq!(c.view().mark(), Some(0xbeef));
        assert!(c.decode(2, &[8, 0, 8, 0, 1]).is_err());
        assert!(c.view().mark().is_none() && c.view().bytes().is_empty());
    }

    impl Tuple {
        fn with_zone(mut self, z: u16) -> Tuple {
            self.zone = Some(z);
            self
        }
    }
}
