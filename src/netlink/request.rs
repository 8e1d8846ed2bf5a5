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
    /// A datagram from a sender other than the kernel (ignored): its port id.
    Foreign(u32),
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
        let Some(info) = recv_one(sock, buf, deadline - now, &mut overflowed, on_event)? else { continue };
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

/// Waits up to `wait` for one datagram from the kernel and receives it into `buf`. `Ok(None)`
/// when there is nothing to look at this time (the wait ended, a signal, an overflow, which
/// sets `overflowed`, or a datagram from another sender, both reported to `on_event`): the
/// caller checks its deadline and calls again.
fn recv_one(
    sock: &Socket,
    buf: &mut [u8],
    wait: Duration,
    overflowed: &mut bool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Option<RecvInfo>, Failure> {
    match sock.wait(None, Some(wait)) {
        Ok((true, _)) => {}
        Ok(_) => return Ok(None),
        Err(e) => return Err((e.raw_os_error().unwrap_or(libc::EIO), None)),
    }
    let info = match sock.recv(buf, true) {
        Ok(i) => i,
        Err(e) => match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => return Ok(None),
            Some(libc::ENOBUFS) => {
                *overflowed = true;
                on_event(Event::Overflow);
                return Ok(None);
            }
            c => return Err((c.unwrap_or(libc::EIO), None)),
        },
    };
    if info.sender != 0 {
        on_event(Event::Foreign(info.sender));
        return Ok(None);
    }
    Ok(Some(info))
}

/// How a dump ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpEnd {
    /// Answer messages received (handed to the callback until it asked to stop).
    pub messages: usize,
    /// The kernel flagged the dump as inconsistent (`NLM_F_DUMP_INTR`): the table changed
    /// while it was read, so entries may be missing or doubled; dump again for a clean copy.
    pub interrupted: bool,
}

/// Sends a dump request (built with `NLM_F_DUMP` and sequence number `seq`) and receives its
/// multipart answer until `NLMSG_DONE`, handing each answer message to `on_msg`; when
/// `on_msg` returns false the rest of the dump is still read (so the socket stays usable) but
/// no longer handed over. `idle` bounds the wait for each datagram, not the whole dump.
/// Messages that are not part of this answer go to `on_event`, as in [`transact`]. Returns the
/// negated error code of an `NLMSG_ERROR` answer, of a `NLMSG_DONE` that carries one, or
/// `ETIMEDOUT`/`EMSGSIZE` (a datagram larger than `buf_size`).
#[allow(clippy::too_many_arguments)]
pub fn dump(
    sock: &Socket,
    req: &[u8],
    seq: u32,
    buf: &mut Vec<u8>,
    buf_size: usize,
    idle: Duration,
    on_msg: &mut dyn FnMut(Msg<'_>) -> bool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<DumpEnd, Failure> {
    if let Err(e) = sock.send(req) {
        return Err((e.raw_os_error().unwrap_or(libc::EIO), None));
    }
    if buf.len() < buf_size {
        buf.resize(buf_size, 0);
    }
    let mut end = DumpEnd::default();
    let mut wanted = true;
    let mut overflowed = false;
    let mut deadline = Instant::now() + idle;
    loop {
        let now = Instant::now();
        if now >= deadline {
            let why = if overflowed {
                "the dump stopped: no message from the kernel in time (the receive buffer overflowed and messages were lost)"
            } else {
                "the dump stopped: no message from the kernel in time"
            };
            return Err((libc::ETIMEDOUT, Some(why.into())));
        }
        let Some(info) = recv_one(sock, buf, deadline - now, &mut overflowed, on_event)? else { continue };
        deadline = Instant::now() + idle;
        let ours = |m: &Msg<'_>| m.seq() == seq && (m.pid() == sock.portid() || m.pid() == 0);
        if info.truncated {
            // A cut datagram loses the rest of its messages: the dump cannot be complete.
            return Err((
                libc::EMSGSIZE,
                Some(format!("a datagram of {} bytes did not fit the {buf_size}-byte receive buffer", info.real_len)),
            ));
        }
        for m in Messages::new(&buf[..info.len]) {
            let Ok(m) = m else {
                on_event(Event::Malformed);
                break;
            };
            if !ours(&m) {
                on_event(Event::Other(m, info));
                continue;
            }
            if m.flags() & super::NLM_F_DUMP_INTR != 0 {
                end.interrupted = true;
            }
            match m.msg_type() {
                super::NLMSG_DONE => {
                    let p = m.payload();
                    let err = if p.len() >= 4 { i32::from_ne_bytes([p[0], p[1], p[2], p[3]]) } else { 0 };
                    if err < 0 {
                        let ext = if m.flags() & super::NLM_F_ACK_TLVS != 0 { done_ext_message(&p[4..]) } else { None };
                        return Err((-err, ext));
                    }
                    return Ok(end);
                }
                super::NLMSG_ERROR => match m.error() {
                    Some(Ok(e)) if e.error != 0 => return Err((-e.error, e.ext_message().map(str::to_owned))),
                    Some(Ok(_)) => return Ok(end),
                    _ => return Err((libc::EPROTO, Some("malformed error message in a dump".into()))),
                },
                super::NLMSG_NOOP => {}
                super::NLMSG_OVERRUN => return Err((libc::ENOBUFS, Some("the kernel reported an overrun".into()))),
                _ => {
                    end.messages += 1;
                    if wanted {
                        wanted = on_msg(m);
                    }
                }
            }
        }
    }
}

/// The extended-ACK text in the TLVs after the error code of an `NLMSG_DONE`.
fn done_ext_message(tlvs: &[u8]) -> Option<String> {
    for a in super::Attrs::new(tlvs) {
        let a = a.ok()?;
        if a.kind() == 1 {
            let s = a.data();
            let s = &s[..memchr::memchr(0, s).unwrap_or(s.len())];
            return std::str::from_utf8(s).ok().map(str::to_owned);
        }
    }
    None
}
