//! Classic BPF for the conntrack event socket: an [`EventFilter`] compiled to a program the
//! kernel runs on each event before it is queued to the socket (`SO_ATTACH_FILTER`), so a busy
//! host does not copy the events a daemon does not want.
//!
//! Each conntrack event is one netlink message in its own socket buffer: `nlmsghdr` (16
//! bytes), `nfgenmsg` (4), then the `CTA_*` attributes. The program reads the subsystem, type
//! and flags from the header, the family from `nfgenmsg`, and finds attributes with the
//! kernel's netlink helpers (`SKF_AD_NLATTR`: find a top-level attribute by type;
//! `SKF_AD_NLATTR_NEST`: find one inside a nest). Values are read in network order, as
//! ctnetlink sends them. An absent mark, zone or status counts as 0, as in
//! [`EventFilter::matches`]; an absent address or port does not match.

use std::net::IpAddr;

use super::ctnetlink::{EventFilter, neg};
use super::{NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_CTNETLINK_EXP, cta, cta_exp, groups, msg};

// Instruction classes and modes (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const AND: u16 = 0x50;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JSET: u16 = 0x40;
const K: u16 = 0x00;
const TAX: u16 = 0x00;

/// The kernel's limit on a classic program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

const AD_NLATTR: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_NLATTR) as u32;
const AD_NLATTR_NEST: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_NLATTR_NEST) as u32;
/// Offset of the first attribute.
const ATTRS: u32 = 20;
/// Offset of the family in `nfgenmsg`.
const FAMILY: u32 = 16;

/// The offsets of the low and high byte of a host-order u16 at `off`.
const fn lo(off: u32) -> u32 {
    if cfg!(target_endian = "little") { off } else { off + 1 }
}
const fn hi(off: u32) -> u32 {
    if cfg!(target_endian = "little") { off + 1 } else { off }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum To {
    Next,
    Label(usize),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Stmt(u16, u32),
    Jump(u16, u32, To, To),
    Always(usize),
    Mark(usize),
}

/// A program being assembled, with forward labels.
#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.ops.push(Op::Stmt(code, k));
    }
    fn jump(&mut self, code: u16, k: u32, t: To, f: To) {
        self.ops.push(Op::Jump(code, k, t, f));
    }
    fn goto(&mut self, l: usize) {
        self.ops.push(Op::Always(l));
    }
    fn mark(&mut self, l: usize) {
        self.ops.push(Op::Mark(l));
    }

    fn finish(self) -> Result<Vec<libc::sock_filter>, String> {
        let mut at = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for op in &self.ops {
            match op {
                Op::Mark(l) => at[*l] = pc,
                _ => pc += 1,
            }
        }
        if pc > MAX_INSNS {
            return Err(format!("the filter needs {pc} instructions; the kernel takes at most {MAX_INSNS}"));
        }
        let mut out = Vec::with_capacity(pc);
        for op in &self.ops {
            let here = out.len();
            let off = |t: To| -> Result<u8, String> {
                match t {
                    To::Next => Ok(0),
                    To::Label(l) => {
                        let d = at[l].checked_sub(here + 1).ok_or("backward jump (a bug)")?;
                        u8::try_from(d).map_err(|_| {
                            format!(
                                "the filter is too long: a jump of {d} instructions (a classic BPF jump reaches 255)"
                            )
                        })
                    }
                }
            };
            match *op {
                Op::Mark(_) => {}
                Op::Stmt(code, k) => out.push(libc::sock_filter { code, jt: 0, jf: 0, k }),
                Op::Jump(code, k, t, f) => out.push(libc::sock_filter { code, jt: off(t)?, jf: off(f)?, k }),
                Op::Always(l) => {
                    let d = at[l].checked_sub(here + 1).ok_or("backward jump (a bug)")?;
                    out.push(libc::sock_filter { code: JMP | JA, jt: 0, jf: 0, k: d as u32 });
                }
            }
        }
        Ok(out)
    }
}

/// Where a condition goes when it holds and when it does not.
#[derive(Clone, Copy)]
struct Branch {
    yes: To,
    no: To,
}

struct Gen {
    a: Asm,
    reject: usize,
}

impl Gen {
    /// A = offset of the attribute at `path` (top-level type first), or jump to `missing`.
    fn find(&mut self, path: &[u16], missing: To) {
        self.a.stmt(LD | IMM, ATTRS);
        for (i, &t) in path.iter().enumerate() {
            self.a.stmt(LDX | IMM, t as u32);
            self.a.stmt(LD | W | ABS, if i == 0 { AD_NLATTR } else { AD_NLATTR_NEST });
            self.a.jump(JMP | JEQ | K, 0, missing, To::Next);
        }
    }

