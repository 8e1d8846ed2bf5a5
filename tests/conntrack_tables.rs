//! Kernel tests of the conntrack tables beyond the main one and of kernel-side dump filters:
//! the expectation table as a table (get, create, update, delete by tuple, id and helper),
//! the dying and unconfirmed lists, and the `CTA_FILTER`/zone/mark dump filters. Each test
//! makes its own network namespace and checks against the `conntrack` tool run in it as the
//! independent reader (`conntrack -L expect`, `conntrack -L dying`, ...).
//!
//! Needs root, iptables and `conntrack` (scripts/setup.sh installs them) and a kernel with the
//! FTP conntrack helper (built in or the nf_conntrack_ftp module, which setup.sh loads).

mod common;
mod ct_common;
use common::*;
use ct_common::ToolEvents;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use nfq_rs::conntrack::{
    ConnBuf, Conntrack, CtEvent, DumpFilter, EventFilter, EventKind, Events, ExpectBuf, ProtoInfo, Table, TcpInfo,
    Tuple, exp_flags, groups, tcp_state,
};
use nfq_rs::netlink::ErrorKind;

const AF_INET: u8 = libc::AF_INET as u8;
thread_local!(static FAMILY: std::cell::Cell<u8> = const { std::cell::Cell::new(0) });
const WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn v6(last: u16) -> IpAddr {
    IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, last])
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 9, 0, last))
}

fn tracked_ns(tag: &str) -> TestNs {
    let ns = TestNs::new(tag);
    ns.iptables("-A OUTPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED,INVALID,UNTRACKED -j ACCEPT");
    ns
}

