//! Kernel tests of conntrack event filtering and overflow: the classic BPF filter attached to
//! the event socket keeps exactly what the library-side filter keeps on the same event stream
//! (checked both ways, for several filter descriptions), the unfiltered stream agrees with
//! `conntrack -E` run in the same namespace, and an overflowing socket is reported, counted,
//! keeps running and can be resynced from a dump.

mod common;
mod ct_common;
use common::*;
use ct_common::ToolEvents;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use nfq_rs::conntrack::{
    ConnBuf, Conntrack, CtEvent, EventFilter, Events, ProtoInfo, TcpInfo, Tuple, Update, groups, neg, status, tcp_state,
};

type Key = (u32, u8, String, String, u16, u16);

fn key(ev: &CtEvent<'_>) -> Option<Key> {
    match ev {
        CtEvent::Conn(_, c) => {
            let t = c.orig()?;
            Some((
                ev.group(),
                t.proto?,
                t.src?.to_string(),
                t.dst?.to_string(),
                t.src_port.unwrap_or(0),
                t.dst_port.unwrap_or(0),
            ))
        }
        CtEvent::Expect(..) => None,
    }
}

/// Every event of the handle until none comes for a while (bounded).
fn drain(ev: &Events) -> Vec<Key> {
    drain_idle(ev, Duration::from_millis(150))
}

/// As `drain`, ending after `idle` without an event (events caused by requests that have
/// returned are already queued, so a short idle suffices for them).
fn drain_idle(ev: &Events, idle: Duration) -> Vec<Key> {
    let mut v = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let mut got = 0;
        ev.run(None, Some(idle), &mut |e| {
            got += 1;
            v.extend(key(e));
            true
        })
        .unwrap();
        if got == 0 {
            break;
        }
    }
    v
}

/// Connections of many shapes, then updates and deletes: new, update and destroy events.
fn traffic(ct: &Conntrack) -> usize {
    let v4 = |d: u8| IpAddr::from([10, 7, 0, d]);
    let v6 = |d: u16| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, d]);
    let mut tuples = Vec::new();
    for i in 0..24u16 {
        let (src, dst) =
            if i % 3 == 2 { (v6(1 + i), v6(500)) } else { (v4(1 + (i % 5) as u8), v4(100 + (i % 2) as u8)) };
        let proto = if i % 4 == 0 { 6 } else { 17 };
        let t = Tuple::ports(src, dst, proto, 2000 + i, if i % 2 == 0 { 53 } else { 443 });
        let mut c = ConnBuf::new(0);
        c.set_orig(t).set_timeout(100).set_mark((i as u32 % 4) * 0x10);
        if i % 6 == 1 {
            c.set_zone(5);
        }
        if proto == 6 {
            c.set_protoinfo(ProtoInfo::Tcp(TcpInfo { state: Some(tcp_state::ESTABLISHED), ..Default::default() }));
        }
        ct.create(&c.view()).unwrap();
        let z = if i % 6 == 1 { Some(5) } else { None };
        if i % 7 == 3 {
            let cur = ct.get(&t, z).unwrap().view().status().unwrap();
            ct.update(
                &t,
                z,
                &Update { status: Some(cur | status::ASSURED | status::SEEN_REPLY), ..Default::default() },
            )
            .unwrap();
        }
        tuples.push((t, z));
    }
    for (t, z) in tuples.iter().step_by(3) {
        ct.update(t, *z, &Update { mark: Some(0x77), ..Default::default() }).unwrap();
    }
    for (t, z) in tuples.iter().step_by(2) {
        ct.delete(t, *z).unwrap();
    }
    ct.flush(0).unwrap();
    24 + (0..24).filter(|i| i % 7 == 3).count() + 8 + 24
}

