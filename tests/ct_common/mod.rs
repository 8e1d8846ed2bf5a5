//! `conntrack -E` as an independent reader of a namespace's event stream, for the conntrack
//! kernel tests: started, then known to be subscribed (a canary event made by the test shows up
//! in its output) before the test makes the events it compares.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct ToolEvents {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl ToolEvents {
    /// Runs `conntrack -E ARGS` in namespace `ns`. `canary(n)` must make events whose lines
    /// contain `mark` (e.g. "sport=9000"), first a `[NEW]` and then a `[DESTROY]` one; it is
    /// called (with n = 0, 1, ...) until the tool prints both, at most 20 times.
    pub fn start(ns: &str, args: &[&str], mut canary: impl FnMut(u16) -> String) -> ToolEvents {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "conntrack", "-E"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run conntrack -E (apt-get install conntrack)");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let t = ToolEvents { child, rx };
        for n in 0..20 {
            let mark = canary(n);
            let end = Instant::now() + Duration::from_millis(500);
            let mut seen_destroy = false;
            while let Some(left) = end.checked_duration_since(Instant::now()) {
                match t.rx.recv_timeout(left) {
                    Ok(l) if l.contains("[DESTROY]") && l.contains(&mark) => {
                        seen_destroy = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            if seen_destroy {
                return t;
            }
        }
        panic!("conntrack -E did not show the canary events within 20 tries");
    }

    /// Stops the tool and returns the lines it printed after the canary.
    pub fn finish(mut self) -> Vec<String> {
        // Let the last lines through before stopping it.
        let mut lines = Vec::new();
        while let Ok(l) = self.rx.recv_timeout(Duration::from_millis(300)) {
            lines.push(l);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(l) = self.rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
        lines
    }
}