fn tool(ns: &TestNs, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "conntrack"])
        .args(args)
        .output()
        .expect("run conntrack (apt-get install conntrack)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An established TCP connection `10.9.0.1:40000 -> 10.9.0.2:21` made through ctnetlink, with
/// the FTP helper attached (so expectations can hang off it).
fn ftp_master(ct: &Conntrack, sport: u16) -> Tuple {
    let t = Tuple::ports(ip(1), ip(2), 6, sport, 21);
    let mut c = ConnBuf::new(AF_INET);
    c.set_orig(t)
        .set_timeout(120)
        .set_helper(b"ftp")
        .set_protoinfo(ProtoInfo::Tcp(TcpInfo { state: Some(tcp_state::ESTABLISHED), ..Default::default() }));
    ct.create(&c.view()).expect("create the FTP master connection with its helper");
    t
}

fn expectation(master: Tuple, dport: u16) -> ExpectBuf {
    let mut e = ExpectBuf::new(AF_INET);
    let mut mask = Tuple::ports(IpAddr::V4(Ipv4Addr::BROADCAST), IpAddr::V4(Ipv4Addr::BROADCAST), 6, 0, 0xffff);
    mask.proto = None;
    e.set_master(master)
        .set_tuple(Tuple::ports(ip(1), ip(2), 6, 0, dport))
        .set_mask(mask)
        .set_timeout(200)
        .set_helper(b"ftp");
    e
}

fn our_expectations(ct: &Conntrack) -> Vec<ExpectBuf> {
    let mut v = Vec::new();
    ct.dump_expect(0, &mut |e| {
        v.push(e.to_owned());
        true
    })
    .unwrap();
    v
}

#[test]
fn an_expectation_created_through_ctnetlink_is_listed_by_the_conntrack_tool_got_updated_and_deleted() {
    let ns = tracked_ns("exptab");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    let ev = Events::open(&ns.netns(), groups::EXPECT).unwrap();
    let master = ftp_master(&ct, 40000);
    let mut e = expectation(master, 50001);
    e.set_flags(exp_flags::PERMANENT);
    ct.create_expect(&e.view()).expect("create the expectation");

    // The independent reader sees it with our tuple, mask and master.
    let (ok, out, err) = tool(&ns, &["-L", "expect"]);
    assert!(ok, "{err}");
    let line = out.lines().find(|l| l.contains("dport=50001")).unwrap_or_else(|| panic!("not listed: {out}"));
    assert!(line.contains("src=10.9.0.1 dst=10.9.0.2"), "{line}");
    assert!(line.contains("master-src=10.9.0.1 master-dst=10.9.0.2 sport=40000 dport=21"), "{line}");
    assert!(line.contains("PERMANENT"), "{line}");
    assert!(line.contains("helper=ftp"), "{line}");

    // Get by tuple: the kernel's view of it.
    let t = *e.view().tuple().unwrap();
    let got = ct.get_expect(&t, None, None).expect("get the expectation");
    let g = got.view();
    assert_eq!(g.master(), Some(&master));
    assert_eq!(g.tuple().and_then(|t| t.dst_port), Some(50001));
    assert_eq!(g.mask().and_then(|m| m.dst_port), Some(0xffff));
    assert_eq!(g.mask().and_then(|m| m.src_port), Some(0));
    assert_eq!(g.helper_name(), Some(&b"ftp"[..]));
    assert_eq!(g.flags().map(|f| f & exp_flags::PERMANENT), Some(exp_flags::PERMANENT));
    // The helper's policy sets the timeout of what it expects (FTP: 300 s), whatever was asked.
    assert!(g.timeout().is_some_and(|t| t > 150 && t <= 300), "{:?}", g.timeout());
    let id = g.id().expect("an id");
    // The wrong id is another expectation: not found.
    let e2 = ct.get_expect(&t, None, Some(id ^ 1)).unwrap_err();
    assert_eq!(e2.kind(), ErrorKind::NotFound);
    assert!(e2.message().contains("no such expectation"), "{e2}");

    // The timeout can be changed (the only change the kernel allows).
    ct.update_expect_timeout(&t, None, 1000).unwrap();
    assert!(ct.get_expect(&t, None, Some(id)).unwrap().view().timeout().unwrap() > 900);

    // A second create of the same tuple: exists.
    let dup = ct.create_expect(&e.view()).unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Exists, "{dup}");
    assert!(dup.message().contains("expectation exists"), "{dup}");

    // Delete by tuple and id; the tool no longer lists it; a second delete: not found.
    ct.delete_expect(&t, None, Some(id)).unwrap();
    let (_, out, _) = tool(&ns, &["-L", "expect"]);
    assert!(!out.contains("dport=50001"), "{out}");
    let gone = ct.delete_expect(&t, None, None).unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);

    // Events: new then destroy, decoded like the dump.
    let mut seen = Vec::new();
    ev.run(Some(2), Some(WAIT), &mut |x| {
        if let CtEvent::Expect(k, x) = x {
            seen.push((*k, x.tuple().and_then(|t| t.dst_port), x.id()));
        }
        true
    })
    .unwrap();
    assert_eq!(seen, [(EventKind::New, Some(50001), Some(id)), (EventKind::Destroy, Some(50001), Some(id))]);
}

