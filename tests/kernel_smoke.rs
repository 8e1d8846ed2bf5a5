mod common;
use common::*;
use nfq_rs::queue::{Config, Decision, Queue, Verdict};
use std::time::Duration;

#[test]
fn accept_delivers() {
    let ns = TestNs::new("acc");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let mut cfg = Config::new(0);
    cfg.netns(ns.netns());
    let q = Queue::open(&cfg).unwrap();
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    for i in 0..5u8 {
        tx.send_to(&[i; 10], "127.0.0.1:9000").unwrap();
    }
    let mut seen = 0;
    for _ in 0..50 {
        seen += q
            .dispatch(Some(Duration::from_millis(100)), &mut |p| {
                assert_eq!(p.payload().unwrap().len(), 38);
                Decision::Verdict(Verdict::Accept)
            })
            .unwrap();
        if seen >= 5 {
            break;
        }
    }
    assert_eq!(seen, 5);
    let got = recv_all(&rx, 5, Duration::from_secs(2));
    assert_eq!(got.len(), 5);
    println!("{:?} {:?}", q.stats(), q.kernel_stats(0));
}
