//! Kernel tests of the Rust API. Each test makes its own network namespace (see
//! `common::TestNs`), adds iptables NFQUEUE rules inside it, sends real UDP traffic on
//! 127.0.0.1 there and checks what the kernel did with each verdict: delivery at the receiving
//! socket, rule counters, the kernel's queue statistics and the errors it returns.
//!
//! Needs root (CAP_NET_ADMIN), iptables with the NFQUEUE target and nfnetlink_queue. Every wait
//! is bounded (a few seconds at most); nothing touches the host namespace's firewall.

mod common;
use common::*;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nfq_rs::netlink::{ErrorKind, Netns};
use nfq_rs::queue::{Config, CopyMode, Decision, Packet, PacketCtx, Queue, Verdict, VerdictOpts, flags};

/// Longest we wait for something that should happen.
const WAIT: Duration = Duration::from_secs(3);
/// How long we watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(300);

const ACCEPT: Decision = Decision::Verdict(Verdict::Accept);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Opens a handle inside the test namespace.
fn open(ns: &TestNs, cfg: &mut Config) -> Queue {
    cfg.netns(ns.netns());
    Queue::open(cfg).unwrap_or_else(|e| panic!("opening {:?}: {e}", cfg.queues()))
}

/// Dispatches until `want` packets were handled or `within` passed (at most 500 rounds);
/// returns how many were handled.
fn pump(q: &Queue, want: usize, within: Duration, cb: &mut dyn FnMut(&mut PacketCtx<'_>) -> Decision) -> usize {
    let end = Instant::now() + within;
    let mut n = 0;
    for _ in 0..500 {
        if n >= want || Instant::now() >= end {
            break;
        }
        n += q.dispatch(Some(Duration::from_millis(50)), cb).expect("dispatch");
    }
    n
}

/// Distinct datagram bodies, `len` bytes each (at least 8).
fn bodies(tag: &str, n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut v = format!("{tag}-{i}-").into_bytes();
            v.resize(len, b'.');
            v
        })
        .collect()
}

/// Sends each body to 127.0.0.1:`port`.
fn send(tx: &UdpSocket, port: u16, bodies: &[Vec<u8>]) {
    for b in bodies {
        tx.send_to(b, ("127.0.0.1", port)).expect("send_to");
    }
}

fn set(v: &[Vec<u8>]) -> HashSet<Vec<u8>> {
    v.iter().cloned().collect()
}

/// The interface index of `lo` inside the namespace.
fn lo_ifindex(ns: &TestNs) -> u32 {
    ns.exec(&["cat", "/sys/class/net/lo/ifindex"]).trim().parse().expect("ifindex")
}

/// A copy of what a callback saw, to assert on after dispatch.
#[derive(Clone, Debug, Default)]
struct Snap {
    id: u32,
    queue: u16,
    family: u8,
    hook: u8,
    hw_protocol: u16,
    mark: Option<u32>,
    indev: Option<u32>,
    outdev: Option<u32>,
    hwaddr: Option<Vec<u8>>,
    timestamp: Option<(u64, u64)>,
    payload: Option<Vec<u8>>,
    cap_len: Option<u32>,
    truncated: bool,
    uid: Option<u32>,
    gid: Option<u32>,
}

fn snap(p: &Packet<'_>) -> Snap {
    Snap {
        id: p.id(),
        queue: p.queue(),
        family: p.family(),
        hook: p.hook(),
        hw_protocol: p.hw_protocol(),
        mark: p.mark(),
        indev: p.indev(),
        outdev: p.outdev(),
        hwaddr: p.hw_addr().map(<[u8]>::to_vec),
        timestamp: p.timestamp(),
        payload: p.payload().map(<[u8]>::to_vec),
        cap_len: p.cap_len(),
        truncated: p.is_truncated(),
        uid: p.uid(),
        gid: p.gid(),
    }
}

/// The fields of an IPv4/UDP packet.
#[derive(Debug)]
struct Udp<'a> {
    ihl: usize,
    tot_len: usize,
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    ulen: usize,
    csum: u16,
    data: &'a [u8],
}

fn parse_udp(p: &[u8]) -> Udp<'_> {
    assert!(p.len() >= 28, "too short for IPv4+UDP: {} bytes", p.len());
    assert_eq!(p[0] >> 4, 4, "not IPv4");
    let ihl = (p[0] & 0xf) as usize * 4;
    let u = &p[ihl..];
    Udp {
        ihl,
        tot_len: u16::from_be_bytes([p[2], p[3]]) as usize,
        proto: p[9],
        src: p[12..16].try_into().unwrap(),
        dst: p[16..20].try_into().unwrap(),
        sport: u16::from_be_bytes([u[0], u[1]]),
        dport: u16::from_be_bytes([u[2], u[3]]),
        ulen: u16::from_be_bytes([u[4], u[5]]) as usize,
        csum: u16::from_be_bytes([u[6], u[7]]),
        data: &u[8..],
    }
}