#[test]
fn expectations_are_deleted_by_id_and_by_helper_and_one_made_by_the_tool_is_read_back() {
    let ns = tracked_ns("expdel");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    // The FTP helper keeps one expectation per master: three masters.
    for (i, port) in [50010, 50011, 50012].into_iter().enumerate() {
        let master = ftp_master(&ct, 41000 + i as u16);
        ct.create_expect(&expectation(master, port).view()).unwrap();
    }
    let master = ftp_master(&ct, 40001);
    let all = our_expectations(&ct);
    assert_eq!(all.len(), 3);
    let victim = all.iter().find(|e| e.view().tuple().and_then(|t| t.dst_port) == Some(50011)).unwrap();
    ct.delete_expect_id(0, victim.view().id().unwrap()).unwrap();
    let (_, out, _) = tool(&ns, &["-L", "expect"]);
    assert!(!out.contains("dport=50011") && out.contains("dport=50010") && out.contains("dport=50012"), "{out}");
    let nf = ct.delete_expect_id(0, victim.view().id().unwrap()).unwrap_err();
    assert_eq!(nf.kind(), ErrorKind::NotFound);
    assert!(nf.message().contains("no expectation has id"), "{nf}");
    ct.delete_expect_helper(AF_INET, b"ftp").unwrap();
    assert!(our_expectations(&ct).is_empty());
    let (_, out, _) = tool(&ns, &["-L", "expect"]);
    assert!(!out.contains("dport="), "{out}");

    // The tool creates one; we read it back by tuple.
    let (ok, _, err) = tool(
        &ns,
        &[
            "-I",
            "expect",
            "-p",
            "tcp",
            "--orig-src",
            "10.9.0.1",
            "--orig-dst",
            "10.9.0.2",
            "--sport",
            "40001",
            "--dport",
            "21",
            "--tuple-src",
            "10.9.0.1",
            "--tuple-dst",
            "10.9.0.2",
            "--tuple-port-src",
            "0",
            "--tuple-port-dst",
            "50020",
            "--mask-src",
            "255.255.255.255",
            "--mask-dst",
            "255.255.255.255",
            "--mask-port-src",
            "0",
            "--mask-port-dst",
            "65535",
            "--timeout",
            "100",
        ],
    );
    assert!(ok, "conntrack -I expect: {err}");
    // (conntrack 1.4.7 puts a wrong protocol number in the expected tuple it sends; whatever
    // it made, we find it in our dump and get it back by its tuple, as the tool lists it.)
    let (_, listed, _) = tool(&ns, &["-L", "expect"]);
    let theirs = our_expectations(&ct);
    assert_eq!(theirs.len(), 1, "{listed}");
    let e = theirs[0].view();
    assert_eq!(e.master(), Some(&master));
    let proto = e.tuple().and_then(|t| t.proto).unwrap();
    assert!(listed.contains(&format!("proto={proto} src=10.9.0.1 dst=10.9.0.2")), "{proto} {listed}");
    let g = ct.get_expect(e.tuple().unwrap(), None, None).unwrap_or_else(|x| panic!("{x}\n{listed}"));
    assert_eq!(g.view().id(), e.id());
    assert_eq!(g.view().mask(), e.mask());
}

#[test]
fn expectation_errors_say_what_is_wrong() {
    let ns = tracked_ns("experr");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    // No master connection.
    let e = ct.create_expect(&expectation(Tuple::ports(ip(1), ip(2), 6, 1, 21), 50030).view()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.message().contains("master connection"), "{e}");
    // A master without a helper.
    let plain = Tuple::ports(ip(1), ip(2), 6, 40002, 21);
    let mut c = ConnBuf::new(AF_INET);
    c.set_orig(plain)
        .set_timeout(60)
        .set_protoinfo(ProtoInfo::Tcp(TcpInfo { state: Some(tcp_state::ESTABLISHED), ..Default::default() }));
    ct.create(&c.view()).unwrap();
    let mut x = expectation(plain, 50031);
    x.set_helper(b"no-such-helper");
    let e = ct.create_expect(&x.view()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported, "{e}");
    assert!(e.message().contains("helper"), "{e}");
    // Caught before the kernel: no timeout, no tuple, no master.
    let mut x = expectation(plain, 50032);
    x.set_family(AF_INET);
    let mut no_timeout = ExpectBuf::new(AF_INET);
    no_timeout.set_master(plain).set_tuple(Tuple::ports(ip(1), ip(2), 6, 0, 1));
    let e = ct.create_expect(&no_timeout.view()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("timeout"), "{e}");
    let e = ct.create_expect(&ExpectBuf::new(AF_INET).view()).unwrap_err();
    assert!(e.message().contains("master tuple"), "{e}");
    // Unknown expectation.
    let e = ct.get_expect(&Tuple::ports(ip(1), ip(2), 6, 0, 9), None, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.message().contains("no such expectation"), "{e}");
    assert_eq!(ct.last_error(), e.message());
    // A class beyond the helper's (FTP has one): the kernel refuses, the message says why.
    let m = ftp_master(&ct, 40020);
    let mut x = expectation(m, 50033);
    x.set_class(5);
    let e = ct.create_expect(&x.view()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().contains("class above the helper's classes"), "{e}");
}

