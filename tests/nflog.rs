//! Kernel tests of the NFLOG subsystem (`nfq_rs::nflog`): each test makes its own network
//! namespace with NFLOG rules, sends real traffic on its loopback, and checks that what was
//! logged equals what was sent.
mod common;
use common::*;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use nfq_rs::netlink::ErrorKind;
use nfq_rs::nflog::{Config, KernelStats, Log, LogPacket, copy, flags};

/// What a test keeps of one logged packet (the view borrows the receive buffer).
#[derive(Clone, Debug, Default, PartialEq)]
struct Seen {
    family: u8,
    group: u16,
    hook: u8,
    hw_protocol: u16,
    prefix: Option<String>,
    payload: Option<Vec<u8>>,
    mark: Option<u32>,
    indev: Option<u32>,
    outdev: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    seq: Option<u32>,
    seq_global: Option<u32>,
    timestamp: Option<(u64, u64)>,
    hwtype: Option<u16>,
    hwlen: Option<u16>,
    hwheader: Option<Vec<u8>>,
}

impl Seen {
    fn of(p: &LogPacket<'_>) -> Seen {
        Seen {
            family: p.family(),
            group: p.group(),
            hook: p.hook(),
            hw_protocol: p.hw_protocol(),
            prefix: p.prefix().map(str::to_owned),
            payload: p.payload().map(<[u8]>::to_vec),
            mark: p.mark(),
            indev: p.indev(),
            outdev: p.outdev(),
            uid: p.uid(),
            gid: p.gid(),
            seq: p.seq(),
            seq_global: p.seq_global(),
            timestamp: p.timestamp(),
            hwtype: p.hwtype(),
            hwlen: p.hwlen(),
            hwheader: p.hwheader().map(<[u8]>::to_vec),
        }
    }
    /// The UDP payload of a logged IPv4 or IPv6 datagram.
    fn udp_data(&self) -> &[u8] {
        let p = self.payload.as_deref().expect("payload");
        let l3 = if p[0] >> 4 == 4 { ((p[0] & 0xf) as usize) * 4 } else { 40 };
        &p[l3 + 8..]
    }
    fn udp_dport(&self) -> u16 {
        let p = self.payload.as_deref().expect("payload");
        let l3 = if p[0] >> 4 == 4 { ((p[0] & 0xf) as usize) * 4 } else { 40 };
        u16::from_be_bytes([p[l3 + 2], p[l3 + 3]])
    }
}

/// Receives until `want` messages arrived or `within` passed.
fn collect(log: &Log, want: usize, within: Duration) -> Vec<Seen> {
    let end = Instant::now() + within;
    let mut seen = Vec::new();
    while seen.len() < want && Instant::now() < end {
        let _ = log.dispatch(Some(Duration::from_millis(50)), &mut |p| seen.push(Seen::of(p)));
    }
    seen
}

fn open(ns: &TestNs, cfg: &mut Config) -> Log {
    cfg.netns(ns.netns());
    retry_while_owned(|| Log::open(cfg)).expect("open the nflog handle")
}

fn lo_index() -> u32 {
    1 // loopback is always ifindex 1 in a new namespace
}

#[test]
fn logged_packets_equal_what_was_sent_ipv4_output() {
    let ns = TestNs::new("nflog-out4");
    ns.iptables("-t mangle -A OUTPUT -p udp --dport 9100 -j MARK --set-mark 0x2a");
    ns.iptables("-A OUTPUT -p udp --dport 9100 -j NFLOG --nflog-group 100 --nflog-prefix udp-out");
    let mut cfg = Config::new(100);
    cfg.threshold(1);
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("127.0.0.1:9100");
    let tx = ns.udp("127.0.0.1:0");
    let sent: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 20 + i as usize]).collect();
    for d in &sent {
        tx.send_to(d, "127.0.0.1:9100").unwrap();
    }
    let seen = collect(&log, sent.len(), Duration::from_secs(5));
    assert_eq!(seen.len(), sent.len(), "{seen:?}");
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    for (s, d) in seen.iter().zip(&sent) {
        assert_eq!((s.family, s.group, s.hook, s.hw_protocol), (libc::AF_INET as u8, 100, 3, 0x0800));
        assert_eq!(s.prefix.as_deref(), Some("udp-out"));
        assert_eq!(s.udp_data(), &d[..]);
        assert_eq!(s.udp_dport(), 9100);
        assert_eq!(s.payload.as_ref().unwrap().len(), 28 + d.len(), "whole packet copied");
        assert_eq!(s.mark, Some(0x2a));
        assert_eq!((s.indev, s.outdev), (None, Some(lo_index())));
        assert_eq!((s.uid, s.gid), (Some(uid), Some(gid)), "locally generated: the socket's owner");
        assert_eq!(s.timestamp, None, "the kernel stamps PREROUTING, INPUT and FORWARD only");
        assert_eq!((s.seq, s.seq_global), (None, None), "no sequence numbers without the flags");
    }
    let st = log.stats();
    assert_eq!(st.packets_received, 10);
    assert_eq!((st.enobufs, st.truncated, st.parse_errors), (0, 0, 0));
    let k: KernelStats = log.kernel_stats(100).expect("the group in /proc/net/netfilter/nfnetlink_log");
    assert_eq!((k.group, k.portid, k.copy_mode, k.copy_range), (100, log.portid(), 2, 65531));
    assert_eq!(log.kernel_drops(), Some(0));
}

