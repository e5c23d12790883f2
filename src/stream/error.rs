//! The typed errors of the socket layer: a failed write, a failed read, a failed TLS
//! handshake. Each maps the `io::Error` kinds a vanished peer produces to a variant, so the
//! server and its handler treat them as ordinary events.

use std::fmt;
use std::io;

/// A failed write. A peer that vanished is an ordinary event, not a crash.
#[derive(Debug)]
pub enum SendError {
    /// The peer closed the connection (broken pipe).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// The peer did not read in time (write timeout).
    TimedOut,
    /// Any other I/O error.
    Io(io::Error),
}

/// A failed read.
#[derive(Debug)]
pub enum RecvError {
    /// The peer closed its side (end of stream).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// The deadline passed before a complete line or block arrived.
    TimedOut,
    /// Any other I/O error.
    Io(io::Error),
}

fn kind_of(e: &io::Error) -> Option<u8> {
    use io::ErrorKind::*;
    match e.kind() {
        BrokenPipe | ConnectionAborted | NotConnected | UnexpectedEof => Some(0),
        ConnectionReset => Some(1),
        WouldBlock | TimedOut => Some(2),
        _ => None,
    }
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        match kind_of(&e) {
            Some(0) => SendError::Closed,
            Some(1) => SendError::Reset,
            Some(2) => SendError::TimedOut,
            _ => SendError::Io(e),
        }
    }
}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        match kind_of(&e) {
            Some(0) => RecvError::Closed,
            Some(1) => RecvError::Reset,
            Some(2) => RecvError::TimedOut,
            _ => RecvError::Io(e),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("send failed: peer closed the connection"),
            SendError::Reset => f.write_str("send failed: connection reset by peer"),
            SendError::TimedOut => f.write_str("send failed: timed out"),
            SendError::Io(e) => write!(f, "send failed: {e}"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("peer closed the connection"),
            RecvError::Reset => f.write_str("connection reset by peer"),
            RecvError::TimedOut => f.write_str("timed out"),
            RecvError::Io(e) => write!(f, "receive failed: {e}"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl RecvError {
    /// An `io::Error` carrying this error, for `Read` implementations.
    pub(crate) fn to_io(&self) -> io::Error {
        let kind = match self {
            RecvError::Closed => io::ErrorKind::UnexpectedEof,
            RecvError::Reset => io::ErrorKind::ConnectionReset,
            RecvError::TimedOut => io::ErrorKind::TimedOut,
            RecvError::Io(e) => e.kind(),
        };
        io::Error::new(kind, self.to_string())
    }
}

/// A failed TLS handshake.
#[derive(Debug)]
pub enum HandshakeError {
    /// The peer closed the connection during the handshake.
    Closed,
    /// The peer reset the connection.
    Reset,
    /// The handshake did not finish before its deadline.
    TimedOut,
    /// The peer spoke something that is not acceptable TLS (garbage, an old version, no
    /// common cipher suite...); an alert was sent when possible.
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The first byte was not a TLS handshake record: plaintext on a TLS port, or garbage.
    NotTls,
    /// Any other I/O error.
    Io(io::Error),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Closed => {
                f.write_str("TLS handshake failed: peer closed the connection")
            }
            HandshakeError::Reset => f.write_str("TLS handshake failed: connection reset by peer"),
            HandshakeError::TimedOut => f.write_str("TLS handshake failed: timed out"),
            #[cfg(feature = "tls")]
            HandshakeError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            HandshakeError::NotTls => {
                f.write_str("TLS handshake failed: the peer did not send a ClientHello")
            }
            HandshakeError::Io(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            #[cfg(feature = "tls")]
            HandshakeError::Tls(e) => Some(e),
            HandshakeError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        #[cfg(feature = "tls")]
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return HandshakeError::Tls(tls.clone());
        }
        match RecvError::from(e) {
            RecvError::Closed => HandshakeError::Closed,
            RecvError::Reset => HandshakeError::Reset,
            RecvError::TimedOut => HandshakeError::TimedOut,
            RecvError::Io(e) => HandshakeError::Io(e),
        }
    }
}