    /// Compares the value of size `size` at `path` (masked with `mask`) with `want`; an absent
    /// attribute has the value `absent` (None: the condition does not hold).
    fn value(&mut self, path: &[u16], size: u16, mask: u32, want: u32, absent: Option<u32>, b: Branch) {
        let full = match size {
            B => 0xff,
            H => 0xffff,
            _ => u32::MAX,
        };
        let missing = match absent {
            Some(v) if v & mask == want & mask => b.yes,
            _ => b.no,
        };
        // An absent value that decides the same way either way still needs the lookup.
        let l_missing = self.a.label();
        self.find(path, To::Label(l_missing));
        self.a.stmt(MISC | TAX, 0);
        self.a.stmt(LD | size | IND, 4);
        if mask & full != full {
            self.a.stmt(ALU | AND | K, mask);
        }
        self.a.jump(JMP | JEQ | K, want & mask, b.yes, b.no);
        self.a.mark(l_missing);
        self.jump_to(missing);
    }

    fn jump_to(&mut self, t: To) {
        if let To::Label(l) = t {
            self.a.goto(l);
        }
    }

    /// An address in a network: the `IP_V4_*`/`IP_V6_*` attribute of the original tuple.
    fn addr(&mut self, v4: u16, v6: u16, net: IpAddr, len: u8, b: Branch) {
        let l_missing = self.a.label();
        match net {
            IpAddr::V4(n) => {
                self.find(&[cta::TUPLE_ORIG, cta::TUPLE_IP, v4], To::Label(l_missing));
                let m = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
                self.a.stmt(MISC | TAX, 0);
                self.a.stmt(LD | W | IND, 4);
                self.a.stmt(ALU | AND | K, m);
                self.a.jump(JMP | JEQ | K, u32::from(n) & m, b.yes, b.no);
            }
            IpAddr::V6(n) => {
                self.find(&[cta::TUPLE_ORIG, cta::TUPLE_IP, v6], To::Label(l_missing));
                self.a.stmt(MISC | TAX, 0);
                let words = u128::from(n).to_be_bytes();
                let last = (0..4).rev().find(|&w| len as usize > w * 32).unwrap_or(0);
                for w in 0..4usize {
                    let bits = (len as usize).saturating_sub(w * 32).min(32);
                    if bits == 0 && !(w == 0 && len == 0) {
                        continue;
                    }
                    let m = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                    let want = u32::from_be_bytes(words[w * 4..w * 4 + 4].try_into().unwrap()) & m;
                    self.a.stmt(LD | W | IND, 4 + 4 * w as u32);
                    self.a.stmt(ALU | AND | K, m);
                    let yes = if w == last { b.yes } else { To::Next };
                    self.a.jump(JMP | JEQ | K, want, yes, b.no);
                }
            }
        }
        self.a.mark(l_missing);
        self.jump_to(b.no);
    }
}