#[test]
fn input_hook_has_interface_timestamp_and_link_header() {
    let ns = TestNs::new("nflog-in4");
    ns.iptables("-A INPUT -p udp --dport 9101 -j NFLOG --nflog-group 7 --nflog-prefix in");
    let mut cfg = Config::new(7);
    cfg.threshold(1).flags(flags::SEQ | flags::SEQ_GLOBAL);
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("127.0.0.1:9101");
    let tx = ns.udp("127.0.0.1:0");
    let t0 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for i in 0..3u8 {
        tx.send_to(&[i; 8], "127.0.0.1:9101").unwrap();
    }
    let seen = collect(&log, 3, Duration::from_secs(5));
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!((s.hook, s.indev, s.outdev), (1, Some(lo_index()), None));
        assert_eq!(s.prefix.as_deref(), Some("in"));
        let (sec, usec) = s.timestamp.expect("INPUT packets are stamped");
        assert!(sec + 5 >= t0 && sec <= t0 + 60 && usec < 1_000_000, "{sec}.{usec} vs {t0}");
        assert_eq!((s.hwtype, s.hwlen), (Some(772), Some(14)), "ARPHRD_LOOPBACK with an Ethernet-sized header");
        assert_eq!(s.hwheader.as_ref().map(Vec::len), Some(14));
        assert_eq!(s.seq, Some(i as u32), "the group's own numbering starts at 0");
        assert!(s.seq_global.is_some());
        assert_eq!(s.udp_data(), &[i as u8; 8]);
        assert_eq!((s.uid, s.gid), (None, None), "an input packet has no local sender socket yet");
    }
    let g: Vec<u32> = seen.iter().map(|s| s.seq_global.unwrap()).collect();
    assert!(g.windows(2).all(|w| w[1] == w[0] + 1), "global numbers count up: {g:?}");
}

#[test]
fn ipv6_packets_are_logged() {
    let ns = TestNs::new("nflog-v6");
    ns.exec(&[
        "ip6tables",
        "-w",
        "-A",
        "OUTPUT",
        "-p",
        "udp",
        "--dport",
        "9102",
        "-j",
        "NFLOG",
        "--nflog-group",
        "6",
        "--nflog-prefix",
        "six",
    ]);
    let mut cfg = Config::new(6);
    cfg.threshold(1);
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("[::1]:9102");
    let tx = ns.udp("[::1]:0");
    for i in 0..4u8 {
        tx.send_to(&[0xa0 | i; 33], "[::1]:9102").unwrap();
    }
    let seen = collect(&log, 4, Duration::from_secs(5));
    assert_eq!(seen.len(), 4, "{seen:?}");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!((s.family, s.hw_protocol, s.hook), (libc::AF_INET6 as u8, 0x86dd, 3));
        assert_eq!(s.prefix.as_deref(), Some("six"));
        let p = s.payload.as_ref().unwrap();
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(p.len(), 40 + 8 + 33);
        assert_eq!(s.udp_data(), &[0xa0 | i as u8; 33]);
    }
}

