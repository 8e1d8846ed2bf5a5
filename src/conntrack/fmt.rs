//! Names of protocols and states, and the one-line text form of a connection in the layout
//! the `conntrack` tool prints (`udp      17 29 src=... dst=... sport=... dport=... [UNREPLIED]
//! src=... mark=0 use=1`), so output can be compared and read the same way.

use std::fmt::{self, Write};

use super::entry::{Conn, Counters};
use super::expect::Expect;
use super::status;
use super::tuple::{PROTO_ICMP, PROTO_ICMPV6, Tuple};

/// The name `conntrack` uses for a layer-4 protocol ("tcp", "udp", "icmp", "icmpv6", ...),
/// "unknown" otherwise.
pub fn l4proto_name(proto: u8) -> &'static str {
    match proto {
        1 => "icmp",
        2 => "igmp",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        47 => "gre",
        58 => "icmpv6",
        132 => "sctp",
        136 => "udplite",
        _ => "unknown",
    }
}

/// The name of a TCP state (`tcp_state::*`), as `conntrack` prints it.
pub fn tcp_state_name(s: u8) -> &'static str {
    match s {
        0 => "NONE",
        1 => "SYN_SENT",
        2 => "SYN_RECV",
        3 => "ESTABLISHED",
        4 => "FIN_WAIT",
        5 => "CLOSE_WAIT",
        6 => "LAST_ACK",
        7 => "TIME_WAIT",
        8 => "CLOSE",
        9 => "SYN_SENT2",
        _ => "UNKNOWN",
    }
}

/// The name of an SCTP state (`sctp_state::*`).
pub fn sctp_state_name(s: u8) -> &'static str {
    match s {
        0 => "NONE",
        1 => "CLOSED",
        2 => "COOKIE_WAIT",
        3 => "COOKIE_ECHOED",
        4 => "ESTABLISHED",
        5 => "SHUTDOWN_SENT",
        6 => "SHUTDOWN_RECD",
        7 => "SHUTDOWN_ACK_SENT",
        8 => "HEARTBEAT_SENT",
        9 => "HEARTBEAT_ACKED",
        _ => "UNKNOWN",
    }
}

/// The name of a DCCP state (`dccp_state::*`).
pub fn dccp_state_name(s: u8) -> &'static str {
    match s {
        0 => "NONE",
        1 => "REQUEST",
        2 => "RESPOND",
        3 => "PARTOPEN",
        4 => "OPEN",
        5 => "CLOSEREQ",
        6 => "CLOSING",
        7 => "TIMEWAIT",
        8 => "IGNORE",
        9 => "INVALID",
        _ => "UNKNOWN",
    }
}

/// Writes ` src=A dst=B sport=P dport=Q` (or the ICMP fields) for a tuple.
pub(crate) fn write_tuple(out: &mut dyn Write, t: &Tuple) -> fmt::Result {
    if let Some(a) = t.src {
        write!(out, " src={a}")?;
    }
    if let Some(a) = t.dst {
        write!(out, " dst={a}")?;
    }
    match t.proto {
        Some(PROTO_ICMP) | Some(PROTO_ICMPV6) => {
            if let Some(v) = t.icmp_type {
                write!(out, " type={v}")?;
            }
            if let Some(v) = t.icmp_code {
                write!(out, " code={v}")?;
            }
            if let Some(v) = t.icmp_id {
                write!(out, " id={v}")?;
            }
        }
        _ => {
            if let Some(v) = t.src_port {
                write!(out, " sport={v}")?;
            }
            if let Some(v) = t.dst_port {
                write!(out, " dport={v}")?;
            }
        }
    }
    Ok(())
}

fn write_counters(out: &mut dyn Write, c: Option<Counters>) -> fmt::Result {
    match c {
        Some(c) => write!(out, " packets={} bytes={}", c.packets, c.bytes),
        None => Ok(()),
    }
}

/// The family's name and number as `conntrack -o extended` prints them.
fn family_prefix(family: u8) -> (&'static str, u8) {
    match family as i32 {
        libc::AF_INET => ("ipv4", family),
        libc::AF_INET6 => ("ipv6", family),
        _ => ("unknown", family),
    }
}

