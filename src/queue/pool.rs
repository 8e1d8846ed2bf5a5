//! A pool for `--queue-balance A:B` rules: one socket and one receiving thread per queue
//! number, all running the same callback, optionally pinned to CPUs, stopped together.

use std::sync::Arc;
use std::thread::JoinHandle;

use super::handle::{Config, Decision, PacketCtx, Queue};
use crate::netlink::{Error, ErrorKind, Result};

/// The callback of a pool: called concurrently from every queue's thread.
pub type PoolCallback = dyn Fn(&mut PacketCtx<'_>) -> Decision + Send + Sync;

/// One receiving thread per queue number of a range.
pub struct Pool {
    queues: Vec<Arc<Queue>>,
    threads: Vec<JoinHandle<Result<u64>>>,
}

fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain old data; CPU_SET writes inside it; sched_setaffinity(0)
    // affects only the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % libc::CPU_SETSIZE as usize, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Pool {
    /// Opens one handle per queue in `first..=last` with `cfg`'s settings (its own queue list
    /// is ignored), then starts a thread per handle running `cb`. With `pin`, thread `i` is
    /// pinned to CPU `i` modulo the CPUs available. Every queue is bound before any thread
    /// starts, so an error (e.g. a queue owned by another process) leaves nothing running.
    pub fn start(cfg: &Config, first: u16, last: u16, pin: bool, cb: Arc<PoolCallback>) -> Result<Pool> {
        if first > last {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("empty queue range {first}..={last}")));
        }
        let mut queues = Vec::with_capacity((last - first) as usize + 1);
        for n in first..=last {
            queues.push(Arc::new(Queue::open(&cfg.for_queue(n))?));
        }
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut threads = Vec::with_capacity(queues.len());
        for (i, q) in queues.iter().enumerate() {
            let (q, cb) = (Arc::clone(q), Arc::clone(&cb));
            let t = std::thread::Builder::new()
                .name(format!("nfq-rs-q{}", first as usize + i))
                .spawn(move || {
                    if pin {
                        pin_to_cpu(i % ncpu).map_err(|e| Error::from_io(&e, "pinning the queue thread to a CPU"))?;
                    }
                    q.run(&mut |ctx| cb(ctx))
                })
                .map_err(|e| Error::from_io(&e, "starting a queue thread"));
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let pool = Pool { queues, threads };
                    let _ = pool.join();
                    return Err(e);
                }
            }
        }
        Ok(Pool { queues, threads })
    }

    /// The handles, in queue order (for deferred verdicts, counters, config).
    pub fn queues(&self) -> &[Arc<Queue>] {
        &self.queues
    }

    /// Asks every thread to return. Safe from any thread and from a signal handler.
    pub fn stop(&self) {
        for q in &self.queues {
            q.stop();
        }
    }

    /// Stops every thread and waits for them; returns the packets each handled, or the first
    /// error a thread ended with.
    pub fn join(mut self) -> Result<Vec<u64>> {
        self.stop();
        let mut counts = Vec::with_capacity(self.threads.len());
        let mut first_err = None;
        for t in self.threads.drain(..) {
            match t.join() {
                Ok(Ok(n)) => counts.push(n),
                Ok(Err(e)) => {
                    counts.push(0);
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    counts.push(0);
                    first_err.get_or_insert(Error::new(ErrorKind::Internal, "a queue thread panicked"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(counts),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