fn dport_of(p: &Packet<'_>) -> u16 {
    parse_udp(p.payload().expect("payload")).dport
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        acc += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The one's complement sum over the UDP pseudo-header and `udp` (header and data, with the
/// checksum field as it is): 0 when a nonzero checksum field is right.
fn udp_sum(src: [u8; 4], dst: [u8; 4], udp: &[u8]) -> u16 {
    let mut acc = sum16(&src, 0);
    acc = sum16(&dst, acc);
    acc += 17 + udp.len() as u32;
    fold(sum16(udp, acc))
}

/// A copy of IPv4/UDP packet `orig` carrying `data` instead of its UDP payload, with IP total
/// length, IP header checksum and UDP length recomputed. The UDP checksum is computed with
/// `udp_csum`, else set to 0 (no checksum).
fn rewrite_udp(orig: &[u8], data: &[u8], udp_csum: bool) -> Vec<u8> {
    let ihl = (orig[0] & 0xf) as usize * 4;
    let mut out = orig[..ihl + 8].to_vec();
    out.extend_from_slice(data);
    let tot = out.len() as u16;
    out[2..4].copy_from_slice(&tot.to_be_bytes());
    out[10..12].copy_from_slice(&[0, 0]);
    let c = fold(sum16(&out[..ihl], 0));
    out[10..12].copy_from_slice(&c.to_be_bytes());
    let ulen = (8 + data.len()) as u16;
    out[ihl + 4..ihl + 6].copy_from_slice(&ulen.to_be_bytes());
    out[ihl + 6..ihl + 8].copy_from_slice(&[0, 0]);
    if udp_csum {
        let (src, dst) = (out[12..16].try_into().unwrap(), out[16..20].try_into().unwrap());
        let c = match udp_sum(src, dst, &out[ihl..]) {
            0 => 0xffff,
            c => c,
        };
        out[ihl + 6..ihl + 8].copy_from_slice(&c.to_be_bytes());
    }
    out
}

/// Whether the socket has data to read now.
fn readable(fd: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one live pollfd, no timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0 && p.revents & libc::POLLIN != 0
}

// ---------------------------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------------------------

#[test]
fn accept_delivers_and_packet_fields_are_sane() {
    let ns = TestNs::new("accept");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let q = open(&ns, &mut Config::new(0));
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let sport = tx.local_addr().unwrap().port();
    let lo = lo_ifindex(&ns);
    let msgs = bodies("accept", 5, 10);
    send(&tx, 9000, &msgs);

    let mut seen = Vec::new();
    let n = pump(&q, 5, WAIT, &mut |p| {
        seen.push(snap(p));
        ACCEPT
    });
    assert_eq!(n, 5);
    let got = recv_all(&rx, 5, WAIT);
    assert_eq!(got, msgs, "every accepted datagram arrives, in order, unchanged");

    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.id, i as u32 + 1, "packet ids start at 1 and count up");
        assert_eq!((s.queue, s.family, s.hook, s.hw_protocol), (0, libc::AF_INET as u8, 3, 0x0800));
        assert_eq!(s.outdev, Some(lo), "outdev is lo");
        assert_eq!(s.indev, None, "no input device on OUTPUT");
        assert_eq!(s.mark, None, "mark 0 is not sent");
        assert_eq!(s.timestamp, None, "no timestamp on OUTPUT");
        assert_eq!(s.hwaddr, None, "no hardware address on OUTPUT");
        assert_eq!((s.uid, s.gid), (None, None), "no uid/gid without the flag");
        assert_eq!((s.cap_len, s.truncated), (None, false));
        let p = s.payload.as_deref().expect("payload in copy mode packet");
        let u = parse_udp(p);
        assert_eq!((u.ihl, u.proto, u.tot_len), (20, 17, p.len()));
        assert_eq!((u.src, u.dst), ([127, 0, 0, 1], [127, 0, 0, 1]));
        assert_eq!((u.sport, u.dport, u.ulen), (sport, 9000, 8 + msgs[i].len()));
        assert_eq!(u.data, &msgs[i][..]);
        assert_eq!(fold(sum16(&p[..20], 0)), 0, "valid IP header checksum");
        assert_ne!(u.csum, 0, "the sender computed a UDP checksum");
        assert_eq!(udp_sum(u.src, u.dst, &p[20..]), 0, "the kernel completed the UDP checksum before copying");
    }
    let st = q.stats();
    assert_eq!((st.packets_received, st.verdicts_sent, st.verdict_errors), (5, 5, 0));
}