#[test]
fn several_groups_on_one_socket_and_an_empty_prefix() {
    let ns = TestNs::new("nflog-groups");
    ns.iptables("-A OUTPUT -p udp --dport 9201 -j NFLOG --nflog-group 1 --nflog-prefix one");
    ns.iptables("-A OUTPUT -p udp --dport 9202 -j NFLOG --nflog-group 2");
    let mut cfg = Config::new(1);
    cfg.add_group(2).threshold(1);
    let log = open(&ns, &mut cfg);
    assert_eq!(log.bound_groups(), vec![1, 2]);
    let _r1 = ns.udp("127.0.0.1:9201");
    let _r2 = ns.udp("127.0.0.1:9202");
    let tx = ns.udp("127.0.0.1:0");
    for _ in 0..3 {
        tx.send_to(b"a", "127.0.0.1:9201").unwrap();
        tx.send_to(b"b", "127.0.0.1:9202").unwrap();
    }
    let seen = collect(&log, 6, Duration::from_secs(5));
    assert_eq!(seen.len(), 6);
    for s in &seen {
        match s.udp_dport() {
            9201 => assert_eq!((s.group, s.prefix.as_deref()), (1, Some("one"))),
            9202 => assert_eq!((s.group, s.prefix.as_deref()), (2, Some("")), "no --nflog-prefix: empty"),
            p => panic!("unexpected port {p}"),
        }
    }
    // Unbinding one group leaves the other working.
    log.unbind(1).unwrap();
    assert_eq!(log.bound_groups(), vec![2]);
    tx.send_to(b"c", "127.0.0.1:9201").unwrap();
    tx.send_to(b"d", "127.0.0.1:9202").unwrap();
    let seen = collect(&log, 2, Duration::from_millis(600));
    assert_eq!(seen.iter().map(|s| s.group).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn copy_range_rule_size_and_meta_mode() {
    let ns = TestNs::new("nflog-size");
    ns.iptables("-A OUTPUT -p udp --dport 9301 -j NFLOG --nflog-group 31");
    ns.iptables("-A OUTPUT -p udp --dport 9302 -j NFLOG --nflog-group 31 --nflog-size 20");
    ns.iptables("-A OUTPUT -p udp --dport 9303 -j NFLOG --nflog-group 32");
    let mut cfg = Config::new(31);
    cfg.copy_mode(copy::PACKET, 40).threshold(1);
    let log = open(&ns, &mut cfg);
    log.bind(32).unwrap();
    log.set_copy_mode(32, copy::META, 0).unwrap();
    log.set_threshold(32, 1).unwrap();
    for port in [9301, 9302, 9303] {
        let _rx = ns.udp(&format!("127.0.0.1:{port}"));
        ns.udp("127.0.0.1:0").send_to(&[7u8; 200], format!("127.0.0.1:{port}")).unwrap();
    }
    let seen = collect(&log, 3, Duration::from_secs(5));
    assert_eq!(seen.len(), 3, "{seen:?}");
    let lens: Vec<Option<usize>> = seen.iter().map(|s| s.payload.as_ref().map(Vec::len)).collect();
    assert_eq!(lens, vec![Some(40), Some(20), None], "group range 40, rule --nflog-size 20, meta mode");
    assert_eq!(log.kernel_stats(32).map(|k| (k.copy_mode, k.copy_range)), Some((1, 0)));
}

#[test]
fn uid_and_gid_of_a_non_root_sender() {
    let ns = TestNs::new("nflog-uid");
    ns.iptables("-A OUTPUT -p udp --dport 9401 -j NFLOG --nflog-group 41");
    let mut cfg = Config::new(41);
    cfg.threshold(1);
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("127.0.0.1:9401");
    // The kernel reports the credentials the socket was created with (its file's fsuid/fsgid):
    // create it in a thread that switched only its own filesystem ids.
    let tx: UdpSocket = ns
        .netns()
        .run(|| {
            // SAFETY: setfsuid/setfsgid change only this short-lived helper thread's ids.
            unsafe {
                libc::setfsgid(4321);
                libc::setfsuid(1234);
            }
            UdpSocket::bind("127.0.0.1:0")
        })
        .unwrap();
    tx.send_to(b"uid", "127.0.0.1:9401").unwrap();
    let seen = collect(&log, 1, Duration::from_secs(5));
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].uid, seen[0].gid), (Some(1234), Some(4321)));
}

