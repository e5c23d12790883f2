//! A session run in memory against a scripted client: no sockets, no threads, no waiting.
//! The same state machine that serves connections reads the script's bytes and faults, so a
//! handler can be unit-tested line by line, and the session can be fuzzed quickly.
//!
//! ```
//! use smtpkit::server::{Handler, ServerConfig};
//! use smtpkit::server::script::{self, Script, Step};
//!
//! struct Accept;
//! impl Handler for Accept {}
//!
//! let out = script::run(
//!     ServerConfig { hostname: "mx.example".into(), ..ServerConfig::default() },
//!     Accept,
//!     Script::new()
//!         .line("EHLO client.example")
//!         .line("MAIL FROM:<a@example.org>")
//!         .then(Step::Close),
//! )?;
//! assert_eq!(out.replies()[0], "220 mx.example ESMTP");
//! assert_eq!(out.replies().last().map(String::as_str), Some("250 2.1.0 OK"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Deadlines do not pass by themselves in memory: a [`Step::Timeout`] is where the client
//! would have been too slow. STARTTLS and implicit TLS run a pretend handshake (no
//! encryption) that keeps the session's rules: input pipelined before it is dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

#[cfg(feature = "tls")]
use crate::proto::TlsInfo;
use crate::stream::{Buffered, RecvError, SendError};
#[cfg(feature = "tls")]
use crate::stream::{HandshakeError, Pending};

use super::config::ServerConfig;
use super::handler::{ConnInfo, Handler};
use super::session::Session;
use super::session_io::SessionIo;
use super::shared::{SessionSlot, Shared, Stats};

/// One thing the scripted client does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Sends these bytes (one read on the server's side).
    Send(Vec<u8>),
    /// Closes its side: the server reads end of stream.
    Close,
    /// Resets the connection.
    Reset,
    /// Stays silent past the server's deadline.
    Timeout,
    /// Stops reading: from here on the server's writes fail (time out).
    StopReading,
    /// Makes the next TLS handshake fail.
    FailTls,
}

/// A scripted client: what it sends, and the faults it causes, in order. Once the steps run
/// out, the server reads end of stream.
///
/// Sends and faults are kept apart: a send is where it ends in `sent` (sends of nothing are
/// not stored: a read never returns nothing), a fault is its kind and how many sends come
/// before it. So the server reads the sends between two faults without testing any step's
/// kind.
#[derive(Debug, Clone)]
pub struct Script {
    /// Everything sent, in order: the server reads it in place, without a copy per read.
    sent: Vec<u8>,
    /// Where each send ends in `sent`.
    sends: Vec<usize>,
    faults: Vec<Fault>,
    peer: SocketAddr,
    implicit_tls: bool,
}

/// A step other than a send, after the first `after` sends.
#[derive(Debug, Clone, Copy)]
struct Fault {
    after: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Close,
    Reset,
    Timeout,
    StopReading,
    FailTls,
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    /// An empty script from 192.0.2.1:40000 (a documentation address).
    pub fn new() -> Script {
        Script {
            sent: Vec::new(),
            sends: Vec::new(),
            faults: Vec::new(),
            peer: SocketAddr::from(([192, 0, 2, 1], 40000)),
            implicit_tls: false,
        }
    }
    /// Sends bytes as they are.
    pub fn send(mut self, bytes: impl AsRef<[u8]>) -> Script {
        self.push_send(bytes.as_ref());
        self
    }
    /// Sends a line, adding CRLF.
    pub fn line(mut self, line: &str) -> Script {
        self.sent.extend_from_slice(line.as_bytes());
        self.push_send(b"\r\n");
        self
    }
    /// Sends bytes as reads of at most `size` octets each (a `size` of 0 counts as 1): the
    /// same steps as one [`Script::send`] per piece, for a client that writes in small pieces.
    pub fn send_in_pieces(mut self, bytes: impl AsRef<[u8]>, size: usize) -> Script {
        let bytes = bytes.as_ref();
        let size = size.max(1);
        let base = self.sent.len();
        self.sent.extend_from_slice(bytes);
        self.sends.reserve(bytes.len().div_ceil(size));
        let ends = (size..bytes.len() + size).step_by(size);
        self.sends
            .extend(ends.map(|end| base + end.min(bytes.len())));
        self
    }
    /// Adds any step.
    pub fn then(mut self, step: Step) -> Script {
        let kind = match step {
            Step::Send(bytes) => {
                self.push_send(&bytes);
                return self;
            }
            Step::Close => Kind::Close,
            Step::Reset => Kind::Reset,
            Step::Timeout => Kind::Timeout,
            Step::StopReading => Kind::StopReading,
            Step::FailTls => Kind::FailTls,
        };
        self.faults.push(Fault {
            after: self.sends.len(),
            kind,
        });
        self
    }
    fn push_send(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.sent.extend_from_slice(bytes);
        self.sends.push(self.sent.len());
    }
    /// The client's address, as the handler sees it in [`ConnInfo::peer`].
    pub fn peer(mut self, addr: SocketAddr) -> Script {
        self.peer = addr;
        self
    }
    /// Starts with a (pretend) TLS handshake, as on an implicit-TLS listener.
    pub fn implicit_tls(mut self, on: bool) -> Script {
        self.implicit_tls = on;
        self
    }
}