#[test]
fn drop_does_not_deliver() {
    let ns = TestNs::new("drop");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let q = open(&ns, &mut Config::new(0));
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    send(&tx, 9000, &bodies("drop", 4, 16));
    let n = pump(&q, 4, WAIT, &mut |_| Decision::Verdict(Verdict::Drop));
    assert_eq!(n, 4);
    assert!(recv_all(&rx, 1, QUIET).is_empty(), "dropped datagrams must not arrive");
    let ks = q.kernel_stats(0).expect("kernel stats");
    assert_eq!((ks.queue_total, ks.id_sequence), (0, 4));
    assert_eq!(q.stats().verdict_errors, 0);
}

#[test]
fn mark_set_with_the_verdict_is_seen_by_later_rules() {
    let ns = TestNs::new("mark");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -m mark --mark 0 -j NFQUEUE --queue-num 0");
    ns.iptables("-t mangle -A POSTROUTING -p udp --dport 9000 -m mark --mark 0x2a");
    ns.iptables("-t mangle -A POSTROUTING -p udp --dport 9000");
    ns.iptables("-A INPUT -p udp --dport 9000 -j NFQUEUE --queue-num 1");
    let mut cfg = Config::new(0);
    cfg.add_queue(1);
    let q = open(&ns, &mut cfg);
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let lo = lo_ifindex(&ns);
    let msgs = bodies("mark", 3, 12);
    send(&tx, 9000, &msgs);

    let (mut out, mut inp) = (Vec::new(), Vec::new());
    let n = pump(&q, 6, WAIT, &mut |p| {
        if p.queue() == 0 {
            out.push(snap(p));
            p.set_mark(0x2a);
        } else {
            inp.push(snap(p));
        }
        ACCEPT
    });
    assert_eq!(n, 6, "each packet is queued once on OUTPUT and once on INPUT");
    assert_eq!(recv_all(&rx, 3, WAIT), msgs);
    assert_eq!(ns.rule_packets("mangle", "POSTROUTING", 1), 3, "every packet carries mark 0x2a after OUTPUT");
    assert_eq!(ns.rule_packets("mangle", "POSTROUTING", 2), 3);
    assert!(out.iter().all(|s| s.mark.is_none() && s.hook == 3));
    for s in &inp {
        assert_eq!(s.hook, 1, "INPUT hook");
        assert_eq!(s.mark, Some(0x2a), "the mark survives loopback and is reported on INPUT");
        assert_eq!(s.indev, Some(lo));
        assert_eq!(s.outdev, None);
    }
}

#[test]
fn replaced_payload_arrives_changed() {
    let ns = TestNs::new("payload");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let q = open(&ns, &mut Config::new(0));
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    // 0: same length, UDP checksum 0 (none); 1: longer; 2: shorter; both with IP total
    // length, IP header checksum, UDP length and UDP checksum recomputed.
    let msgs = bodies("orig", 3, 16);
    let want: Vec<Vec<u8>> =
        vec![b"SAME-LENGTH-DATA".to_vec(), b"a longer replacement payload, 40 bytes..".to_vec(), b"short".to_vec()];
    assert_eq!(want[0].len(), msgs[0].len());
    let mut sent_csum = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        tx.send_to(m, "127.0.0.1:9000").unwrap();
        let n = pump(&q, 1, WAIT, &mut |p| {
            let new = rewrite_udp(p.payload().unwrap(), &want[i], i != 0);
            if i == 0 {
                assert_eq!(new.len(), p.payload().unwrap().len());
            }
            sent_csum.push(parse_udp(&new).csum);
            p.set_payload(&new).unwrap();
            ACCEPT
        });
        assert_eq!(n, 1);
        assert_eq!(recv_all(&rx, 1, WAIT), vec![want[i].clone()], "packet {i} arrives rewritten");
    }
    assert_eq!(sent_csum[0], 0);
    assert!(sent_csum[1] != 0 && sent_csum[2] != 0);

    // Control: the receiver really checks the UDP checksum of a replaced packet (ip_summed is
    // reset), so a rewrite that keeps the old checksum over new data is dropped.
    tx.send_to(b"control-data", "127.0.0.1:9000").unwrap();
    let n = pump(&q, 1, WAIT, &mut |p| {
        let mut new = p.payload().unwrap().to_vec();
        let last = new.len() - 1;
        new[last] ^= 0x20;
        p.set_payload(&new).unwrap();
        ACCEPT
    });
    assert_eq!(n, 1);
    assert!(recv_all(&rx, 1, QUIET).is_empty(), "a stale UDP checksum makes the receiver drop the packet");
    assert_eq!(q.stats().verdict_errors, 0);
}

