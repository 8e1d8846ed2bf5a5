//! Benchmark helper (scripts/bench-ct-events.sh, a stage of `make bench`): what the kernel-side
//! BPF event filter saves a conntrack event listener under a connection flood.
//!
//!   ct_event_filter NETNS_PATH ROUNDS SECONDS
//!
//! In the namespace (whose rules make its UDP traffic tracked and drop it on arrival), a flood
//! thread pinned to CPU 0 sends one UDP datagram per new connection (127.0.0.1, destination
//! ports 10000-59999, plus one DNS-like flow to 127.0.0.x:53 per thousand) and flushes the
//! table after each pass, so the kernel emits a steady stream of NEW and DESTROY events. A
//! listener pinned to CPU 1 keeps only UDP events to port 53, in one of three modes per run:
//!
//! - `none`: no filter (every event is received, decoded and delivered),
//! - `lib`:  the library-side filter (`Events::set_filter`): every event is received and
//!   decoded, few are delivered,
//! - `bpf`:  the same filter compiled to BPF (`Events::set_kernel_filter`): the kernel drops
//!   the rest before they reach the socket.
//!
//! Modes are interleaved round by round in rotating order. Prints one TSV line per run: mode,
//! round, events delivered per second, events received by the socket per second, listener
//! CPU-seconds per second (its thread's CPU time), overflows, flood connections per second.
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use nfq_rs::conntrack::{Conntrack, EventFilter, Events, groups};
use nfq_rs::netlink::Netns;

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it; 0 means this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn thread_cpu() -> f64 {
    // SAFETY: ts is a valid, writable timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn flood(ns: Netns, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    pin(0);
    let sock = ns.run(|| UdpSocket::bind("127.0.0.1:0")).expect("a UDP socket in the namespace");
    let ct = Conntrack::open(&ns).expect("ctnetlink in the namespace");
    while !stop.load(Relaxed) {
        for port in 10000u16..60000 {
            if stop.load(Relaxed) {
                break;
            }
            let _ = sock.send_to(b"x", SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
            if port % 1000 == 0 {
                let dst = Ipv4Addr::new(127, 0, 0, 2 + ((port / 1000) % 250) as u8);
                let _ = sock.send_to(b"q", SocketAddrV4::new(dst, 53));
            }
            sent.fetch_add(1, Relaxed);
        }
        let _ = ct.flush(libc::AF_INET as u8);
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: ct_event_filter NETNS_PATH ROUNDS SECONDS");
        std::process::exit(2);
    }
    let ns = Netns::Path(a[1].clone().into());
    let rounds: usize = a[2].parse().expect("ROUNDS");
    let window = Duration::from_secs_f64(a[3].parse().expect("SECONDS"));
    let warmup = Duration::from_millis(300);
    let filter = EventFilter { l4proto: Some(17), dst_port: Some(53), ..Default::default() };
    let modes = ["none", "lib", "bpf"];
    pin(1);
    for round in 0..rounds {
        for k in 0..modes.len() {
            let mode = modes[(round + k) % modes.len()];
            let ev = Events::open(&ns, groups::NEW | groups::DESTROY).expect("event socket");
            ev.set_rcvbuf(8 << 20).expect("rcvbuf");
            match mode {
                "lib" => ev.set_filter(filter),
                "bpf" => {
                    ev.set_kernel_filter(&filter).expect("attach the BPF filter");
                }
                _ => {}
            }
            let stop = Arc::new(AtomicBool::new(false));
            let sent = Arc::new(AtomicU64::new(0));
            let th = {
                let (ns, stop, sent) = (ns.clone(), stop.clone(), sent.clone());
                std::thread::spawn(move || flood(ns, stop, sent))
            };
            let mut delivered = 0u64;
            ev.run(None, Some(warmup), &mut |_| true).expect("warm-up");
            let (s0, c0, t0, d0) = (ev.stats(), thread_cpu(), Instant::now(), sent.load(Relaxed));
            ev.run(None, Some(window), &mut |_| {
                delivered += 1;
                true
            })
            .expect("run");
            let (s1, c1, el, d1) = (ev.stats(), thread_cpu(), t0.elapsed().as_secs_f64(), sent.load(Relaxed));
            stop.store(true, Relaxed);
            th.join().expect("flood thread");
            println!(
                "{mode}\t{round}\t{:.0}\t{:.0}\t{:.3}\t{}\t{:.0}",
                delivered as f64 / el,
                (s1.received - s0.received) as f64 / el,
                (c1 - c0) / el,
                s1.overflows - s0.overflows,
                (d1 - d0) as f64 / el
            );
            drop(ev);
            let _ = Conntrack::open(&ns).and_then(|ct| ct.flush(0));
        }
    }
}