#[test]
fn the_kernel_bpf_filter_lets_through_exactly_what_the_library_filter_keeps() {
    let ns = TestNs::new("ctbpf");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    let net = |s: &str, l| Some((s.parse::<IpAddr>().unwrap(), l));
    let filters = [
        EventFilter { l4proto: Some(17), dst_port: Some(53), ..Default::default() },
        EventFilter { kinds: groups::NEW | groups::DESTROY, src: net("10.7.0.0", 24), ..Default::default() },
        EventFilter { src: net("10.7.0.2", 32), negate: neg::SRC, family: Some(2), ..Default::default() },
        EventFilter { mark: Some((0x10, 0xf0)), ..Default::default() },
        EventFilter { zone: Some(5), negate: neg::ZONE, l4proto: Some(6), ..Default::default() },
        EventFilter { status: Some((status::ASSURED, status::ASSURED)), ..Default::default() },
        EventFilter { src: net("fd00::", 112), dst_port: Some(443), negate: neg::DST_PORT, ..Default::default() },
    ];
    let all = Events::open(&ns.netns(), groups::CONNTRACK).unwrap();
    let mut pairs = Vec::new();
    for f in &filters {
        let kern = Events::open(&ns.netns(), groups::CONNTRACK).unwrap();
        let n = kern.set_kernel_filter(f).unwrap();
        assert!(n > 4 && n < 200, "{n} instructions");
        assert_eq!(kern.kernel_filter(), Some(*f));
        let lib = Events::open(&ns.netns(), groups::CONNTRACK).unwrap();
        lib.set_filter(*f);
        pairs.push((kern, lib));
    }
    // The independent reader: conntrack -E in the same namespace, subscribed once it shows a
    // canary connection's events; the canary's events are then drained from every handle.
    let tool = ToolEvents::start(&ns.name, &["-o", "id"], |n| {
        let t = Tuple::ports(IpAddr::from([10, 99, 0, 1]), IpAddr::from([10, 99, 0, 2]), 17, 9000 + n, 9);
        let mut c = ConnBuf::new(0);
        c.set_orig(t).set_timeout(10);
        ct.create(&c.view()).unwrap();
        ct.delete(&t, None).unwrap();
        format!("sport={} ", 9000 + n)
    });
    let short = Duration::from_millis(20);
    let _ = drain_idle(&all, short);
    for (k, l) in &pairs {
        let _ = (drain_idle(k, short), drain_idle(l, short));
    }
    let base: Vec<_> = pairs.iter().map(|(k, l)| (k.stats(), l.stats())).collect();
    let sent = traffic(&ct);
    let everything = drain(&all);
    assert_eq!(everything.len(), sent, "every event arrives unfiltered");
    let tool_lines = tool.finish().iter().filter(|l| l.contains("src=")).count();
    assert_eq!(tool_lines, sent, "conntrack -E saw the same stream");

    for (i, (f, (kern, lib))) in filters.iter().zip(&pairs).enumerate() {
        let k = drain(kern);
        let l = drain(lib);
        assert_eq!(k, l, "kernel and library filters differ for {f:?}");
        let want: Vec<Key> = everything.iter().filter(|x| l.contains(x)).cloned().collect();
        assert_eq!(l, want, "{f:?}");
        assert!(!k.is_empty() && k.len() < everything.len(), "{f:?} keeps {} of {}", k.len(), everything.len());
        // The kernel dropped the rest: this socket never saw them.
        let (kb, lb) = base[i];
        let ks = kern.stats();
        assert_eq!((ks.received - kb.received) as usize, k.len(), "{f:?}");
        assert_eq!(ks.filtered, 0);
        let ls = lib.stats();
        assert_eq!((ls.received - lb.received) as usize, sent);
        assert_eq!((ls.filtered - lb.filtered) as usize, sent - l.len());
    }
    // Removing the kernel filter lets everything through again.
    let (kern, _) = &pairs[0];
    kern.clear_kernel_filter().unwrap();
    assert_eq!(kern.kernel_filter(), None);
    let again = traffic(&ct);
    assert_eq!(drain(kern).len(), again);
    let set: BTreeSet<_> = everything.iter().collect();
    assert!(set.len() > 10);
}

#[test]
fn a_bad_filter_description_is_refused_with_the_reason() {
    let ns = TestNs::new("ctbpfbad");
    let ev = Events::open(&ns.netns(), groups::CONNTRACK).unwrap();
    let e = ev
        .set_kernel_filter(&EventFilter {
            family: Some(2),
            dst: Some(("fd00::1".parse().unwrap(), 64)),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.kind(), nfq_rs::netlink::ErrorKind::InvalidArgument);
    assert!(e.message().contains("not of the filter's family"), "{e}");
    assert!(ev.last_error().contains("attaching the kernel event filter"));
}

#[test]
fn an_overflow_is_reported_counted_survived_and_resynced() {
    let ns = TestNs::new("ctovf");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    let ev = Events::open(&ns.netns(), groups::CONNTRACK).unwrap();
    ev.set_rcvbuf(4096).unwrap();
    ev.set_stop_on_overflow(true);
    // Many more events than the small buffer holds, while nobody reads.
    let v4 = |d: u8| IpAddr::from([10, 8, 0, d]);
    for i in 0..400u16 {
        let mut c = ConnBuf::new(0);
        c.set_orig(Tuple::ports(v4(1), v4(2), 17, 10000 + i, 53)).set_timeout(100);
        ct.create(&c.view()).unwrap();
    }
    // The run returns at the overflow instead of going on.
    let mut got = 0;
    ev.run(None, Some(Duration::from_secs(3)), &mut |_| {
        got += 1;
        true
    })
    .unwrap();
    let s = ev.stats();
    assert!(s.overflows >= 1, "{s:?}");
    assert!(got < 400, "events were lost: {got}");
    assert!(ev.last_error().contains("ENOBUFS") && ev.last_error().contains("Resync"), "{}", ev.last_error());
    let taken = ev.take_overflows();
    assert!(taken >= 1);
    assert_eq!(ev.take_overflows(), 0, "taken once");
    // The resync hands over the whole table, as the filter keeps it.
    ev.set_filter(EventFilter { src_port: Some(10007), negate: neg::SRC_PORT, ..Default::default() });
    let mut seen = BTreeSet::new();
    let n = ev
        .resync(&ct, 0, &mut |e| {
            if let CtEvent::Conn(_, c) = e {
                seen.insert(c.orig().unwrap().src_port.unwrap());
            }
            true
        })
        .unwrap();
    assert_eq!(n, 399);
    assert_eq!(seen.len(), 399);
    assert!(!seen.contains(&10007));
    // And the handle keeps running: later events arrive.
    ev.set_rcvbuf(1 << 20).unwrap();
    ev.set_filter(EventFilter::default());
    let _ = drain(&ev);
    ct.flush(0).unwrap();
    let after = drain(&ev);
    assert_eq!(after.len(), 400, "destroy events after the overflow");
}
