//! Conntrack decoding: `CTA_*` attribute runs as `Conn` and `Expect` views (first byte: the
//! family), every accessor and the `conntrack -L` text, the owned `ConnBuf`/`ExpectBuf`
//! decoders, and whole messages through `CtEvent::from_msg` and the `NFQA_CT` nest of a
//! parsed packet (`packet_conn`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nfq_rs::conntrack::{Conn, ConnBuf, CtEvent, Expect, ExpectBuf, packet_conn, packet_ct_info, packet_expect};
use nfq_rs::netlink::Messages;
use nfq_rs::queue::Packet;

fn conn(c: &Conn<'_>) {
    let _ = (c.bytes().len(), c.family(), c.orig(), c.reply(), c.master(), c.status(), c.has_status(1));
    let _ = (c.status_mask(), c.timeout(), c.mark(), c.mark_mask(), c.use_count(), c.id(), c.secmark());
    let _ = (c.zone(), c.protoinfo(), c.tcp(), c.sctp(), c.dccp(), c.proto_state(), c.proto_state_name());
    let _ = (c.counters_orig(), c.counters_reply(), c.timestamp_start(), c.timestamp_stop());
    let _ = (c.labels(), c.has_label(0), c.has_label(127), c.has_label(u32::MAX), c.labels_mask(), c.secctx());
    let _ = (c.helper_name(), c.helper_info(), c.nat_src(), c.nat_dst(), c.seq_adj_orig(), c.seq_adj_reply());
    let _ = (c.synproxy(), c.is_unreplied());
    if let Some(t) = c.orig() {
        let _ = (t.reversed(), t.family());
    }
    let _ = c.to_string();
    let owned = c.to_owned();
    assert_eq!(owned.view().bytes(), c.bytes());
}

fn expect(e: &Expect<'_>) {
    let _ = (e.bytes().len(), e.family(), e.master(), e.tuple(), e.mask(), e.timeout(), e.id(), e.zone());
    let _ = (e.flags(), e.class(), e.helper_name(), e.function(), e.nat_dir(), e.nat_tuple());
    let _ = e.to_string();
    let _ = e.to_owned();
}

fuzz_target!(|data: &[u8]| {
    let Some((&family, attrs)) = data.split_first() else { return };
    if let Ok(c) = Conn::parse(family, attrs) {
        conn(&c);
    }
    if let Ok(e) = Expect::parse(family, attrs) {
        expect(&e);
    }
    let mut cb = ConnBuf::new(family);
    if cb.decode(family, attrs).is_ok() {
        conn(&cb.view());
    }
    let mut eb = ExpectBuf::default();
    if eb.decode(family, attrs).is_ok() {
        expect(&eb.view());
    }
    // The same bytes as messages: ctnetlink events, and NFQUEUE packets carrying NFQA_CT.
    for m in Messages::new(data).take(32) {
        let Ok(m) = m else { break };
        match CtEvent::from_msg(&m) {
            Ok(Some(CtEvent::Conn(_, c))) => conn(&c),
            Ok(Some(CtEvent::Expect(_, e))) => expect(&e),
            _ => {}
        }
        if let Ok(p) = Packet::parse(&m) {
            if let Some(Ok(c)) = packet_conn(&p) {
                conn(&c);
            }
            if let Some(Ok(e)) = packet_expect(&p) {
                expect(&e);
            }
            let _ = packet_ct_info(&p);
        }
    }
});
