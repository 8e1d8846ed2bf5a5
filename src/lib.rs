//! nfq-rs: a userspace library for the Linux netfilter queue (NFQUEUE).
//!
//! The safe core is usable from Rust directly:
//!
//! ```no_run
//! use nfq_rs::queue::{Config, CopyMode, Queue, Verdict, Decision};
//! let mut cfg = Config::new(0);
//! cfg.copy_mode(CopyMode::Packet, 0xffff);
//! let q = Queue::open(&cfg).expect("open queue 0 (needs CAP_NET_ADMIN)");
//! q.run(&mut |pkt| {
//!     println!("packet {} ({} bytes)", pkt.id(), pkt.payload().map_or(0, |p| p.len()));
//!     if pkt.hook() == 3 {
//!         pkt.set_mark(42); // given with the verdict
//!     }
//!     Decision::Verdict(Verdict::Accept)
//! }).unwrap();
//! ```
//!
//! The C ABI lives in [`ffi`] (`include/nfq_rs.h`).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

/// cbindgen:ignore
pub mod conntrack;
/// cbindgen:ignore
pub mod netlink;
/// cbindgen:ignore
pub mod nflog;
/// cbindgen:ignore
pub mod packet;
/// cbindgen:ignore
pub mod queue;

#[doc(hidden)]
pub mod ffi;

/// cbindgen:ignore
mod compat;

/// cbindgen:ignore
/// Library version string, as returned by `nfq_rs_version()`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
