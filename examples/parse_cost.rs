//! Cost of parsing packet messages with `nfq_rs::queue::Packet::parse`, for `make bench`
//! (scripts/bench.sh runs it under callgrind next to libnetfilter_queue's nfq_nlmsg_parse).
//!
//!     cargo run --release --example parse_cost -- FILE ITERS
//!
//! FILE holds recorded packet messages (u32 length in host order + the message, each), as
//! bench/ceiling_consumer.c --dump writes them. Each of the ITERS rounds splits every message
//! (`Msg::split`, the header check) and decodes it whole (`Packet::parse`). Run with ITERS = 0
//! and ITERS = N: (Ir(N) - Ir(0)) / (N * messages) is the cost of one message.
use std::hint::black_box;

use nfq_rs::netlink::Msg;
use nfq_rs::queue::Packet;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: parse_cost FILE ITERS");
        std::process::exit(2);
    }
    let iters: u64 = args[2].parse().unwrap_or_else(|_| {
        eprintln!("parse_cost: ITERS must be a number");
        std::process::exit(2);
    });
    let data = std::fs::read(&args[1]).unwrap_or_else(|e| {
        eprintln!("parse_cost: {}: {e}", args[1]);
        std::process::exit(1);
    });
    // Each message in its own 4-aligned buffer (u32 words), as in a receive slot.
    let mut msgs: Vec<Vec<u32>> = Vec::new();
    let mut lens = Vec::new();
    let mut rest = &data[..];
    while rest.len() >= 4 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < 16 || rest.len() < 4 + len {
            break;
        }
        let mut words = vec![0u32; len.div_ceil(4)];
        for (i, b) in rest[4..4 + len].iter().enumerate() {
            words[i / 4] |= (*b as u32) << (8 * (i % 4));
        }
        if cfg!(target_endian = "big") {
            for w in &mut words {
                *w = w.swap_bytes();
            }
        }
        msgs.push(words);
        lens.push(len);
        rest = &rest[4 + len..];
    }
    if msgs.is_empty() {
        eprintln!("parse_cost: no messages in {}", args[1]);
        std::process::exit(1);
    }
    let views: Vec<&[u8]> = msgs
        .iter()
        .zip(&lens)
        // SAFETY: a Vec<u32> of len.div_ceil(4) words is readable as len bytes.
        .map(|(w, &len)| unsafe { std::slice::from_raw_parts(w.as_ptr() as *const u8, len) })
        .collect();

    let (mut errors, mut sink) = (0u64, 0u64);
    for _ in 0..iters {
        for &buf in &views {
            let Ok((msg, _)) = Msg::split(black_box(buf)) else {
                errors += 1;
                continue;
            };
            let parsed = Packet::parse(&msg);
            // The whole decoded packet escapes by reference (no field can be optimised away,
            // and no copy of it is added to the measurement).
            match black_box(&parsed) {
                Ok(p) => sink = sink.wrapping_add(p.id() as u64 + p.payload().map_or(0, |d| d.len() as u64)),
                Err(_) => errors += 1,
            }
        }
    }
    println!(
        "parse_cost messages={} iters={iters} parses={} errors={errors} sink={}",
        views.len(),
        views.len() as u64 * iters,
        sink & 0xff
    );
    if errors > 0 {
        std::process::exit(1);
    }
}