#[test]
fn an_expectation_with_nat_is_created_and_read_back() {
    let ns = tracked_ns("expnat");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    let master = ftp_master(&ct, 40030);
    let mut e = expectation(master, 50040);
    e.set_nat(1, Tuple::ports(ip(9), ip(2), 6, 0, 60000)).set_function(b"nat-follow-master");
    ct.create_expect(&e.view()).expect("create with NAT");
    let g = ct.get_expect(e.view().tuple().unwrap(), None, None).unwrap();
    assert_eq!(g.view().nat_dir(), Some(1));
    assert_eq!(g.view().nat_tuple().and_then(|t| t.src), Some(ip(9)));
    assert_eq!(g.view().function(), Some(&b"nat-follow-master"[..]));
    // An unknown function name: refused.
    let mut bad = expectation(master, 50041);
    bad.set_function(b"no-such-function");
    let err = ct.create_expect(&bad.view()).unwrap_err();
    assert!(err.message().contains("unknown function name"), "{err}");
    let (ok, out, err) = tool(&ns, &["-L", "expect"]);
    assert!(ok, "{err}");
    assert!(out.contains("dport=50040"), "{out}");
}

#[test]
fn expectation_events_pass_the_kernel_filter_like_the_library_filter() {
    let ns = tracked_ns("expbpf");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    let f = EventFilter { kinds: groups::EXP_NEW, l4proto: Some(6), ..Default::default() };
    let kern = Events::open(&ns.netns(), groups::EXPECT).unwrap();
    kern.set_kernel_filter(&f).unwrap();
    let lib = Events::open(&ns.netns(), groups::EXPECT).unwrap();
    lib.set_filter(f);
    // A filter with a connection-only part keeps no expectation event, in the kernel too.
    let none = Events::open(&ns.netns(), groups::EXPECT).unwrap();
    none.set_kernel_filter(&EventFilter { mark: Some((0, 0)), ..Default::default() }).unwrap();
    let all = Events::open(&ns.netns(), groups::EXPECT).unwrap();
    // The independent reader of the same stream, subscribed once it shows a canary
    // expectation's events; the canary's events are then drained from every handle.
    let tool_ev = ToolEvents::start(&ns.name, &["expect"], |n| {
        let m = ftp_master(&ct, 45000 + n);
        let x = expectation(m, 55000 + n);
        ct.create_expect(&x.view()).unwrap();
        ct.delete_expect(x.view().tuple().unwrap(), None, None).unwrap();
        format!("dport={} ", 55000 + n)
    });
    let take_for = |ev: &Events, idle: u64| {
        let mut v = Vec::new();
        ev.run(None, Some(std::time::Duration::from_millis(idle)), &mut |e| {
            if let CtEvent::Expect(k, x) = e {
                v.push((*k, x.tuple().and_then(|t| t.dst_port)));
            }
            true
        })
        .unwrap();
        v
    };
    for ev in [&kern, &lib, &none, &all] {
        let _ = take_for(ev, 20);
    }
    let received_before = kern.stats().received;
    for i in 0..3u16 {
        let m = ftp_master(&ct, 40040 + i);
        ct.create_expect(&expectation(m, 50050 + i).view()).unwrap();
    }
    ct.delete_expect_helper(AF_INET, b"ftp").unwrap();
    let take = |ev: &Events| take_for(ev, 300);
    let k = take(&kern);
    assert_eq!(k, take(&lib));
    assert_eq!(k, [(EventKind::New, Some(50050)), (EventKind::New, Some(50051)), (EventKind::New, Some(50052))]);
    assert_eq!(kern.stats().received - received_before, 3, "the destroy events never reached the socket");
    assert!(take(&none).is_empty());
    let everything = take(&all);
    assert_eq!(everything.iter().filter(|(k, _)| *k == EventKind::Destroy).count(), 3);
    let lines = tool_ev.finish();
    let theirs: Vec<(EventKind, Option<u16>)> = lines
        .iter()
        .filter_map(|l| {
            let kind = if l.contains("[NEW]") {
                EventKind::New
            } else if l.contains("[DESTROY]") {
                EventKind::Destroy
            } else {
                return None;
            };
            let port = l.split_whitespace().filter_map(|w| w.strip_prefix("dport=")).next()?.parse().ok();
            Some((kind, port))
        })
        .collect();
    assert_eq!(theirs, everything, "conntrack -E expect saw the same stream: {lines:?}");
}

