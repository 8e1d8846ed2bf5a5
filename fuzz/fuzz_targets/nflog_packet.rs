//! NFLOG log messages: `LogPacket::parse` on every message of a datagram (the kernel packs
//! many into one, ending with NLMSG_DONE), every accessor of a parsed message, and the
//! conntrack decoding of its `NFULA_CT` nest; and the C API's record decoder (the batch
//! path), which must accept and refuse what the view does and give the view's record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfq_rs::netlink::Messages;
use nfq_rs::nflog::LogPacket;

fuzz_target!(|data: &[u8]| {
    for m in Messages::new(data) {
        let Ok(m) = m else { break };
        let view = LogPacket::parse(&m);
        if m.msg_type() == 0x400 {
            let rec = nfq_rs::ffi::decode_log_record(m.payload());
            assert_eq!(rec, view.as_ref().map(nfq_rs::ffi::log_record_of).map_err(|e| e.clone()));
        }
        let Ok(p) = view else { continue };
        assert_eq!(p.raw_header().len(), 4);
        assert_eq!(u16::from_be_bytes([p.raw_header()[0], p.raw_header()[1]]), p.hw_protocol());
        assert_eq!(p.raw_header()[2], p.hook());
        let _ = (p.family(), p.group(), p.mark(), p.timestamp(), p.indev(), p.outdev());
        let _ = (p.physindev(), p.physoutdev(), p.payload(), p.uid(), p.gid(), p.seq(), p.seq_global());
        let _ = (p.hwtype(), p.hwheader(), p.hwlen(), p.ct_raw(), p.ct_info(), p.vlan(), p.l2hdr());
        if let Some(hw) = p.hwaddr() {
            assert!(hw.len() <= 8);
            assert_eq!(p.raw_hwaddr().map(|r| r.len()), Some(12));
        }
        match (p.raw_prefix(), p.prefix_bytes()) {
            (Some(raw), Some(s)) => {
                assert!(raw.starts_with(s));
                assert!(!s.contains(&0));
                if let Some(text) = p.prefix() {
                    assert_eq!(text.as_bytes(), s);
                }
            }
            (None, None) => assert!(p.prefix().is_none()),
            _ => panic!("prefix_bytes and raw_prefix disagree"),
        }
        if let Some(Ok(c)) = p.ct() {
            let _ = (c.orig(), c.reply(), c.status(), c.mark(), c.to_string());
        }
    }
});
