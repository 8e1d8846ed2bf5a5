//! Helpers for kernel tests: a throwaway network namespace with loopback up, iptables rules
//! inside it, UDP sockets created inside it, all removed on drop (even when the test fails).
#![allow(dead_code)]

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nfq_rs::netlink::Netns;

static N: AtomicU32 = AtomicU32::new(0);

/// A network namespace made for one test.
pub struct TestNs {
    pub name: String,
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(args[0]).args(&args[1..]).output().expect("run command")
}

fn must(args: &[&str]) {
    let out = run(args);
    assert!(out.status.success(), "{:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl TestNs {
    /// Creates `nfqrs-<test>-<pid>-<n>` with lo up.
    pub fn new(tag: &str) -> TestNs {
        assert!(is_root(), "kernel tests need root (CAP_NET_ADMIN); run them with `make test` as root");
        let name = format!("nfqrs-{}-{}-{}", tag, std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        must(&["ip", "netns", "add", &name]);
        let ns = TestNs { name };
        must(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/netns/{}", self.name))
    }

    pub fn netns(&self) -> Netns {
        Netns::Path(self.path())
    }

    /// Runs a command inside the namespace; panics on failure.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        let out = run(&full);
        assert!(out.status.success(), "{:?} failed: {}", full, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds an iptables rule (arguments after `iptables`).
    pub fn iptables(&self, rule: &str) {
        let mut args = vec!["iptables", "-w"];
        args.extend(rule.split_whitespace());
        self.exec(&args);
    }

    /// Packet counter of the rule at `pos` (1-based) of `chain` in `table`.
    pub fn rule_packets(&self, table: &str, chain: &str, pos: usize) -> u64 {
        let out = self.exec(&["iptables", "-w", "-t", table, "-L", chain, "-v", "-n", "-x", "--line-numbers"]);
        for line in out.lines() {
            let mut w = line.split_whitespace();
            if w.next() == Some(&pos.to_string()) {
                return w.next().and_then(|v| v.parse().ok()).expect("packet counter");
            }
        }
        panic!("rule {pos} not found in {table}/{chain}:\n{out}");
    }

    /// A UDP socket bound inside the namespace.
    pub fn udp(&self, addr: &str) -> UdpSocket {
        let addr = addr.to_string();
        let s = self.netns().run(move || UdpSocket::bind(addr)).expect("udp socket in netns");
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        s
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

/// Receives datagrams until `want` arrived or `within` passed; returns them.
pub fn recv_all(sock: &UdpSocket, want: usize, within: Duration) -> Vec<Vec<u8>> {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 70000];
    while got.len() < want && Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
    }
    got
}

/// Retries `f` while it fails with PermissionDenied, for at most 2 s. Needed when a test binds
/// a queue number right after closing the socket that owned it: tests run in parallel threads
/// that fork `ip`/`iptables`, and a child holds a copy of every descriptor (ours included)
/// between its fork and its exec, so the kernel may release the old socket's queues a moment
/// after our close.
pub fn retry_while_owned<T>(mut f: impl FnMut() -> nfq_rs::netlink::Result<T>) -> nfq_rs::netlink::Result<T> {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        match f() {
            Err(e) if e.kind() == nfq_rs::netlink::ErrorKind::PermissionDenied && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(10));
            }
            r => return r,
        }
    }
}
