//! Conntrack filters: an `EventFilter` and a `DumpFilter` built from the first bytes, the
//! event filter compiled to classic BPF (`conntrack::bpf::compile`) and run by the reference
//! interpreter on the rest of the input as a netlink message, beside the library-side checks
//! (`EventFilter::matches`, `DumpFilter::check`/`matches`) on the same message. Nothing may
//! panic; a compiled program stays within the kernel's limits.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use nfq_rs::conntrack::{CtEvent, DumpFilter, EventFilter, Tuple, bpf};
use nfq_rs::netlink::Messages;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.u8() & 1 == 1 { Some(f(self)) } else { None }
    }
    fn addr(&mut self) -> IpAddr {
        if self.u8() & 1 == 0 {
            IpAddr::from([self.u8(), self.u8(), self.u8(), self.u8()])
        } else {
            let mut b = [0u8; 16];
            for x in &mut b {
                *x = self.u8();
            }
            IpAddr::from(b)
        }
    }
    fn tuple(&mut self) -> Tuple {
        Tuple {
            src: self.opt(|b| b.addr()),
            dst: self.opt(|b| b.addr()),
            proto: self.opt(|b| b.u8()),
            src_port: self.opt(|b| b.u16()),
            dst_port: self.opt(|b| b.u16()),
            icmp_id: self.opt(|b| b.u16()),
            icmp_type: self.opt(|b| b.u8()),
            icmp_code: self.opt(|b| b.u8()),
            zone: self.opt(|b| b.u16()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let f = EventFilter {
        kinds: b.u8() as u32,
        family: b.opt(|b| b.u8()),
        l4proto: b.opt(|b| b.u8()),
        mark: b.opt(|b| (b.u32(), b.u32())),
        zone: b.opt(|b| b.u16()),
        status: b.opt(|b| (b.u32(), b.u32())),
        src: b.opt(|b| (b.addr(), b.u8())),
        dst: b.opt(|b| (b.addr(), b.u8())),
        src_port: b.opt(|b| b.u16()),
        dst_port: b.opt(|b| b.u16()),
        negate: b.u16() as u32,
    };
    let df = DumpFilter {
        mark: b.opt(|b| (b.u32(), b.u32())),
        zone: b.opt(|b| b.u16()),
        l4proto: b.opt(|b| b.u8()),
        orig: b.opt(|b| b.tuple()),
        reply: b.opt(|b| b.tuple()),
    };
    let family = b.u8();
    let _ = (df.check(family), df.orig_flags(), df.reply_flags());
    let prog = bpf::compile(&f);
    if let Ok(p) = &prog {
        assert!(!p.is_empty() && p.len() <= bpf::MAX_INSNS);
    }
    let msg = b.0;
    if let Ok(p) = &prog {
        let _ = bpf::run(p, msg);
    }
    for m in Messages::new(msg).take(8) {
        let Ok(m) = m else { break };
        if let Ok(Some(ev)) = CtEvent::from_msg(&m) {
            let _ = f.matches(&ev);
            if let CtEvent::Conn(_, c) = &ev {
                let _ = df.matches(c);
            }
        }
    }
});
