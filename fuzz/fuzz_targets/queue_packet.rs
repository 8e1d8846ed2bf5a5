//! NFQUEUE packet messages: `Packet::parse` on every message of a datagram, every accessor of
//! a parsed packet, and `Packet::salvage_id` (the fallback-verdict path for messages that do
//! not parse) on the datagram and on each message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfq_rs::netlink::Messages;
use nfq_rs::queue::Packet;

fuzz_target!(|data: &[u8]| {
    let _ = Packet::salvage_id(data);
    for m in Messages::new(data) {
        let Ok(m) = m else { break };
        let _ = Packet::salvage_id(m.bytes());
        let Ok(p) = Packet::parse(&m) else { continue };
        let h = p.header();
        assert_eq!(h.id, p.id());
        assert_eq!(p.raw_header().len(), 7);
        let _ = (p.family(), p.queue(), p.hw_protocol(), p.hook(), p.mark(), p.timestamp());
        let _ = (p.indev(), p.outdev(), p.physindev(), p.physoutdev());
        if let Some(hw) = p.hw_addr() {
            assert!(hw.len() <= 8);
        }
        let _ = (p.raw_hwaddr(), p.payload(), p.ct(), p.ct_info(), p.cap_len(), p.orig_len());
        let _ = (p.is_truncated(), p.skb_info(), p.exp(), p.uid(), p.gid(), p.secctx());
        let _ = (p.vlan(), p.l2hdr(), p.priority(), p.cgroup_classid());
        // A packet that parses whole also salvages to the same id.
        if let Some((q, id)) = Packet::salvage_id(m.bytes()) {
            assert_eq!(q, p.queue());
            let _ = id;
        }
    }
});