#[test]
fn repeat_reruns_the_hook_with_the_new_mark() {
    let ns = TestNs::new("repeat");
    ns.iptables("-A OUTPUT -p udp --dport 9000");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -m mark --mark 0 -j NFQUEUE --queue-num 0");
    let q = open(&ns, &mut Config::new(0));
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("repeat", 4, 10);
    send(&tx, 9000, &msgs);
    let mut seen = Vec::new();
    let n = pump(&q, 4, WAIT, &mut |p| {
        seen.push(snap(p));
        p.set_mark(1);
        Decision::Verdict(Verdict::Repeat)
    });
    assert_eq!(n, 4);
    assert_eq!(set(&recv_all(&rx, 4, WAIT)), set(&msgs));
    // The second pass has mark 1, so it is not queued again.
    assert_eq!(pump(&q, 1, QUIET, &mut |_| ACCEPT), 0, "no packet is queued twice");
    assert!(seen.iter().all(|s| s.mark.is_none()));
    assert_eq!(seen.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(ns.rule_packets("filter", "OUTPUT", 1), 8, "REPEAT runs the OUTPUT chain again from its start");
    assert_eq!(ns.rule_packets("filter", "OUTPUT", 2), 4);
}

#[test]
fn queue_verdict_reaches_another_queue_and_bypass_continues() {
    let ns = TestNs::new("requeue");
    for port in [9000, 9001, 9002] {
        ns.iptables(&format!("-A OUTPUT -p udp --dport {port} -j NFQUEUE --queue-num 0"));
    }
    let q0 = open(&ns, &mut Config::new(0));
    let q1 = open(&ns, &mut Config::new(1));
    assert_ne!(q0.portid(), q1.portid());
    let rx0 = ns.udp("127.0.0.1:9000");
    let rx1 = ns.udp("127.0.0.1:9001");
    let rx2 = ns.udp("127.0.0.1:9002");
    let tx = ns.udp("127.0.0.1:0");
    let to1 = bodies("to-queue-1", 3, 20);
    let to7 = bodies("to-queue-7-bypass", 3, 20);
    let to8 = bodies("to-queue-8", 2, 20);
    send(&tx, 9000, &to1);
    send(&tx, 9001, &to7);
    send(&tx, 9002, &to8);

    let (mut n0, mut on1) = (0, Vec::new());
    let end = Instant::now() + WAIT;
    for _ in 0..200 {
        if (n0 >= 8 && on1.len() >= 3) || Instant::now() >= end {
            break;
        }
        n0 += q0
            .dispatch(Some(Duration::from_millis(20)), &mut |p| {
                Decision::Verdict(match dport_of(p) {
                    9000 => Verdict::Queue { num: 1, bypass: false },
                    9001 => Verdict::Queue { num: 7, bypass: true },
                    _ => Verdict::Queue { num: 8, bypass: false },
                })
            })
            .unwrap();
        q1.dispatch(Some(Duration::from_millis(20)), &mut |p| {
            on1.push(snap(p));
            ACCEPT
        })
        .unwrap();
    }
    assert_eq!(n0, 8);
    assert_eq!(on1.len(), 3, "queue 1 sees exactly the packets sent to it");
    for (i, s) in on1.iter().enumerate() {
        assert_eq!((s.queue, s.id, s.hook), (1, i as u32 + 1, 3), "queue 1 has its own id sequence");
        assert_eq!(parse_udp(s.payload.as_ref().unwrap()).data, &to1[i][..]);
    }
    assert_eq!(recv_all(&rx0, 3, WAIT), to1, "accepted by queue 1");
    assert_eq!(recv_all(&rx1, 3, WAIT), to7, "nobody on queue 7 and bypass: delivered");
    assert!(recv_all(&rx2, 1, QUIET).is_empty(), "nobody on queue 8 without bypass: dropped");
    assert_eq!(q1.kernel_stats(1).unwrap().id_sequence, 3);
}

#[test]
fn batch_verdict_releases_all_ids_up_to_max() {
    let ns = TestNs::new("batch");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 3");
    let q = open(&ns, &mut Config::new(3));
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("batch", 5, 10);
    send(&tx, 9000, &msgs);
    let mut ids = Vec::new();
    let n = pump(&q, 5, WAIT, &mut |p| {
        ids.push(p.id());
        Decision::Later
    });
    assert_eq!(n, 5);
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(q.stats().deferred, 5);
    assert_eq!(q.kernel_stats(3).unwrap().queue_total, 5, "deferred packets stay queued");
    assert!(recv_all(&rx, 1, QUIET).is_empty());

    q.verdict_batch(3, ids[2], Verdict::Accept, None).unwrap();
    assert_eq!(recv_all(&rx, 3, WAIT), msgs[..3].to_vec(), "ids 1..=3 are released");
    assert_eq!(q.kernel_stats(3).unwrap().queue_total, 2);
    assert!(recv_all(&rx, 1, QUIET).is_empty(), "ids 4 and 5 stay queued");

    q.verdict_batch(3, ids[4], Verdict::Accept, None).unwrap();
    assert_eq!(recv_all(&rx, 2, WAIT), msgs[3..].to_vec());
    assert_eq!(q.kernel_stats(3).unwrap().queue_total, 0);
    // No error came back for either batch.
    assert_eq!(pump(&q, 1, Duration::from_millis(100), &mut |_| ACCEPT), 0);
    assert_eq!(q.stats().verdict_errors, 0, "{}", q.last_error());
}

#[test]
fn fail_open_lets_packets_through_when_the_queue_is_full() {
    let ns = TestNs::new("failopen");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let mut cfg = Config::new(0);
    cfg.max_len(1).flags(flags::FAIL_OPEN, flags::FAIL_OPEN);
    let q = open(&ns, &mut cfg);
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("failopen", 5, 10);
    send(&tx, 9000, &msgs);
    // No dispatch yet: the first packet fills the queue, the others are accepted at once.
    let early = recv_all(&rx, 4, WAIT);
    assert_eq!(early, msgs[1..].to_vec(), "packets beyond max_len pass without a verdict");
    assert!(recv_all(&rx, 1, QUIET).is_empty(), "the queued packet waits for its verdict");
    let ks = q.kernel_stats(0).unwrap();
    assert_eq!((ks.queue_total, ks.dropped, ks.id_sequence), (1, 0, 1), "fail-open does not count drops");
    let mut ids = Vec::new();
    assert_eq!(
        pump(&q, 1, WAIT, &mut |p| {
            ids.push(p.id());
            ACCEPT
        }),
        1
    );
    assert_eq!(ids, vec![1]);
    assert_eq!(recv_all(&rx, 1, WAIT), vec![msgs[0].clone()]);
}

#[test]
fn full_queue_without_fail_open_drops_and_counts() {
    let ns = TestNs::new("full");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let mut cfg = Config::new(0);
    cfg.max_len(1);
    let q = open(&ns, &mut cfg);
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("full", 5, 10);
    send(&tx, 9000, &msgs);
    assert!(recv_all(&rx, 1, QUIET).is_empty());
    let ks = q.kernel_stats(0).unwrap();
    assert_eq!((ks.queue_total, ks.dropped, ks.id_sequence), (1, 4, 1));
    assert_eq!(pump(&q, 1, WAIT, &mut |_| ACCEPT), 1);
    assert_eq!(recv_all(&rx, 5, QUIET), vec![msgs[0].clone()], "only the queued packet arrives");
}

// ---------------------------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------------------------

#[test]
fn second_socket_binding_the_same_queue_is_denied() {
    let ns = TestNs::new("bound");
    let q1 = open(&ns, &mut Config::new(0));
    let mut cfg = Config::new(0);
    cfg.netns(ns.netns());
    let e = Queue::open(&cfg).err().expect("a second socket must not bind queue 0");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(e.errno(), libc::EPERM);
    assert!(e.message().contains("bound by another process"), "{e}");

    // The same socket binding it again is EBUSY.
    let e = q1.bind(0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.message().contains("already bound on this handle"), "{e}");
    assert!(q1.last_error().contains("EBUSY"), "{}", q1.last_error());

    // Config of a queue owned by another socket is EPERM too.
    let q2 = open(&ns, &mut Config::new(1));
    let e = q2.set_max_len(0, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(q1.kernel_stats(0).unwrap().portid, q1.portid());
    assert_eq!(q2.kernel_stats(1).unwrap().portid, q2.portid());

    // Closing the owner frees the queue.
    drop(q1);
    retry_while_owned(|| q2.bind(0)).expect("queue 0 is free once its owner closed");
    assert_eq!(q2.kernel_stats(0).unwrap().portid, q2.portid());
    assert_eq!(q2.bound_queues(), vec![1, 0]);
}

#[test]
fn conntrack_flag_is_not_supported_on_this_kernel() {
    let ns = TestNs::new("ct");
    let mut cfg = Config::new(0);
    cfg.netns(ns.netns()).flags(flags::CONNTRACK, flags::CONNTRACK);
    let e = Queue::open(&cfg).err().expect("the conntrack flag must fail without GLUE_CT");
    assert_eq!(e.kind(), ErrorKind::NotSupported, "{e}");
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    assert!(e.message().contains("CONFIG_NETFILTER_NETLINK_GLUE_CT"), "{e}");

    let q = open(&ns, &mut Config::new(0));
    let e = q.set_flags(0, flags::CONNTRACK, flags::CONNTRACK).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported);
    assert!(q.last_error().contains("CONFIG_NETFILTER_NETLINK_GLUE_CT"), "{}", q.last_error());
    // Supported flags are accepted; an unknown flag bit is EOPNOTSUPP too.
    q.set_flags(0, flags::FAIL_OPEN | flags::UID_GID | flags::GSO, flags::FAIL_OPEN | flags::UID_GID | flags::GSO)
        .unwrap();
    let e = q.set_flags(0, flags::MAX, flags::MAX).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported, "{e}");
    // Config of a queue nobody bound is ENODEV.
    let e = q.set_max_len(9, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoQueue, "{e}");
}