#[test]
fn a_group_bound_twice_gives_clear_errors() {
    let ns = TestNs::new("nflog-twice");
    let mut cfg = Config::new(55);
    let log = open(&ns, &mut cfg);
    let e = log.bind(55).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.message().contains("already bound on this handle"), "{e}");
    let mut other = Config::new(55);
    other.netns(ns.netns());
    let e = Log::open(&other).err().expect("a second socket cannot take the group");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.message().contains("group 55 is bound by another netlink socket"), "{e}");
    let e = log.unbind(56).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoQueue, "{e}");
    assert!(e.message().contains("group 56 is not bound"), "{e}");
    let e = log.set_threshold(57, 3).unwrap_err();
    assert!(e.message().contains("not bound"), "{e}");
    assert_eq!(log.last_error(), e.message());
}

#[test]
fn bad_settings_are_refused_before_the_kernel_ignores_them() {
    let ns = TestNs::new("nflog-bad");
    let mut cfg = Config::new(60);
    let log = open(&ns, &mut cfg);
    for (r, what) in [
        (log.set_copy_mode(60, 2, 70000), "65531"),
        (log.set_copy_mode(60, 9, 0), "not a copy mode"),
        (log.set_nlbufsiz(60, 200_000), "131072"),
        (log.set_nlbufsiz(60, 100), "ignore"),
        (log.set_flags(60, 0x80), "unknown bits"),
    ] {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains(what), "{e}");
    }
    // Valid values still go through afterwards.
    log.set_copy_mode(60, 2, 0).unwrap();
    log.set_nlbufsiz(60, 131072).unwrap();
    log.set_timeout(60, 1).unwrap();
}

#[test]
fn conntrack_flag_without_kernel_glue_is_a_clear_error() {
    let ns = TestNs::new("nflog-ct");
    let mut cfg = Config::new(61);
    let log = open(&ns, &mut cfg);
    // This kernel lacks CONFIG_NETFILTER_NETLINK_GLUE_CT (see the README): the kernel refuses
    // the flag, and the error must say why.
    let e = log.set_flags(61, flags::CONNTRACK).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported, "{e}");
    assert!(e.message().contains("CONFIG_NETFILTER_NETLINK_GLUE_CT"), "{e}");
    // The group is still usable.
    log.set_flags(61, flags::SEQ).unwrap();
}

#[test]
fn threshold_batches_messages_into_one_datagram() {
    let ns = TestNs::new("nflog-thresh");
    ns.iptables("-A OUTPUT -p udp --dport 9501 -j NFLOG --nflog-group 51");
    let mut cfg = Config::new(51);
    cfg.threshold(8).timeout_cs(1000).nlbufsiz(65536);
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("127.0.0.1:9501");
    let tx = ns.udp("127.0.0.1:0");
    for i in 0..7u8 {
        tx.send_to(&[i; 10], "127.0.0.1:9501").unwrap();
    }
    // Seven gathered, the threshold is eight and the timeout ten seconds: nothing is sent yet.
    assert_eq!(log.dispatch(Some(Duration::from_millis(200)), &mut |_| {}).unwrap(), 0);
    assert_eq!(log.kernel_stats(51).map(|k| k.qlen), Some(7), "seven messages wait in the kernel");
    tx.send_to(&[7; 10], "127.0.0.1:9501").unwrap();
    let seen = collect(&log, 8, Duration::from_secs(3));
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().enumerate().all(|(i, s)| s.udp_data() == [i as u8; 10]), "in order");
    assert_eq!(log.stats().datagrams, 1, "eight messages (and NLMSG_DONE) in one datagram");
}

#[test]
fn timeout_flushes_a_partial_batch() {
    let ns = TestNs::new("nflog-timeout");
    ns.iptables("-A OUTPUT -p udp --dport 9502 -j NFLOG --nflog-group 52");
    let mut cfg = Config::new(52);
    cfg.threshold(100).timeout_cs(30);
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("127.0.0.1:9502");
    let tx = ns.udp("127.0.0.1:0");
    let t0 = Instant::now();
    for i in 0..3u8 {
        tx.send_to(&[i; 5], "127.0.0.1:9502").unwrap();
    }
    let mut first = None;
    let mut seen = 0;
    while seen < 3 && t0.elapsed() < Duration::from_secs(3) {
        let n = log.dispatch(Some(Duration::from_millis(20)), &mut |_| {}).unwrap();
        if n > 0 && first.is_none() {
            first = Some(t0.elapsed());
        }
        seen += n;
    }
    assert_eq!(seen, 3);
    let first = first.unwrap();
    assert!(first >= Duration::from_millis(250), "held for the 0.3 s timeout, came after {first:?}");
    assert_eq!(log.stats().datagrams, 1);
}