/// Compiles `f` to a classic BPF program for a conntrack event socket: it keeps exactly the
/// events [`EventFilter::matches`] keeps (returns the whole message) and drops the others
/// (returns 0). Errors when the description is inconsistent ([`EventFilter::check`]) or the
/// program would exceed what the kernel takes.
pub fn compile(f: &EventFilter) -> Result<Vec<libc::sock_filter>, String> {
    f.check()?;
    let mut a = Asm::default();
    let reject = a.label();
    let accept = a.label();
    let l_conn = a.label();
    let l_exp = a.label();
    let mut g = Gen { a, reject };
    let rej = To::Label(g.reject);
    let kinds = if f.kinds == 0 { groups::ALL } else { f.kinds };

    // Subsystem, then the kind from the type and the create/exclusive flags.
    g.a.stmt(LD | B | ABS, hi(4));
    g.a.jump(JMP | JEQ | K, NFNL_SUBSYS_CTNETLINK as u32, To::Label(l_conn), To::Next);
    g.a.jump(JMP | JEQ | K, NFNL_SUBSYS_CTNETLINK_EXP as u32, To::Label(l_exp), rej);

    for (label, new_t, del_t, gnew, gupd, gdel) in [
        (l_conn, msg::CT_NEW, msg::CT_DELETE, groups::NEW, groups::UPDATE, groups::DESTROY),
        (l_exp, msg::EXP_NEW, msg::EXP_DELETE, groups::EXP_NEW, groups::EXP_UPDATE, groups::EXP_DESTROY),
    ] {
        let conn = label == l_conn;
        g.a.mark(label);
        if !conn && f.conn_only() {
            g.jump_to(rej);
            continue;
        }
        let body = g.a.label();
        let on = |bit: u32| if kinds & bit != 0 { To::Label(body) } else { rej };
        let l_new = g.a.label();
        g.a.stmt(LD | B | ABS, lo(4));
        g.a.jump(JMP | JEQ | K, del_t as u32, on(gdel), To::Next);
        g.a.jump(JMP | JEQ | K, new_t as u32, To::Label(l_new), rej);
        g.a.mark(l_new);
        // NLM_F_CREATE (0x400) | NLM_F_EXCL (0x200): the high byte of the flags.
        g.a.stmt(LD | B | ABS, hi(6));
        g.a.jump(JMP | JSET | K, 0x06, on(gnew), on(gupd));
        g.a.mark(body);

        if let Some(fam) = f.family {
            g.a.stmt(LD | B | ABS, FAMILY);
            g.a.jump(JMP | JEQ | K, fam as u32, To::Next, rej);
        }
        // Each condition: holds -> next condition; does not -> reject (swapped when negated).
        let br = |bit: u32, g: &mut Gen| -> (Branch, usize) {
            let next = g.a.label();
            let b = if f.negate & bit != 0 {
                Branch { yes: rej, no: To::Label(next) }
            } else {
                Branch { yes: To::Label(next), no: rej }
            };
            (b, next)
        };
        if let Some(p) = f.l4proto {
            let (b, next) = br(neg::L4PROTO, &mut g);
            let top = if conn { cta::TUPLE_ORIG } else { cta_exp::TUPLE };
            g.value(&[top, cta::TUPLE_PROTO, cta::PROTO_NUM], B, 0xff, p as u32, None, b);
            g.a.mark(next);
        }
        if let Some(z) = f.zone {
            let (b, next) = br(neg::ZONE, &mut g);
            let attr = if conn { cta::ZONE } else { cta_exp::ZONE };
            g.value(&[attr], H, 0xffff, z as u32, Some(0), b);
            g.a.mark(next);
        }
        if conn {
            if let Some((v, m)) = f.mark {
                let (b, next) = br(neg::MARK, &mut g);
                g.value(&[cta::MARK], W, m, v, Some(0), b);
                g.a.mark(next);
            }
            if let Some((v, m)) = f.status {
                let (b, next) = br(neg::STATUS, &mut g);
                g.value(&[cta::STATUS], W, m, v, Some(0), b);
                g.a.mark(next);
            }
            if let Some((net, len)) = f.src {
                let (b, next) = br(neg::SRC, &mut g);
                g.addr(cta::IP_V4_SRC, cta::IP_V6_SRC, net, len, b);
                g.a.mark(next);
            }
            if let Some((net, len)) = f.dst {
                let (b, next) = br(neg::DST, &mut g);
                g.addr(cta::IP_V4_DST, cta::IP_V6_DST, net, len, b);
                g.a.mark(next);
            }
            for (bit, port, attr) in
                [(neg::SRC_PORT, f.src_port, cta::PROTO_SRC_PORT), (neg::DST_PORT, f.dst_port, cta::PROTO_DST_PORT)]
            {
                if let Some(p) = port {
                    let (b, next) = br(bit, &mut g);
                    g.value(&[cta::TUPLE_ORIG, cta::TUPLE_PROTO, attr], H, 0xffff, p as u32, None, b);
                    g.a.mark(next);
                }
            }
        }
        g.a.goto(accept);
    }
    g.a.mark(accept);
    g.a.stmt(RET | K, u32::MAX);
    g.a.mark(g.reject);
    g.a.stmt(RET | K, 0);
    g.a.finish()
}