// ---------------------------------------------------------------------------------------------
// Packet attributes and copy modes
// ---------------------------------------------------------------------------------------------

#[test]
fn uid_gid_appear_only_with_the_flag() {
    let ns = TestNs::new("uidgid");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let mut cfg = Config::new(0);
    cfg.flags(flags::UID_GID, flags::UID_GID);
    let q = open(&ns, &mut cfg);
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    // SAFETY: plain getters without preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    assert_eq!(uid, 0, "kernel tests run as root");

    let mut seen = Vec::new();
    send(&tx, 9000, &bodies("with", 2, 10));
    assert_eq!(
        pump(&q, 2, WAIT, &mut |p| {
            seen.push(snap(p));
            ACCEPT
        }),
        2
    );
    assert!(seen.iter().all(|s| s.uid == Some(uid) && s.gid == Some(gid)), "{seen:?}");

    q.set_flags(0, flags::UID_GID, 0).unwrap();
    seen.clear();
    send(&tx, 9000, &bodies("without", 2, 10));
    assert_eq!(
        pump(&q, 2, WAIT, &mut |p| {
            seen.push(snap(p));
            ACCEPT
        }),
        2
    );
    assert!(seen.iter().all(|s| s.uid.is_none() && s.gid.is_none()), "{seen:?}");
    assert_eq!(recv_all(&rx, 4, WAIT).len(), 4);
}