#[test]
fn rule_threshold_lower_than_the_groups_wins() {
    let ns = TestNs::new("nflog-rulethr");
    ns.iptables("-A OUTPUT -p udp --dport 9503 -j NFLOG --nflog-group 53 --nflog-threshold 2");
    let mut cfg = Config::new(53);
    cfg.threshold(50).timeout_cs(1000);
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("127.0.0.1:9503");
    let tx = ns.udp("127.0.0.1:0");
    for _ in 0..4 {
        tx.send_to(b"xx", "127.0.0.1:9503").unwrap();
    }
    let seen = collect(&log, 4, Duration::from_secs(3));
    assert_eq!(seen.len(), 4);
    assert_eq!(log.stats().datagrams, 2, "two datagrams of two");
}

#[test]
fn overload_counts_enobufs_and_the_loop_recovers() {
    let ns = TestNs::new("nflog-ovl");
    ns.iptables("-A OUTPUT -p udp --dport 9601 -j NFLOG --nflog-group 61 --nflog-prefix flood");
    ns.iptables("-A OUTPUT -p udp --dport 9602 -j NFLOG --nflog-group 61 --nflog-prefix after");
    let mut cfg = Config::new(61);
    cfg.threshold(1).rcvbuf(Some(4096));
    let log = open(&ns, &mut cfg);
    let _rx = ns.udp("127.0.0.1:9601");
    let _rx2 = ns.udp("127.0.0.1:9602");
    let tx = ns.udp("127.0.0.1:0");
    let sent = 2000;
    for _ in 0..sent {
        let _ = tx.send_to(&[0u8; 200], "127.0.0.1:9601");
    }
    // Nobody received while the flood ran: the small buffer overflowed.
    let mut errors = 0;
    let mut got = 0;
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        match log.dispatch(Some(Duration::from_millis(50)), &mut |p| {
            assert_eq!(p.prefix(), Some("flood"));
        }) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::NoBuffers, "{e}");
                assert!(e.message().contains("dropped"), "{e}");
                errors += 1;
            }
        }
        assert!(Instant::now() < end, "draining took too long");
    }
    let st = log.stats();
    assert!(errors >= 1 && st.enobufs >= 1, "ENOBUFS reported and counted: {st:?}");
    assert!(got > 0 && got < sent, "some logged, some lost: {got} of {sent}");
    let drops = log.kernel_drops().expect("the kernel's drop count");
    assert!(drops > 0, "the kernel counted its drops");
    assert!(log.last_error().contains("ENOBUFS"), "{}", log.last_error());
    // The loop goes on: later packets are all logged.
    log.set_rcvbuf(1 << 20).unwrap();
    for i in 0..5u8 {
        tx.send_to(&[i; 4], "127.0.0.1:9602").unwrap();
    }
    let seen = collect(&log, 5, Duration::from_secs(3));
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.iter().all(|s| s.prefix.as_deref() == Some("after")));
}

#[test]
fn run_returns_on_stop_from_another_thread() {
    let ns = TestNs::new("nflog-stop");
    ns.iptables("-A OUTPUT -p udp --dport 9701 -j NFLOG --nflog-group 71");
    let mut cfg = Config::new(71);
    cfg.threshold(1);
    let log = std::sync::Arc::new(open(&ns, &mut cfg));
    let _rx = ns.udp("127.0.0.1:9701");
    let tx = ns.udp("127.0.0.1:0");
    let l2 = log.clone();
    let h = std::thread::spawn(move || {
        let mut n = 0u64;
        let r = l2.run(&mut |_| n += 1);
        (r.map(|t| (t, n)), Instant::now())
    });
    for _ in 0..3 {
        tx.send_to(b"s", "127.0.0.1:9701").unwrap();
    }
    let end = Instant::now() + Duration::from_secs(3);
    while log.stats().packets_received < 3 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    let t = Instant::now();
    log.stop();
    let (r, when) = h.join().unwrap();
    assert_eq!(r.unwrap(), (3, 3));
    assert!(when.duration_since(t) < Duration::from_secs(1));
}
