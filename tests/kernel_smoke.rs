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

#[test]
fn batch_callback_gets_the_waiting_packets_at_once_and_each_answer_counts() {
    let ns = TestNs::new("bat");
    ns.iptables("-A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0");
    let mut cfg = Config::new(0);
    cfg.netns(ns.netns());
    let q = Queue::open(&cfg).unwrap();
    let rx = ns.udp("127.0.0.1:9000");
    let tx = ns.udp("127.0.0.1:0");
    for i in 0..6u8 {
        tx.send_to(&[b'a' + i; 4], "127.0.0.1:9000").unwrap();
    }
    std::thread::sleep(Duration::from_millis(100)); // all six wait in the queue
    let mut batches = Vec::new();
    let mut handled = 0;
    for _ in 0..50 {
        handled += q
            .dispatch_batch(Some(Duration::from_millis(100)), &mut |ctxs, answers| {
                batches.push(ctxs.len());
                assert_eq!(ctxs.len(), answers.len());
                for (ctx, a) in ctxs.iter_mut().zip(answers.iter_mut()) {
                    assert_eq!(*a, Decision::Verdict(Verdict::Drop), "answers start as the fallback verdict");
                    let tag = ctx.payload().unwrap()[28];
                    *a = match tag {
                        b'b' | b'd' => Decision::Verdict(Verdict::Drop),
                        b'f' => Decision::Later,
                        _ => {
                            ctx.set_payload(ctx.payload().unwrap()).unwrap();
                            Decision::Verdict(Verdict::Accept)
                        }
                    };
                }
            })
            .unwrap();
        if handled >= 6 {
            break;
        }
    }
    assert_eq!(handled, 6);
    assert_eq!(batches[0], 6, "the six waiting packets came in one call: {batches:?}");
    let got = recv_all(&rx, 3, Duration::from_secs(2));
    let mut tags: Vec<u8> = got.iter().map(|m| m[0]).collect();
    tags.sort();
    assert_eq!(tags, b"ace".to_vec());
    let st = q.stats();
    assert_eq!((st.packets_received, st.deferred), (6, 1));
    assert_eq!(q.kernel_stats(0).unwrap().queue_total, 1, "the deferred packet is still queued");
}
