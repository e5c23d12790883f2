//! The seam between the session and its connection: what the protocol needs from I/O and
//! nothing more. [`Conn`] implements it over a socket (plaintext or TLS); the in-memory
//! script ([`super::script`]) implements it over a prepared list of client steps, so the
//! session runs, is unit-tested and is fuzzed without sockets.

#[cfg(feature = "tls")]
use std::sync::Arc;
#[cfg(feature = "tls")]
use std::time::Instant;

#[cfg(feature = "tls")]
use crate::proto::TlsInfo;
use crate::reply::Reply;
use crate::stream::{Buffered, Conn, SendError};
#[cfg(feature = "tls")]
use crate::stream::{HandshakeError, Pending};

/// A session's connection: buffered input with deadlines ([`Buffered`]), an output queue,
/// the TLS upgrade and the close. Replies are formatted by the session; this writes bytes.
pub(crate) trait SessionIo: Buffered {
    /// The output queue; bytes here go out with the next flush (or before the next read
    /// that would block).
    fn out(&mut self) -> &mut Vec<u8>;
    /// Writes everything queued.
    fn flush(&mut self) -> Result<(), SendError>;
    #[cfg(feature = "tls")]
    /// Runs the server side of a TLS handshake before `deadline`. Returns how many buffered
    /// octets were dropped (see [`Pending`]) and what the handshake settled.
    fn start_tls(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        deadline: Instant,
        pending: Pending,
    ) -> Result<(usize, TlsInfo), HandshakeError>;
    /// Closes without losing the last reply (bounded in time).
    fn close(&mut self);
    /// Closes after QUIT's 221: the same guarantee, cheaper when no input is left.
    fn close_after_quit(&mut self) {
        self.close()
    }
    /// Octets received so far, for statistics.
    fn bytes_in(&self) -> u64;
}

/// Queues a reply on `io`, with or without enhanced status codes.
pub(crate) fn queue<C: SessionIo + ?Sized>(io: &mut C, reply: &Reply, enhanced: bool) {
    reply.write_to(io.out(), enhanced);
}

impl SessionIo for Conn {
    fn out(&mut self) -> &mut Vec<u8> {
        Conn::out(self)
    }
    fn flush(&mut self) -> Result<(), SendError> {
        Conn::flush(self)
    }
    #[cfg(feature = "tls")]
    fn start_tls(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        deadline: Instant,
        pending: Pending,
    ) -> Result<(usize, TlsInfo), HandshakeError> {
        let dropped = Conn::start_tls(self, config, deadline, pending)?;
        let info = self
            .server_tls()
            .map(TlsInfo::from_server)
            .ok_or_else(|| HandshakeError::Io(std::io::Error::other("TLS is not on")))?;
        Ok((dropped, info))
    }
    fn close(&mut self) {
        Conn::close(self)
    }
    fn close_after_quit(&mut self) {
        Conn::close_after_quit(self)
    }
    fn bytes_in(&self) -> u64 {
        self.bytes_in
    }
}
