//! Request/answer over a netlink socket: send a request that asks for an ACK and receive until
//! the kernel's answer for its sequence number arrives. Everything else that arrives meanwhile
//! (packets, answers to older requests, overflows, foreign senders) is handed to the caller,
//! so nothing is lost while waiting.

use std::time::{Duration, Instant};

use super::{Messages, Msg, RecvInfo, Socket};

/// Something that arrived while waiting for an answer.
pub enum Event<'a> {
    /// A message that is not the answer (in a datagram from the kernel).
    Other(Msg<'a>, RecvInfo),
    /// A datagram from a sender other than the kernel (ignored).
    Foreign,
    /// The socket receive buffer overflowed (ENOBUFS): messages were lost.
    Overflow,
    /// A datagram whose message headers do not parse; the rest of it was skipped.
    Malformed,
}

/// Why a request failed: the errno, and the kernel's extended-ACK text if it sent one.
pub type Failure = (i32, Option<String>);

/// Sends `req` (built with `NLM_F_ACK` and sequence number `seq`) and waits up to `timeout`
/// for the kernel's answer, receiving into `buf` (grown to `buf_size`). Returns `Ok` for an
/// ACK and the negated error code otherwise (`ETIMEDOUT` when no answer came).
pub fn transact(
    sock: &Socket,
    req: &[u8],
    seq: u32,
    buf: &mut Vec<u8>,
    buf_size: usize,
    timeout: Duration,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(), Failure> {
    if let Err(e) = sock.send(req) {
        return Err((e.raw_os_error().unwrap_or(libc::EIO), None));
    }
    if buf.len() < buf_size {
        buf.resize(buf_size, 0);
    }
    let deadline = Instant::now() + timeout;
    let mut overflowed = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            let why = if overflowed {
                "no answer from the kernel (the receive buffer overflowed and the answer was lost)"
            } else {
                "no answer from the kernel in time"
            };
            return Err((libc::ETIMEDOUT, Some(why.into())));
        }
        match sock.wait(None, Some(deadline - now)) {
            Ok((true, _)) => {}
            Ok(_) => continue,
            Err(e) => return Err((e.raw_os_error().unwrap_or(libc::EIO), None)),
        }
        let info = match sock.recv(buf, true) {
            Ok(i) => i,
            Err(e) => match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                Some(libc::ENOBUFS) => {
                    overflowed = true;
                    on_event(Event::Overflow);
                    continue;
                }
                c => return Err((c.unwrap_or(libc::EIO), None)),
            },
        };
        if info.sender != 0 {
            on_event(Event::Foreign);
            continue;
        }
        let mut answer = None;
        for m in Messages::new(&buf[..info.len]) {
            let Ok(m) = m else {
                on_event(Event::Malformed);
                break;
            };
            match m.error() {
                Some(Ok(e)) if m.seq() == seq && answer.is_none() => {
                    answer = Some((e.error, e.ext_message().map(str::to_owned)));
                }
                _ => on_event(Event::Other(m, info)),
            }
        }
        if let Some((err, ext)) = answer {
            return if err == 0 { Ok(()) } else { Err((-err, ext)) };
        }
    }
}
