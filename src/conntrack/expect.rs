//! The expectation view (`CTA_EXPECT_*`): a connection a helper (FTP, SIP, ...) expects to see,
//! from the `NFQA_EXP` nest of a queued packet or the expectation messages of ctnetlink.

use super::entry::c_string;
use super::tuple::Tuple;
use super::{NFNL_SUBSYS_CTNETLINK_EXP, cta_exp, msg};
use crate::netlink::{Attrs, Msg, ParseError};

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ExpFields {
    family: u8,
    master: Option<Tuple>,
    tuple: Option<Tuple>,
    mask: Option<Tuple>,
    timeout: Option<u32>,
    id: Option<u32>,
    zone: Option<u16>,
    flags: Option<u32>,
    class: Option<u32>,
    helper: Option<(u32, u32)>,
    func: Option<(u32, u32)>,
    nat_dir: Option<u32>,
    nat_tuple: Option<Tuple>,
}

impl ExpFields {
    fn parse(family: u8, buf: &[u8]) -> Result<ExpFields, ParseError> {
        let span = |part: &[u8]| ((part.as_ptr() as usize - buf.as_ptr() as usize) as u32, part.len() as u32);
        let mut f = ExpFields { family, ..Default::default() };
        for a in Attrs::new(buf) {
            let a = a?;
            match a.kind() {
                cta_exp::MASTER => f.master = Some(Tuple::parse(&a)?),
                cta_exp::TUPLE => f.tuple = Some(Tuple::parse(&a)?),
                cta_exp::MASK => f.mask = Some(Tuple::parse(&a)?),
                cta_exp::TIMEOUT => f.timeout = Some(a.be_u32("CTA_EXPECT_TIMEOUT")?),
                cta_exp::ID => f.id = Some(a.be_u32("CTA_EXPECT_ID")?),
                cta_exp::ZONE => f.zone = Some(a.be_u16("CTA_EXPECT_ZONE")?),
                cta_exp::FLAGS => f.flags = Some(a.be_u32("CTA_EXPECT_FLAGS")?),
                cta_exp::CLASS => f.class = Some(a.be_u32("CTA_EXPECT_CLASS")?),
                cta_exp::HELP_NAME => f.helper = Some(span(c_string(&a))),
                cta_exp::FN => f.func = Some(span(c_string(&a))),
                cta_exp::NAT => {
                    for x in a.nested() {
                        let x = x?;
                        match x.kind() {
                            cta_exp::NAT_DIR => f.nat_dir = Some(x.be_u32("CTA_EXPECT_NAT_DIR")?),
                            cta_exp::NAT_TUPLE => f.nat_tuple = Some(Tuple::parse(&x)?),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(f)
    }
}

fn slice(buf: &[u8], s: Option<(u32, u32)>) -> Option<&[u8]> {
    s.map(|(off, len)| buf.get(off as usize..(off + len) as usize).unwrap_or(&[]))
}

/// An expectation, borrowed from the bytes it was decoded from.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    buf: &'a [u8],
    f: ExpFields,
}

impl<'a> Expect<'a> {
    /// Decodes a run of `CTA_EXPECT_*` attributes (the payload of `NFQA_EXP`, or of an
    /// expectation message after its nfgenmsg).
    pub fn parse(family: u8, attrs: &'a [u8]) -> Result<Expect<'a>, ParseError> {
        Ok(Expect { buf: attrs, f: ExpFields::parse(family, attrs)? })
    }

    /// Decodes an expectation message (`IPCTNL_MSG_EXP_NEW` from dumps and new events,
    /// `IPCTNL_MSG_EXP_DELETE` from destroy events).
    pub fn from_msg(m: &Msg<'a>) -> Result<Expect<'a>, ParseError> {
        if m.subsys() != NFNL_SUBSYS_CTNETLINK_EXP || !matches!(m.msg_type() as u8, msg::EXP_NEW | msg::EXP_DELETE) {
            return Err(ParseError::UnexpectedType(m.msg_type()));
        }
        let (g, _) = m.nfgen()?;
        Expect::parse(g.family, &m.payload()[crate::netlink::NFGENMSG_LEN..])
    }

    /// An owned copy.
    pub fn to_owned(&self) -> ExpectBuf {
        ExpectBuf { buf: self.buf.to_vec(), f: self.f }
    }
    /// The attribute bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// The address family: from the message, else from the expected tuple's addresses.
    pub fn family(&self) -> u8 {
        if self.f.family != 0 {
            return self.f.family;
        }
        self.f.tuple.or(self.f.master).map_or(0, |t| t.family())
    }
    /// The master connection's original tuple.
    pub fn master(&self) -> Option<&Tuple> {
        self.f.master.as_ref()
    }
    /// The expected tuple.
    pub fn tuple(&self) -> Option<&Tuple> {
        self.f.tuple.as_ref()
    }
    /// The mask: which parts of the expected tuple must match (zero parts are wildcards).
    pub fn mask(&self) -> Option<&Tuple> {
        self.f.mask.as_ref()
    }
    /// Seconds until it expires.
    pub fn timeout(&self) -> Option<u32> {
        self.f.timeout
    }
    /// Its id.
    pub fn id(&self) -> Option<u32> {
        self.f.id
    }
    /// Its zone.
    pub fn zone(&self) -> Option<u16> {
        self.f.zone
    }
    /// `exp_flags::*`.
    pub fn flags(&self) -> Option<u32> {
        self.f.flags
    }
    /// The helper's expectation class.
    pub fn class(&self) -> Option<u32> {
        self.f.class
    }
    /// The helper name, without the terminating NUL.
    pub fn helper_name(&self) -> Option<&'a [u8]> {
        slice(self.buf, self.f.helper)
    }
    /// The name of the function that sets up the expected connection, without the NUL.
    pub fn function(&self) -> Option<&'a [u8]> {
        slice(self.buf, self.f.func)
    }
    /// NAT direction of the expected connection (0 original, 1 reply).
    pub fn nat_dir(&self) -> Option<u32> {
        self.f.nat_dir
    }
    /// NAT tuple of the expected connection.
    pub fn nat_tuple(&self) -> Option<&Tuple> {
        self.f.nat_tuple.as_ref()
    }
}

/// An expectation that owns its bytes.
#[derive(Clone, Debug, Default)]
pub struct ExpectBuf {
    buf: Vec<u8>,
    f: ExpFields,
}

impl ExpectBuf {
    /// The view.
    pub fn view(&self) -> Expect<'_> {
        Expect { buf: &self.buf, f: self.f }
    }
    /// The stored tuple (0 master, 1 expected, 2 mask, 3 NAT), for the C layer's pointers.
    pub(crate) fn tuple_ref(&self, which: u32) -> Option<&Tuple> {
        match which {
            0 => self.f.master.as_ref(),
            1 => self.f.tuple.as_ref(),
            2 => self.f.mask.as_ref(),
            3 => self.f.nat_tuple.as_ref(),
            _ => None,
        }
    }
    /// Decodes `attrs` into this buffer, keeping its allocation. On error it is left empty.
    pub fn decode(&mut self, family: u8, attrs: &[u8]) -> Result<(), ParseError> {
        self.buf.clear();
        self.buf.extend_from_slice(attrs);
        match ExpFields::parse(family, &self.buf) {
            Ok(f) => {
                self.f = f;
                Ok(())
            }
            Err(e) => {
                self.buf.clear();
                self.f = ExpFields::default();
                Err(e)
            }
        }
    }
    /// Replaces the contents with a copy of `e`.
    pub fn copy_from(&mut self, e: &Expect<'_>) {
        self.buf.clear();
        self.buf.extend_from_slice(e.buf);
        self.f = e.f;
    }

    /// An empty expectation for `family` (0: taken from the tuples' addresses), to fill in for
    /// [`Conntrack::create_expect`](crate::conntrack::Conntrack::create_expect) or as the key
    /// of a get or delete.
    pub fn new(family: u8) -> ExpectBuf {
        ExpectBuf { buf: Vec::new(), f: ExpFields { family, ..Default::default() } }
    }
    /// Sets the address family.
    pub fn set_family(&mut self, family: u8) -> &mut Self {
        self.f.family = family;
        self
    }
    /// Sets the master connection's original tuple.
    pub fn set_master(&mut self, t: Tuple) -> &mut Self {
        self.f.master = Some(t);
        self
    }
    /// Sets the expected tuple.
    pub fn set_tuple(&mut self, t: Tuple) -> &mut Self {
        self.f.tuple = Some(t);
        self
    }
    /// Sets the mask (the parts of the expected tuple that must match; zero parts are
    /// wildcards, absent parts are sent as zero).
    pub fn set_mask(&mut self, t: Tuple) -> &mut Self {
        self.f.mask = Some(t);
        self
    }
    /// Sets the timeout in seconds.
    pub fn set_timeout(&mut self, secs: u32) -> &mut Self {
        self.f.timeout = Some(secs);
        self
    }
    /// Sets the id (a get or delete then only matches the expectation with this id).
    pub fn set_id(&mut self, id: u32) -> &mut Self {
        self.f.id = Some(id);
        self
    }
    /// Sets the zone.
    pub fn set_zone(&mut self, zone: u16) -> &mut Self {
        self.f.zone = Some(zone);
        self
    }
    /// Sets the `exp_flags::*` (the kernel ignores `USERSPACE` from userspace).
    pub fn set_flags(&mut self, flags: u32) -> &mut Self {
        self.f.flags = Some(flags);
        self
    }
    /// Sets the helper's expectation class (below the helper's class count).
    pub fn set_class(&mut self, class: u32) -> &mut Self {
        self.f.class = Some(class);
        self
    }
    /// Sets the helper name (e.g. `b"ftp"`; without a NUL).
    pub fn set_helper(&mut self, name: &[u8]) -> &mut Self {
        self.f.helper = Some(self.stash(name));
        self
    }
    /// Sets the name of the function that sets up the expected connection (the kernel knows
    /// `nat-follow-master` when NAT helpers are built in).
    pub fn set_function(&mut self, name: &[u8]) -> &mut Self {
        self.f.func = Some(self.stash(name));
        self
    }
    /// Sets the NAT of the expected connection: the direction (0 original, 1 reply) and the
    /// tuple to NAT to.
    pub fn set_nat(&mut self, dir: u32, t: Tuple) -> &mut Self {
        self.f.nat_dir = Some(dir);
        self.f.nat_tuple = Some(t);
        self
    }

    /// Sets the NAT direction only (the C layer sets the tuple separately).
    pub(crate) fn set_nat_dir(&mut self, dir: u32) -> &mut Self {
        self.f.nat_dir = Some(dir);
        self
    }
    /// Sets the NAT tuple only (direction 0 unless set).
    pub(crate) fn set_nat_tuple(&mut self, t: Tuple) -> &mut Self {
        self.f.nat_dir.get_or_insert(0);
        self.f.nat_tuple = Some(t);
        self
    }

    /// Appends `data` (cut at a NUL) to the buffer; returns its span.
    fn stash(&mut self, data: &[u8]) -> (u32, u32) {
        let data = &data[..memchr::memchr(0, data).unwrap_or(data.len())];
        let off = self.buf.len() as u32;
        self.buf.extend_from_slice(data);
        (off, data.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::entry::tests::v4;
    use crate::netlink::{Messages, MsgBuilder, nfnl_msg_type};

    fn exp_msg(attrs: impl FnOnce(&mut MsgBuilder<'_>)) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut b = MsgBuilder::new(&mut buf, nfnl_msg_type(NFNL_SUBSYS_CTNETLINK_EXP, msg::EXP_NEW), 0, 0);
        b.nfgen(2, 0);
        attrs(&mut b);
        b.finish();
        buf
    }

    fn ftp_expectation(b: &mut MsgBuilder<'_>) {
        crate::conntrack::Tuple::ports(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 6, 40000, 21).put(b, cta_exp::MASTER);
        crate::conntrack::Tuple::ports(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]), 6, 0, 50000).put(b, cta_exp::TUPLE);
        let mut mask = crate::conntrack::Tuple::ports(v4([255; 4]), v4([255; 4]), 0xff, 0, 0xffff);
        mask.src_port = Some(0);
        mask.put(b, cta_exp::MASK);
        b.put_be32(cta_exp::TIMEOUT, 299).put_be32(cta_exp::ID, 0xabcdef).put(cta_exp::HELP_NAME, b"ftp\0");
        b.put_be16(cta_exp::ZONE, 0).put_be32(cta_exp::FLAGS, 0).put_be32(cta_exp::CLASS, 0);
        let n = b.nest_start(cta_exp::NAT);
        b.put_be32(cta_exp::NAT_DIR, 1);
        crate::conntrack::Tuple::ports(v4([1, 1, 1, 1]), v4([2, 2, 2, 2]), 6, 0, 7).put(b, cta_exp::NAT_TUPLE);
        b.nest_end(n);
        b.put(cta_exp::FN, b"nat-follow-master\0");
    }

    #[test]
    fn decodes_an_ftp_expectation() {
        let m = exp_msg(ftp_expectation);
        let mm = Messages::new(&m).next().unwrap().unwrap();
        let e = Expect::from_msg(&mm).unwrap();
        assert_eq!(e.family(), 2);
        assert_eq!(e.master().unwrap().dst_port, Some(21));
        assert_eq!(e.tuple().unwrap().dst_port, Some(50000));
        assert_eq!(e.mask().unwrap().src_port, Some(0));
        assert_eq!(
            (e.timeout(), e.id(), e.zone(), e.flags(), e.class()),
            (Some(299), Some(0xabcdef), Some(0), Some(0), Some(0))
        );
        assert_eq!(e.helper_name(), Some(&b"ftp"[..]));
        assert_eq!(e.function(), Some(&b"nat-follow-master"[..]));
        assert_eq!(e.nat_dir(), Some(1));
        assert_eq!(e.nat_tuple().unwrap().dst_port, Some(7));
        let own = e.to_owned();
        assert_eq!(own.view().helper_name(), Some(&b"ftp"[..]));
    }

    #[test]
    fn malformed_expectations_are_errors_not_panics() {
        let m = exp_msg(ftp_expectation);
        let attrs = &m[20..];
        for cut in 0..attrs.len() {
            if let Ok(e) = Expect::parse(2, &attrs[..cut]) {
                let _ = (e.helper_name(), e.function(), e.tuple());
            }
        }
        for at in 0..attrs.len() {
            let mut x = attrs.to_vec();
            x[at] ^= 0xff;
            if let Ok(e) = Expect::parse(2, &x) {
                let _ = (e.helper_name(), e.function());
            }
        }
        let bad = exp_msg(|b| {
            b.put(cta_exp::TIMEOUT, &[1]);
        });
        assert!(matches!(Expect::parse(2, &bad[20..]), Err(ParseError::AttrSize { .. })));
        let ct = crate::conntrack::entry::tests::ct_msg(0, 0, 2, |_| {});
        let mm = Messages::new(&ct).next().unwrap().unwrap();
        assert!(Expect::from_msg(&mm).is_err());
        let mut eb = ExpectBuf::default();
        assert!(eb.decode(2, &bad[20..]).is_err());
        eb.decode(2, attrs).unwrap();
        assert_eq!(eb.view().timeout(), Some(299));
    }
}