#[test]
fn copy_mode_meta_and_a_short_copy_range() {
    let ns = TestNs::new("copy");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    ns.iptables("-A OUTPUT -p udp --dport 9001 -j NFQUEUE --queue-num 1");
    let mut cfg = Config::new(0);
    cfg.add_queue(1).copy_mode(CopyMode::Meta, 0);
    let q = open(&ns, &mut cfg);
    q.set_copy_mode(1, CopyMode::Packet, 20).unwrap();
    let ks0 = q.kernel_stats(0).unwrap();
    let ks1 = q.kernel_stats(1).unwrap();
    assert_eq!((ks0.copy_mode, ks0.copy_range), (1, 0));
    assert_eq!((ks1.copy_mode, ks1.copy_range), (2, 20));

    let rx0 = ns.udp("127.0.0.1:9000");
    let rx1 = ns.udp("127.0.0.1:9001");
    let tx = ns.udp("127.0.0.1:0");
    let m0 = bodies("meta", 2, 30);
    let m1 = bodies("range", 2, 30);
    send(&tx, 9000, &m0);
    send(&tx, 9001, &m1);
    let mut seen = Vec::new();
    assert_eq!(
        pump(&q, 4, WAIT, &mut |p| {
            seen.push(snap(p));
            ACCEPT
        }),
        4
    );
    let (meta, short): (Vec<_>, Vec<_>) = seen.into_iter().partition(|s| s.queue == 0);
    assert_eq!(meta.len(), 2);
    for s in &meta {
        assert!(s.id > 0 && s.hook == 3 && s.hw_protocol == 0x0800, "header present: {s:?}");
        assert_eq!(s.payload, None, "no payload in meta mode");
        assert_eq!((s.cap_len, s.truncated), (None, false));
    }
    assert_eq!(short.len(), 2);
    for s in &short {
        let p = s.payload.as_ref().unwrap();
        assert_eq!(p.len(), 20, "payload cut to the copy range");
        assert_eq!(p[0], 0x45);
        assert_eq!(s.cap_len, Some(20 + 8 + 30), "cap_len is the full packet length");
        assert!(s.truncated);
    }
    assert_eq!(recv_all(&rx0, 2, WAIT), m0, "meta-mode packets are delivered whole");
    assert_eq!(recv_all(&rx1, 2, WAIT), m1, "truncated copies do not truncate the packet");
}

