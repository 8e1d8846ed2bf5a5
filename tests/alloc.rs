//! Zero heap allocations per packet in steady state: a counting global allocator counts what
//! the receiving thread allocates inside `dispatch` (receive, parse, callback, verdicts) once
//! the handle is warmed up.
mod common;
use common::*;
use nfq_rs::queue::{Config, Decision, Queue, Verdict};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: delegates to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Sends `n` datagrams (a queued packet still counts against the sender's socket buffer, so
/// keep `n` small enough not to block) and handles them; returns (handled, allocations).
fn run_packets(q: &Queue, tx: &std::net::UdpSocket, to: SocketAddr, n: usize, count: bool) -> (usize, u64) {
    let payload = [7u8; 200];
    for _ in 0..n {
        tx.send_to(&payload, to).unwrap();
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut seen = 0;
    let end = Instant::now() + Duration::from_secs(5);
    let mut cb = |p: &mut nfq_rs::queue::PacketCtx<'_>| {
        if p.id() % 3 == 0 {
            p.set_mark(p.id());
        }
        Decision::Verdict(Verdict::Accept)
    };
    while seen < n && Instant::now() < end {
        COUNTING.with(|c| c.set(count));
        let r = q.dispatch(Some(Duration::from_millis(100)), &mut cb);
        COUNTING.with(|c| c.set(false));
        seen += r.unwrap();
    }
    (seen, ALLOCS.load(Ordering::Relaxed) - before)
}

#[test]
fn no_heap_allocation_per_packet_in_steady_state() {
    let ns = TestNs::new("alloc");
    ns.iptables("-A OUTPUT -p udp --dport 9300 -j NFQUEUE --queue-num 2");
    let mut cfg = Config::new(2);
    cfg.netns(ns.netns()).batch(32);
    let q = Queue::open(&cfg).unwrap();
    let _rx = ns.udp("127.0.0.1:9300");
    let tx = ns.udp("127.0.0.1:0");
    let to: SocketAddr = "127.0.0.1:9300".parse().unwrap();
    // Warm-up: the receive buffers and the verdict buffer are allocated once here, which also
    // shows that the counter sees the library's allocations.
    let (seen, warmup_allocs) = run_packets(&q, &tx, to, 50, true);
    assert_eq!(seen, 50);
    assert!(warmup_allocs > 0, "the counting allocator saw the first dispatch allocate its buffers");
    let mut total = 0;
    for _ in 0..20 {
        let (seen, allocs) = run_packets(&q, &tx, to, 50, true);
        assert_eq!(seen, 50);
        total += allocs;
    }
    assert_eq!(total, 0, "allocations while handling 1000 packets");
    let s = q.stats();
    assert_eq!((s.packets_received, s.verdicts_sent, s.verdict_errors), (1050, 1050, 0));
}
