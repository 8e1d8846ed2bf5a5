//! Netlink framing: the message iterator, nfgenmsg headers, attribute runs (nested ones walked
//! recursively), the fixed-size accessors and `NLMSG_ERROR` contents (echoed request and the
//! extended-ACK text). Any input must give values or errors, never a panic or an
//! out-of-bounds read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfq_rs::netlink::{Attrs, Messages};

fn walk(attrs: Attrs<'_>, depth: u32) -> usize {
    let mut n = 0;
    for a in attrs {
        let Ok(a) = a else { break };
        n += 1;
        let _ = (a.kind(), a.raw_type(), a.is_nested(), a.data().len());
        let _ = (a.u8("u8"), a.be_u16("u16"), a.be_u32("u32"), a.be_u64("u64"));
        let _ = a.array::<16>("16");
        // Any payload may be a nest: walk it as one whatever the flag says (bounded depth).
        if depth < 8 {
            n += walk(a.nested(), depth + 1);
        }
    }
    n
}

fuzz_target!(|data: &[u8]| {
    for m in Messages::new(data) {
        let Ok(m) = m else { break };
        assert!(m.len() >= 16 && m.len() == m.bytes().len());
        let _ = (m.msg_type(), m.flags(), m.seq(), m.pid(), m.subsys(), m.payload().len());
        if let Ok((g, attrs)) = m.nfgen() {
            let _ = (g.family, g.version, g.res_id);
            walk(attrs, 0);
        }
        if let Some(Ok(e)) = m.error() {
            let _ = e.error;
            let _ = e.request_header();
            if let Some(req) = e.request() {
                let _ = req.nfgen().map(|(_, a)| walk(a, 0));
            }
            if let Some(s) = e.ext_message() {
                assert!(!s.contains('\0'));
            }
        }
    }
    // The same bytes as a bare attribute run.
    walk(Attrs::new(data), 0);
});
