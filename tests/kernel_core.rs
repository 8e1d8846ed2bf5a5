//! Kernel tests of the core's edge cases: packets that arrive while a config call waits for
//! its ACK are kept and handed to the callback; messages from a non-kernel sender are ignored
//! and counted.
mod common;
use common::*;
use nfq_rs::netlink::{MsgBuilder, NETLINK_NETFILTER, Socket};
use nfq_rs::queue::{Config, Decision, Queue, Verdict, attr};
use std::time::{Duration, Instant};

#[test]
fn packets_arriving_during_an_ack_wait_are_kept_and_delivered() {
    let ns = TestNs::new("ackwait");
    ns.iptables("-A OUTPUT -p udp --dport 9100 -j NFQUEUE --queue-num 4");
    let mut cfg = Config::new(4);
    cfg.netns(ns.netns()).batch(1);
    let q = Queue::open(&cfg).unwrap();
    let rx = ns.udp("127.0.0.1:9100");
    let tx = ns.udp("127.0.0.1:0");
    const N: usize = 40;
    for i in 0..N {
        tx.send_to(&(i as u32).to_be_bytes(), "127.0.0.1:9100").unwrap();
    }
    let mut ids = Vec::new();
    let mut config_calls = 0;
    let end = Instant::now() + Duration::from_secs(5);
    while ids.len() < N && Instant::now() < end {
        q.dispatch(Some(Duration::from_millis(100)), &mut |p| {
            if ids.is_empty() {
                // The other 39 packets are already in the socket: this ACK wait reads them.
                p.handle().set_max_len(4, 2048).expect("config call inside the callback");
                config_calls += 1;
            }
            ids.push(p.id());
            Decision::Verdict(Verdict::Accept)
        })
        .unwrap();
    }
    assert_eq!(config_calls, 1);
    assert_eq!(ids, (1..=N as u32).collect::<Vec<_>>(), "every packet once, in order");
    assert_eq!(recv_all(&rx, N, Duration::from_secs(2)).len(), N);
    let s = q.stats();
    assert_eq!((s.packets_received, s.verdicts_sent, s.verdict_errors), (N as u64, N as u64, 0));
    assert_eq!(q.kernel_stats(4).unwrap().queue_total, 0);
}

#[test]
fn messages_from_a_non_kernel_sender_are_refused_by_the_kernel() {
    let ns = TestNs::new("foreign");
    let mut cfg = Config::new(5);
    cfg.netns(ns.netns());
    let q = Queue::open(&cfg).unwrap();
    let other = Socket::open_in(NETLINK_NETFILTER, &ns.netns()).unwrap();
    // A well-formed packet message for queue 5, sent by another process-like socket.
    let mut buf = Vec::new();
    let mut b = MsgBuilder::new(&mut buf, 0x300, 0, 0);
    b.nfgen(2, 5);
    b.put(attr::PACKET_HDR, &[0, 0, 0, 1, 8, 0, 3]);
    b.put(attr::PAYLOAD, &[0x45, 0, 0, 20]);
    b.finish();
    // The queue's socket is connected to the kernel: the kernel refuses the forger.
    let r = other.send_to_port(&buf, q.portid()).map_err(|e| e.raw_os_error());
    assert_eq!(r, Err(Some(libc::ECONNREFUSED)));
    let mut called = 0;
    for _ in 0..4 {
        q.dispatch(Some(Duration::from_millis(25)), &mut |_| {
            called += 1;
            Decision::Verdict(Verdict::Accept)
        })
        .unwrap();
    }
    assert_eq!(called, 0, "a forged packet must not reach the callback");
    let s = q.stats();
    assert_eq!((s.foreign_ignored, s.packets_received, s.parse_errors), (0, 0, 0));
}