// ---------------------------------------------------------------------------------------------
// Threads, re-entrancy, async errors
// ---------------------------------------------------------------------------------------------

#[test]
fn verdicts_from_another_thread() {
    let ns = TestNs::new("thread");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    ns.iptables("-t mangle -A POSTROUTING -p udp --dport 9000 -m mark --mark 0x77");
    let q = open(&ns, &mut Config::new(0));
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("thread", 6, 10);
    send(&tx, 9000, &msgs);

    let given = std::thread::scope(|s| {
        let (send_id, recv_id) = mpsc::channel::<(u16, u32)>();
        let q = &q;
        let worker = s.spawn(move || {
            let mut n = 0;
            // Ends when the sender is dropped (or after 3 s at most).
            while let Ok((queue, id)) = recv_id.recv_timeout(WAIT) {
                q.verdict(queue, id, Verdict::Accept, &VerdictOpts { mark: Some(0x77), ..Default::default() })
                    .expect("verdict from the worker thread");
                n += 1;
            }
            n
        });
        let n = pump(q, 6, WAIT, &mut |p| {
            send_id.send((p.queue(), p.id())).unwrap();
            Decision::Later
        });
        assert_eq!(n, 6);
        drop(send_id);
        worker.join().unwrap()
    });
    assert_eq!(given, 6);
    assert_eq!(set(&recv_all(&rx, 6, WAIT)), set(&msgs));
    assert_eq!(ns.rule_packets("mangle", "POSTROUTING", 1), 6, "the mark given by the worker applies");
    assert_eq!(q.kernel_stats(0).unwrap().queue_total, 0);
    let st = q.stats();
    assert_eq!((st.deferred, st.verdicts_sent, st.verdict_errors), (6, 6, 0));
}