impl Conn<'_> {
    /// Writes the connection as one line in the `conntrack -L` layout; `extended` prefixes the
    /// family (`-o extended`), `with_id` appends `id=N` (`-o id`).
    pub fn write_line(&self, out: &mut dyn Write, extended: bool, with_id: bool) -> fmt::Result {
        if extended {
            let (name, num) = family_prefix(self.family());
            write!(out, "{name:<8} {num} ")?;
        }
        let p = self.l4proto().unwrap_or(0);
        write!(out, "{:<8} {p}", l4proto_name(p))?;
        if let Some(t) = self.timeout() {
            write!(out, " {t}")?;
        }
        if let Some(s) = self.proto_state_name() {
            write!(out, " {s}")?;
        }
        if let Some(t) = self.orig() {
            write_tuple(out, t)?;
            write_counters(out, self.counters_orig())?;
        }
        if self.is_unreplied() {
            out.write_str(" [UNREPLIED]")?;
        }
        if let Some(t) = self.reply() {
            write_tuple(out, t)?;
            write_counters(out, self.counters_reply())?;
        }
        if self.has_status(status::ASSURED) {
            out.write_str(" [ASSURED]")?;
        }
        if let Some(m) = self.mark() {
            write!(out, " mark={m}")?;
        }
        if let Some(s) = self.secctx() {
            write!(out, " secctx={}", String::from_utf8_lossy(s))?;
        }
        if let Some(z) = self.zone().filter(|&z| z != 0) {
            write!(out, " zone={z}")?;
        }
        if let Some(h) = self.helper_name() {
            write!(out, " helper={}", String::from_utf8_lossy(h))?;
        }
        if let Some(u) = self.use_count() {
            write!(out, " use={u}")?;
        }
        if with_id {
            if let Some(id) = self.id() {
                write!(out, " id={id}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Conn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_line(f, false, false)
    }
}

impl fmt::Display for Expect<'_> {
    /// `timeout proto num src=... dst=... sport=... dport=... mask-src=... master-src=... helper=X`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.timeout() {
            write!(f, "{t} ")?;
        }
        let p = self.tuple().and_then(|t| t.proto).unwrap_or(0);
        write!(f, "proto={p}")?;
        if let Some(t) = self.tuple() {
            write_tuple(f, t)?;
        }
        if let Some(m) = self.mask() {
            let mut s = String::new();
            write_tuple(&mut s, m)?;
            for w in s.split_whitespace() {
                write!(f, " mask-{w}")?;
            }
        }
        if let Some(m) = self.master() {
            let mut s = String::new();
            write_tuple(&mut s, m)?;
            for w in s.split_whitespace() {
                write!(f, " master-{w}")?;
            }
        }
        if let Some(h) = self.helper_name() {
            write!(f, " helper={}", String::from_utf8_lossy(h))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::entry::ConnBuf;
    use crate::conntrack::entry::tests::v4;
    use crate::conntrack::{ProtoInfo, TcpInfo};

    #[test]
    fn lines_look_like_conntrack_output() {
        let mut c = ConnBuf::new(2);
        let t = Tuple::ports(v4([127, 0, 0, 1]), v4([127, 0, 0, 1]), 17, 56453, 9998);
        c.set_orig(t).set_reply(t.reversed()).set_timeout(29).set_status(status::CONFIRMED).set_mark(0);
        let mut s = String::new();
        c.view().write_line(&mut s, true, false).unwrap();
        assert_eq!(
            s,
            "ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=56453 dport=9998 [UNREPLIED] \
             src=127.0.0.1 dst=127.0.0.1 sport=9998 dport=56453 mark=0"
        );
        let mut tcp = ConnBuf::new(2);
        let t = Tuple::ports(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 6, 1, 2);
        tcp.set_orig(t).set_reply(t.reversed()).set_timeout(431999);
        tcp.set_status(status::SEEN_REPLY | status::ASSURED | status::CONFIRMED).set_mark(5).set_zone(7).set_id(9);
        tcp.set_protoinfo(ProtoInfo::Tcp(TcpInfo { state: Some(3), ..Default::default() }));
        let mut s = String::new();
        tcp.view().write_line(&mut s, false, true).unwrap();
        assert_eq!(
            s,
            "tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 \
             sport=2 dport=1 [ASSURED] mark=5 zone=7 id=9"
        );
        let mut icmp = ConnBuf::new(2);
        icmp.set_orig(Tuple::icmp(v4([1, 1, 1, 1]), v4([2, 2, 2, 2]), 33, 8, 0));
        assert_eq!(icmp.view().to_string(), "icmp     1 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=33");
    }

    #[test]
    fn names() {
        assert_eq!(l4proto_name(58), "icmpv6");
        assert_eq!(l4proto_name(250), "unknown");
        assert_eq!(tcp_state_name(7), "TIME_WAIT");
        assert_eq!(tcp_state_name(200), "UNKNOWN");
        assert_eq!(sctp_state_name(3), "COOKIE_ECHOED");
        assert_eq!(dccp_state_name(7), "TIMEWAIT");
    }
}