#[test]
fn a_stop_with_datagrams_waiting_is_seen_before_the_next_block() {
    let ns = TestNs::new("stopwait");
    ns.iptables("-A OUTPUT -p udp --dport 9202 -j NFQUEUE --queue-num 9");
    let mut cfg = Config::new(9);
    cfg.netns(ns.netns());
    let q = Queue::open(&cfg).unwrap();
    let rx = ns.udp("127.0.0.1:9202");
    let tx = ns.udp("127.0.0.1:0");
    for i in 0..3u8 {
        tx.send_to(&[i; 8], "127.0.0.1:9202").unwrap();
    }
    let end = Instant::now() + Duration::from_secs(2);
    while q.kernel_stats(9).unwrap().queue_total < 3 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(q.kernel_stats(9).unwrap().queue_total, 3);
    // Datagrams are waiting, so stop() sends no wake-up (whose ACK could overflow a full
    // buffer); dispatch(None) sees the request before it would block and returns 0 at once,
    // leaving the packets queued.
    q.stop();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // A safety net, so a regression fails the test instead of hanging it.
        s.spawn(|| {
            let t = Instant::now();
            while !done.load(std::sync::atomic::Ordering::SeqCst) && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                q.stop();
            }
        });
        let t0 = Instant::now();
        let n = q.dispatch(None, &mut |_| Decision::Verdict(Verdict::Accept)).unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(n, 0);
        assert!(t0.elapsed() < Duration::from_secs(2), "dispatch blocked despite the stop: {:?}", t0.elapsed());
    });
    assert!(!q.stop_requested(), "the dispatch consumed the stop");
    // The packets are still there for the next dispatch, and no wake-up ACK was left behind:
    // once they are handled, a timed dispatch waits out its timeout.
    let mut handled = 0;
    let end = Instant::now() + Duration::from_secs(2);
    while handled < 3 && Instant::now() < end {
        handled += q.dispatch(Some(Duration::from_millis(50)), &mut |_| Decision::Verdict(Verdict::Accept)).unwrap();
    }
    assert_eq!(handled, 3);
    let t = Instant::now();
    assert_eq!(q.dispatch(Some(Duration::from_millis(200)), &mut |_| Decision::Verdict(Verdict::Accept)).unwrap(), 0);
    assert!(t.elapsed() >= Duration::from_millis(150), "woken early: {:?}", t.elapsed());
    assert_eq!(recv_all(&rx, 3, Duration::from_secs(2)).len(), 3);
    let s = q.stats();
    assert_eq!((s.enobufs, s.verdict_errors, s.packets_received), (0, 0, 3));
}

#[test]
fn runs_of_equal_plain_verdicts_go_out_as_one_batch_verdict() {
    let ns = TestNs::new("coalesce");
    ns.iptables("-A OUTPUT -p udp --dport 9200 -j NFQUEUE --queue-num 6");
    let mut cfg = Config::new(6);
    cfg.netns(ns.netns()).batch(64);
    let q = Queue::open(&cfg).unwrap();
    let rx = ns.udp("127.0.0.1:9200");
    let tx = ns.udp("127.0.0.1:0");
    const N: usize = 30;
    for i in 0..N {
        tx.send_to(&[i as u8; 8], "127.0.0.1:9200").unwrap();
    }
    let mut seen = 0;
    let end = Instant::now() + Duration::from_secs(5);
    while seen < N && Instant::now() < end {
        seen += q
            .dispatch(Some(Duration::from_millis(100)), &mut |p| {
                // ids 1..=30: drop id 10 (it breaks the run), mark id 20 (not plain), accept the rest
                match p.id() {
                    10 => Decision::Verdict(Verdict::Drop),
                    20 => {
                        p.set_mark(5);
                        Decision::Verdict(Verdict::Accept)
                    }
                    _ => Decision::Verdict(Verdict::Accept),
                }
            })
            .unwrap();
    }
    assert_eq!(seen, N);
    let got = recv_all(&rx, N - 1, Duration::from_secs(2));
    assert_eq!(got.len(), N - 1, "all but the dropped packet arrive");
    assert!(!got.iter().any(|d| d[0] == 9), "packet id 10 carried byte 9 and was dropped");
    let s = q.stats();
    assert_eq!(s.verdicts_sent, N as u64);
    assert!(s.verdict_messages < N as u64 / 2, "runs were coalesced: {s:?}");
    assert_eq!(s.verdict_errors, 0);
    assert_eq!(q.kernel_stats(6).unwrap().queue_total, 0);
}