#[test]
fn stop_from_another_thread_returns_promptly() {
    let ns = TestNs::new("stop");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let q = open(&ns, &mut Config::new(0));
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("stop", 3, 10);
    std::thread::scope(|s| {
        let runner = s.spawn(|| q.run(&mut |_| ACCEPT));
        send(&tx, 9000, &msgs);
        assert_eq!(recv_all(&rx, 3, WAIT), msgs, "run() handles packets");
        std::thread::sleep(Duration::from_millis(100));
        // The receiving thread owns the handle: config from here is refused, not raced.
        let e = q.set_max_len(0, 10).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(e.message().contains("another thread is receiving"), "{e}");
        let t0 = Instant::now();
        q.stop();
        for _ in 0..100 {
            if runner.is_finished() || t0.elapsed() > Duration::from_secs(1) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(runner.is_finished(), "run() did not return within 1 s of stop()");
        let handled = runner.join().unwrap().expect("run returns Ok after stop");
        assert_eq!(handled, 3);
    });
    assert!(!q.stop_requested(), "run() consumed the stop request");
    // The handle is usable again after run() returned.
    send(&tx, 9000, &msgs[..1]);
    assert_eq!(pump(&q, 1, WAIT, &mut |_| ACCEPT), 1);
    assert_eq!(recv_all(&rx, 1, WAIT).len(), 1);
}

#[test]
fn verdict_for_an_unknown_id_is_reported_asynchronously() {
    let ns = TestNs::new("unknown");
    let q = open(&ns, &mut Config::new(0));
    q.verdict(0, 999_999, Verdict::Accept, &VerdictOpts::default()).expect("verdicts are async: Ok");
    assert_eq!(q.stats().verdict_errors, 0);
    let end = Instant::now() + WAIT;
    for _ in 0..100 {
        if q.stats().verdict_errors > 0 || Instant::now() >= end {
            break;
        }
        assert_eq!(q.dispatch(Some(Duration::from_millis(50)), &mut |_| ACCEPT).unwrap(), 0);
    }
    assert_eq!(q.stats().verdict_errors, 1);
    let msg = q.last_error();
    assert!(msg.contains("ENOENT") && msg.contains("unknown packet id") && msg.contains("999999"), "{msg}");

    // A batch verdict that matches nothing is ENOENT too.
    q.verdict_batch(0, 5, Verdict::Accept, None).unwrap();
    for _ in 0..100 {
        if q.stats().verdict_errors > 1 || Instant::now() >= end {
            break;
        }
        q.dispatch(Some(Duration::from_millis(50)), &mut |_| ACCEPT).unwrap();
    }
    assert_eq!(q.stats().verdict_errors, 2);
    let msg = q.last_error();
    assert!(msg.contains("batch verdict") && msg.contains("ENOENT"), "{msg}");
    assert_eq!(q.stats().verdicts_sent, 2);
}

#[test]
fn config_from_inside_a_callback_keeps_packets_that_arrive_meanwhile() {
    let ns = TestNs::new("reenter");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let mut cfg = Config::new(0);
    cfg.batch(1); // one datagram per receive, so the others are still in the socket
    let q = open(&ns, &mut cfg);
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("reenter", 5, 10);
    send(&tx, 9000, &msgs);
    assert!(readable(q.fd()));

    let mut ids = Vec::new();
    let mut inner = None;
    let n = pump(&q, 5, WAIT, &mut |p| {
        if ids.is_empty() {
            let h = p.handle();
            let r = h.set_max_len(0, 100);
            let busy = h.dispatch(Some(Duration::ZERO), &mut |_| ACCEPT).map(|_| ()).map_err(|e| e.kind());
            // The config call read the other four packets (before its ACK) into the pending
            // list: the socket is now empty.
            inner = Some((r.map_err(|e| e.to_string()), busy, readable(h.fd())));
        }
        ids.push(p.id());
        ACCEPT
    });
    let (r, busy, still_readable) = inner.expect("callback ran");
    assert_eq!(r, Ok(()), "config from inside the callback works");
    assert_eq!(busy, Err(ErrorKind::Busy), "dispatch from inside a callback is refused");
    assert!(!still_readable, "the packets that came before the ACK were taken out of the socket");
    assert_eq!(n, 5, "none of them was lost");
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(set(&recv_all(&rx, 5, WAIT)), set(&msgs));
    let st = q.stats();
    assert_eq!((st.packets_received, st.verdicts_sent, st.verdict_errors), (5, 5, 0));
    assert_eq!(q.kernel_stats(0).unwrap().queue_total, 0);
}

// ---------------------------------------------------------------------------------------------
// Namespaces and kernel statistics
// ---------------------------------------------------------------------------------------------

#[test]
fn open_in_a_namespace_by_fd() {
    let ns = TestNs::new("nsfd");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let f = std::fs::File::open(ns.path()).unwrap();
    let mut cfg = Config::new(0);
    cfg.netns(Netns::Fd(f.as_raw_fd()));
    let q = Queue::open(&cfg).expect("open by namespace fd");
    drop(f);
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    let msgs = bodies("nsfd", 3, 10);
    send(&tx, 9000, &msgs);
    // If the socket were in another namespace, nobody would listen on queue 0 here and the
    // packets would be dropped.
    assert_eq!(pump(&q, 3, WAIT, &mut |_| ACCEPT), 3);
    assert_eq!(recv_all(&rx, 3, WAIT), msgs);
    assert_eq!(q.kernel_stats(0).unwrap().portid, q.portid());
}

#[test]
fn kernel_stats_report_id_sequence_and_portid() {
    let ns = TestNs::new("kstats");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 2");
    let mut cfg = Config::new(2);
    cfg.batch(1); // one packet per receive, so the count can stop in the middle
    let q = open(&ns, &mut cfg);
    let ks = q.kernel_stats(2).expect("queue 2 in kernel stats");
    assert_ne!(q.portid(), 0);
    assert_eq!((ks.queue, ks.portid, ks.queue_total, ks.id_sequence), (2, q.portid(), 0, 0));
    assert_eq!((ks.copy_mode, ks.copy_range, ks.dropped, ks.user_dropped), (2, 65531, 0, 0));
    assert!(q.kernel_stats(5).is_none(), "unbound queues are not listed");

    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    send(&tx, 9000, &bodies("kstats", 7, 10));
    assert_eq!(pump(&q, 4, WAIT, &mut |_| ACCEPT), 4);
    let mid = q.kernel_stats(2).unwrap();
    assert_eq!((mid.id_sequence, mid.queue_total), (7, 3), "all 7 were numbered, 3 still wait");
    assert_eq!(pump(&q, 3, WAIT, &mut |_| ACCEPT), 3);
    let ks = q.kernel_stats(2).unwrap();
    assert_eq!((ks.portid, ks.queue_total, ks.id_sequence, ks.dropped), (q.portid(), 0, 7, 0));
    assert_eq!(recv_all(&rx, 7, WAIT).len(), 7);
    q.unbind(2).unwrap();
    assert!(q.kernel_stats(2).is_none(), "unbound queue disappears");
    assert!(q.bound_queues().is_empty());
}
