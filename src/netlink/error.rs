//! Errors of the whole library: a kind (stable, mapped to the C error codes), the errno when
//! the kernel or the OS gave one, and a message saying what failed and what to do about it.

use std::fmt;
use std::io;

/// The category of an error. Each kind maps to one stable C error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was invalid (NULL, out of range, wrong state).
    InvalidArgument,
    /// EPERM: CAP_NET_ADMIN is missing, or the queue belongs to another socket.
    PermissionDenied,
    /// EBUSY: the queue is already bound by this socket, or the handle is busy.
    Busy,
    /// EOPNOTSUPP: the kernel does not support the request.
    NotSupported,
    /// ENOENT: unknown packet id (already verdicted or never queued).
    NotFound,
    /// ENODEV: the queue is not bound.
    NoQueue,
    /// ENOBUFS: the socket receive buffer overflowed and the kernel dropped packets.
    NoBuffers,
    /// A message from the kernel was malformed.
    Protocol,
    /// The kernel did not answer in time.
    Timeout,
    /// Any other operating-system error.
    System,
    /// Memory allocation failed.
    NoMemory,
    /// A bug in the library (a caught panic).
    Internal,
    /// EEXIST: the object exists already (e.g. creating a conntrack entry twice).
    Exists,
}

/// Why a byte buffer could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than a header needs.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A length field is smaller than its own header or points past the buffer.
    #[error("bad {what} length {len} (room for {room} bytes)")]
    BadLength {
        /// What was being read.
        what: &'static str,
        /// The length field.
        len: usize,
        /// Bytes available.
        room: usize,
    },
    /// An attribute has the wrong size for its type.
    #[error("attribute {attr} has {len} bytes, expected {expected}")]
    AttrSize {
        /// Attribute name.
        attr: &'static str,
        /// Its payload length.
        len: usize,
        /// What it must be.
        expected: &'static str,
    },
    /// A mandatory attribute is missing.
    #[error("missing attribute {0}")]
    Missing(&'static str),
    /// The message has an unexpected type.
    #[error("unexpected message type {0:#x}")]
    UnexpectedType(u16),
}

/// An error: kind, optional errno and a message for humans.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    errno: i32,
    msg: String,
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error with a message.
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error { kind, errno: 0, msg: msg.into() }
    }

    /// An error from an errno value, with context saying what was attempted.
    pub fn from_errno(errno: i32, context: &str) -> Self {
        let kind = kind_of_errno(errno);
        let hint = match errno {
            libc::EPERM => {
                ": not permitted; the process needs CAP_NET_ADMIN (run as root), or the queue is \
                 bound by another process"
            }
            libc::EOPNOTSUPP => ": operation not supported by this kernel",
            libc::ENOENT => ": no such entry",
            libc::ENODEV => ": the queue is not bound",
            libc::EBUSY => ": already in use",
            libc::ENOBUFS => {
                ": socket receive buffer overflowed, the kernel dropped messages; raise the \
                 receive buffer or process faster"
            }
            libc::EINVAL => ": invalid argument",
            _ => "",
        };
        Error { kind, errno, msg: format!("{context}: {}{hint}", errno_name(errno)) }
    }

    /// An error from `io::Error`, with context.
    pub fn from_io(err: &io::Error, context: &str) -> Self {
        match err.raw_os_error() {
            Some(e) => Self::from_errno(e, context),
            None => Error::new(ErrorKind::System, format!("{context}: {err}")),
        }
    }

    /// A malformed message.
    pub fn parse(err: ParseError, context: &str) -> Self {
        Error::new(ErrorKind::Protocol, format!("{context}: {err}"))
    }

    /// Replace the message, keeping kind and errno.
    pub fn with_message(mut self, msg: impl Into<String>) -> Self {
        self.msg = msg.into();
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The errno (0 when there is none).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.msg
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::parse(e, "malformed netlink message")
    }
}

/// The error kind for an errno value.
pub fn kind_of_errno(errno: i32) -> ErrorKind {
    match errno {
        libc::EINVAL | libc::ERANGE | libc::EBADF => ErrorKind::InvalidArgument,
        libc::EPERM | libc::EACCES => ErrorKind::PermissionDenied,
        libc::EBUSY => ErrorKind::Busy,
        libc::EOPNOTSUPP | libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT => ErrorKind::NotSupported,
        libc::ENOENT => ErrorKind::NotFound,
        libc::ENODEV => ErrorKind::NoQueue,
        libc::ENOBUFS => ErrorKind::NoBuffers,
        libc::ENOMEM => ErrorKind::NoMemory,
        libc::ETIMEDOUT => ErrorKind::Timeout,
        libc::EEXIST => ErrorKind::Exists,
        _ => ErrorKind::System,
    }
}

/// The symbolic name of an errno value ("EPERM"), or "errno N".
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ERANGE => "ERANGE",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENOBUFS => "ENOBUFS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EILSEQ => "EILSEQ",
        _ => return format!("errno {errno}"),
    };
    name.to_string()
}