#[test]
fn coalescing_stops_once_a_packet_is_kept_for_later() {
    let ns = TestNs::new("nocoal");
    ns.iptables("-A OUTPUT -p udp --dport 9201 -j NFQUEUE --queue-num 8");
    let mut cfg = Config::new(8);
    cfg.netns(ns.netns()).batch(64);
    let q = Queue::open(&cfg).unwrap();
    let rx = ns.udp("127.0.0.1:9201");
    let tx = ns.udp("127.0.0.1:0");
    const N: usize = 12;
    for i in 0..N {
        tx.send_to(&[i as u8; 8], "127.0.0.1:9201").unwrap();
    }
    let mut seen = 0;
    let end = Instant::now() + Duration::from_secs(5);
    while seen < N && Instant::now() < end {
        seen += q
            .dispatch(Some(Duration::from_millis(100)), &mut |p| {
                if p.id() == 1 { Decision::Later } else { Decision::Verdict(Verdict::Accept) }
            })
            .unwrap();
    }
    assert_eq!(seen, N);
    // Packet 1 is still queued: a batch verdict for 2..12 would have released it.
    let got = recv_all(&rx, N - 1, Duration::from_secs(2));
    assert_eq!(got.len(), N - 1);
    assert_eq!(q.kernel_stats(8).unwrap().queue_total, 1);
    q.verdict(8, 1, Verdict::Accept, &Default::default()).unwrap();
    assert_eq!(recv_all(&rx, 1, Duration::from_secs(2)).len(), 1);
    let s = q.stats();
    assert_eq!((s.verdicts_sent, s.verdict_messages), (N as u64, N as u64));
}

#[test]
fn pool_serves_a_queue_balance_range_and_restarts() {
    use nfq_rs::queue::Pool;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let ns = TestNs::new("pool");
    ns.iptables("-A OUTPUT -p udp --dport 9400 -j NFQUEUE --queue-balance 10:11");
    let mut cfg = Config::new(0);
    cfg.netns(ns.netns());
    let rx = ns.udp("127.0.0.1:9400");
    for round in 0..3 {
        let per_queue: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let pq = Arc::clone(&per_queue);
        let cb: Arc<nfq_rs::queue::PoolCallback> = Arc::new(move |p| {
            pq[(p.queue() - 10) as usize].fetch_add(1, Ordering::Relaxed);
            Decision::Verdict(Verdict::Accept)
        });
        let pool = retry_while_owned(|| Pool::start(&cfg, 10, 11, round == 1, Arc::clone(&cb))).unwrap();
        assert_eq!(pool.queues().len(), 2);
        // The kernel spreads --queue-balance by a hash of the addresses: use 16 source addresses.
        let senders: Vec<_> = (0..16).map(|i| ns.udp(&format!("127.0.0.{}:0", i + 2))).collect();
        for (i, s) in senders.iter().enumerate() {
            s.send_to(&[i as u8; 16], "127.0.0.1:9400").unwrap();
        }
        let got = recv_all(&rx, 16, Duration::from_secs(3));
        assert_eq!(got.len(), 16, "round {round}: every packet was accepted by one of the threads");
        let counts = pool.join().unwrap();
        let seen = [per_queue[0].load(Ordering::Relaxed), per_queue[1].load(Ordering::Relaxed)];
        assert_eq!(seen[0] + seen[1], 16);
        assert!(seen[0] > 0 && seen[1] > 0, "round {round}: both queues got flows: {seen:?}");
        assert_eq!(counts, vec![seen[0], seen[1]]);
    }
}