/// What a scripted session left behind.
#[derive(Debug)]
pub struct Outcome<H> {
    /// Every byte the server wrote, in order.
    pub output: Vec<u8>,
    /// The handler, after `on_close`.
    pub handler: H,
    /// The server's counters for this one session.
    pub stats: Stats,
}

impl<H> Outcome<H> {
    /// The output as reply lines, without their CRLF.
    pub fn replies(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.output)
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Runs one session of `handler` against `script`, in memory, to its end. The configuration
/// is checked as [`ServerBuilder::bind`](super::ServerBuilder::bind) checks it. It may be
/// shared (an `Arc<ServerConfig>`): many scripted sessions can run on one configuration
/// without a copy each.
pub fn run<H: Handler>(
    config: impl Into<Arc<ServerConfig>>,
    handler: H,
    script: Script,
) -> io::Result<Outcome<H>> {
    let config = config.into();
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let info = ConnInfo {
        id: 1,
        peer: script.peer,
        local: SocketAddr::from(([192, 0, 2, 25], 25)),
        protocol: config.protocol,
        listener: 0,
        implicit_tls: script.implicit_tls,
        proxy: None,
    };
    let shared = Arc::new(Shared::default());
    let slot = Arc::new(SessionSlot {
        stream: None,
        idle: Default::default(),
    });
    let io = MemoryIo::new(&script.sent, &script.sends, &script.faults);
    let session = Session::new(io, config, Arc::clone(&shared), slot, info, handler);
    let (handler, io) = session.run_to_end();
    Ok(Outcome {
        output: io.output,
        handler,
        stats: shared.snapshot(),
    })
}

/// The server's side of a scripted connection, borrowing the script. The input buffer is a
/// window on the script's bytes: the first `avail` of `from_rpos`.
///
/// The path of an ordinary read has no integer test: under the session fuzz target each is a
/// traced call (~40 instructions), and the session reads every line in pieces. The sends up
/// to the next fault are walked with a slice iterator, whose end test compares pointers (the
/// fuzzer does not trace them); a fault, and every read once the client stopped reading,
/// takes the cold path.
pub(crate) struct MemoryIo<'a> {
    /// The sends before the next fault.
    run: std::slice::Iter<'a, usize>,
    /// Once the client stopped reading: the sends before the next fault (`run` is then empty,
    /// so every read takes the cold path, which flushes first).
    parked: std::slice::Iter<'a, usize>,
    /// Every send's end in the script, and the faults still to come.
    sends: &'a [usize],
    faults: std::slice::Iter<'a, Fault>,
    /// The script's bytes from the first unconsumed one to the end.
    from_rpos: &'a [u8],
    /// How many of `from_rpos` have been received (the buffered window).
    avail: usize,
    /// Where the received bytes end in the script.
    received: usize,
    /// What the server queues once the client has stopped reading (see `out`).
    wbuf: Vec<u8>,
    output: Vec<u8>,
    /// The client stopped reading: writes fail from now on.
    deaf: bool,
    /// The next handshake fails.
    fail_tls: bool,
    bytes_in: u64,
}