/// Runs a classic program the way the kernel does on a netlink message `pkt` (the loads, the
/// netlink attribute helpers, ALU, jumps and returns this module emits), for tests that check
/// the compiler without a kernel. Returns the program's result (0: drop).
pub fn run(prog: &[libc::sock_filter], pkt: &[u8]) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    let load = |off: u32, size: usize| -> Option<u32> {
        let o = off as usize;
        let b = pkt.get(o..o.checked_add(size)?)?;
        Some(b.iter().fold(0u32, |v, &x| (v << 8) | x as u32))
    };
    // Finds attribute `ty` in `buf[start..end]`; returns its offset in pkt or 0.
    let find = |start: usize, end: usize, ty: u32| -> u32 {
        let mut o = start;
        while o + 4 <= end {
            let len = u16::from_ne_bytes([pkt[o], pkt[o + 1]]) as usize;
            let t = u16::from_ne_bytes([pkt[o + 2], pkt[o + 3]]) & 0x3fff;
            if len < 4 || o + len > end {
                return 0;
            }
            if t as u32 == ty {
                return o as u32;
            }
            o += (len + 3) & !3;
        }
        0
    };
    while let Some(i) = prog.get(pc) {
        pc += 1;
        let class = i.code & 0x07;
        match class {
            0x00 /* LD */ => {
                let size = match i.code & 0x18 { W => 4, H => 2, _ => 1 };
                match i.code & 0xe0 {
                    IMM => a = i.k,
                    ABS if i.k == AD_NLATTR => {
                        a = if (a as usize) + 4 > pkt.len() { 0 } else { find(a as usize, pkt.len(), x) };
                    }
                    ABS if i.k == AD_NLATTR_NEST => {
                        let o = a as usize;
                        a = if o + 4 > pkt.len() {
                            0
                        } else {
                            let len = u16::from_ne_bytes([pkt[o], pkt[o + 1]]) as usize;
                            if len > pkt.len() - o { 0 } else { find(o + 4, o + len, x) }
                        };
                    }
                    ABS => match load(i.k, size) {
                        Some(v) => a = v,
                        None => return 0,
                    },
                    IND => match load(x.wrapping_add(i.k), size) {
                        Some(v) => a = v,
                        None => return 0,
                    },
                    _ => return 0,
                }
            }
            0x01 /* LDX */ => x = i.k,
            0x04 /* ALU */ if i.code & 0xf0 == AND => a &= i.k,
            0x05 /* JMP */ => {
                let taken = match i.code & 0xf0 {
                    JA => {
                        pc += i.k as usize;
                        continue;
                    }
                    JEQ => a == i.k,
                    JSET => a & i.k != 0,
                    _ => return 0,
                };
                pc += if taken { i.jt as usize } else { i.jf as usize };
            }
            0x06 /* RET */ => return i.k,
            0x07 /* MISC */ => {
                if i.code & 0xf8 == TAX {
                    x = a;
                } else {
                    a = x;
                }
            }
            _ => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::entry::tests::{ct_msg, full_tcp, v4};
    use crate::conntrack::{CtEvent, Tuple, status};
    use crate::netlink::{Messages, NLM_F_CREATE, NLM_F_EXCL};

    /// Events of many shapes: connection new/update/destroy of TCP and UDP, v4 and v6, with
    /// and without mark and zone; expectation events.
    pub(crate) fn sample_events() -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let v6 = |x: u16| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, x]);
        for (ty, flags) in [(msg::CT_NEW, NLM_F_CREATE | NLM_F_EXCL), (msg::CT_NEW, 0), (msg::CT_DELETE, 0)] {
            v.push(ct_msg(ty, flags, 2, full_tcp));
            for (i, (src, dst)) in [
                (v4([10, 0, 0, 1]), v4([10, 0, 0, 2])),
                (v4([10, 1, 2, 3]), v4([192, 168, 1, 1])),
                (v6(1), v6(2)),
                (v6(0x100), v6(3)),
            ]
            .into_iter()
            .enumerate()
            {
                let fam = if src.is_ipv4() { 2 } else { 10 };
                let i = i as u16;
                v.push(ct_msg(ty, flags, fam, |b| {
                    Tuple::ports(src, dst, if i % 2 == 0 { 17 } else { 6 }, 1000 + i, 53 + i % 2)
                        .put(b, cta::TUPLE_ORIG);
                    Tuple::ports(dst, src, 17, 53, 1000).put(b, cta::TUPLE_REPLY);
                    b.put_be32(
                        cta::STATUS,
                        if i < 2 { status::CONFIRMED } else { status::ASSURED | status::CONFIRMED },
                    );
                    if i % 2 == 1 {
                        b.put_be32(cta::MARK, 0x10 * i as u32);
                        b.put_be16(cta::ZONE, i);
                    }
                }));
            }
        }
        for (ty, flags) in [(msg::EXP_NEW, NLM_F_CREATE), (msg::EXP_NEW, 0), (msg::EXP_DELETE, 0)] {
            let mut m = ct_msg(ty, flags, 2, |b| {
                Tuple::ports(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 6, 40000, 21).put(b, cta_exp::MASTER);
                Tuple::ports(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 6, 0, 50000).put(b, cta_exp::TUPLE);
                b.put_be32(cta_exp::TIMEOUT, 300);
            });
            m[5] = NFNL_SUBSYS_CTNETLINK_EXP;
            v.push(m);
        }
        v
    }

    pub(crate) fn sample_filters() -> Vec<EventFilter> {
        let net = |s: &str, l| Some((s.parse::<IpAddr>().unwrap(), l));
        let mut v = vec![
            EventFilter::default(),
            EventFilter { kinds: groups::NEW, ..Default::default() },
            EventFilter { kinds: groups::DESTROY | groups::EXP_NEW, ..Default::default() },
            EventFilter { family: Some(10), ..Default::default() },
            EventFilter { l4proto: Some(6), ..Default::default() },
            EventFilter { l4proto: Some(6), negate: neg::L4PROTO, ..Default::default() },
            EventFilter { mark: Some((0x10, 0xf0)), ..Default::default() },
            EventFilter { mark: Some((0, u32::MAX)), ..Default::default() },
            EventFilter { mark: Some((0, u32::MAX)), negate: neg::MARK, ..Default::default() },
            EventFilter { zone: Some(0), ..Default::default() },
            EventFilter { zone: Some(3), negate: neg::ZONE, ..Default::default() },
            EventFilter { status: Some((status::ASSURED, status::ASSURED)), ..Default::default() },
            EventFilter { src: net("10.0.0.0", 8), ..Default::default() },
            EventFilter { src: net("10.1.0.0", 16), negate: neg::SRC, ..Default::default() },
            EventFilter { dst: net("192.168.1.1", 32), ..Default::default() },
            EventFilter { src: net("fd00::", 64), ..Default::default() },
            EventFilter { src: net("fd00::100", 120), ..Default::default() },
            EventFilter { src: net("fd00::1", 128), negate: neg::SRC, ..Default::default() },
            EventFilter { src: net("0.0.0.0", 0), ..Default::default() },
            EventFilter { dst_port: Some(53), ..Default::default() },
            EventFilter { src_port: Some(1001), dst_port: Some(53), negate: neg::DST_PORT, ..Default::default() },
            EventFilter {
                kinds: groups::NEW | groups::UPDATE,
                family: Some(2),
                l4proto: Some(17),
                dst_port: Some(53),
                src: net("10.0.0.0", 8),
                mark: Some((0, 0)),
                ..Default::default()
            },
        ];
        v.push(EventFilter { zone: Some(0), kinds: groups::EXPECT, ..Default::default() });
        v.push(EventFilter { l4proto: Some(6), kinds: groups::EXPECT, negate: neg::L4PROTO, ..Default::default() });
        v
    }

    #[test]
    fn the_program_keeps_exactly_what_the_library_filter_keeps() {
        let events = sample_events();
        for f in sample_filters() {
            let prog = compile(&f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
            let mut kept = 0;
            for e in &events {
                let m = Messages::new(e).next().unwrap().unwrap();
                let ev = CtEvent::from_msg(&m).unwrap().unwrap();
                let lib = f.matches(&ev);
                let bpf = run(&prog, e) != 0;
                assert_eq!(bpf, lib, "{f:?} on {ev:?}");
                kept += lib as usize;
            }
            assert!(kept > 0 || f.kinds == groups::EXPECT, "{f:?} keeps nothing of the samples");
        }
    }

    #[test]
    fn descriptions_the_kernel_cannot_take_are_refused_with_the_reason() {
        let bad = [
            (EventFilter { src: Some((v4([10, 0, 0, 0]), 33)), ..Default::default() }, "longer than the address"),
            (EventFilter { negate: neg::MARK, ..Default::default() }, "negated but not set"),
            (EventFilter { negate: 1 << 20, ..Default::default() }, "unknown negation"),
            (EventFilter { family: Some(10), src: Some((v4([10, 0, 0, 0]), 8)), ..Default::default() }, "family"),
        ];
        for (f, says) in bad {
            let e = compile(&f).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
        let mut a = Asm::default();
        let l = a.label();
        a.jump(JMP | JEQ | K, 0, To::Label(l), To::Next);
        for _ in 0..300 {
            a.stmt(LD | IMM, 0);
        }
        a.mark(l);
        assert!(a.finish().unwrap_err().contains("too long"));
        let mut a = Asm::default();
        for _ in 0..=MAX_INSNS {
            a.stmt(LD | IMM, 0);
        }
        assert!(a.finish().unwrap_err().contains("at most 4096"));
    }

    #[test]
    fn the_interpreter_survives_any_bytes() {
        let prog = compile(&sample_filters()[21]).unwrap();
        let e = &sample_events()[1];
        for cut in 0..e.len() {
            let _ = run(&prog, &e[..cut]);
        }
        for at in 0..e.len() {
            let mut x = e.clone();
            x[at] ^= 0xff;
            let _ = run(&prog, &x);
        }
    }
}