#[test]
fn dying_and_unconfirmed_lists_dump_like_the_conntrack_tool() {
    let ns = tracked_ns("dying");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    let _ = ftp_master(&ct, 40003);
    // Entries reach the dying list when their destroy event cannot be delivered: a listener
    // that asks for delivery errors (NETLINK_BROADCAST_ERROR) and whose buffer is full.
    let ev = Events::open(&ns.netns(), groups::DESTROY).unwrap();
    ev.set_rcvbuf(1).unwrap();
    let on: libc::c_int = 1;
    // SAFETY: a plain int option on the handle's socket.
    let r = unsafe {
        libc::setsockopt(
            ev.fd(),
            270, /* SOL_NETLINK */
            4,   /* NETLINK_BROADCAST_ERROR */
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
    for i in 0..40u16 {
        let mut c = ConnBuf::new(AF_INET);
        c.set_orig(Tuple::ports(ip(1), ip(2), 17, 7000 + i, 53)).set_timeout(60);
        ct.create(&c.view()).unwrap();
    }
    ct.flush(AF_INET).unwrap();
    for (table, name) in [(Table::Dying, "dying"), (Table::Unconfirmed, "unconfirmed")] {
        let mut ours = 0;
        ct.dump_table(table, 0, &DumpFilter::default(), &mut |c| {
            assert!(c.orig().is_some());
            ours += 1;
            true
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (ok, out, err) = tool(&ns, &["-L", name]);
        assert!(ok, "conntrack -L {name}: {err}");
        assert_eq!(ours, out.lines().filter(|l| !l.trim().is_empty()).count(), "{name}: {out}");
        assert_eq!(ct.last_dump_report().received, ours);
        if table == Table::Dying {
            assert!(ours > 0, "undelivered destroy events keep entries on the dying list");
            let n = ct
                .dump_table(
                    table,
                    0,
                    &DumpFilter {
                        orig: Some(Tuple { proto: Some(17), src_port: Some(7005), ..Default::default() }),
                        ..Default::default()
                    },
                    &mut |_| true,
                )
                .unwrap();
            assert!(n <= 1);
        }
    }
    // The main table is empty now.
    let n = ct.dump_table(Table::Main, 0, &DumpFilter::default(), &mut |_| true).unwrap();
    assert_eq!(n, 0);
    drop(ev);
}

/// Makes UDP entries 10.9.0.1:{1000..1000+n} -> 10.9.0.{2,3}:{53,54} in zones 0 and 7.
fn populate(ct: &Conntrack) -> Vec<Tuple> {
    let mut v = Vec::new();
    for i in 0..12u16 {
        let dst = ip(2 + (i % 2) as u8);
        let t = Tuple::ports(ip(1), dst, 17, 1000 + i, 53 + (i % 3 == 0) as u16);
        let mut c = ConnBuf::new(AF_INET);
        c.set_orig(t).set_timeout(120).set_mark(i as u32);
        if i % 4 == 0 {
            c.set_zone(7);
        }
        ct.create(&c.view()).unwrap();
        v.push(t);
    }
    for i in 0..3u16 {
        let t = Tuple::ports(v6(1 + i % 2), v6(9), 17, 3000 + i, 53);
        let mut c = ConnBuf::new(0);
        c.set_orig(t).set_timeout(120);
        ct.create(&c.view()).unwrap();
        v.push(t);
    }
    for id in [7, 8] {
        let t = Tuple::icmp(ip(1), ip(2), id, 8, 0);
        let mut c = ConnBuf::new(AF_INET);
        c.set_orig(t).set_timeout(30);
        ct.create(&c.view()).unwrap();
        v.push(t);
    }
    let t = Tuple::ports(ip(1), ip(2), 6, 2000, 53);
    let mut c = ConnBuf::new(AF_INET);
    c.set_orig(t)
        .set_timeout(120)
        .set_protoinfo(ProtoInfo::Tcp(TcpInfo { state: Some(tcp_state::ESTABLISHED), ..Default::default() }));
    ct.create(&c.view()).unwrap();
    v.push(t);
    v
}

fn keys(ct: &Conntrack, f: &DumpFilter) -> Vec<(u8, u16, u16, IpAddr)> {
    let mut v = Vec::new();
    ct.dump(FAMILY.with(|x| x.get()), f, &mut |c| {
        let t = c.orig().unwrap();
        v.push((t.proto.unwrap(), t.src_port.or(t.icmp_id).unwrap(), t.dst_port.unwrap_or(0), t.dst.unwrap()));
        true
    })
    .unwrap();
    v.sort();
    v
}

#[test]
fn tuple_zone_and_mark_filters_run_in_the_kernel_and_keep_what_the_library_keeps() {
    let ns = tracked_ns("ctfilt");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    populate(&ct);
    let all = keys(&ct, &DumpFilter::default());
    assert_eq!(all.len(), 18);
    let has_tuple = ct.kernel_has_tuple_filter().unwrap();
    let (major, minor) = {
        let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut it = r.trim().split(|c: char| !c.is_ascii_digit()).map(|x| x.parse::<u32>().unwrap_or(0));
        (it.next().unwrap(), it.next().unwrap())
    };
    assert_eq!(has_tuple, (major, minor) >= (5, 10), "the probe agrees with the kernel version");
    let filters = [
        DumpFilter {
            orig: Some(Tuple { dst: Some(ip(3)), proto: Some(17), dst_port: Some(53), ..Default::default() }),
            ..Default::default()
        },
        DumpFilter { l4proto: Some(6), ..Default::default() },
        DumpFilter {
            reply: Some(Tuple { src: Some(ip(2)), proto: Some(17), ..Default::default() }),
            mark: Some((0, 3)),
            ..Default::default()
        },
        DumpFilter { zone: Some(7), ..Default::default() },
        DumpFilter {
            zone: Some(7),
            orig: Some(Tuple { proto: Some(17), dst_port: Some(54), ..Default::default() }),
            ..Default::default()
        },
        // ICMP: echo id and type in the kernel.
        DumpFilter {
            orig: Some(Tuple { proto: Some(1), icmp_id: Some(8), icmp_type: Some(8), ..Default::default() }),
            ..Default::default()
        },
        // A tuple zone: compared here (the kernel ignores it).
        DumpFilter { orig: Some(Tuple { proto: Some(17), zone: Some(0), ..Default::default() }), ..Default::default() },
        // IPv6 addresses: the dump's family comes from the filter.
        DumpFilter {
            orig: Some(Tuple { src: Some(v6(2)), proto: Some(17), ..Default::default() }),
            ..Default::default()
        },
        // Both families, one dump each: UDP to port 53 from source port 3000 or 1000.
        DumpFilter {
            orig: Some(Tuple { proto: Some(17), dst_port: Some(53), ..Default::default() }),
            ..Default::default()
        },
    ];
    for f in filters {
        // Family 0 (every family) gives the IPv4 entries of an AF_INET dump and the IPv6 ones.
        let v6_only = f.orig.and_then(|t| t.src).is_some_and(|a| a.is_ipv6());
        FAMILY.with(|x| x.set(if v6_only { libc::AF_INET6 as u8 } else { AF_INET }));
        let got_fam = keys(&ct, &f);
        FAMILY.with(|x| x.set(0));
        let got = keys(&ct, &f);
        let same_family: Vec<_> = got.iter().filter(|k| k.3.is_ipv6() == v6_only).cloned().collect();
        assert_eq!(same_family, got_fam, "{f:?}");
        let r = ct.last_dump_report();
        // The same result computed here from the full table.
        let mut want = Vec::new();
        ct.dump(0, &DumpFilter::default(), &mut |c| {
            if f.matches(c) {
                let t = c.orig().unwrap();
                want.push((
                    t.proto.unwrap(),
                    t.src_port.or(t.icmp_id).unwrap(),
                    t.dst_port.unwrap_or(0),
                    t.dst.unwrap(),
                ));
            }
            true
        })
        .unwrap();
        want.sort();
        assert_eq!(got, want, "{f:?}");
        assert!(!got.is_empty() && got.len() < all.len(), "{f:?} selects some: {got:?}");
        let tuple = f.orig_flags() | f.reply_flags() != 0;
        // IPv6 addresses are compared in the library only (the kernel compares them inverted).
        let v6_addr = [f.orig, f.reply].into_iter().flatten().any(|t| t.src.or(t.dst).is_some_and(|a| a.is_ipv6()));
        let tuple_zone = [f.orig, f.reply].into_iter().flatten().any(|t| t.zone.is_some());
        assert_eq!(r.kernel_tuple, tuple && has_tuple && !v6_addr && !tuple_zone, "{f:?}");
        if v6_addr && has_tuple {
            // The protocol still went to the kernel: only the UDP entries of IPv6 arrived.
            assert_eq!((r.received, r.kept), (3, 1), "{r:?}");
        }
        assert_eq!(r.kernel_zone, f.zone.is_some() && (major, minor) >= (6, 8), "{f:?}");
        assert_eq!(r.kernel_mark, f.mark.is_some());
        let all_kernel = (!tuple || r.kernel_tuple) && (f.zone.is_none() || r.kernel_zone);
        if all_kernel {
            assert_eq!(r.received, r.kept, "the kernel sent only what passes: {f:?} {r:?}");
        } else {
            assert!(r.received >= r.kept, "{f:?} {r:?}");
        }
        // The conntrack tool agrees on the orig-tuple filter (it lists both families here).
        if f.reply.is_none() && f.zone.is_none() && f.orig.and_then(|t| t.proto) != Some(1) {
            let mut args: Vec<String> = vec!["-L".into(), "-p".into()];
            args.push(if f.l4proto == Some(6) { "tcp" } else { "udp" }.into());
            if let Some(t) = f.orig {
                for (flag, v) in [("-s", t.src.map(|a| a.to_string())), ("-d", t.dst.map(|a| a.to_string()))] {
                    if let Some(v) = v {
                        args.extend([flag.to_string(), v]);
                    }
                }
                if let Some(dp) = t.dst_port {
                    args.extend(["--dport".to_string(), dp.to_string()]);
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (ok, out, err) = tool(&ns, &args);
            assert!(ok, "{err}");
            assert_eq!(out.lines().filter(|l| !l.trim().is_empty()).count(), got.len(), "{args:?}: {out}");
        }
    }
}

#[test]
fn filters_the_kernel_cannot_express_are_refused_with_the_reason() {
    let ns = tracked_ns("ctfbad");
    let ct = Conntrack::open(&ns.netns()).unwrap();
    let bad = [
        (
            DumpFilter { orig: Some(Tuple { dst_port: Some(53), ..Default::default() }), ..Default::default() },
            "no protocol",
        ),
        (
            DumpFilter {
                l4proto: Some(6),
                orig: Some(Tuple { proto: Some(17), ..Default::default() }),
                ..Default::default()
            },
            "differ",
        ),
        (
            DumpFilter {
                orig: Some(Tuple { src: Some("::1".parse().unwrap()), ..Default::default() }),
                ..Default::default()
            },
            "another family",
        ),
    ];
    for (f, says) in bad {
        let fam = if f.orig.and_then(|t| t.src).is_some() { AF_INET } else { 0 };
        let e = ct.dump(fam, &f, &mut |_| true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains(says), "{e}");
    }
}