impl<'a> MemoryIo<'a> {
    fn new(sent: &'a [u8], sends: &'a [usize], faults: &'a [Fault]) -> MemoryIo<'a> {
        // Room for a few replies, and for about a reply per 16 octets sent, so the output
        // rarely grows by reallocation (each one a copy).
        let output = Vec::with_capacity(256 + sent.len() * 2);
        MemoryIo {
            run: MemoryIo::run_to_fault(sends, 0, faults).iter(),
            parked: [].iter(),
            sends,
            faults: faults.iter(),
            from_rpos: sent,
            avail: 0,
            received: 0,
            wbuf: Vec::new(),
            output,
            deaf: false,
            fail_tls: false,
            bytes_in: 0,
        }
    }

    /// The sends from the `from`th to the next of `faults` (or to the last).
    fn run_to_fault(sends: &'a [usize], from: usize, faults: &[Fault]) -> &'a [usize] {
        let until = faults.first().map_or(sends.len(), |f| f.after);
        sends.get(from..until).unwrap_or_default()
    }

    /// Receives the bytes up to `end` in the script.
    fn receive(&mut self, end: usize) -> usize {
        // Saturating and wrapping: no overflow tests (traced compares); ends only grow.
        let n = end.saturating_sub(self.received);
        self.received = end;
        self.avail = self.avail.wrapping_add(n);
        // A statistic.
        self.bytes_in = self.bytes_in.wrapping_add(n as u64);
        n
    }
}

impl Buffered for MemoryIo<'_> {
    fn buffered(&self) -> &[u8] {
        self.from_rpos.get(..self.avail).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        // min(n, avail) without a compare: avail - (avail - n, or 0 below zero).
        let n = self.avail.wrapping_sub(self.avail.saturating_sub(n));
        self.avail = self.avail.wrapping_sub(n);
        self.from_rpos = self.from_rpos.get(n..).unwrap_or_default();
    }

    fn fill(&mut self, deadline: Instant) -> Result<usize, RecvError> {
        // While the client reads, a flush has nothing to do (see `out`): an ordinary send is
        // taken here, anything else (and every read once the client stopped reading) in
        // `fill_cold`, which flushes first, as a socket does before it waits for input.
        match self.run.next() {
            Some(&end) => Ok(self.receive(end)),
            None => self.fill_cold(deadline),
        }
    }
}

impl MemoryIo<'_> {
    /// A read that meets a step other than a send, or any read once the client stopped
    /// reading. A close or a reset is not passed, so every later read ends the same way, as
    /// on a socket; past the last step the client has closed.
    #[cold]
    #[inline(never)]
    fn fill_cold(&mut self, deadline: Instant) -> Result<usize, RecvError> {
        self.flush().map_err(|e| match e {
            SendError::TimedOut => RecvError::TimedOut,
            SendError::Reset => RecvError::Reset,
            _ => RecvError::Closed,
        })?;
        if let Some(&end) = self.parked.next() {
            return Ok(self.receive(end));
        }
        let kind = match self.faults.as_slice().first() {
            None => return Err(RecvError::Closed),
            Some(fault) => match fault.kind {
                Kind::Reset => return Err(RecvError::Reset),
                Kind::Close => return Err(RecvError::Closed),
                kind => kind,
            },
        };
        // Passed: the sends up to the next fault come next.
        let from = self.faults.next().map_or(0, |f| f.after);
        let run = MemoryIo::run_to_fault(self.sends, from, self.faults.as_slice()).iter();
        match kind {
            Kind::StopReading => self.deaf = true,
            Kind::FailTls => self.fail_tls = true,
            _ => {}
        }
        if self.deaf {
            self.parked = run;
        } else {
            self.run = run;
        }
        if kind == Kind::Timeout {
            return Err(RecvError::TimedOut);
        }
        self.fill(deadline)
    }
}

impl SessionIo for MemoryIo<'_> {
    fn out(&mut self) -> &mut Vec<u8> {
        // In memory a write neither blocks nor fails while the client reads: replies go
        // straight to the output, and a flush has nothing to do (no copy, and no test of the
        // queue's length per read, which the session fuzz target traces). Once the client
        // stops reading they are queued, and the next flush fails.
        if self.deaf {
            &mut self.wbuf
        } else {
            &mut self.output
        }
    }

    fn flush(&mut self) -> Result<(), SendError> {
        if !self.deaf || self.wbuf.is_empty() {
            return Ok(());
        }
        self.wbuf.clear();
        Err(SendError::TimedOut)
    }

    #[cfg(feature = "tls")]
    fn start_tls(
        &mut self,
        _config: Arc<rustls::ServerConfig>,
        _deadline: Instant,
        pending: Pending,
    ) -> Result<(usize, TlsInfo), HandshakeError> {
        let _ = self.flush();
        if std::mem::take(&mut self.fail_tls) {
            return Err(HandshakeError::NotTls);
        }
        let dropped = match pending {
            Pending::Discard => {
                let n = self.buffered().len();
                self.consume(n);
                n
            }
            Pending::HandToTls => 0,
        };
        let info = TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "in-memory (not encrypted)".into(),
            sni: None,
        };
        Ok((dropped, info))
    }

    fn close(&mut self) {
        let _ = self.flush();
    }

    fn bytes_in(&self) -> u64 {
        self.bytes_in
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_in_pieces_is_one_send_per_piece() {
        let bytes: Vec<u8> = (0..25).collect();
        for len in 0..bytes.len() {
            for size in 0..10 {
                let one = Script::new()
                    .line("EHLO x")
                    .send_in_pieces(&bytes[..len], size);
                let mut each = Script::new().line("EHLO x");
                for piece in bytes[..len].chunks(size.max(1)) {
                    each = each.send(piece);
                }
                assert_eq!(one.sent, each.sent);
                assert_eq!(one.sends, each.sends);
            }
        }
    }

    #[test]
    fn sessions_share_one_config() {
        struct Accept;
        impl Handler for Accept {}
        let config = Arc::new(ServerConfig {
            hostname: "mx.example".into(),
            ..ServerConfig::default()
        });
        for _ in 0..2 {
            let script = Script::new().line("NOOP").then(Step::Close);
            let out = run(Arc::clone(&config), Accept, script).unwrap();
            assert_eq!(out.replies(), ["220 mx.example ESMTP", "250 2.0.0 OK"]);
        }
        assert_eq!(Arc::strong_count(&config), 1);
    }
}
